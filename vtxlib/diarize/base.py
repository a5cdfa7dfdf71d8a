"""The diarization backend protocol: audio file in, :class:`~vtxlib.types.Diarization` out."""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from ..errors import InputError
from ..types import AudioFile, Diarization, OptionsModel

ProgressFn = Callable[[float, float], None]


class SpeakerCount(OptionsModel):
    """User constraints on the number of speakers; all None means estimate it."""

    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None

    def model_post_init(self, _context: Any) -> None:
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.num_speakers is not None and (self.min_speakers or self.max_speakers):
            raise InputError("give either --num-speakers or --min-speakers/--max-speakers, not both")
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise InputError(f"--min-speakers ({self.min_speakers}) is larger than "
                             f"--max-speakers ({self.max_speakers})")


class DiarizationBackend(Protocol):
    name: str

    def options_dict(self) -> dict:
        ...

    def diarize(self, audio: AudioFile, count: SpeakerCount,
                progress: Optional[ProgressFn] = None) -> Diarization:
        ...

    def close(self) -> None:
        ...
