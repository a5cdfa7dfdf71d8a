"""Translator ``whisper``: Whisper's translate task (into English) on the CPU tier.

Each cue's own stretch of audio (its start to its end, a little padding around it) is decoded by
the multilingual faster-whisper ``base`` model with ``task="translate"``, so every cue keeps the
original's times; the model never sees text. Whisper translates into English only. A cue whose
audio gives no text keeps its original text (logged), so that the track still has every cue.
"""

from __future__ import annotations

import logging
from typing import Optional

from ..audio import SAMPLE_RATE
from ..types import OptionsModel
from .base import TranslationRequest

log = logging.getLogger("vtxlib.translate")


class WhisperTranslateOptions(OptionsModel):
    model: str = "base"            # a bundled multilingual model (vtxlib.asr.whisper_cpu.BUNDLED_MODELS)
    beam_size: int = 5
    pad_s: float = 0.15            # audio decoded before and after each cue
    compute_type: str = "int8"
    cpu_threads: int = 1

    def cache_dict(self) -> dict:
        return {"model": self.model, "beam_size": self.beam_size, "pad_s": self.pad_s,
                "compute_type": self.compute_type, "task": "translate"}


class WhisperTranslator:
    name = "whisper"
    uses_audio = True

    def __init__(self, options: Optional[WhisperTranslateOptions] = None, model=None):
        self.options = options or WhisperTranslateOptions()
        self._model = model

    def options_dict(self) -> dict:
        return self.options.cache_dict()

    def model_files(self):
        from ..asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

        return WhisperCpuAsr(WhisperCpuOptions(model=self.options.model, language=None)).model_files()

    def supports(self, source: Optional[str], target: str) -> bool:
        return target == "en"

    @property
    def model(self):
        if self._model is None:
            from ..asr.whisper_cpu import BUNDLED_MODELS, WhisperCpuOptions, load_whisper_model
            from ..errors import InputError

            bundled = BUNDLED_MODELS.get(self.options.model)
            if bundled is not None and bundled.english_only:
                raise InputError(f"Whisper's translate task needs a multilingual model, not {bundled.name!r}")
            self._model = load_whisper_model(WhisperCpuOptions(
                model=self.options.model, language=None, compute_type=self.options.compute_type,
                cpu_threads=self.options.cpu_threads))
        return self._model

    def translate(self, request: TranslationRequest) -> dict[str, str]:
        from ..audio import load_audio

        if request.audio_path is None:
            raise ValueError("Whisper translation needs the audio")
        samples = load_audio(request.audio_path)
        texts, kept = {}, []
        for done, cue in enumerate(request.cues, start=1):
            text = "" if cue.overlap else self._translate_span(samples, cue.start, cue.end, request.source)
            if not text:
                kept.append(cue.id)
                text = cue.text
            texts[cue.id] = text
            if request.progress:
                request.progress(done, len(request.cues))
        if kept:
            log.warning("translate: %d of %d cues kept their original text (no speech translated in their "
                        "audio): %s", len(kept), len(request.cues), ", ".join(kept[:10]))
        return texts

    def _translate_span(self, samples, start: float, end: float, source: Optional[str]) -> str:
        first = max(0, int((start - self.options.pad_s) * SAMPLE_RATE))
        last = min(len(samples), int((end + self.options.pad_s) * SAMPLE_RATE))
        if last - first < SAMPLE_RATE // 10:
            return ""
        segments, _ = self.model.transcribe(samples[first:last], task="translate", language=source,
                                            beam_size=self.options.beam_size, vad_filter=False,
                                            condition_on_previous_text=False, without_timestamps=True)
        return " ".join(" ".join(s.text.split()) for s in segments).strip()

    def close(self) -> None:
        self._model = None
