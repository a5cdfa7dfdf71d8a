"""Language identification with Whisper's multilingual ``base`` model: the language stage's backend.

It lives with the ASR backends (it loads a faster-whisper model the way they do); the identification
logic it feeds is :mod:`vtxlib.language`, which knows no model.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..language import DETECTOR_MODEL, Decoded, LanguageOptions, identify
from ..types import LanguageDetection


class WhisperLanguageDetector:
    """Whisper's language identification: the bundled multilingual ``base`` model on the CPU (the
    embedded tier), or a hub model such as ``large-v3-turbo`` on CUDA (the GPU tier, downloaded once)."""

    def __init__(self, model=None, cpu_threads: int = 1, model_name: str = DETECTOR_MODEL, device: str = "cpu",
                 compute_type: str = "int8", download_root: Optional[Path] = None):
        self._model = model
        self.cpu_threads = cpu_threads
        self.model_name, self.device, self.compute_type = model_name, device, compute_type
        self.download_root = download_root
        self._unavailable: Optional[Exception] = None
        self._fallback: Optional[WhisperLanguageDetector] = None

    @classmethod
    def for_gpu(cls, download_root: Optional[Path] = None) -> "WhisperLanguageDetector":
        """The GPU tier's detector: the Whisper model the tier transcribes Whisper's languages with, on
        CUDA in fp16 (one download serves both)."""
        from . import GPU_WHISPER_MODEL

        return cls(model_name=GPU_WHISPER_MODEL, device="cuda", compute_type="float16", download_root=download_root)

    @property
    def name(self) -> str:
        return f"whisper-{self.model_name}"

    @property
    def uses_gpu(self) -> bool:
        """Its model is loaded on a GPU (released after the language stage like every GPU model)."""
        return self.device != "cpu" and self._model is not None

    @property
    def options(self):
        """The faster-whisper settings this detector loads its model with."""
        from .whisper_cpu import WhisperCpuOptions

        return WhisperCpuOptions(model=self.model_name, language=None, device=self.device,
                                 compute_type=self.compute_type, cpu_threads=self.cpu_threads)

    @property
    def model(self):
        if self._model is None:
            from ..errors import BackendUnavailable
            from .whisper_cpu import load_whisper_model

            if self._unavailable is not None:  # tried once in this process: a batch does not retry per file
                raise self._unavailable
            try:
                self._model = load_whisper_model(self.options, download_root=self.download_root)
            except BackendUnavailable as e:
                self._unavailable = e
                raise
        return self._model

    def fallback(self) -> Optional["WhisperLanguageDetector"]:
        """The bundled CPU detector (one, loaded once), for a hub model that cannot be loaded (offline
        on first use, no CUDA libraries); None for the bundled one itself."""
        if self.model_name == DETECTOR_MODEL and self.device == "cpu":
            return None
        if self._fallback is None:
            self._fallback = WhisperLanguageDetector(cpu_threads=self.cpu_threads)
        return self._fallback

    def model_files(self):
        from ..errors import BackendUnavailable
        from .whisper_cpu import BUNDLED_MODELS

        bundled = BUNDLED_MODELS.get(self.model_name)
        if bundled is None:
            return []  # a hub model: its name pins it
        try:
            return [p for pieces in bundled.locate().values() for p in pieces]
        except BackendUnavailable:
            return []

    def __call__(self, samples: np.ndarray) -> list[tuple[str, float]]:
        _, _, ranked = self.model.detect_language(audio=np.asarray(samples, dtype=np.float32),
                                                  language_detection_segments=1)
        return [(lang, float(p)) for lang, p in ranked]

    def decode(self, samples: np.ndarray, languages: Sequence[str]) -> dict[str, Decoded]:
        """SAMPLES (one window, at most 30 s) decoded greedily with each of LANGUAGES forced: one
        encoder pass, the languages decoded as one batch."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        if not languages:
            return {}
        model = self.model
        features = model.feature_extractor(np.asarray(samples, dtype=np.float32))
        encoded = _repeat(model, pad_or_trim(features[..., :model.feature_extractor.nb_max_frames]), len(languages))
        tokenizers = [Tokenizer(model.hf_tokenizer, True, task="transcribe", language=lang) for lang in languages]
        prompts = [[*t.sot_sequence, t.no_timestamps] for t in tokenizers]
        results = model.model.generate(encoded, prompts, beam_size=1, return_scores=True, max_length=224,
                                       suppress_blank=True, suppress_tokens=[-1])
        out = {}
        for lang, tokenizer, result in zip(languages, tokenizers, results):
            tokens = result.sequences_ids[0]
            text = tokenizer.decode(tokens).strip()
            # generate's score is the sum of log-probabilities over the tokens (length penalty 1): back
            # to faster-whisper's avg_logprob, which counts the end-of-text token too
            out[lang] = Decoded(avg_logprob=result.scores[0] * len(tokens) / (len(tokens) + 1), tokens=len(tokens),
                                compression_ratio=_compression_ratio(text), text=text)
        return out

    def identify(self, audio_path: str, regions: Sequence[tuple[float, float]],
                 options: Optional[LanguageOptions] = None) -> LanguageDetection:
        from ..audio import load_audio

        return identify(lambda s, e: load_audio(audio_path, s, e), regions, self, options, decode=self.decode)

    def close(self) -> None:
        self._model = None
        if self._fallback is not None:
            self._fallback.close()


def _repeat(model, features: np.ndarray, count: int):
    """The encoder's output for FEATURES, COUNT times over (one row per forced language): encoded once
    on the CPU; on a GPU, where the output cannot be copied as an array, the batch is encoded."""
    import ctranslate2

    if model.model.device == "cpu":
        encoded = np.asarray(model.encode(features))
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, count, axis=0)))
    return model.encode(np.ascontiguousarray(np.repeat(features[np.newaxis], count, axis=0)))


def _compression_ratio(text: str) -> float:
    """How much better than 1 the text compresses (gzip): a decode that repeats itself compresses well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0
