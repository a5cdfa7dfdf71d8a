"""Emotion backends by name: ``embedded`` (CPU default), ``speechbrain`` (GPU tier), ``auto``, ``off``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..tiers import is_auto, loaded_or_fallback, log_choice
from .base import LABELS, EmotionBackend

log = logging.getLogger("vtxlib.emotion")

EMOTION_BACKENDS = ("auto", "embedded", "speechbrain", "off")

__all__ = ["EMOTION_BACKENDS", "LABELS", "available_emotion_backends", "create_emotion_backend",
           "resolve_emotion_name"]


def available_emotion_backends() -> list[str]:
    """The concrete backends whose libraries are installed here (weights are not checked)."""
    import importlib.util

    def installed(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    return [name for name, module in (("embedded", "vaderSentiment"), ("speechbrain", "speechbrain"))
            if installed(module)]


def resolve_emotion_name(name: str) -> str:
    """Map ``auto`` to speechbrain when CUDA and speechbrain are present, else embedded."""
    if not is_auto("emotion backend", name, EMOTION_BACKENDS):
        return name
    from ..gpu import cuda_available

    if "speechbrain" in available_emotion_backends() and cuda_available():
        return log_choice(log, "emotion backend", "speechbrain", "CUDA and speechbrain present")
    return log_choice(log, "emotion backend", "embedded",
                      "no CUDA GPU with speechbrain: embedded prosody + lexicon estimator")


def create_emotion_backend(name: str = "auto", cache_dir: Optional[Path] = None,
                           options=None) -> Optional[EmotionBackend]:
    """The backend called ``name`` (None for ``off``). ``options`` is the backend's Options dataclass
    (:class:`~vtxlib.emotion.embedded.EmbeddedEmotionOptions` or
    :class:`~vtxlib.emotion.speechbrain.SpeechBrainEmotionOptions`); defaults when omitted."""
    requested, name = name, resolve_emotion_name(name)
    if name == "off":
        return None
    if name == "embedded":
        from .embedded import EmbeddedEmotion, EmbeddedEmotionOptions

        return EmbeddedEmotion(options if isinstance(options, EmbeddedEmotionOptions) else None)
    from .speechbrain import SpeechBrainEmotion

    backend = SpeechBrainEmotion(options, cache_dir=cache_dir)
    if requested == "auto":  # auto must not end the run over a model that cannot load here
        from .embedded import EmbeddedEmotion

        return loaded_or_fallback(backend, EmbeddedEmotion, log, "emotion: auto falls back to the embedded estimator")
    return backend
