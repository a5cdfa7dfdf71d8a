"""Language identification with Whisper's multilingual ``base`` model: the language stage's backend.

It lives with the ASR backends (it loads a faster-whisper model the way they do); the identification
logic it feeds is :mod:`vtxlib.language`, which knows no model.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..language import DETECTOR_MODEL, LanguageOptions, identify
from ..types import LanguageDetection


class WhisperLanguageDetector:
    """Whisper's language identification with the bundled multilingual ``base`` model (CPU)."""

    name = "whisper-base"

    def __init__(self, model=None, cpu_threads: int = 1):
        self._model = model
        self.cpu_threads = cpu_threads

    @property
    def model(self):
        if self._model is None:
            from .whisper_cpu import WhisperCpuOptions, load_whisper_model

            self._model = load_whisper_model(WhisperCpuOptions(model=DETECTOR_MODEL, language=None,
                                                               cpu_threads=self.cpu_threads))
        return self._model

    def model_files(self):
        from ..errors import BackendUnavailable
        from .whisper_cpu import BUNDLED_MODELS

        try:
            return [p for pieces in BUNDLED_MODELS[DETECTOR_MODEL].locate().values() for p in pieces]
        except BackendUnavailable:
            return []

    def __call__(self, samples: np.ndarray) -> list[tuple[str, float]]:
        _, _, ranked = self.model.detect_language(audio=np.asarray(samples, dtype=np.float32),
                                                  language_detection_segments=1)
        return [(lang, float(p)) for lang, p in ranked]

    def identify(self, audio_path: str, regions: Sequence[tuple[float, float]],
                 options: Optional[LanguageOptions] = None) -> LanguageDetection:
        from ..audio import load_audio

        return identify(lambda s, e: load_audio(audio_path, s, e), regions, self, options)

    def close(self) -> None:
        self._model = None
