"""Diarization backends by name: ``embedded`` (CPU default), ``pyannote`` (GPU tier), ``auto``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..tiers import is_auto, loaded_or_fallback, log_choice
from .base import DiarizationBackend, SpeakerCount

log = logging.getLogger("vtxlib.diarize")

DIARIZERS = ("auto", "embedded", "pyannote", "sortformer", "assemblyai")

__all__ = ["DIARIZERS", "SpeakerCount", "create_diarizer", "resolve_diarizer_name"]


def resolve_diarizer_name(name: str, secrets_dir: Optional[Path] = None) -> str:
    """Map ``auto`` to pyannote when CUDA, pyannote.audio and an HF token are present, else embedded."""
    if not is_auto("diarizer", name, DIARIZERS):
        return name
    from ..gpu import cuda_available, pyannote_available
    from ..secrets import get_secret

    if not (cuda_available() and pyannote_available()):
        return log_choice(log, "diarizer", "embedded", "no CUDA GPU with pyannote.audio: embedded CPU tier")
    if not get_secret("HF_TOKEN", secrets_dir):
        log.warning("diarizer auto -> embedded: a GPU and pyannote.audio are here but no HF_TOKEN is set "
                    "(see README, 'Hugging Face token')")
        return "embedded"
    return log_choice(log, "diarizer", "pyannote", "CUDA, pyannote.audio and an HF token present")


def create_diarizer(name: str = "auto", model: Optional[str] = None, secrets_dir: Optional[Path] = None,
                    models_dir: Optional[Path] = None) -> DiarizationBackend:
    from ..asr import hub_cache

    requested, name = name, resolve_diarizer_name(name, secrets_dir)
    if name == "assemblyai":  # AssemblyAI's speaker labels, from its transcript (vtxlib.diarize.assemblyai)
        from .assemblyai import AssemblyAISpeakers

        return AssemblyAISpeakers()
    if name == "embedded":
        from .embedded import EmbeddedDiarizer

        return EmbeddedDiarizer()
    if name == "sortformer":
        from .sortformer import SortformerDiarizer, SortformerOptions

        options = SortformerOptions(**({"model": model} if model else {}))
        return SortformerDiarizer(options, cache_dir=hub_cache(models_dir))
    from ..secrets import get_secret
    from .pyannote import PyannoteDiarizer, PyannoteOptions

    options = PyannoteOptions(**({"model": model} if model else {}))
    backend = PyannoteDiarizer(options, token=get_secret("HF_TOKEN", secrets_dir), cache_dir=hub_cache(models_dir),
                               secrets_dir=secrets_dir)
    if requested == "auto":  # a gated model must not end the run: the embedded tier needs no token
        from .embedded import EmbeddedDiarizer
        from .pyannote import AccessRefused

        return loaded_or_fallback(backend, EmbeddedDiarizer, log, "diarizer: auto falls back to the embedded "
                                  "diarizer", refusals=(AccessRefused,))
    return backend
