"""Voice activity detection: where in a 16 kHz waveform someone is speaking.

Uses the Silero VAD model shipped inside the ``silero-vad`` package (MIT), in its batched
"sequence" ONNX export, run with ``onnxruntime``. The package itself is *located* but not
imported: importing it imports torch (about 2 s), while the ONNX file needs only onnxruntime, which
faster-whisper loads anyway. The per-frame probabilities are turned into regions with the same
hysteresis rules as ``silero_vad.get_speech_timestamps`` (start above ``threshold``, end after
``min_silence_ms`` below ``threshold - 0.15``, drop regions shorter than ``min_speech_ms``, pad by
``speech_pad_ms``); ``tests/test_diarize_embedded.py`` checks the result against that function.

The model is loaded once per process (:func:`load_vad_model`), so callers that work chunk by
chunk (live microphone) pay for it once.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import BackendUnavailable, missing_dependency

log = logging.getLogger("vtxlib.vad")

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # 32 ms: the model's frame at 16 kHz
CONTEXT_SAMPLES = 64  # trailing samples of the previous frame the model sees with each frame
MODEL_FILE = "silero_vad_16k_sequence.onnx"
FRAMES_PER_CALL = 512  # ~16 s of audio per ONNX call

_model_lock = threading.Lock()
_model: Optional["SileroVad"] = None


@dataclass
class VadOptions:
    threshold: float = 0.5
    neg_threshold: Optional[float] = None  # default threshold - 0.15, as in silero-vad
    min_speech_ms: int = 250
    min_silence_ms: int = 100
    speech_pad_ms: int = 30

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VadOptions":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class SileroVad:
    """The Silero sequence model: a waveform in, one speech probability per 32 ms frame out."""

    def __init__(self, model_path: Path):
        try:
            import onnxruntime
        except ImportError as e:
            raise missing_dependency("onnxruntime", "cpu", "Voice activity detection") from e
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        self.path = model_path
        self.lock = threading.Lock()

    def frame_probabilities(self, wav: np.ndarray) -> np.ndarray:
        wav = np.ascontiguousarray(wav, dtype=np.float32).reshape(-1)
        hidden = np.zeros((1, 1, 128), dtype=np.float32)
        cell = np.zeros((1, 1, 128), dtype=np.float32)
        probs = []
        with self.lock:  # an ONNX session is shared; the LSTM state is per call
            for block in _frame_blocks(wav):
                values, hidden, cell = self.session.run(["speech_probs", "hn", "cn"],
                                                        {"input": block, "h": hidden, "c": cell})
                probs.append(values.reshape(-1))
        return np.concatenate(probs) if probs else np.zeros(0, dtype=np.float32)


def _frame_blocks(wav: np.ndarray):
    """Blocks of frames, each frame prefixed with the last samples of the previous one."""
    n_frames = -(-wav.size // FRAME_SAMPLES)
    previous = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
    for first in range(0, n_frames, FRAMES_PER_CALL):
        count = min(FRAMES_PER_CALL, n_frames - first)
        frames = np.zeros((count, FRAME_SAMPLES), dtype=np.float32)
        chunk = wav[first * FRAME_SAMPLES:(first + count) * FRAME_SAMPLES]
        frames.reshape(-1)[:chunk.size] = chunk
        contexts = np.empty((count, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = previous
        contexts[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        previous = frames[-1, -CONTEXT_SAMPLES:].copy()
        yield np.concatenate((contexts, frames), axis=1)


def silero_model_path() -> Path:
    """The ONNX file inside the installed ``silero-vad`` package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency("silero-vad", "cpu", "Voice activity detection")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / MODEL_FILE
    if not path.is_file():
        raise BackendUnavailable(f"the installed silero-vad package has no {MODEL_FILE} "
                                 f"(looked in {path.parent}); install silero-vad>=6.2")
    return path


def silero_version() -> Optional[str]:
    from .versions import package_version

    return package_version("silero-vad")


def load_vad_model() -> SileroVad:
    """The process-wide Silero VAD model (loaded on first use)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = SileroVad(silero_model_path())
            log.debug("loaded Silero VAD from %s", _model.path)
        return _model


def speech_regions(wav: np.ndarray, sr: int = SAMPLE_RATE,
                   options: Optional[VadOptions] = None) -> list[tuple[float, float]]:
    """Speech regions ``(start, end)`` in seconds, sorted and non-overlapping."""
    if sr != SAMPLE_RATE:
        raise ValueError(f"speech_regions expects {SAMPLE_RATE} Hz audio, got {sr} Hz")
    options = options or VadOptions()
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if wav.size == 0:
        return []
    probs = load_vad_model().frame_probabilities(wav)
    return regions_from_probabilities(probs, wav.size, options)


def regions_from_probabilities(probs: np.ndarray, n_samples: int,
                               options: VadOptions) -> list[tuple[float, float]]:
    """Hysteresis over per-frame probabilities, then padding; times in seconds."""
    neg_threshold = options.neg_threshold
    if neg_threshold is None:
        neg_threshold = max(options.threshold - 0.15, 0.01)
    min_silence = SAMPLE_RATE * options.min_silence_ms / 1000
    min_speech = SAMPLE_RATE * options.min_speech_ms / 1000
    regions: list[list[int]] = []
    start: Optional[int] = None
    silence_from = 0
    for i, p in enumerate(np.asarray(probs, dtype=np.float64)):
        sample = i * FRAME_SAMPLES
        if p >= options.threshold:
            silence_from = 0
            if start is None:
                start = sample
            continue
        if start is None or p >= neg_threshold:
            continue
        if not silence_from:
            silence_from = sample
        if sample - silence_from >= min_silence:
            if silence_from - start > min_speech:
                regions.append([start, silence_from])
            start, silence_from = None, 0
    if start is not None and n_samples - start > min_speech:
        regions.append([start, n_samples])
    return [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in _pad(regions, n_samples, options)]


def _pad(regions: list[list[int]], n_samples: int, options: VadOptions) -> list[list[int]]:
    """Pad each region by ``speech_pad_ms``; a gap shorter than two pads is split in the middle."""
    pad = int(SAMPLE_RATE * options.speech_pad_ms / 1000)
    for i, region in enumerate(regions):
        if i == 0:
            region[0] = max(0, region[0] - pad)
        if i + 1 < len(regions):
            gap = regions[i + 1][0] - region[1]
            if gap < 2 * pad:
                region[1] += gap // 2
                regions[i + 1][0] = max(0, regions[i + 1][0] - gap // 2)
            else:
                region[1] = min(n_samples, region[1] + pad)
                regions[i + 1][0] = max(0, regions[i + 1][0] - pad)
        else:
            region[1] = min(n_samples, region[1] + pad)
    return regions
