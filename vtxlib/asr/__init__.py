"""ASR backends by name: ``whisper-cpu`` (embedded, default off-GPU), ``nemo`` (GPU tier), ``auto``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..errors import InputError
from .base import AsrBackend

log = logging.getLogger("vtxlib.asr")

ASR_BACKENDS = ("auto", "whisper-cpu", "nemo")


def resolve_asr_name(name: str) -> str:
    """Map ``auto`` to a concrete backend: NeMo when CUDA and NeMo are present, else whisper-cpu."""
    if name not in ASR_BACKENDS:
        raise InputError(f"unknown ASR backend {name!r}; expected one of: {', '.join(ASR_BACKENDS)}")
    if name != "auto":
        return name
    from ..gpu import cuda_available, nemo_available

    chosen = "nemo" if cuda_available() and nemo_available() else "whisper-cpu"
    log.info("ASR backend auto -> %s (%s)", chosen,
             "CUDA and NeMo present" if chosen == "nemo" else "no CUDA GPU with NeMo: embedded CPU tier")
    return chosen


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
