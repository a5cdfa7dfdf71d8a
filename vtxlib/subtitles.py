"""Subtitles stage: cut speaker turns into cues that obey subtitle conventions, and write them.

Cue rules (:class:`SubtitleOptions`): at most ``max_line_chars`` characters per line and
``max_lines`` lines per cue, a cue shown ``min_duration``–``max_duration`` seconds and read at
no more than ``max_cps`` characters per second where the speech leaves time for it, a new cue at
every speaker change and at pauses of ``split_pause`` seconds. Cue times come from word times: a
cue starts at its first word and ends at its last, then a short or dense cue is held on screen
into the following silence, never past the start of the next cue.

Where to cut a turn into cues is chosen by a small dynamic programme over the words (cheap after a
sentence end, dearer after a comma or a pause, dearest mid-phrase; reading speed and very short
cues cost extra); lines inside a cue are broken at punctuation and balanced.

Writers follow openai/whisper's ``utils.py``: small classes that differ by class attributes over
one shared cue iterator. ``render(document) -> str`` is pure; :func:`write_outputs` does the file
I/O, atomically.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Optional

from pydantic import Field

from .align import ends_clause, ends_sentence
from .diarize.pauses import RTTM_PAUSE_FILL, bridge_pauses
from .errors import InputError, missing_dependency
from .subtitle_rules import join_tokens, right_to_left, rules_for, separator, tokenize_text
from .timefmt import cue_timestamp
from .timeline import EMOTION_COLORS, SPEAKER_PALETTE
from .types import (
    UNKNOWN_SPEAKER,
    AlignedTranscript,
    Diarization,
    Document,
    OptionsModel,
    SpeakerTurn,
    Translation,
    Turn,
    Word,
)
from .workspace import atomic_write_text

log = logging.getLogger("vtxlib.subtitles")

OUTPUT_NAME = "transcript"

# The STYLE block goes only into transcript.styled.vtt (and VTTWriter with emit_style_block=True):
# readers such as ffmpeg 5.1 stop at a STYLE block and read no cue at all, so the default
# transcript.vtt has none. In it speakers get the report's colour lightened to be readable on a
# player's dark caption background, confident emotions a coloured underline (neutral none),
# overlapping speech italics.


def on_dark_background(colour: str, white: float = 0.35) -> str:
    """COLOUR mixed with WHITE parts of white: the report's colours, readable on a player's dark
    caption background."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * white):02x}" for c in rgb)


# the report's emotion colours (one map), lightened; neutral gets no underline
EMOTION_COLOURS = {label: on_dark_background(colour) for label, colour in EMOTION_COLORS.items()
                   if label != "neutral"}
# the report's speaker palette (one palette), lightened the same way
CAPTION_SPEAKER_COLOURS = tuple(on_dark_background(colour) for colour in SPEAKER_PALETTE)
# Visible speaker names on a speaker change (players show no <v> name; YouTube's caption help marks
# speakers with ">> NAME:"): "off", "name" -> "Alice: text", "chevrons" -> ">> ALICE: text".
VISIBLE_SPEAKER_CHOICES = ("off", "name", "chevrons")


