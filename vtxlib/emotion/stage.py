"""What every emotion backend shares: turn windowing, score aggregation, low-confidence marking,
and :func:`apply_emotions`, which attaches the results to the aligned transcript.

A backend only has to turn windows of audio (plus the words spoken in them) into class scores;
:func:`classify_turns_by_windows` does the rest:

* a turn shorter than ``min_turn_seconds`` is not classified: it gets uniform scores and
  ``low_confidence=True`` so that nothing downstream presents a guess as a finding;
* a turn longer than ``max_window_seconds`` is cut into equal windows of ``max/2 .. max`` seconds,
  each window is scored, and the scores are averaged weighted by window duration;
* a result whose top score is below ``min_confidence`` is kept but marked ``low_confidence``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from ..errors import InputError
from ..types import AlignedTranscript, AudioFile, Emotion, OptionsModel, Turn, Word
from .base import LABELS, ProgressFn

log = logging.getLogger("vtxlib.emotion")


class WindowOptions(OptionsModel):
    min_turn_seconds: float = 1.0  # below this neither model says anything useful
    max_window_seconds: float = 8.0  # longer turns are split into windows of max/2 .. max seconds
    min_confidence: float = 0.5  # top class score below this -> low_confidence

    def model_post_init(self, _context: Any) -> None:
        if self.max_window_seconds < 2 * self.min_turn_seconds:
            raise InputError(f"emotion max_window_seconds ({self.max_window_seconds}) must be at least twice "
                             f"min_turn_seconds ({self.min_turn_seconds})")


@dataclass(frozen=True)
class EmotionWindow:
    """A stretch of one turn that a backend scores on its own."""

    turn_index: int
    speaker: str
    start: float
    end: float
    words: tuple[Word, ...] = ()

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words if w.text.strip())


#: score_windows(pairs of (window, samples)) -> one {label: score} dict per window, in order.
WindowScorer = Callable[[Iterable[tuple[EmotionWindow, np.ndarray]]], list[dict[str, float]]]


def split_span(start: float, end: float, max_window: float) -> list[tuple[float, float]]:
    """Cut [start, end) into the fewest equal pieces no longer than ``max_window``."""
    duration = end - start
    if duration <= max_window:
        return [(start, end)]
    count = math.ceil(duration / max_window)
    step = duration / count
    return [(start + i * step, end if i == count - 1 else start + (i + 1) * step) for i in range(count)]


def words_in_span(words: Iterable[Word], start: float, end: float) -> tuple[Word, ...]:
    """The words whose midpoint lies in [start, end): each word belongs to exactly one window."""
    return tuple(w for w in words if start <= (w.start + w.end) / 2 < end)


def turn_windows(turn: Turn, turn_index: int, max_window: float,
                 audio_duration: Optional[float] = None) -> list[EmotionWindow]:
    end = min(turn.end, audio_duration) if audio_duration else turn.end
    return [EmotionWindow(turn_index, turn.speaker, s, e, words_in_span(turn.words, s, e))
            for s, e in split_span(turn.start, end, max_window)]


def aggregate_scores(scores: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    """Weighted mean of per-window class scores, renormalised to sum to 1."""
    if not scores or len(scores) != len(weights):
        raise ValueError("aggregate_scores needs one weight per score dict (and at least one)")
    total_weight = float(sum(weights))
    if total_weight <= 0:
        weights, total_weight = [1.0] * len(scores), float(len(scores))
    mean = {label: sum(w * s.get(label, 0.0) for s, w in zip(scores, weights)) / total_weight
            for label in LABELS}
    norm = sum(mean.values())
    return {label: (v / norm if norm > 0 else 1.0 / len(LABELS)) for label, v in mean.items()}


def emotion_from_scores(scores: dict[str, float], backend: str, min_confidence: float) -> Emotion:
    label = max(LABELS, key=lambda lab: scores.get(lab, 0.0))
    confidence = float(scores.get(label, 0.0))
    return Emotion(label=label, scores={lab: round(float(scores.get(lab, 0.0)), 4) for lab in LABELS},
                   confidence=round(confidence, 4), backend=backend,
                   low_confidence=confidence < min_confidence)


def undetermined_emotion(backend: str) -> Emotion:
    """What a turn too short to judge gets: no preference between classes, clearly flagged."""
    uniform = round(1.0 / len(LABELS), 4)
    return Emotion(label="neutral", scores={lab: uniform for lab in LABELS}, confidence=0.0,
                   backend=backend, low_confidence=True)


def iter_window_audio(audio: AudioFile, windows: list[EmotionWindow]) -> Iterator[tuple[EmotionWindow, np.ndarray]]:
    """(window, float32 samples) pairs, read lazily so a long file is never held in memory twice."""
    from ..audio import load_audio

    for window in windows:
        yield window, load_audio(audio.path, window.start, window.end)


def classify_turns_by_windows(audio: AudioFile, turns: list[Turn], score_windows: WindowScorer,
                              options: WindowOptions, backend: str,
                              progress: Optional[ProgressFn] = None) -> list[Optional[Emotion]]:
    """Window the turns, let ``score_windows`` score them, and aggregate back to one Emotion per turn.

    ``progress(completed, total)`` counts seconds of turn audio.
    """
    results: list[Optional[Emotion]] = [None] * len(turns)
    windows: list[EmotionWindow] = []
    for index, turn in enumerate(turns):
        duration = min(turn.end, audio.duration) - turn.start
        if duration <= 0:
            continue  # a turn outside the audio has nothing to classify
        if duration < options.min_turn_seconds:
            results[index] = undetermined_emotion(backend)
            continue
        windows.extend(turn_windows(turn, index, options.max_window_seconds, audio.duration))
    if not windows:
        return results
    scores = score_windows(_with_progress(iter_window_audio(audio, windows), progress,
                                          sum(w.duration for w in windows)))
    if len(scores) != len(windows):
        raise RuntimeError(f"{backend} scored {len(scores)} windows, expected {len(windows)}")
    for index, window_scores, window_weights in _group_by_turn(windows, scores):
        results[index] = emotion_from_scores(aggregate_scores(window_scores, window_weights), backend,
                                             options.min_confidence)
    return results


def _with_progress(pairs: Iterator[tuple[EmotionWindow, np.ndarray]], progress: Optional[ProgressFn],
                   total: float) -> Iterator[tuple[EmotionWindow, np.ndarray]]:
    done = 0.0
    for window, samples in pairs:
        yield window, samples
        done += window.duration
        if progress is not None:
            progress(done, total)


def _group_by_turn(windows: list[EmotionWindow], scores: list[dict[str, float]]):
    groups: dict[int, tuple[list[dict[str, float]], list[float]]] = {}
    for window, window_scores in zip(windows, scores):
        bucket = groups.setdefault(window.turn_index, ([], []))
        bucket[0].append(window_scores)
        bucket[1].append(window.duration)
    for index, (group_scores, group_weights) in groups.items():
        yield index, group_scores, group_weights


def apply_emotions(aligned: AlignedTranscript, emotions: list[Optional[Emotion]]) -> AlignedTranscript:
    """A new transcript whose turns carry ``emotions`` (one per turn); ``aligned`` is left untouched."""
    if len(emotions) != len(aligned.turns):
        raise ValueError(f"got {len(emotions)} emotions for {len(aligned.turns)} turns; the emotion "
                         f"artifact does not belong to this transcript")
    turns = [turn.model_copy(update={"words": list(turn.words), "emotion": emotion})
             for turn, emotion in zip(aligned.turns, emotions)]
    return AlignedTranscript(turns=turns, language=aligned.language)
