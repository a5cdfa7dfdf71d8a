"""``--asr auto --allow-cloud``: the available backends ordered by the request, each tried in turn.

Without ``--allow-cloud`` ``auto`` never gets here: it is the local choice of
:func:`vtxlib.asr.resolve_asr_name` (NeMo on a GPU, else whisper-cpu) and no hosted SDK is even
imported. With consent the order is (:func:`rank_backends`):

1. ``nemo`` when a CUDA GPU with NeMo is here and the language is English or not given: free, fast,
   and nothing leaves the machine;
2. ``assemblyai`` first among the hosted ones when its speaker labels are the diarization
   (``--diarizer assemblyai``), and otherwise too: it times its own words, while Gemini's words are
   timed by a local recognizer pass that costs the CPU tier's time again (more, the longer the file);
   a file over AssemblyAI's 10-hour limit skips it;
3. ``gemini``;
4. the local CPU recognizer (``whisper-cpu``; the multilingual ``base`` model for a language other
   than English), which needs nothing and is always last.

A hosted backend without its key (environment, Colab secrets, ``<workspace>/secrets``) is left out.
Any failure of a backend (refused key, quota, timeout, service error, unreadable or partial answer,
a dry run) moves on to the next one; the line ``asr: transcript by X`` says which one produced the
result, which the transcript records in ``routing`` and ``backend`` (and ``backends.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import StageFailed, VtxError
from ..types import AsrAttempt, AsrRouting, AudioFile, Transcript
from .base import ProgressFn
from .cloud import CLOUD_BACKENDS, key_present

log = logging.getLogger("vtxlib.asr")


@dataclass(frozen=True)
class AsrRequest:
    """What the run asks of ASR, besides the audio (whose length is known when it is transcribed)."""

    language: Optional[str] = None
    speakers_from_asr: bool = False  # --diarizer assemblyai: the labels must come with the transcript
    gpu: bool = False  # a CUDA GPU with NeMo is here
    keys: tuple[str, ...] = ()  # hosted backends whose key is set


def rank_backends(request: AsrRequest, duration: float) -> list[tuple[str, str]]:
    """(backend, why it is at this place), best first."""
    from .assemblyai import MAX_DURATION_S

    english = (request.language or "en").lower().startswith("en")
    ranked: list[tuple[str, str]] = []
    if request.gpu and english and not request.speakers_from_asr:
        ranked.append(("nemo", "local GPU: free, nothing uploaded"))
    if "assemblyai" in request.keys:
        if duration > MAX_DURATION_S:
            log.info("asr: auto leaves out AssemblyAI: %.1f h is over its %d-hour limit", duration / 3600,
                     MAX_DURATION_S // 3600)
        else:
            ranked.append(("assemblyai", "its speaker labels are the diarization" if request.speakers_from_asr
                           else "key set; times its own words"))
    if "gemini" in request.keys and not request.speakers_from_asr:
        ranked.append(("gemini", "key set; its words are timed by a local recognizer pass"))
    if request.gpu and not any(name == "nemo" for name, _ in ranked):
        ranked.append(("nemo", "local GPU"))
    ranked.append(("whisper-cpu", "local CPU, always available"))
    return ranked


class AsrRouter:
    """An ASR backend that tries others in order; ``name`` is ``auto``, the transcript names the one used."""

    name = "auto"
    takes_speech = True

    def __init__(self, request: AsrRequest, make: Callable[[str], Any], dry_run: bool = False):
        self.request, self._make, self.dry_run = request, make, dry_run
        self._backends: dict[str, Any] = {}

    @classmethod
    def for_run(cls, language: Optional[str], speakers_from_asr: bool, secrets_dir: Optional[Path],
                make: Callable[[str], Any], dry_run: bool = False) -> "AsrRouter":
        """A dry run shows every hosted backend's requests, with or without its key."""
        from ..gpu import cuda_available, nemo_available

        keys = tuple(name for name in CLOUD_BACKENDS if dry_run or key_present(name, secrets_dir))
        request = AsrRequest(language=language, speakers_from_asr=speakers_from_asr,
                             gpu=cuda_available() and nemo_available(), keys=keys)
        return cls(request, make, dry_run=dry_run)

    def backend(self, name: str):
        if name not in self._backends:
            self._backends[name] = self._make(name)
        return self._backends[name]

    def options_dict(self) -> dict:
        """Consent, the request and every candidate's options: a result made with other candidates
        (a key added, consent withdrawn) has another cache key."""
        names = sorted({name for name, _ in rank_backends(self.request, 0.0)})
        return {"allow_cloud": True, "dry_run": self.dry_run, "language": self.request.language,
                "speakers_from_asr": self.request.speakers_from_asr,
                "candidates": {name: self.backend(name).options_dict() for name in names}}

    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None, speech: Any = None,
                   **_: Any) -> Transcript:
        ranked = rank_backends(self.request, audio.duration)
        log.info("asr: auto order: %s", "; ".join(f"{name} ({why})" for name, why in ranked))
        attempts: list[AsrAttempt] = []
        for name, _why in ranked:
            backend = self.backend(name)
            extra = {"speech": speech} if speech is not None and getattr(backend, "takes_speech", False) else {}
            try:
                transcript = backend.transcribe(audio, progress, **extra)
            except VtxError as e:
                attempts.append(AsrAttempt(backend=name, ok=False, error=str(e)))
                if _dry(str(e)):
                    log.warning("asr: %s not asked (dry run); trying the next backend", name)
                else:
                    log.warning("asr: %s failed: %s; trying the next backend", name, e)
                continue
            attempts.append(AsrAttempt(backend=name, ok=True))
            log.warning("asr: transcript by %s (auto%s)", name, _before(attempts[:-1]))
            transcript.routing = AsrRouting(allow_cloud=True, order=[n for n, _ in ranked], attempts=attempts)
            return transcript
        raise StageFailed("asr: every backend failed: " + "; ".join(f"{a.backend}: {a.error}" for a in attempts))

    @property
    def uses_gpu(self) -> bool:
        """NeMo was made: the pipeline releases the router (and its GPU model) after the stage."""
        return "nemo" in self._backends

    def model_files(self) -> list[Path]:
        files = getattr(self.backend("whisper-cpu"), "model_files", None)
        return list(files()) if callable(files) else []

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()


def _dry(error: str) -> bool:
    return ": dry run: nothing was sent" in error


def _before(attempts: list[AsrAttempt]) -> str:
    """', after assemblyai failed' / ', dry run for assemblyai, gemini' / ''."""
    dry = [a.backend for a in attempts if _dry(a.error)]
    failed = [a.backend for a in attempts if not _dry(a.error)]
    return (f", after {', '.join(failed)} failed" if failed else "") + \
        (f", dry run for {', '.join(dry)}" if dry else "")
