"""The ``embedded`` diarizer: Silero VAD + resemblyzer speaker embeddings + clustering, CPU only.

How it works:

1. speech regions from Silero VAD (:mod:`vtxlib.vad`), or passed in by the caller;
2. resemblyzer's 40-channel mel spectrogram of the whole file (computed here in numpy, identical
   to resemblyzer's librosa call) and d-vectors of sliding windows over speech only, from
   resemblyzer's ``pretrained.pt`` run through a numpy re-implementation of its 3-layer LSTM
   (same weights, same numbers; no torch or librosa import, which would cost ~2 s each);
3. the embeddings are centred (the mean embedding mostly describes the channel, shared by all
   speakers) and the number of speakers is estimated by spectral eigengap analysis on a pruned
   affinity graph (Park et al. 2019, "auto-tuning spectral clustering"); ``SpeakerCount``
   overrides or bounds it;
4. windows are clustered (average-linkage agglomeration, then k-means refinement on the sphere);
5. every speech frame is scored against the speaker centroids by the windows covering it, and a
   Viterbi pass with a speaker-switch penalty turns the scores into exclusive turns;
6. changes are then re-located with short (0.8 s) windows at a fine hop, spread over twice the
   relabelled distance on each side of every change. A window that straddles a change mixes both
   voices, so part of each frame's score comes from the window ending at it and the one starting
   at it (:func:`edge_scores`), each of which sees one side only.

Overlapped speech is not detected: ``Diarization.overlaps`` is always empty for this backend.
Frames between two centroids near a change were tried as an overlap cue and rejected: on the
pyannote sample such frames are as wide at clean changes as at overlaps, and marking them added
more false alarm on overlap-free recordings than it removed missed speech.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import logging
import pickle
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import BackendUnavailable, InputError, missing_dependency
from ..types import AudioFile, Diarization, SpeakerTurn
from ..vad import VadOptions, silero_version, speech_regions
from .base import ProgressFn, SpeakerCount

log = logging.getLogger("vtxlib.diarize")

SAMPLE_RATE = 16000
FRAME_RATE = 100  # mel frames per second (10 ms hop)
N_FFT = 400  # 25 ms window
HOP = 160
N_MELS = 40
TARGET_DBFS = -30.0  # resemblyzer's volume normalisation target (increase only)


@dataclass
class EmbeddedDiarizerOptions:
    window_s: float = 1.2  # embedding window
    hop_s: float = 0.6  # embedding hop (coverage window_s / hop_s: the main cost)
    min_window_s: float = 0.4  # speech regions shorter than this get no embedding of their own
    fine_window_s: float = 0.8  # windows used to re-locate speaker changes
    fine_hop_s: float = 0.2
    # Around a change, frames within fine_window_s are relabelled from windows spread over twice
    # that distance, so that frames near the edge of the zone are still covered by many windows.
    # edge_weight: share of a frame's score taken from the two windows that end / start at it
    # (each sees one side of the frame only), the rest from all windows covering it.
    edge_weight: float = 0.3
    switch_penalty: float = 4.0  # Viterbi cost of a speaker change (in frame-score units)
    max_auto_speakers: int = 8
    min_cluster_share: float = 0.03  # a cluster with less speech than this is merged away
    # Count estimation (eigendecompositions) and average linkage grow as n^3 in the number of
    # windows; beyond this many (~10 min of speech) they run on an evenly spread subset, and every
    # window is then labelled by k-means from the subset's centroids.
    max_cluster_windows: int = 1000
    batch_size: int = 64
    vad: VadOptions = field(default_factory=VadOptions)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EmbeddedDiarizerOptions":
        data = dict(data)
        vad = VadOptions.from_dict(data.pop("vad", {}))
        return cls(vad=vad, **{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# ---------------------------------------------------------------------------------------------
# Mel spectrogram (resemblyzer.audio.wav_to_mel_spectrogram without librosa)
# ---------------------------------------------------------------------------------------------

def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, ``htk=False``)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz,
                    min_log_hz / f_sp + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep,
                    hz / f_sp)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank() -> np.ndarray:
    """``librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)`` (Slaney-normalised triangles)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram, shape (frames, 40): frame i is centred on sample 160 * i."""
    wav = np.ascontiguousarray(wav, dtype=np.float32)
    padded = np.pad(wav, N_FFT // 2)
    n_frames = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    return power @ mel_filterbank().T


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the level to ``target_dbfs`` RMS (never lower it), as resemblyzer's preprocessing."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-9:
        return wav
    change_db = target_dbfs - 20 * np.log10(rms)
    return wav if change_db < 0 else (wav * 10 ** (change_db / 20)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Voice encoder (resemblyzer.VoiceEncoder in numpy)
# ---------------------------------------------------------------------------------------------

_TORCH_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                         "HalfStorage": np.float16, "LongStorage": np.int64,
                         "IntStorage": np.int32, "ShortStorage": np.int16,
                         "ByteStorage": np.uint8, "CharStorage": np.int8, "BoolStorage": np.bool_}


class _TensorRef:
    def __init__(self, storage_key, offset, size, stride):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride


class _LegacyTorchUnpickler(pickle.Unpickler):
    """Reads torch's legacy (pre-1.6) checkpoint format. Only tensors, storages and OrderedDict
    can be built: anything else in the pickle is refused, so loading cannot run code."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, list] = {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *_: _TensorRef(storage, offset, size, stride)
        if module == "torch" and name in _TORCH_STORAGE_DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the checkpoint")

    def persistent_load(self, pid):
        _, storage_type, key, _, numel, _ = pid
        self.storages[key] = [storage_type, numel, None]
        return key


