"""What a backend can do beyond its stage's method, as runtime-checkable protocols.

The stages ask ``isinstance(backend, SpeechDetector)`` (and the helpers below) instead of probing
attributes by name; any object with the members qualifies (tests' stand-ins and given backends too).
A flag protocol (``TakesSpeech``...) says a backend *declares* the flag; the helpers also read its
value, since a backend may declare it False.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, Sequence, runtime_checkable


@runtime_checkable
class SpeechDetector(Protocol):
    """A diarizer that detects speech itself (the embedded one: segmentation-3.0, overlap too); the
    speech stage then uses its regions instead of Silero's."""

    speech_backend: str

    def speech_options(self) -> dict: ...

    def detect_speech(self, audio: Any, progress: Any = None) -> Any: ...


@runtime_checkable
class VoiceEmbedding(Protocol):
    """A diarizer that embeds enrolled voices in its own speaker space (``--voices``)."""

    def voice_embedder(self) -> Any: ...


@runtime_checkable
class TakesSpeech(Protocol):
    """Takes the speech stage's regions (``speech=``) when ``takes_speech`` is true."""

    takes_speech: bool


@runtime_checkable
class TakesTranscript(Protocol):
    """A diarizer whose turns come with the transcript (AssemblyAI's speaker labels): it runs after
    ASR and gets ``transcript=``."""

    takes_transcript: bool


@runtime_checkable
class LanguageAware(Protocol):
    """An ASR backend that decodes in the language stage's language(s) (``language=``)."""

    takes_language: bool


@runtime_checkable
class ChecksAvailability(Protocol):
    """Can say before any long work that its model is missing (raises BackendUnavailable)."""

    def check_available(self) -> None: ...


@runtime_checkable
class FallsBack(Protocol):
    """A backend that names another to use when its own model cannot be loaded (None: no other)."""

    def fallback(self) -> Any: ...


@runtime_checkable
class HasModelFiles(Protocol):
    """Names the local model files it reads (their checksum joins the cache key)."""

    def model_files(self) -> Iterable[Any]: ...


@runtime_checkable
class LanguageSpecific(Protocol):
    """Gives the backend to use for a language (the embedded emotion lexicon is English only)."""

    def for_language(self, language: Optional[str]) -> Any: ...


@runtime_checkable
class Loadable(Protocol):
    """Loads its model on demand (``warm_up`` calls it at a service's start)."""

    def load(self) -> None: ...


@runtime_checkable
class Closeable(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class HoldsGpu(Protocol):
    """Says whether it holds a GPU model (the ASR router: by the backend it routed to)."""

    uses_gpu: bool


@runtime_checkable
class NamesItsModel(Protocol):
    """Names its model for messages (e.g. "Whisper tiny.en")."""

    model_label: str


@runtime_checkable
class KnowsItsLanguages(Protocol):
    """An ASR backend that says which languages its model transcribes (None: any)."""

    languages: Optional[Sequence[str]]


def load_now(backend: Any) -> None:
    """Load a backend's model now: ``load()``, or the first read of a lazily loading ``model``
    property (whisper-cpu, NeMo), looked up on the class so that only this read loads it."""
    if isinstance(backend, Loadable):
        backend.load()
    elif isinstance(inspect.getattr_static(backend, "model", None), property):
        backend.model


def takes_speech(backend: Any) -> bool:
    return isinstance(backend, TakesSpeech) and bool(backend.takes_speech)


def takes_transcript(backend: Any) -> bool:
    return isinstance(backend, TakesTranscript) and bool(backend.takes_transcript)


def takes_language(backend: Any) -> bool:
    return isinstance(backend, LanguageAware) and bool(backend.takes_language)


def uses_gpu(backend: Any) -> bool:
    """A backend that says it holds a GPU model (the ASR router, by the backend it routed to)."""
    return isinstance(backend, HoldsGpu) and bool(backend.uses_gpu)


def model_files(backend: Any) -> list[Path]:
    return [Path(p) for p in backend.model_files()] if isinstance(backend, HasModelFiles) else []


def model_label(backend: Any) -> str:
    """The model's name for a message (the backend's name unless it names its model)."""
    return backend.model_label if isinstance(backend, NamesItsModel) else backend.name


def model_languages(backend: Any) -> Optional[Sequence[str]]:
    return backend.languages if isinstance(backend, KnowsItsLanguages) else None
