"""The diarization backend protocol: audio file in, :class:`~vtxlib.types.Diarization` out."""

from __future__ import annotations

from typing import Any, Optional, Protocol

from ..progress import ProgressFn  # noqa: F401  (the one definition, re-exported)
from ..types import AudioFile, Diarization, OptionsModel
from ..validate import check_speaker_counts


class SpeakerCount(OptionsModel):
    """User constraints on the number of speakers; all None means estimate it."""

    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None

    def model_post_init(self, _context: Any) -> None:
        check_speaker_counts(self.num_speakers, self.min_speakers, self.max_speakers)


class DiarizationBackend(Protocol):
    name: str

    def options_dict(self) -> dict:
        ...

    def diarize(self, audio: AudioFile, count: SpeakerCount,
                progress: Optional[ProgressFn] = None) -> Diarization:
        ...

    def close(self) -> None:
        ...