def load_legacy_torch_state(path: Path, entry: str = "model_state") -> dict[str, np.ndarray]:
    """``torch.load(path)[entry]`` as numpy arrays, without torch."""
    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        unpickler = _LegacyTorchUnpickler(f)
        checkpoint = unpickler.load()
        for key in pickle.load(f):
            storage_type, numel, _ = unpickler.storages[key]
            dtype = np.dtype(_TORCH_STORAGE_DTYPES[storage_type])
            count = struct.unpack("<q", f.read(8))[0]
            if count != numel:
                raise BackendUnavailable(f"{path} is damaged (storage {key}: {count} != {numel})")
            unpickler.storages[key][2] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    state = {}
    for name, ref in checkpoint[entry].items():
        data = unpickler.storages[ref.storage_key][2]
        state[name] = np.lib.stride_tricks.as_strided(
            data[ref.offset:], shape=tuple(ref.size),
            strides=tuple(s * data.itemsize for s in ref.stride)).copy()
    return state


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    np.multiply(x, 0.5, out=x)
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class VoiceEncoder:
    """resemblyzer's speaker encoder: 3-layer LSTM (256) over 40 mel channels, linear + ReLU, L2
    normalised final state. Same weights and outputs as ``resemblyzer.VoiceEncoder.forward``."""

    def __init__(self, state: dict[str, np.ndarray]):
        self.layers = []
        for layer in range(3):
            w_ih = state[f"lstm.weight_ih_l{layer}"].T.astype(np.float32, copy=True)
            w_hh = state[f"lstm.weight_hh_l{layer}"].T.astype(np.float32, copy=True)
            bias = (state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]).astype(np.float32)
            self.layers.append((w_ih, w_hh, bias))
        self.linear_w = state["linear.weight"].T.astype(np.float32, copy=True)
        self.linear_b = state["linear.bias"].astype(np.float32)
        self.hidden_size = self.layers[0][1].shape[0]

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) -> (batch, 256) unit vectors."""
        x = np.ascontiguousarray(mels, dtype=np.float32)
        for i, layer in enumerate(self.layers):
            x = self._run_layer(x, *layer, keep_sequence=i < len(self.layers) - 1)
        raw = np.maximum(x @ self.linear_w + self.linear_b, 0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)

    def _run_layer(self, x, w_ih, w_hh, bias, keep_sequence: bool) -> np.ndarray:
        batch, steps, _ = x.shape
        n = self.hidden_size
        gates_in = (x.reshape(batch * steps, -1) @ w_ih).reshape(batch, steps, 4 * n)
        gates_in += bias
        h = np.zeros((batch, n), dtype=np.float32)
        c = np.zeros((batch, n), dtype=np.float32)
        out = np.empty((batch, steps, n), dtype=np.float32) if keep_sequence else None
        for t in range(steps):
            g = gates_in[:, t]
            g += h @ w_hh
            _sigmoid_(g[:, :2 * n])  # input, forget (PyTorch gate order i, f, g, o)
            np.tanh(g[:, 2 * n:3 * n], out=g[:, 2 * n:3 * n])
            _sigmoid_(g[:, 3 * n:])
            c *= g[:, n:2 * n]
            c += g[:, :n] * g[:, 2 * n:3 * n]
            h = np.tanh(c)
            h *= g[:, 3 * n:]
            if out is not None:
                out[:, t] = h
        return out if keep_sequence else h


_encoder_lock = threading.Lock()
_encoder: Optional[VoiceEncoder] = None


def resemblyzer_weights_path() -> Path:
    """resemblyzer's bundled ``pretrained.pt``, located without importing resemblyzer (its import
    pulls librosa and webrtcvad)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency("resemblyzer", "cpu", "The embedded diarizer")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise BackendUnavailable(f"resemblyzer is installed but its weights are missing ({path}); "
                                 "reinstall it: pip install --force-reinstall resemblyzer==0.1.4")
    return path


