"""ASR backends by name: ``whisper-cpu`` (embedded, default off-GPU), ``nemo`` (GPU tier), the hosted
``assemblyai`` and ``gemini`` (only with ``allow_cloud``), and ``auto``: the local choice, or with
``allow_cloud`` the router (:mod:`vtxlib.asr.router`) that tries them in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError
from .base import AsrBackend

log = logging.getLogger("vtxlib.asr")

ASR_BACKENDS = ("auto", "whisper-cpu", "nemo", "assemblyai", "gemini")


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


@dataclass(frozen=True)
class CloudSettings:
    """What a hosted backend needs from the run: consent, a dry run, where keys are, speaker labels."""

    allow_cloud: bool = False
    dry_run: bool = False
    secrets_dir: Optional[Path] = None
    speaker_labels: bool = False  # --diarizer assemblyai: ask AssemblyAI for them
    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None


def create_asr(name: str = "auto", model: Optional[str] = None, language: Optional[str] = None,
               cache_dir: Optional[Path] = None, cloud: Optional[CloudSettings] = None) -> AsrBackend:
    cloud = cloud or CloudSettings()
    if name == "auto" and (cloud.allow_cloud or cloud.dry_run):
        from .router import AsrRouter

        return AsrRouter.for_run(language, cloud.speaker_labels, cloud.secrets_dir,
                                 lambda chosen: _create(chosen, model, language, cache_dir, cloud, routed=True),
                                 dry_run=cloud.dry_run)
    return _create(resolve_asr_name(name), model, language, cache_dir, cloud)


def _create(name: str, model: Optional[str], language: Optional[str], cache_dir: Optional[Path],
            cloud: CloudSettings, routed: bool = False) -> AsrBackend:
    if name in ("assemblyai", "gemini"):
        from .cloud import api_key, require_consent

        # before anything is built, let alone sent; a dry run sends nothing, so it needs no consent
        require_consent(name, cloud.allow_cloud or cloud.dry_run)
        key = api_key(name, cloud.secrets_dir)
        if name == "assemblyai":
            from .assemblyai import AssemblyAIAsr, AssemblyAIOptions

            options = AssemblyAIOptions(language=language, speaker_labels=cloud.speaker_labels,
                                        speakers_expected=cloud.num_speakers, min_speakers=cloud.min_speakers,
                                        max_speakers=cloud.max_speakers,
                                        **({"speech_model": model} if model and not routed else {}))
            return AssemblyAIAsr(options, api_key=key, allow_cloud=True, dry_run=cloud.dry_run)
        from .gemini import GeminiAsr, GeminiAsrOptions

        options = GeminiAsrOptions(language=language, **({"model": model} if model and not routed else {}))
        return GeminiAsr(options, api_key=key, allow_cloud=True, dry_run=cloud.dry_run)
    if routed and name == "whisper-cpu" and language and not language.startswith("en") and not model:
        model = "base"  # tiny.en knows English only
    if routed and model and name == "nemo":
        model = None
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