class SubtitleOptions(OptionsModel):
    max_line_chars: int = 42
    max_lines: int = 2
    min_duration: float = 0.83     # s a cue stays on screen where the next cue leaves time
    max_duration: float = 7.0      # s
    max_cps: float = 17.0          # reading speed, characters per second
    split_pause: float = 1.0       # s: a pause this long inside a turn always ends a cue
    emotion_classes: bool = True   # <v.angry Speaker> for turns with a confident emotion
    overlap_class: bool = True     # <v.overlap Speaker> for turns in overlapping speech
    overlap_text: str = "(overlapping speech)"  # cue for a voice heard under another's words; "" = none
    emit_style_block: bool = False  # a STYLE block in transcript.vtt (ffmpeg 5.1 then reads no cue);
    # transcript.styled.vtt always has one
    srt_speaker_prefix: bool = True  # "Name: " before each SRT cue
    visible_speaker: Literal["off", "name", "chevrons"] = "off"  # VTT: shown where the speaker changes
    # RTTM: a pause shorter than this (s) between two turns of one speaker, with nobody else speaking
    # in it, is part of the turn (vtxlib/diarize/pauses.py); 0 writes the diarizer's turns as they are
    rttm_pause_fill: float = Field(default=RTTM_PAUSE_FILL, ge=0.0)

    def for_language(self, language: Optional[str]) -> "SubtitleOptions":
        """These options with LANGUAGE's line length and reading speed (:mod:`vtxlib.subtitle_rules`)
        where they were not set explicitly."""
        rules = rules_for(language)
        changes = {name: value for name, value in (("max_line_chars", rules.max_line_chars),
                                                   ("max_cps", rules.max_cps))
                   if name not in self.model_fields_set}
        return self.model_copy(update=changes) if changes else self


@dataclass
class Cue:
    start: float
    end: float
    speaker: str
    lines: list[str]
    emotion: Optional[str] = None
    overlap: bool = False
    words: list[Word] = field(default_factory=list, repr=False)
    label: str = ""  # visible speaker name before the first line (a speaker change), see ``labels``

    @property
    def text(self) -> str:
        return join_tokens(self.lines)


# -- cues --------------------------------------------------------------------------------------

def build_cues(aligned: AlignedTranscript, options: Optional[SubtitleOptions] = None,
               prefixes: Optional[dict[str, str]] = None,
               end_limit: Optional[float] = None, labels: Optional[dict[str, str]] = None) -> list[Cue]:
    """Cut every turn into cues and time them.

    ``prefixes`` maps a speaker to text that a writer will put before the first line of each of
    its cues (SRT's "Name: "); ``labels`` maps a speaker to a visible label put only on the first
    cue after a speaker change (and on a second voice's cue). Both count against that line's
    length. ``end_limit`` (the media duration) is the latest time a cue may be held to.
    """
    options = (options or SubtitleOptions()).for_language(aligned.language)
    cues: list[Cue] = []
    second_voices: list[Cue] = []
    previous_speaker = None
    for turn in aligned.turns:
        words = [w for w in turn.words if w.text.strip()]
        label = (labels or {}).get(turn.speaker, "")
        if not words:
            if turn.overlap and options.overlap_text:
                second_voices.append(Cue(start=turn.start, end=turn.end, speaker=turn.speaker,
                                         lines=[options.overlap_text], overlap=True, label=label))
            continue
        reserve = len((prefixes or {}).get(turn.speaker, ""))
        if turn.speaker == previous_speaker:
            label = ""
        previous_speaker = turn.speaker
        for k, group in enumerate(_cut_turn(words, options, reserve, first_reserve=reserve + len(label))):
            tokens = [w.text.strip() for w in group]
            first = reserve + (len(label) if k == 0 else 0)
            cues.append(Cue(start=group[0].start, end=max(w.end for w in group), speaker=turn.speaker,
                            lines=layout_lines(tokens, options.max_line_chars, options.max_lines, first),
                            emotion=_emotion_class(turn), overlap=turn.overlap, words=group,
                            label=label if k == 0 else ""))
    _time_cues(cues, options, end_limit)
    for cue in second_voices:  # shown beside the words they overlap (players stack concurrent cues)
        cue.start, cue.end = _ms(cue.start) / 1000, _ms(cue.end) / 1000
    return sorted(cues + second_voices, key=lambda c: (c.start, c.end))


def _emotion_class(turn: Turn) -> Optional[str]:
    if turn.emotion is None or turn.emotion.low_confidence:
        return None
    label = re.sub(r"[^a-z0-9_]", "", turn.emotion.label.lower())
    return label or None