def resemblyzer_version() -> Optional[str]:
    from ..versions import package_version

    return package_version("resemblyzer")


def load_voice_encoder() -> VoiceEncoder:
    """The process-wide voice encoder (weights read once)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = VoiceEncoder(load_legacy_torch_state(resemblyzer_weights_path()))
        return _encoder


# ---------------------------------------------------------------------------------------------
# Windows and embeddings
# ---------------------------------------------------------------------------------------------

@dataclass
class Window:
    start: int  # mel frames
    end: int


def speech_windows(regions: list[tuple[int, int]], length: int, hop: int,
                   min_length: int) -> list[Window]:
    """Windows of ``length`` frames evenly spread over each region (a region shorter than
    ``length`` but at least ``min_length`` is one window of its own length)."""
    windows = []
    for start, end in regions:
        span = end - start
        if span < min_length:
            continue
        if span <= length:
            windows.append(Window(start, end))
            continue
        count = int(np.ceil((span - length) / hop)) + 1
        for s in np.linspace(start, end - length, count).round().astype(int):
            windows.append(Window(int(s), int(s) + length))
    return windows


def embed_windows(encoder: VoiceEncoder, mel: np.ndarray, windows: list[Window],
                  batch_size: int, progress: Optional[callable] = None) -> np.ndarray:
    """One d-vector per window; windows of equal length are batched together."""
    out = np.zeros((len(windows), encoder.linear_w.shape[1]), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_length.setdefault(w.end - w.start, []).append(i)
    done = 0
    for length, indices in by_length.items():
        for b in range(0, len(indices), batch_size):
            chunk = indices[b:b + batch_size]
            out[chunk] = encoder(np.stack([mel[windows[i].start:windows[i].start + length]
                                           for i in chunk]))
            done += len(chunk)
            if progress:
                progress(done, len(windows))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# ---------------------------------------------------------------------------------------------
# Speaker count and clustering
# ---------------------------------------------------------------------------------------------

def count_bounds(count: SpeakerCount, n_items: int, max_auto: int) -> tuple[int, int]:
    if count.num_speakers:
        k = min(count.num_speakers, n_items)
        return k, k
    low = count.min_speakers or 1
    high = count.max_speakers or max_auto
    return min(low, n_items), max(min(high, n_items), min(low, n_items))


def estimate_num_speakers(similarity: np.ndarray, min_k: int, max_k: int) -> int:
    """Eigengap of the Laplacian of a p-neighbour binarised affinity, with p chosen to minimise
    p / (N * gap) (Park et al. 2019, NME-SC). One cluster is chosen when no gap stands out."""
    n = similarity.shape[0]
    if max_k <= 1 or n < 3:
        return max(min_k, 1)
    best: Optional[tuple[float, int]] = None
    for p in _pruning_candidates(n):
        affinity = _binarised_affinity(similarity, p)
        eig = np.linalg.eigvalsh(np.diag(affinity.sum(1)) - affinity)
        gaps = np.diff(eig[:max_k + 1])
        k = int(np.argmax(gaps[min_k - 1:max_k])) + min_k
        gap = float(gaps[k - 1])
        if gap <= 1e-9:
            continue
        ratio = p / (n * gap)
        if best is None or ratio < best[0]:
            best = (ratio, k)
    return best[1] if best else max(min_k, 1)


def _pruning_candidates(n: int) -> list[int]:
    # p must stay below the size of the smallest speaker's cluster, or clusters get bridged.
    top = max(2, int(n * 0.2))
    return sorted({max(2, int(round(n * f))) for f in np.linspace(0.02, 0.2, 20)} & set(range(2, top + 1)))


def _binarised_affinity(similarity: np.ndarray, p: int) -> np.ndarray:
    sim = similarity.copy()
    np.fill_diagonal(sim, -np.inf)
    keep = np.argpartition(-sim, p - 1, axis=1)[:, :p]
    affinity = np.zeros_like(similarity)
    np.put_along_axis(affinity, keep, 1.0, axis=1)
    return 0.5 * (affinity + affinity.T)


def evenly_spread(n: int, limit: int) -> np.ndarray:
    """Indices of at most LIMIT of N items, spread evenly over the recording (all when N <= LIMIT)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def agglomerate(vectors: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """Average-linkage clustering on cosine distance down to ``k`` clusters; labels 0..k-1."""
    n = len(vectors)
    dist = 1.0 - vectors @ vectors.T
    np.fill_diagonal(dist, np.inf)
    size = weights.astype(np.float64).copy()
    labels = np.arange(n)
    for _ in range(n - k):
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        merged = (dist[i] * size[i] + dist[j] * size[j]) / (size[i] + size[j])
        merged[i] = np.inf
        dist[i], dist[:, i] = merged, merged
        dist[j], dist[:, j] = np.inf, np.inf
        size[i] += size[j]
        labels[labels == j] = i
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def refine_kmeans(vectors: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                  iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means started from ``labels``; returns (labels, unit centroids)."""
    k = int(labels.max()) + 1
    for _ in range(iterations):
        centroids = _unit(np.stack([(vectors[labels == c] * weights[labels == c, None]).sum(0)
                                    if np.any(labels == c) else np.zeros(vectors.shape[1])
                                    for c in range(k)]))
        new = np.argmax(vectors @ centroids.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    present = np.unique(labels)
    labels = np.searchsorted(present, labels)
    centroids = _unit(np.stack([(vectors[labels == c] * weights[labels == c, None]).sum(0)
                                for c in range(len(present))]))
    return labels, centroids


def drop_small_clusters(vectors: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                        min_share: float, min_k: int) -> np.ndarray:
    """Reassign the windows of clusters holding less than ``min_share`` of the speech."""
    while True:
        k = int(labels.max()) + 1
        shares = np.array([weights[labels == c].sum() for c in range(k)]) / weights.sum()
        smallest = int(np.argmin(shares))
        if k <= max(min_k, 1) or shares[smallest] >= min_share:
            return labels
        keep = [c for c in range(k) if c != smallest]
        centroids = _unit(np.stack([vectors[labels == c].mean(0) for c in keep]))
        moved = np.array(keep)[np.argmax(vectors[labels == smallest] @ centroids.T, axis=1)]
        labels = labels.copy()
        labels[labels == smallest] = moved
        _, labels = np.unique(labels, return_inverse=True)


# ---------------------------------------------------------------------------------------------
# Frame labelling
# ---------------------------------------------------------------------------------------------

def frame_scores(windows: list[Window], similarities: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean similarity to each speaker over the windows covering the frame."""
    k = similarities.shape[1]
    total = np.zeros((n_frames + 1, k))
    count = np.zeros(n_frames + 1)
    for w, sim in zip(windows, similarities):
        total[w.start] += sim
        total[w.end] -= sim
        count[w.start] += 1
        count[w.end] -= 1
    total, count = np.cumsum(total, axis=0)[:-1], np.cumsum(count)[:-1]
    return total / np.maximum(count, 1)[:, None], count > 0


def edge_scores(windows: list[Window], similarities: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean of the latest window ending with or before the frame and the earliest window
    starting with or after it. Near a speaker change one of the two lies on a single side of it,
    where the windows covering the frame mix both speakers."""
    starts = np.array([w.start for w in windows])
    ends = np.array([w.end for w in windows])  # exclusive: a window's last frame is end - 1
    by_end, by_start = np.argsort(ends, kind="stable"), np.argsort(starts, kind="stable")
    frames = np.arange(n_frames)
    before = np.searchsorted(ends[by_end], frames + 1, side="right") - 1
    after = np.searchsorted(starts[by_start], frames, side="left")
    has_before, has_after = before >= 0, after < len(windows)
    left = similarities[by_end[np.clip(before, 0, None)]] * has_before[:, None]
    right = similarities[by_start[np.clip(after, 0, len(windows) - 1)]] * has_after[:, None]
    count = has_before.astype(float) + has_after
    return (left + right) / np.maximum(count, 1)[:, None], count > 0


def viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Best label sequence maximising total score minus ``penalty`` per label change."""
    steps, k = scores.shape
    back = np.zeros((steps, k), dtype=np.int32)
    total = scores[0].copy()
    for t in range(1, steps):
        best = int(np.argmax(total))
        switch = total[best] - penalty
        stay = total >= switch
        back[t] = np.where(stay, np.arange(k), best)
        total = np.where(stay, total, switch) + scores[t]
    path = np.empty(steps, dtype=np.int32)
    path[-1] = int(np.argmax(total))
    for t in range(steps - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def label_regions(regions: list[tuple[int, int]], scores: np.ndarray, covered: np.ndarray,
                  penalty: float) -> np.ndarray:
    """Frame labels (-1 outside speech). Frames no window covers take the nearest covered label."""
    labels = np.full(scores.shape[0], -1, dtype=np.int32)
    for start, end in regions:
        inside = np.flatnonzero(covered[start:end]) + start
        if inside.size == 0:
            continue
        path = viterbi(scores[inside], penalty)
        nearest = np.clip(np.searchsorted(inside, np.arange(start, end)), 0, inside.size - 1)
        labels[start:end] = path[nearest]
    return labels


def frames_to_turns(labels: np.ndarray, names: dict[int, str]) -> list[SpeakerTurn]:
    turns: list[SpeakerTurn] = []
    changes = np.flatnonzero(np.diff(np.concatenate(([-2], labels, [-2]))) != 0)
    for start, end in zip(changes[:-1], changes[1:]):
        label = int(labels[start])
        if label >= 0:
            turns.append(SpeakerTurn(names[label], round(float(start) / FRAME_RATE, 3),
                                     round(float(end) / FRAME_RATE, 3)))
    return turns


def names_by_first_appearance(labels: np.ndarray) -> dict[int, str]:
    order: list[int] = []
    for label in labels[labels >= 0]:
        if label not in order:
            order.append(int(label))
            if len(order) == labels.max() + 1:
                break
    return {label: f"SPEAKER_{i:02d}" for i, label in enumerate(order)}


# ---------------------------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------------------------

class EmbeddedDiarizer:
    name = "embedded"

    def __init__(self, options: Optional[EmbeddedDiarizerOptions] = None):
        self.options = options or EmbeddedDiarizerOptions()
        self.timings: dict[str, float] = {}

    def options_dict(self) -> dict:
        return self.options.to_dict()

    def close(self) -> None:
        """Nothing to release: the encoder and the VAD model are shared per process."""

    def diarize(self, audio: AudioFile, count: SpeakerCount, progress: Optional[ProgressFn] = None,
                speech: Optional[list[tuple[float, float]]] = None) -> Diarization:
        with _single_blas_thread():
            return self._diarize(audio, count, progress, speech)

    def _diarize(self, audio, count, progress, speech) -> Diarization:
        started = time.perf_counter()
        wav = read_wav(audio.path)
        duration = wav.size / SAMPLE_RATE
        if speech is None:
            speech = speech_regions(wav, SAMPLE_RATE, self.options.vad)
        self.timings = {"vad": time.perf_counter() - started}
        turns, estimated = self._diarize_speech(wav, speech, count, progress, duration)
        self.timings["total"] = time.perf_counter() - started
        log.info("embedded diarization: %d speaker(s), %d turns in %.2f s",
                 estimated, len(turns), self.timings["total"])
        return Diarization(turns=turns, overlaps=[], backend=self.name,
                           model="resemblyzer pretrained.pt + silero-vad",
                           model_version=f"resemblyzer {resemblyzer_version()}; "
                                         f"silero-vad {silero_version()}",
                           num_speakers_estimated=estimated)

    def _diarize_speech(self, wav, speech, count, progress, duration):
        opts = self.options
        n_frames = wav.size // HOP + 1
        regions = [(max(0, int(round(s * FRAME_RATE))), min(n_frames, int(round(e * FRAME_RATE))))
                   for s, e in speech]
        regions = [(s, e) for s, e in regions if e > s]
        windows = speech_windows(regions, _frames(opts.window_s), _frames(opts.hop_s),
                                 _frames(opts.min_window_s))
        if not windows:
            return [], 0
        t = time.perf_counter()
        encoder = load_voice_encoder()
        self.timings["load"] = time.perf_counter() - t
        t = time.perf_counter()
        mel = mel_spectrogram(normalize_volume(wav))
        report = (lambda done, total: progress(duration * done / total, duration)) if progress else None
        embeddings = embed_windows(encoder, mel, windows, opts.batch_size, report)
        self.timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        mean = embeddings.mean(axis=0)
        vectors = _unit(embeddings - mean)
        weights = np.array([w.end - w.start for w in windows], dtype=np.float64)
        labels, centroids = self._cluster(vectors, weights, count)
        scores, covered = frame_scores(windows, vectors @ centroids.T, n_frames)
        frame_labels = label_regions(regions, scores, covered, opts.switch_penalty)
        frame_labels = self._relocate_changes(encoder, mel, frame_labels, centroids, mean, regions)
        self.timings["cluster"] = time.perf_counter() - t
        names = names_by_first_appearance(frame_labels)
        turns = frames_to_turns(frame_labels, names)
        return turns, len(names)

    def _cluster(self, vectors: np.ndarray, weights: np.ndarray, count: SpeakerCount):
        opts = self.options
        min_k, max_k = count_bounds(count, len(vectors), opts.max_auto_speakers)
        if max_k <= 1:
            return np.zeros(len(vectors), dtype=int), _unit(vectors.sum(0, keepdims=True))
        subset = evenly_spread(len(vectors), opts.max_cluster_windows)
        sub_vectors, sub_weights = vectors[subset], weights[subset]
        k = min_k if min_k == max_k else estimate_num_speakers(sub_vectors @ sub_vectors.T, min_k, max_k)
        labels = agglomerate(sub_vectors, k, sub_weights)
        labels, centroids = refine_kmeans(sub_vectors, labels, sub_weights)
        if len(subset) < len(vectors):
            labels = np.argmax(vectors @ centroids.T, axis=1)
        labels, _ = refine_kmeans(vectors, labels, weights)
        if not count.num_speakers:
            labels = drop_small_clusters(vectors, labels, weights, opts.min_cluster_share, min_k)
        return refine_kmeans(vectors, labels, weights)

    def _relocate_changes(self, encoder, mel, labels, centroids, mean, regions):
        """Re-score the frames around each speaker change with short windows at a fine hop."""
        opts = self.options
        length, hop = _frames(opts.fine_window_s), _frames(opts.fine_hop_s)
        changes = np.flatnonzero((labels[1:] != labels[:-1]) & (labels[1:] >= 0) & (labels[:-1] >= 0)) + 1
        if changes.size == 0 or len(centroids) < 2:
            return labels
        context = _merge_spans([(c - 2 * length, c + 2 * length) for c in changes], regions)
        windows = [w for zone in context for w in speech_windows([zone], length, hop, length)]
        if not windows:
            return labels
        similarities = _unit(embed_windows(encoder, mel, windows, opts.batch_size) - mean) @ centroids.T
        scores, covered = frame_scores(windows, similarities, labels.size)
        if opts.edge_weight > 0:
            edges, _ = edge_scores(windows, similarities, labels.size)
            scores = (1 - opts.edge_weight) * scores + opts.edge_weight * edges
        relabelled = label_regions(context, scores, covered, opts.switch_penalty)
        labels = labels.copy()
        for start, end in _merge_spans([(c - length, c + length) for c in changes], regions):
            labels[start:end] = relabelled[start:end]
        return labels


def _merge_spans(spans: list[tuple[int, int]], regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clip spans to the speech regions and merge overlapping ones."""
    clipped = []
    for s, e in spans:
        for rs, re_ in regions:
            lo, hi = max(s, rs), min(e, re_)
            if hi > lo:
                clipped.append((lo, hi))
    merged: list[list[int]] = []
    for s, e in sorted(clipped):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _single_blas_thread():
    """One BLAS thread: on a shared 2-core machine a second thread made the LSTM 5x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.debug("threadpoolctl is not installed; BLAS keeps its default thread count")
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _frames(seconds: float) -> int:
    return max(1, int(round(seconds * FRAME_RATE)))


def read_wav(path: str) -> np.ndarray:
    """The 16 kHz mono float32 samples of the workspace wav."""
    import soundfile as sf
    try:
        wav, rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as e:
        raise InputError(f"cannot read audio {path}: {e}") from e
    if rate != SAMPLE_RATE:
        raise InputError(f"the embedded diarizer expects {SAMPLE_RATE} Hz audio, {path} is {rate} Hz")
    return wav.mean(axis=1) if wav.shape[1] > 1 else wav[:, 0]
