"""ASR backends by name: ``whisper-cpu`` (embedded, default off-GPU), ``nemo`` (GPU tier), ``auto``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..tiers import is_auto, log_choice
from .base import AsrBackend

log = logging.getLogger("vtxlib.asr")

ASR_BACKENDS = ("auto", "whisper-cpu", "nemo")


def resolve_asr_name(name: str) -> str:
    """Map ``auto`` to a concrete backend: NeMo when CUDA and NeMo are present, else whisper-cpu."""
    if not is_auto("ASR backend", name, ASR_BACKENDS):
        return name
    from ..gpu import cuda_available, nemo_available

    if cuda_available() and nemo_available():
        return log_choice(log, "ASR backend", "nemo", "CUDA and NeMo present")
    return log_choice(log, "ASR backend", "whisper-cpu", "no CUDA GPU with NeMo: embedded CPU tier")


def create_asr(name: str = "auto", model: Optional[str] = None, language: Optional[str] = None,
               cache_dir: Optional[Path] = None) -> AsrBackend:
    name = resolve_asr_name(name)
    if name == "whisper-cpu":
        from .whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

        options = WhisperCpuOptions()
        if model:
            options.model = model
        if language:
            options.language = language
        return WhisperCpuAsr(options)
    from .nemo import NemoAsr, NemoAsrOptions

    options = NemoAsrOptions(**{k: v for k, v in (("model", model), ("language", language)) if v})
    return NemoAsr(options, cache_dir=hub_cache(cache_dir))


def hub_cache(models_dir: Optional[Path]) -> Optional[Path]:
    """The Hugging Face hub cache inside the workspace, whatever HF_HOME was at first import."""
    return Path(models_dir) / "huggingface" / "hub" if models_dir else None
