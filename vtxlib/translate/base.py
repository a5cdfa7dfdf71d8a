"""The translation backend protocol: the original's cues in, one text per cue id out.

Every backend translates *cues*, never free text: it is given the cues of the original
``transcript.vtt`` (id, speaker, text, start and end) and must answer exactly one text for each id.
The track it makes therefore has the original's cue count, times and voice tags by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

from ..errors import InputError
from ..progress import ProgressFn  # progress(completed_cues, total_cues)


@dataclass(frozen=True)
class CueSource:
    id: str
    speaker: str
    text: str
    start: float
    end: float
    overlap: bool = False  # a second voice's placeholder ("(overlapping speech)"), not its words


@dataclass
class TranslationRequest:
    cues: list[CueSource]
    source: Optional[str]  # the original's language (None: unknown)
    target: str
    audio_path: Optional[str] = None  # the 16 kHz wav, for backends that translate speech
    progress: Optional[ProgressFn] = field(default=None, repr=False)


class Translator(Protocol):
    name: str
    uses_audio: bool  # translates the cues' audio (Whisper, Canary), not their text (Gemini)

    def options_dict(self) -> dict:
        """What changes the output (part of the cache key): model, prompt version, ..."""

    def supports(self, source: Optional[str], target: str) -> bool:
        ...

    def translate(self, request: TranslationRequest) -> dict[str, str]:
        """cue id -> translated text, for every cue of the request."""

    def close(self) -> None:
        ...


class NoTranslationBackend(InputError):
    """No backend can make the asked track here (said before any work)."""