def _cut_turn(words: list[Word], options: SubtitleOptions, reserve: int,
              first_reserve: Optional[int] = None) -> list[list[Word]]:
    """Split one speaker's words into cue-sized groups with the least total cost; the first group's
    first line loses ``first_reserve`` characters (a visible label), the others' ``reserve``."""
    tokens = [w.text.strip() for w in words]
    gaps = _gaps(tokens)
    n = len(words)
    best = [0.0] + [math.inf] * n
    start_of = [0] * (n + 1)
    first_reserve = reserve if first_reserve is None else first_reserve
    for j in range(1, n + 1):
        chars = 0
        for i in range(j - 1, -1, -1):
            chars += len(tokens[i]) + (gaps[i] if i < j - 1 else 0)
            taken = first_reserve if i == 0 else reserve
            capacity = options.max_lines * options.max_line_chars - taken
            if i < j - 1 and not _group_allowed(words, tokens, i, j, chars, capacity, options, taken):
                break
            cost = best[i] + _cue_cost(words, i, j, chars, options)
            if cost < best[j]:
                best[j], start_of[j] = cost, i
    groups, j = [], n
    while j > 0:
        groups.append(words[start_of[j]:j])
        j = start_of[j]
    return groups[::-1]


def _group_allowed(words: list[Word], tokens: list[str], i: int, j: int, chars: int, capacity: int,
                   options: SubtitleOptions, reserve: int) -> bool:
    """Hard limits for words[i:j] as one cue; once false, any earlier i is false too."""
    if chars > capacity or words[j - 1].end - words[i].start > options.max_duration:
        return False
    if words[i + 1].start - words[i].end >= options.split_pause:
        return False
    return _lines_needed(tokens[i:j], options.max_line_chars, reserve) <= options.max_lines


def _cue_cost(words: list[Word], i: int, j: int, chars: int, options: SubtitleOptions) -> float:
    last = words[j - 1]
    cost = 1.0  # per cue: prefer fewer, fuller cues
    if j < len(words):
        cost += _break_cost(last, words[j])
        # time the cue may stay up without reaching the next word of the turn
        available = words[j].start - words[i].start
    else:
        available = last.end - words[i].start + options.split_pause
    available = max(available, 1e-3)
    if chars / available > options.max_cps:
        cost += 3.0 * (chars / (available * options.max_cps) - 1.0)
    if available < options.min_duration:
        cost += 1.0
    if chars < 12 and len(words) > j - i:
        cost += (12 - chars) / 12  # a stub cue inside a longer turn reads badly
    return cost


def _break_cost(last: Word, following: Word) -> float:
    """Cost of ending a cue after ``last`` (the next cue starting with ``following``)."""
    if ends_sentence(last.text):
        return 0.0
    gap = following.start - last.end
    if _ends_clause(last.text):
        return 0.4 if gap < 0.3 else 0.2
    return 0.6 if gap >= 0.3 else 2.0


# -- lines -------------------------------------------------------------------------------------

_CJK_CLAUSE_END = re.compile(r"[，、；：][\"'”’)\]」』]*$")


def _ends_clause(text: str) -> bool:
    return ends_clause(text) or bool(_CJK_CLAUSE_END.search(text.strip()))


def _gaps(tokens: list[str]) -> list[int]:
    """gaps[i]: characters between tokens i and i+1 (a space, or none in unspaced scripts)."""
    return [len(separator(a, b)) for a, b in zip(tokens, tokens[1:])] + [0]


def _lines_needed(tokens: list[str], width: int, reserve: int = 0) -> int:
    """Lines that greedy filling needs, which is the minimum; an over-long token gets a line alone."""
    lines, used, empty = 1, reserve, True
    gaps = _gaps(tokens)
    for k, token in enumerate(tokens):
        gap = gaps[k - 1] if k else 0
        if empty:
            used, empty = used + len(token), False
        elif used + gap + len(token) <= width:
            used += gap + len(token)
        else:
            lines, used = lines + 1, len(token)
    return lines


