"""Evaluation metrics: WER, cpWER (speaker-attributed WER) and DER.

Text normalisation used by every WER here (:func:`normalize_text`): Unicode NFKC, lowercase,
hyphens/dashes/slashes become spaces, every other punctuation or symbol character is removed except
an apostrophe between letters ("didn't" stays one word), whitespace is collapsed. Numbers are not
spelled out, so "2" and "two" differ.

DER uses ``pyannote.metrics``. Its ``collar`` is the *total* width removed around each reference
boundary: ``collar=0.5`` forgives ±0.25 s, which is what :func:`der_collar_025` computes.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from .errors import missing_dependency

log = logging.getLogger("vtxlib.metrics")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_SPACE_LIKE = re.compile(r"[-\u2010-\u2015/_]+")
_INNER_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _SPACE_LIKE.sub(" ", text)
    text = _INNER_APOSTROPHE.sub("\0", text)  # protect apostrophes inside words
    text = "".join(ch for ch in text
                   if ch == "\0" or not unicodedata.category(ch).startswith(("P", "S")))
    return " ".join(text.replace("\0", "'").split())


@dataclass
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors per reference word; with an empty reference, the number of inserted words."""
        return self.errors / max(self.reference_words, 1)


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref or not hyp:
        return WordErrors(0, len(ref.split()), len(hyp.split()), len(ref.split()))
    try:
        import jiwer
    except ImportError as e:
        raise missing_dependency("jiwer", "dev", "Word error rate") from e
    out = jiwer.process_words(ref, hyp)
    return WordErrors(out.substitutions, out.deletions, out.insertions, len(ref.split()))


def wer(ref_text: str, hyp_text: str) -> float:
    """Word error rate after :func:`normalize_text` on both sides."""
    return word_errors(ref_text, hyp_text).rate


def character_errors(reference: str, hypothesis: str) -> WordErrors:
    """Errors counted in characters (spaces dropped): the measure for scripts written without
    spaces between words (Chinese, Japanese, Thai), where a "word" is whatever the ASR spaced."""
    def chars(text: str) -> str:
        return " ".join(normalize_text(text).replace(" ", ""))

    return word_errors(chars(reference), chars(hypothesis))


def error_rate(reference: str, hypothesis: str, by_characters: bool = False) -> float:
    """WER, or the character error rate (CER) with BY_CHARACTERS."""
    return (character_errors if by_characters else word_errors)(reference, hypothesis).rate


@dataclass
class CpWerResult:
    errors: int
    reference_words: int
    mapping: dict[str, Optional[str]]  # reference speaker -> hypothesis speaker (None: unmatched)

    @property
    def rate(self) -> float:
        return self.errors / max(self.reference_words, 1)


def cpwer_details(ref_by_speaker: dict[str, str], hyp_by_speaker: dict[str, str]) -> CpWerResult:
    """Concatenated minimum-permutation WER: each speaker's words are concatenated, reference and
    hypothesis speakers are paired one-to-one to minimise the total errors (Hungarian method), and
    the words of an unpaired reference (hypothesis) speaker all count as deletions (insertions)."""
    import numpy as np
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:
        raise missing_dependency("scipy", "dev", "cpWER") from e
    refs, hyps = list(ref_by_speaker), list(hyp_by_speaker)
    n_ref = [len(normalize_text(ref_by_speaker[r]).split()) for r in refs]
    n_hyp = [len(normalize_text(hyp_by_speaker[h]).split()) for h in hyps]
    size = len(refs) + len(hyps)
    # Square cost matrix: real pairs top-left, "left unpaired" slots elsewhere.
    cost = np.zeros((size, size), dtype=np.int64)
    for i, r in enumerate(refs):
        for j, h in enumerate(hyps):
            cost[i, j] = word_errors(ref_by_speaker[r], hyp_by_speaker[h]).errors
        cost[i, len(hyps):] = n_ref[i]
    for j in range(len(hyps)):
        cost[len(refs):, j] = n_hyp[j]
    rows, cols = linear_sum_assignment(cost)
    mapping: dict[str, Optional[str]] = {r: None for r in refs}
    for i, j in zip(rows, cols):
        if i < len(refs) and j < len(hyps):
            mapping[refs[i]] = hyps[j]
    return CpWerResult(int(cost[rows, cols].sum()), sum(n_ref), mapping)


