"""Word times for a transcript whose text came without precise times (Gemini), from a local recognizer.

Gemini returns the text of each segment with rough segment times; subtitles need each word's start
and end. The local CPU recognizer (faster-whisper, :mod:`vtxlib.asr.whisper_cpu`) already gives word
times from its cross-attention alignment, so Gemini's words are matched to its words by text:

1. both word lists are normalised (case, punctuation) and aligned with :class:`difflib.SequenceMatcher`
   (longest matching blocks, no junk heuristic);
2. a Gemini word equal to a local word takes that word's times (an *anchor*);
3. a stretch of Gemini words facing a stretch of other local words (the two recognizers heard the same
   speech differently) is spread over the time those local words span, in proportion to characters;
4. Gemini words with no local counterpart (the local recognizer missed them) are spread over the gap
   between the neighbouring anchors, within their Gemini segment's times.

Why this and not a forced aligner: it needs no model beyond the one the CPU tier already installs
from the package registries, works for every language faster-whisper knows, and its error is the
local recognizer's own word-time error on anchored words; ``bench/asr_backends.py`` measures both
(docs/asr_cloud.md, 'How precise are Gemini's word times').
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..types import Segment, Word

_NON_WORD = re.compile(r"[^\w']+", re.UNICODE)
MIN_WORD_S = 0.05


@dataclass(frozen=True)
class TextSegment:
    """A segment of text with rough times (absolute seconds), as a hosted recognizer gave it."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class AlignedWords:
    segments: list[Segment]
    anchored: int  # words with the same text as a local word, timed by it
    spread: int  # words timed by a differently recognised stretch of local words
    interpolated: int  # words timed between anchors


def normalise(token: str) -> str:
    return _NON_WORD.sub("", token.lower()).strip("'")


def align_text_to_words(segments: list[TextSegment], local: list[Word]) -> AlignedWords:
    """SEGMENTS' words with times taken from LOCAL (a local recognizer's words of the same audio)."""
    tokens = [(i, t) for i, seg in enumerate(segments) for t in seg.text.split()]
    times: list[tuple[float, float] | None] = [None] * len(tokens)
    a = [normalise(t) for _, t in tokens]
    b = [normalise(w.text) for w in local]
    anchored = spread = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                times[i1 + k] = (local[j1 + k].start, local[j1 + k].end)
            anchored += i2 - i1
        elif op == "replace":
            span = (local[j1].start, local[j2 - 1].end)
            for k, t in zip(range(i1, i2), _spread([tok for _, tok in tokens[i1:i2]], *span)):
                times[k] = t
            spread += i2 - i1
    interpolated = _fill_gaps(tokens, times, segments)
    words = [Word(tok, round(s, 3), round(e, 3)) for (_, tok), (s, e) in zip(tokens, _monotonic(times))]
    out = []
    for index, seg in enumerate(segments):
        own = [w for (i, _), w in zip(tokens, words) if i == index]
        if own:
            out.append(Segment(" ".join(w.text for w in own), own[0].start, own[-1].end, own))
    return AlignedWords(out, anchored, spread, interpolated)


def _spread(texts: list[str], start: float, end: float) -> list[tuple[float, float]]:
    """Times for TEXTS spoken one after another between START and END, by character count."""
    weights = [max(len(t), 1) for t in texts]
    total, span = sum(weights), max(end - start, 0.0)
    out, at = [], start
    for w in weights:
        length = span * w / total
        out.append((at, at + length))
        at += length
    return out


def _fill_gaps(tokens: list[tuple[int, str]], times: list, segments: list[TextSegment]) -> int:
    """Spread each run of untimed words between its timed neighbours (within its segment's times)."""
    filled, k = 0, 0
    while k < len(times):
        if times[k] is not None:
            k += 1
            continue
        run_end = k
        while run_end < len(times) and times[run_end] is None and tokens[run_end][0] == tokens[k][0]:
            run_end += 1
        seg = segments[tokens[k][0]]
        before = times[k - 1][1] if k > 0 and times[k - 1] is not None else seg.start
        after = times[run_end][0] if run_end < len(times) and times[run_end] is not None else seg.end
        lo = max(before, seg.start) if before <= seg.end else before
        hi = min(after, seg.end) if after >= seg.start else after
        if hi - lo < MIN_WORD_S * (run_end - k):
            hi = lo + MIN_WORD_S * (run_end - k)
        for j, t in zip(range(k, run_end), _spread([tok for _, tok in tokens[k:run_end]], lo, hi)):
            times[j] = t
        filled += run_end - k
        k = run_end
    return filled


def _monotonic(times: list) -> list[tuple[float, float]]:
    """Times that never go backwards (a word starts no earlier than the one before it)."""
    out, last = [], 0.0
    for start, end in times:
        start = max(start, last)
        end = max(end, start + 0.01)
        out.append((start, end))
        last = start
    return out