def layout_lines(tokens: list[str], width: int = 42, max_lines: int = 2, reserve: int = 0) -> list[str]:
    """Break ``tokens`` into as few lines as fit ``width``, balanced, preferring punctuation.

    ``reserve`` characters are taken by a prefix on the first line. Returns more than
    ``max_lines`` lines only if the text cannot fit (a cue holds at most that much otherwise).
    """
    if not tokens:
        return []
    k = _lines_needed(tokens, width, reserve)
    if k == 1:
        return [join_tokens(tokens)]
    n = len(tokens)
    gaps = _gaps(tokens)
    total = sum(len(t) for t in tokens) + sum(gaps) + reserve
    target = total / k
    # cost[l][j]: best layout of tokens[:j] into l lines
    cost = [[math.inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    cost[0][0] = 0.0
    for lines in range(1, k + 1):
        for j in range(1, n + 1):
            length = reserve if lines == 1 else 0
            for i in range(j - 1, -1, -1):
                length += len(tokens[i]) + (gaps[i] if i < j - 1 else 0)
                if length > width and i < j - 1:
                    break
                if cost[lines - 1][i] == math.inf:
                    continue
                c = cost[lines - 1][i] + _line_cost(length, target, width, tokens[j - 1], j == n)
                if c < cost[lines][j]:
                    cost[lines][j], cut[lines][j] = c, i
    result, j = [], n
    for lines in range(k, 0, -1):
        i = cut[lines][j]
        result.append(join_tokens(tokens[i:j]))
        j = i
    return result[::-1]


def _line_cost(length: int, target: float, width: int, last_token: str, is_last_line: bool) -> float:
    cost = 4.0 * ((length - target) / width) ** 2
    if not is_last_line:
        cost += 0.0 if ends_sentence(last_token) else 0.15 if _ends_clause(last_token) else 0.35
    return cost


# -- timing ------------------------------------------------------------------------------------

def _time_cues(cues: list[Cue], options: SubtitleOptions, end_limit: Optional[float]) -> None:
    """Hold short or dense cues into the following silence; make cues monotonic, non-overlapping,
    on whole milliseconds."""
    for k, cue in enumerate(cues):
        start_ms = _ms(cue.start)
        if k and start_ms < _ms(cues[k - 1].end):
            start_ms = _ms(cues[k - 1].end)
        speech_end_ms = max(_ms(cue.end), start_ms + 1)
        wanted = max(options.min_duration, len(cue.text) / options.max_cps)
        hold_ms = min(start_ms + _ms(wanted), start_ms + _ms(options.max_duration))
        end_ms = max(speech_end_ms, hold_ms)
        limit = cues[k + 1].start if k + 1 < len(cues) else end_limit
        if limit is not None:
            end_ms = max(min(end_ms, _ms(limit)), start_ms + 1)
        cue.start, cue.end = start_ms / 1000, end_ms / 1000


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


# -- writers -----------------------------------------------------------------------------------

class SubtitleWriter:
    """Renders a :class:`~vtxlib.types.Document` to the text of one output file."""

    extension: str = ""

    def __init__(self, options: Optional[SubtitleOptions] = None):
        self.options = options or SubtitleOptions()

    def render(self, document: Document) -> str:
        raise NotImplementedError


class _CueWriter(SubtitleWriter):
    """With a ``translation``, the cues are the original VTT's (:func:`translation_cues`) carrying
    the translated texts, laid out by the target language's rules."""

    def __init__(self, options: Optional[SubtitleOptions] = None, translation: Optional[Translation] = None):
        super().__init__(options)
        self.translation = translation

    def language(self, document: Document) -> Optional[str]:
        return self.translation.language if self.translation is not None else document.language

    def rtl(self, document: Document) -> bool:
        return rules_for(self.language(document)).rtl

    def speaker_prefixes(self, document: Document) -> Optional[dict[str, str]]:
        return None

    def cue_lines(self, cue: Cue, document: Document) -> list[str]:
        raise NotImplementedError

    def speaker_labels(self, document: Document) -> Optional[dict[str, str]]:
        return None

    def captions(self, document: Document) -> list:
        try:
            import webvtt
        except ImportError as e:
            raise missing_dependency("webvtt-py", "cpu", f"Writing {self.extension.upper()} subtitles") from e
        # webvtt-py's cue timestamps are always "."; it writes SRT's "," itself
        return [webvtt.Caption(cue_timestamp(start_s), cue_timestamp(end_s), lines)
                for start_s, end_s, lines in self._cue_seconds(document)]

    def _cue_seconds(self, document: Document) -> Iterator[tuple[float, float, list[str]]]:
        if self.translation is not None:
            cues = translated_cues(document, self.translation, self.options, self.speaker_prefixes(document))
        else:
            cues = build_cues(document.transcript, self.options, self.speaker_prefixes(document),
                              end_limit=document.media.duration, labels=self.speaker_labels(document))
        for cue in cues:
            yield cue.start, cue.end, self.cue_lines(cue, document)


class VTTWriter(_CueWriter):
    extension = "vtt"

    def speaker_labels(self, document: Document) -> Optional[dict[str, str]]:
        return visible_labels(document, self.options.visible_speaker)

    def cue_lines(self, cue: Cue, document: Document) -> list[str]:
        classes = []
        if self.options.emotion_classes and cue.emotion:
            classes.append(cue.emotion)
        if self.options.overlap_class and cue.overlap:
            classes.append("overlap")
        tag = "<v" + "".join(f".{c}" for c in classes) + f" {voice_name(document, cue.speaker)}>"
        lines = [escape_vtt(line) for line in cue.lines]
        lines = [escape_vtt(cue.label) + lines[0], *lines[1:]]
        if self.rtl(document):
            lines = [right_to_left(line) for line in lines]
        return [tag + lines[0], *lines[1:]]

    def render(self, document: Document) -> str:
        import webvtt

        captions = self.captions(document)
        styles = []
        if self.options.emit_style_block:
            rules = style_rules(document, self.options)
            styles = [webvtt.Style(rules)] if rules else []
        return webvtt.WebVTT(captions=captions, styles=styles).content


class StyledVTTWriter(VTTWriter):
    """transcript.styled.vtt: the same cues with a STYLE block (speaker colours, emotion and
    overlap classes) for players that apply it (browsers); ffmpeg 5.1 reads no cue from it."""

    extension = "styled.vtt"

    def render(self, document: Document) -> str:
        import webvtt

        rules = style_rules(document, self.options)
        return webvtt.WebVTT(captions=self.captions(document),
                             styles=[webvtt.Style(rules)] if rules else []).content


class SRTWriter(_CueWriter):
    extension = "srt"

    def speaker_prefixes(self, document: Document) -> Optional[dict[str, str]]:
        if not self.options.srt_speaker_prefix:
            return None
        return {s: f"{document.display_name(s)}: " for s in document.speakers}

    def cue_lines(self, cue: Cue, document: Document) -> list[str]:
        prefix = f"{document.display_name(cue.speaker)}: " if self.options.srt_speaker_prefix else ""
        lines = [prefix + cue.lines[0], *cue.lines[1:]]
        return [right_to_left(line) for line in lines] if self.rtl(document) else lines

    def render(self, document: Document) -> str:
        import io

        import webvtt

        captions = self.captions(document)
        if not captions:
            return ""
        out = io.StringIO()
        webvtt.WebVTT(captions=captions).write(out, format="srt", keep_formatting=True)
        return out.getvalue() + "\n"


class TextWriter(SubtitleWriter):
    """One line per turn: ``[00:01:02] SPEAKER_00: text``."""

    extension = "txt"

    def render(self, document: Document) -> str:
        lines = []
        for turn in document.transcript.turns:
            if turn.text:
                stamp = cue_timestamp(math.floor(turn.start))[:8]
                text = join_tokens([w.text.strip() for w in turn.words if w.text.strip()])  # no spaces in Chinese
                lines.append(f"[{stamp}] {document.display_name(turn.speaker)}: {text}")
        return "".join(line + "\n" for line in lines)


class RTTMWriter(SubtitleWriter):
    """Standard 10-field RTTM from the diarization if given (with overlapped speech when the backend
    reports it), else from the aligned turns; short pauses inside a speaker's turn are bridged
    (``SubtitleOptions.rttm_pause_fill``)."""

    extension = "rttm"

    def __init__(self, options: Optional[SubtitleOptions] = None,
                 diarization: Optional[Diarization] = None):
        super().__init__(options)
        self.diarization = diarization

    def render(self, document: Document) -> str:
        if self.diarization is not None:
            turns = self.diarization.speech_turns or self.diarization.turns
        else:
            turns = [SpeakerTurn(speaker=t.speaker, start=t.start, end=t.end) for t in document.transcript.turns
                     if t.speaker != UNKNOWN_SPEAKER]
        spans = [(t.speaker, t.start, t.end) for t in bridge_pauses(turns, self.options.rttm_pause_fill)]
        try:
            from pyannote.core import Annotation, Segment
        except ImportError as e:
            raise missing_dependency("pyannote.core", "cpu", "Writing RTTM") from e
        import io

        annotation = Annotation(uri=_rttm_token(document.media.id))
        for track, (speaker, start, end) in enumerate(spans):
            if end > start:
                annotation[Segment(start, end), track] = _rttm_token(speaker)
        out = io.StringIO()
        annotation.write_rttm(out)
        return out.getvalue()


class JSONWriter(SubtitleWriter):
    """``Document.model_dump()``, with the media's source named share-safely: a local file by its name
    only (no folder of this machine), a URL without credentials."""

    extension = "json"

    def render(self, document: Document) -> str:
        from .netguard import share_safe_source

        data = document.model_dump(mode="json")
        data["media"]["source"] = share_safe_source(document.media.source)
        return json.dumps(data, ensure_ascii=False, indent=1)


WRITERS = {w.extension: w for w in (JSONWriter, VTTWriter, StyledVTTWriter, SRTWriter, RTTMWriter, TextWriter)}


def write_outputs(document: Document, out_dir: Path, diarization: Optional[Diarization] = None,
                  options: Optional[SubtitleOptions] = None) -> dict[str, Path]:
    """Write transcript.{json,vtt,styled.vtt,srt,rttm,txt} into ``out_dir`` atomically; returns
    format -> path (the styled VTT under ``styled.vtt``)."""
    out_dir = Path(out_dir)
    paths = {}
    for extension, writer_class in WRITERS.items():
        writer = (RTTMWriter(options, diarization) if writer_class is RTTMWriter
                  else writer_class(options))
        paths[extension] = atomic_write_text(out_dir / f"{OUTPUT_NAME}.{extension}",
                                             writer.render(document))
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths


# -- translated tracks -------------------------------------------------------------------------

def translation_cues(document: Document, options: Optional[SubtitleOptions] = None) -> list[Cue]:
    """The cues a translated track carries: those of the original ``transcript.vtt`` (cue id
    ``str(k + 1)`` for the k-th)."""
    options = options or SubtitleOptions()
    return build_cues(document.transcript, options, end_limit=document.media.duration,
                      labels=visible_labels(document, options.visible_speaker))


def cue_digest(cues: list[Cue]) -> str:
    """What a translation must match: each cue's times (ms), speaker and overlap flag."""
    import hashlib

    spans = [[_ms(c.start), _ms(c.end), c.speaker, c.overlap] for c in cues]
    return hashlib.sha256(json.dumps(spans).encode()).hexdigest()[:16]


def cue_id(index: int) -> str:
    return str(index + 1)


def translated_cues(document: Document, translation: Translation, options: Optional[SubtitleOptions] = None,
                    prefixes: Optional[dict[str, str]] = None) -> list[Cue]:
    """The original VTT's cues with TRANSLATION's texts, broken into lines by the target language's
    rules (a text that needs more lines than ``max_lines`` gets them: the cue count never changes)."""
    options = options or SubtitleOptions()
    cues = translation_cues(document, options)
    if translation.cue_digest and translation.cue_digest != cue_digest(cues):
        raise InputError(f"the {translation.language} translation belongs to other cues (the transcript or "
                         f"the subtitle options changed since it was made); run the translate stage again")
    missing = [cue_id(k) for k in range(len(cues)) if cue_id(k) not in translation.cues]
    if missing or len(translation.cues) != len(cues):
        raise InputError(f"the {translation.language} translation has {len(translation.cues)} cues for "
                         f"{len(cues)} (missing ids {', '.join(missing[:5]) or 'none'}); run the translate "
                         f"stage again")
    target = options.for_language(translation.language)
    for k, cue in enumerate(cues):
        reserve = len(cue.label) + len((prefixes or {}).get(cue.speaker, ""))
        tokens = tokenize_text(translation.cues[cue_id(k)])
        cue.lines = layout_lines(tokens, target.max_line_chars, target.max_lines, reserve) or [""]
    return cues


def translated_name(language: str) -> str:
    """The file stem of a translated track: ``transcript.<lang>``."""
    return f"{OUTPUT_NAME}.{language}"


def write_translations(document: Document, out_dir: Path,
                       options: Optional[SubtitleOptions] = None) -> dict[str, Path]:
    """``transcript.<lang>.vtt`` and ``.srt`` for each of the document's translations; returns
    ``{"vtt.<lang>": path, "srt.<lang>": path}``."""
    paths = {}
    for translation in document.translations:
        for writer_class in (VTTWriter, SRTWriter):
            writer = writer_class(options, translation=translation)
            name = f"{translated_name(translation.language)}.{writer.extension}"
            paths[f"{writer.extension}.{translation.language}"] = atomic_write_text(Path(out_dir) / name,
                                                                                  writer.render(document))
    return paths


# -- helpers -----------------------------------------------------------------------------------

def escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def voice_name(document: Document, speaker: str) -> str:
    """The speaker's name as written in a ``<v>`` tag (escaped, whitespace collapsed)."""
    return " ".join(escape_vtt(document.display_name(speaker)).split()) or UNKNOWN_SPEAKER


def visible_labels(document: Document, style: str) -> Optional[dict[str, str]]:
    """speaker -> the visible label for STYLE (see ``VISIBLE_SPEAKER_CHOICES``); None for "off"."""
    if style == "off":
        return None
    labels = {}
    for speaker in document.speakers:
        name = " ".join(document.display_name(speaker).split())
        unnamed = speaker == UNKNOWN_SPEAKER and name == UNKNOWN_SPEAKER
        if style == "chevrons":
            labels[speaker] = ">> " if unnamed else f">> {name.upper()}: "
        elif not unnamed:
            labels[speaker] = f"{name}: "
    return labels


def style_rules(document: Document, options: SubtitleOptions) -> list[str]:
    """The STYLE block's rules: a colour per voice, the emotion and overlap classes."""
    rules = []
    for k, speaker in enumerate(document.speakers):
        voice = html.unescape(voice_name(document, speaker))  # the voice attribute a parser reads back
        if "-->" in voice:  # cannot appear in a STYLE block
            continue
        quoted = voice.replace("\\", "\\\\").replace('"', '\\"')
        colour = CAPTION_SPEAKER_COLOURS[k % len(CAPTION_SPEAKER_COLOURS)]
        rules.append(f'::cue(v[voice="{quoted}"]) {{ color: {colour}; }}')
    if options.emotion_classes:
        rules += [f"::cue(v.{label}) {{ text-decoration: underline; text-decoration-color: {colour}; }}"
                  for label, colour in EMOTION_COLOURS.items()]
    if options.overlap_class:
        rules.append("::cue(v.overlap) { font-style: italic; }")
    return rules


def _rttm_token(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip()) or "unknown"