def cpwer(ref_by_speaker: dict[str, str], hyp_by_speaker: dict[str, str]) -> float:
    return cpwer_details(ref_by_speaker, hyp_by_speaker).rate


# A turn is a SpeakerTurn-like object (.speaker/.start/.end) or a (speaker, start, end) tuple.
TurnLike = Union[Sequence, object]


def _turn_fields(turn) -> tuple[str, float, float]:
    if hasattr(turn, "speaker"):
        return str(turn.speaker), float(turn.start), float(turn.end)
    speaker, start, end = turn[:3]
    return str(speaker), float(start), float(end)


def to_annotation(turns: Iterable[TurnLike], uri: str = "audio"):
    try:
        from pyannote.core import Annotation, Segment
    except ImportError as e:
        raise missing_dependency("pyannote.core", "dev", "Diarization error rate") from e
    annotation = Annotation(uri=uri)
    for i, turn in enumerate(turns):
        speaker, start, end = _turn_fields(turn)
        if end > start:
            annotation[Segment(start, end), i] = speaker
    return annotation


@dataclass
class DerResult:
    der: float
    missed: float  # seconds of reference speech not attributed to anyone
    false_alarm: float  # seconds attributed where the reference has no speech
    confusion: float  # seconds attributed to the wrong speaker
    total: float  # seconds of reference speech (after the collar)


def der_details(reference_turns: Iterable[TurnLike], hypothesis_turns: Iterable[TurnLike],
                collar: float = 0.0, uri: str = "audio", duration: Optional[float] = None,
                skip_overlap: bool = False) -> DerResult:
    """Diarization error rate with the optimal speaker mapping.

    ``collar`` is pyannote's total collar (``0.5`` = ±0.25 s). ``duration`` sets the evaluated
    region to ``[0, duration]``; without it, the extent of reference and hypothesis is used.
    """
    try:
        from pyannote.core import Segment, Timeline
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError as e:
        raise missing_dependency("pyannote.metrics", "dev", "Diarization error rate") from e
    reference = to_annotation(reference_turns, uri)
    hypothesis = to_annotation(hypothesis_turns, uri)
    if duration is None:
        extent = (reference.get_timeline() | hypothesis.get_timeline()).extent()
        duration = extent.end if extent.duration > 0 else 0.0
    if not reference and not hypothesis:
        return DerResult(der=0.0, missed=0.0, false_alarm=0.0, confusion=0.0, total=0.0)
    uem = Timeline([Segment(0.0, max(duration, 1e-3))], uri=uri)
    metric = DiarizationErrorRate(collar=collar, skip_overlap=skip_overlap)
    details = metric(reference, hypothesis, uem=uem, detailed=True)
    return DerResult(der=float(details["diarization error rate"]),
                     missed=float(details["missed detection"]),
                     false_alarm=float(details["false alarm"]),
                     confusion=float(details["confusion"]),
                     total=float(details["total"]))


def der(reference_turns: Iterable[TurnLike], hypothesis_turns: Iterable[TurnLike],
        collar: float = 0.0, uri: str = "audio", duration: Optional[float] = None) -> float:
    return der_details(reference_turns, hypothesis_turns, collar, uri, duration).der


def der_collar_025(reference_turns: Iterable[TurnLike], hypothesis_turns: Iterable[TurnLike],
                   uri: str = "audio", duration: Optional[float] = None) -> float:
    """DER forgiving ±0.25 s around each reference boundary (pyannote ``collar=0.5``)."""
    return der(reference_turns, hypothesis_turns, collar=0.5, uri=uri, duration=duration)
