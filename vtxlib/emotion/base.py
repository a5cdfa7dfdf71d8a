"""The emotion backend protocol: audio + aligned speaker turns in, one :class:`Emotion` per turn out.

Every backend speaks the same four labels (the IEMOCAP classes the SpeechBrain model was trained
on), so VTT voice classes such as ``<v.angry SPEAKER_00>`` mean the same thing whichever backend
produced them.
"""

from __future__ import annotations

from typing import Optional, Protocol

from ..progress import ProgressFn  # noqa: F401  (the one definition, re-exported)
from ..types import AudioFile, Emotion, Turn

#: The labels every backend emits, in a fixed order (plots and reports use this order).
LABELS: tuple[str, ...] = ("neutral", "happy", "angry", "sad")


class EmotionBackend(Protocol):
    name: str

    def options_dict(self) -> dict:
        """The options that change the output (they form part of the cache key)."""

    def classify_turns(self, audio: AudioFile, turns: list[Turn],
                       progress: Optional[ProgressFn] = None) -> list[Optional[Emotion]]:
        """One entry per turn, in order. Turns too short to judge get an Emotion marked
        ``low_confidence`` with uniform scores; ``None`` means the turn has no audio at all."""

    def close(self) -> None:
        """Release the model (and GPU memory) once the stage is done."""
