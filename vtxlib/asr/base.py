"""The ASR backend protocol: audio file in, :class:`~vtxlib.types.Transcript` out."""

from __future__ import annotations

from typing import Optional, Protocol

from ..progress import ProgressFn  # noqa: F401  (the one definition, re-exported)
from ..types import AudioFile, Transcript


class AsrBackend(Protocol):
    name: str

    def options_dict(self) -> dict:
        """The options that change the output (they form part of the cache key)."""

    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None) -> Transcript:
        ...

    def close(self) -> None:
        """Release the model (and GPU memory) once the stage is done."""
