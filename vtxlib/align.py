"""Align stage: give every ASR word a speaker and group the words into speaker turns.

Plain "maximum overlap with a diarization turn" mislabels words at turn boundaries, because both
the diarizer's boundaries and the ASR word timings are off by a few hundred milliseconds. Here the
labelling is a shortest path (Viterbi) over the words:

* each word has *evidence* for each speaker: how much of the word, widened by
  ``boundary_tolerance`` on both sides, the speaker's turns cover;
* labelling a word with a speaker costs ``-log`` of that evidence (floored), so a word fully inside
  a turn is expensive to relabel and a word straddling a boundary is cheap;
* changing speaker between two words costs ``switch_cost`` mid-phrase, less after a comma, little
  after a sentence end or at an ASR segment boundary, and nothing across a pause of
  ``free_switch_pause`` seconds.

So a one-word "flicker" with weak evidence inside a sentence follows its neighbours, and a speaker
change that the diarizer placed a little early or late moves to the nearest sentence end or pause
instead of cutting a phrase. Words that no turn covers go to the nearest turn within
``max_distance`` seconds, else get :data:`~vtxlib.types.UNKNOWN_SPEAKER`. Words in the
diarization's overlap regions are kept and their turn is flagged ``overlap=True``.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from typing import Optional

from .types import UNKNOWN_SPEAKER, AlignedTranscript, Diarization, OptionsModel, SpeakerTurn, Transcript, Turn, Word

log = logging.getLogger("vtxlib.align")

_SENTENCE_END = re.compile(r"[.?!…。？！][\"'”’)\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–-][\"'”’)\]]*$")
_MIN_WORD_SECONDS = 0.05


class AlignOptions(OptionsModel):
    boundary_tolerance: float = 0.3   # s each word is widened by when measuring turn coverage
    max_distance: float = 1.0         # s: a word in no turn joins the nearest turn this close
    nearest_evidence: float = 0.5     # evidence given to that nearest turn's speaker
    evidence_floor: float = 0.02      # evidence never drops below this (caps a relabel's cost)
    switch_cost: float = 1.5          # speaker change between two words mid-phrase
    clause_switch_cost: float = 0.9   # ... after , ; : or a dash
    segment_switch_cost: float = 0.7  # ... at an ASR segment boundary
    sentence_switch_cost: float = 0.25  # ... after . ? !
    free_switch_pause: float = 0.6    # s of silence at which a change costs nothing
    split_pause: float = 1.5          # s: output turns of one speaker split at longer pauses
    overlap_voice_min: float = 0.3    # s: a second voice heard this long in overlap gets its own turn
    smooth: bool = True               # False: plain max-overlap labels (for comparison)


def align(transcript: Transcript, diarization: Diarization,
          options: Optional[AlignOptions] = None) -> AlignedTranscript:
    """Attribute every word of ``transcript`` to a speaker of ``diarization``.

    The input objects are not modified; the words in the result are copies with ``speaker`` set,
    in time order, each exactly once, with their original timings.
    """
    options = options or AlignOptions()
    words, segment_ids = _ordered_words(transcript)
    if not words:
        return AlignedTranscript(turns=[], language=transcript.language)
    turns = _TurnIndex(diarization.turns)
    if not diarization.turns:
        log.warning("diarization found no speech turns; all %d words are marked %s",
                    len(words), UNKNOWN_SPEAKER)

    evidence = [_word_evidence(w, turns, options) for w in words]
    labels = _label_words(words, segment_ids, evidence, options)
    _log_changes(evidence, labels)

    labelled = [w.model_copy(update={"speaker": label}) for w, label in zip(words, labels)]
    out_turns = _group_into_turns(labelled, options.split_pause)
    overlaps = _merged(diarization.overlaps)
    for turn in out_turns:
        turn.overlap = _touches_any(turn.words, overlaps)
    out_turns += _second_voices(diarization, overlaps, out_turns, options.overlap_voice_min)
    out_turns.sort(key=lambda t: (t.start, t.end))
    return AlignedTranscript(turns=out_turns, language=transcript.language)


def _second_voices(diarization: Diarization, overlaps: list[tuple[float, float]], turns: list[Turn],
                   min_seconds: float) -> list[Turn]:
    """Word-less ``overlap`` turns for voices heard under another speaker's words.

    Words come from one ASR stream and go to one speaker each (the exclusive diarization), so a
    voice talking at the same time keeps no words; this turn still says who else spoke, and when."""
    spoken = [(t.speaker, w.start, w.end) for t in turns for w in t.words]
    extra = []
    for voice in diarization.speech_turns:
        for lo, hi in overlaps:
            start, end = max(voice.start, lo), min(voice.end, hi)
            if end - start < min_seconds:
                continue
            if any(speaker == voice.speaker and ws < end and we > start for speaker, ws, we in spoken):
                continue
            extra.append(Turn(speaker=voice.speaker, start=round(start, 3), end=round(end, 3), overlap=True))
    return extra


# -- words -------------------------------------------------------------------------------------

def _ordered_words(transcript: Transcript) -> tuple[list[Word], list[int]]:
    """All words in time order (stable), with the index of the ASR segment each came from."""
    pairs = [(w, i) for i, seg in enumerate(transcript.segments) for w in seg.words]
    pairs.sort(key=lambda pair: pair[0].start)
    return [w for w, _ in pairs], [i for _, i in pairs]


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text.strip()))


def ends_clause(text: str) -> bool:
    return bool(_CLAUSE_END.search(text.strip()))


# -- evidence ----------------------------------------------------------------------------------

class _TurnIndex:
    """Diarization turns sorted by start, for fast overlap and nearest-turn queries."""

    def __init__(self, turns: list[SpeakerTurn]):
        self.turns = sorted((t for t in turns if t.end > t.start), key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        self.longest = max((t.end - t.start for t in self.turns), default=0.0)
        self.prefix_latest_end: list[int] = []  # index of the turn ending last among turns[:i+1]
        best = -1
        for i, t in enumerate(self.turns):
            if best < 0 or t.end > self.turns[best].end:
                best = i
            self.prefix_latest_end.append(best)

    def overlapping(self, lo: float, hi: float) -> list[tuple[SpeakerTurn, float]]:
        """(turn, seconds of overlap) for every turn intersecting [lo, hi]."""
        found = []
        j = bisect.bisect_left(self.starts, hi) - 1
        while j >= 0 and self.starts[j] >= lo - self.longest:
            turn = self.turns[j]
            seconds = min(hi, turn.end) - max(lo, turn.start)
            if seconds > 0:
                found.append((turn, seconds))
            j -= 1
        return found

    def nearest(self, lo: float, hi: float) -> Optional[tuple[SpeakerTurn, float]]:
        """The turn closest to [lo, hi] and its distance in seconds."""
        candidates = []
        after = bisect.bisect_left(self.starts, hi)
        if after < len(self.turns):
            candidates.append((self.turns[after], self.turns[after].start - hi))
        before = bisect.bisect_right(self.starts, lo) - 1
        if before >= 0:
            turn = self.turns[self.prefix_latest_end[before]]
            candidates.append((turn, lo - turn.end))
        if not candidates:
            return None
        turn, distance = min(candidates, key=lambda c: c[1])
        return turn, max(distance, 0.0)


def _word_evidence(word: Word, turns: _TurnIndex, options: AlignOptions) -> dict[str, float]:
    """Per speaker, the share of the (widened) word that the speaker's turns cover, in [0, 1].

    Normalised by the total coverage, but never by less than the word's own duration, so a word
    that mostly falls in silence gives only weak evidence to the turn it grazes.
    """
    lo, hi = word.start - options.boundary_tolerance, word.end + options.boundary_tolerance
    covered: dict[str, float] = {}
    for turn, seconds in turns.overlapping(lo, hi):
        covered[turn.speaker] = covered.get(turn.speaker, 0.0) + seconds
    if covered:
        norm = max(sum(covered.values()), word.end - word.start, _MIN_WORD_SECONDS)
        return {speaker: seconds / norm for speaker, seconds in covered.items()}
    nearest = turns.nearest(word.start, word.end)
    if nearest is not None and nearest[1] <= options.max_distance:
        return {nearest[0].speaker: options.nearest_evidence}
    return {}


# -- labelling ---------------------------------------------------------------------------------

def _label_words(words: list[Word], segment_ids: list[int], evidence: list[dict[str, float]],
                 options: AlignOptions) -> list[str]:
    labels = [_max_evidence_speaker(e) for e in evidence]
    if not options.smooth:
        return labels
    # Words with no evidence at all are UNKNOWN and split the sequence into independent chains.
    for start, stop in _known_runs(labels):
        switch = [_switch_cost(words[i], words[i + 1], segment_ids[i] != segment_ids[i + 1], options)
                  for i in range(start, stop - 1)]
        labels[start:stop] = _viterbi(evidence[start:stop], switch, options.evidence_floor)
    return labels


def _max_evidence_speaker(evidence: dict[str, float]) -> str:
    if not evidence:
        return UNKNOWN_SPEAKER
    return max(sorted(evidence), key=lambda speaker: evidence[speaker])


def _known_runs(labels: list[str]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, label in enumerate(labels + [UNKNOWN_SPEAKER]):
        if label != UNKNOWN_SPEAKER and start is None:
            start = i
        elif label == UNKNOWN_SPEAKER and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _switch_cost(word: Word, following: Word, segment_boundary: bool, options: AlignOptions) -> float:
    """What it costs to change speaker between ``word`` and ``following``."""
    cost = options.switch_cost
    if ends_sentence(word.text):
        cost = min(cost, options.sentence_switch_cost)
    elif ends_clause(word.text):
        cost = min(cost, options.clause_switch_cost)
    if segment_boundary:
        cost = min(cost, options.segment_switch_cost)
    gap = max(0.0, following.start - word.end)
    if options.free_switch_pause > 0:
        cost *= max(0.0, 1.0 - gap / options.free_switch_pause)
    return cost


def _viterbi(evidence: list[dict[str, float]], switch: list[float], floor: float) -> list[str]:
    """The speaker sequence with the least total (label + change) cost."""
    speakers = sorted({s for e in evidence for s in e})
    costs = [[-math.log(floor + (1.0 - floor) * min(1.0, e.get(s, 0.0))) for s in speakers]
             for e in evidence]
    total = list(costs[0])
    back: list[list[int]] = []
    for i in range(1, len(evidence)):
        best_prev = min(range(len(speakers)), key=lambda k: (total[k], k))
        step_back, new_total = [], []
        for k in range(len(speakers)):
            stay, change = total[k], total[best_prev] + switch[i - 1]
            prev = k if stay <= change else best_prev
            step_back.append(prev)
            new_total.append(min(stay, change) + costs[i][k])
        back.append(step_back)
        total = new_total
    state = min(range(len(speakers)), key=lambda k: (total[k], k))
    path = [state]
    for step_back in reversed(back):
        state = step_back[state]
        path.append(state)
    return [speakers[k] for k in reversed(path)]


def _log_changes(evidence: list[dict[str, float]], labels: list[str]) -> None:
    plain = [_max_evidence_speaker(e) for e in evidence]
    moved = sum(a != b for a, b in zip(plain, labels))
    unknown = sum(label == UNKNOWN_SPEAKER for label in labels)
    log.info("aligned %d words: %d relabelled at turn boundaries, %d with no speaker",
             len(labels), moved, unknown)


# -- turns -------------------------------------------------------------------------------------

def _group_into_turns(words: list[Word], split_pause: float) -> list[Turn]:
    """Consecutive words of one speaker form a turn; a pause longer than ``split_pause`` splits it."""
    turns: list[Turn] = []
    for word in words:
        current = turns[-1] if turns else None
        if (current is None or current.speaker != word.speaker
                or word.start - current.end > split_pause):
            turns.append(Turn(speaker=word.speaker, start=word.start, end=word.end, words=[word]))
        else:
            current.words.append(word)
            current.end = max(current.end, word.end)
    return turns


def _touches_any(words: list[Word], regions: list[tuple[float, float]]) -> bool:
    """Whether any word intersects one of the (sorted, merged) overlap ``regions``."""
    ends = [hi for _, hi in regions]
    for word in words:
        j = bisect.bisect_right(ends, word.start)  # first region ending after the word starts
        if j < len(regions) and (regions[j][0] < word.end or regions[j][0] <= word.start == word.end):
            return True
    return False


def _merged(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted((float(lo), float(hi)) for lo, hi in regions if hi > lo):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
