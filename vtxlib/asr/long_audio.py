"""Windows over long audio and the merge of per-window words, without duplicates or gaps.

A recording longer than one model pass is cut into windows of ``window`` seconds that overlap by
``overlap`` seconds. Each overlap is split at its midpoint: a window *keeps* only the words whose
centre lies in its keep range ``[keep_start, keep_end)``. Keep ranges tile ``[0, duration)`` exactly,
so every word is kept by exactly one window (no duplicates) and every instant belongs to a window
that saw at least ``overlap / 2`` seconds of context on both sides of it (no gaps, no words cut at
a hard boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..types import Segment, Word


@dataclass(frozen=True)
class AsrWindow:
    start: float
    end: float
    keep_start: float
    keep_end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def plan_windows(duration: float, window: float, overlap: float) -> list[AsrWindow]:
    """Windows covering ``[0, duration]``; a single window when the audio fits in one."""
    if window <= 0 or overlap < 0 or overlap >= window:
        raise ValueError(f"need 0 <= overlap < window, got window={window}, overlap={overlap}")
    if duration <= window:
        return [AsrWindow(0.0, duration, 0.0, duration)]
    step = window - overlap
    starts = [0.0]
    while starts[-1] + window < duration:
        starts.append(starts[-1] + step)
    windows = []
    for i, start in enumerate(starts):
        end = min(start + window, duration)
        keep_start = 0.0 if i == 0 else (start + min(starts[i - 1] + window, duration)) / 2
        keep_end = duration if i == len(starts) - 1 else (starts[i + 1] + end) / 2
        windows.append(AsrWindow(start, end, keep_start, keep_end))
    return windows


def shift_segment(segment: Segment, offset: float) -> Segment:
    words = [Word(w.text, w.start + offset, w.end + offset, w.prob, w.speaker) for w in segment.words]
    return Segment(segment.text, segment.start + offset, segment.end + offset, words)


def keep_in_window(segments: list[Segment], window: AsrWindow) -> list[Segment]:
    """The part of a window's (absolute-time) segments that this window is responsible for.

    A segment that straddles a keep boundary is trimmed to its kept words and its text rebuilt
    from them, so the neighbouring window supplies the rest exactly once."""
    kept = []
    for segment in segments:
        words = [w for w in segment.words if window.keep_start <= _centre(w) < window.keep_end
                 or (window.keep_end >= window.end and _centre(w) >= window.keep_end)]
        if not words:
            continue
        if len(words) == len(segment.words):
            kept.append(segment)
        else:
            text = " ".join(w.text for w in words)
            kept.append(Segment(text, words[0].start, words[-1].end, words))
    return kept


def merge_windows(per_window: list[tuple[AsrWindow, list[Segment]]]) -> list[Segment]:
    """Concatenate the kept segments of consecutive windows (segments already in absolute time)."""
    merged: list[Segment] = []
    for window, segments in per_window:
        merged.extend(keep_in_window(segments, window))
    return merged


def _centre(word: Word) -> float:
    return (word.start + word.end) / 2
