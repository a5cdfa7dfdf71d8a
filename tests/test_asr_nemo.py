"""The ``nemo`` ASR backend through NeMo's real classes, with tiny random-weight FastConformer models.

Random weights give meaningless words; what is tested is the backend's code path (transcribe with
timestamps, hypothesis conversion, windows, local attention, checkpoint restore, error messages).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from needs import require, require_tools  # noqa: E402

require("nemo.collections.asr", extra="gpu")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from gpu_models import build_ctc_model, build_tdt_model, train_tokenizer  # noqa: E402

from vtxlib import gpu  # noqa: E402
from vtxlib.asr.long_audio import AsrWindow, merge_windows, plan_windows  # noqa: E402
from vtxlib.asr.nemo import KNOWN_MODELS, NemoAsr, NemoAsrOptions, hypothesis_to_segments  # noqa: E402
from vtxlib.errors import BackendUnavailable, InputError  # noqa: E402
from vtxlib.types import AudioFile, Segment, Transcript, Word  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.gpu_tier
SR = 16000


# ------------------------------------------------------------------------------ fixtures ------
@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return train_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def ctc_model(tokenizer_dir):
    return build_ctc_model(tokenizer_dir)


@pytest.fixture(scope="module")
def tdt_model(tokenizer_dir):
    return build_tdt_model(tokenizer_dir)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> AudioFile:
    """A few seconds of synthetic speech (espeak-ng), 16 kHz mono."""
    require_tools("espeak-ng")
    folder = tmp_path_factory.mktemp("speech")
    raw = folder / "raw.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), "Hello there. This is a short test of speech "
                    "recognition with word timestamps. It has a few sentences."], check=True)
    data, rate = sf.read(raw, dtype="float32")
    return _write_wav(folder / "speech.wav", _resample(data, rate))


@pytest.fixture(scope="module")
def long_wav(speech_wav, tmp_path_factory) -> AudioFile:
    """Ten and a half minutes: the speech clip repeated with pauses."""
    clip, _ = sf.read(speech_wav.path, dtype="float32")
    unit = np.concatenate([clip, np.zeros(SR, dtype=np.float32)])
    repeats = int(np.ceil(630 * SR / len(unit)))
    data = np.tile(unit, repeats)[: 630 * SR]
    return _write_wav(tmp_path_factory.mktemp("long") / "long.wav", data)


def _resample(data: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(data, SR, rate).astype(np.float32) if rate != SR else data


def _write_wav(path, data: np.ndarray) -> AudioFile:
    sf.write(path, data, SR, subtype="PCM_16")
    return AudioFile(path=str(path), sample_rate=SR, duration=len(data) / SR)


def assert_valid_words(transcript: Transcript, duration: float) -> list[Word]:
    words = transcript.words
    starts = [w.start for w in words]
    assert starts == sorted(starts), "word start times must be monotonic"
    for w in words:
        assert w.text.strip(), "words must not be empty strings"
        assert 0.0 <= w.start <= w.end <= duration + 1e-6, w
        assert w.prob is None or 0.0 <= w.prob <= 1.0, w
    for seg in transcript.segments:
        assert seg.words and seg.start == seg.words[0].start and seg.end >= seg.words[-1].end - 1e-9
    return words


# ----------------------------------------------------------------------- reproducibility -----
def test_random_models_are_the_same_whatever_ran_before(tokenizer_dir):
    """The weights come from the builder's seed, not from the global generators' state, and
    building a model leaves those generators as they were."""
    torch.manual_seed(1)
    first = build_ctc_model(tokenizer_dir).state_dict()
    torch.rand(1000)
    torch.manual_seed(2)
    before = torch.get_rng_state()
    second = build_ctc_model(tokenizer_dir).state_dict()
    assert torch.equal(torch.get_rng_state(), before), "building a model must not move the global generator"
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


# ----------------------------------------------------------------------- transcription -------
def test_ctc_model_transcribes_with_monotonic_word_timings(ctc_model, speech_wav):
    backend = NemoAsr(NemoAsrOptions(model="tiny-ctc"), model=ctc_model)
    transcript = backend.transcribe(speech_wav)
    assert isinstance(transcript, Transcript)
    assert transcript.backend == "nemo" and transcript.model == "tiny-ctc"
    assert transcript.model_version.startswith("nemo 3.")
    assert len(assert_valid_words(transcript, speech_wav.duration)) >= 1
    assert Transcript.model_validate(transcript.model_dump(mode="json")) == transcript


def test_tdt_model_transcribes_words_with_confidence_and_progress(tdt_model, speech_wav):
    calls = []
    backend = NemoAsr(NemoAsrOptions(model="tiny-tdt"), model=tdt_model)
    transcript = backend.transcribe(speech_wav, progress=lambda done, total: calls.append((done, total)))
    words = assert_valid_words(transcript, speech_wav.duration)
    assert len(words) >= 2
    assert all(w.prob is not None for w in words), "TDT word confidence should be preserved"
    assert calls and calls[-1] == (pytest.approx(speech_wav.duration), speech_wav.duration)


def test_save_to_restore_from_round_trip_gives_the_same_words(tdt_model, speech_wav, tmp_path):
    path = tmp_path / "tiny_tdt.nemo"
    tdt_model.save_to(str(path))
    in_memory = NemoAsr(NemoAsrOptions(model=str(path)), model=tdt_model).transcribe(speech_wav)
    restored_backend = NemoAsr(NemoAsrOptions(model=str(path)))  # loads through load_nemo_model
    restored = restored_backend.transcribe(speech_wav)
    assert type(restored_backend.model).__name__ == type(tdt_model).__name__
    assert [(w.text, w.start, w.end) for w in restored.words] == \
        [(w.text, w.start, w.end) for w in in_memory.words]
    restored_backend.close()
    assert restored_backend._model is None


@pytest.mark.slow
def test_long_audio_uses_local_attention_windows(tokenizer_dir, long_wav):
    """10.5 minutes through local attention in 3 overlapping windows (slowest test of this file)."""
    model = build_tdt_model(tokenizer_dir)
    options = NemoAsrOptions(model="tiny-tdt", full_attention_max_seconds=120, window_seconds=240,
                             overlap_seconds=10, word_confidence=False)
    backend = NemoAsr(options, model=model)
    assert len(backend.plan(long_wav.duration)) == 3
    transcript = backend.transcribe(long_wav)
    assert model.encoder.self_attention_model == "rel_pos_local_attn"
    words = assert_valid_words(transcript, long_wav.duration)
    assert words[-1].end > long_wav.duration - 60, "the last window's words must be kept"
    assert len({(w.start, w.text) for w in words}) == len(words), "no duplicated words at window joins"


@pytest.mark.slow
def test_chunk_mode_covers_the_audio_with_full_attention(ctc_model, long_wav):
    backend = NemoAsr(NemoAsrOptions(model="tiny-ctc", long_audio="chunk", full_attention_max_seconds=60,
                                     chunk_seconds=200, overlap_seconds=10, word_confidence=False),
                      model=ctc_model)
    windows = backend.plan(long_wav.duration)
    assert len(windows) == 4 and windows[-1].keep_end == long_wav.duration
    transcript = backend.transcribe(long_wav)
    assert ctc_model.encoder.self_attention_model == "rel_pos"
    assert assert_valid_words(transcript, long_wav.duration), "the random CTC model emits some words"


# -------------------------------------------------------------- hypothesis conversion ---------
class FakeHypothesis:
    def __init__(self, timestamp, word_confidence=None):
        self.timestamp = timestamp
        self.word_confidence = word_confidence


def test_hypothesis_conversion_groups_words_into_segments_and_clips():
    hyp = FakeHypothesis({
        "word": [{"word": "hello", "start": 0.1, "end": 0.5}, {"word": "world.", "start": 0.6, "end": 1.0},
                 {"word": "again", "start": 0.55, "end": 1.6}, {"word": "", "start": 1.5, "end": 1.6},
                 {"word": "late", "start": 2.9, "end": 3.5}],
        "segment": [{"segment": "hello world.", "start": 0.1, "end": 1.0},
                    {"segment": "again late", "start": 1.1, "end": 3.5}],
    }, word_confidence=[0.9, 0.8, 0.7, 0.1, 0.6])
    segments = hypothesis_to_segments(hyp, duration=3.0)
    assert [[w.text for w in s.words] for s in segments] == [["hello", "world."], ["again", "late"]]
    again, late = segments[1].words
    assert again.start == 0.6, "starts are made monotonic"
    assert (late.start, late.end) == (2.9, 3.0), "times are clipped to the audio"
    assert [w.prob for w in segments[0].words] == [0.9, 0.8]


def test_hypothesis_without_stamps_gives_no_segments():
    assert hypothesis_to_segments(FakeHypothesis({}), duration=5.0) == []


# --------------------------------------------------------------------------- windows ----------
def test_windows_tile_the_audio_exactly():
    windows = plan_windows(1000.0, 300.0, 20.0)
    assert windows[0].keep_start == 0.0 and windows[-1].keep_end == 1000.0
    for left, right in zip(windows, windows[1:]):
        assert left.keep_end == right.keep_start
        assert right.start < left.keep_end < left.end, "the cut lies inside the overlap"
    assert all(w.end - w.start <= 300.0 for w in windows)
    assert plan_windows(50.0, 300.0, 20.0) == [AsrWindow(0.0, 50.0, 0.0, 50.0)]
    with pytest.raises(ValueError, match="overlap < window"):
        plan_windows(100.0, 10.0, 10.0)


def test_merge_keeps_each_overlapping_word_once():
    windows = plan_windows(20.0, 12.0, 4.0)  # [0,12] and [8,20], cut at 10
    assert len(windows) == 2
    first = [Segment("a b c", 7.0, 11.0, [Word("a", 7.0, 7.5), Word("b", 9.0, 9.6), Word("c", 10.2, 11.0)])]
    second = [Segment("b c d", 9.0, 15.0, [Word("b", 9.05, 9.6), Word("c", 10.2, 10.9), Word("d", 14.0, 15.0)])]
    merged = merge_windows([(windows[0], first), (windows[1], second)])
    assert [w.text for s in merged for w in s.words] == ["a", "b", "c", "d"]
    assert merged[0].text == "a b" and merged[1].text == "c d"


# -------------------------------------------------------------------------- errors ------------
@pytest.mark.parametrize("name", sorted(KNOWN_MODELS))
def test_named_model_offline_gives_actionable_error(name, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    backend = NemoAsr(NemoAsrOptions(model=name), cache_dir=tmp_path)
    with pytest.raises(BackendUnavailable) as info:
        backend.transcribe(AudioFile(path="unused.wav", sample_rate=SR, duration=1.0))
    message = str(info.value)
    assert name in message and "offline" in message and str(tmp_path) in message
    assert "\n" not in message


def test_wrong_model_name_lists_the_known_models(monkeypatch, tmp_path):
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(*args, **kwargs):
        request = httpx.Request("HEAD", "https://huggingface.co/nvidia/parakeet-typo/resolve/main/x.nemo")
        raise RepositoryNotFoundError("404 Client Error", response=httpx.Response(404, request=request))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_found)
    monkeypatch.setattr(gpu, "hf_offline_reason", lambda: None)  # the hub answers (with a 404)
    with pytest.raises(BackendUnavailable) as info:
        NemoAsr(NemoAsrOptions(model="nvidia/parakeet-typo"), cache_dir=tmp_path).model
    assert "no model named 'nvidia/parakeet-typo'" in str(info.value)
    assert all(name in str(info.value) for name in KNOWN_MODELS)


def test_canary_qwen_is_refused_for_lack_of_word_timestamps():
    with pytest.raises(BackendUnavailable, match="no word timestamps"):
        NemoAsrOptions(model="nvidia/canary-qwen-2.5b")


def test_bad_options_and_paths_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        NemoAsrOptions(long_audio="stream")
    with pytest.raises(InputError, match="not found"):
        NemoAsr(NemoAsrOptions(model=str(tmp_path / "missing.nemo"))).model
    with pytest.raises(InputError, match="supports"):
        NemoAsr(NemoAsrOptions(model="nvidia/canary-1b-flash", language="ja"))._language()


def test_gpu_checks_are_consistent_here():
    assert gpu.nemo_available() is True
    assert gpu.cuda_available() == torch.cuda.is_available()
    assert gpu.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    gpu.free_gpu_memory()
    if torch.cuda.is_available():
        block = torch.empty(8 * 2**20, dtype=torch.uint8, device="cuda")
        assert gpu.peak_gpu_memory_mb(reset=True) >= 8.0  # the 8 MiB block is counted
        del block
    else:
        assert gpu.peak_gpu_memory_mb() is None  # off-GPU there is no figure, not a made-up 0
    ready, reason = gpu.gpu_tier_ready("nemo")
    assert ready == torch.cuda.is_available()
    assert reason == ("CUDA device and nemo present" if ready else "no CUDA device")
    assert gpu.gpu_tier_report() == {"cuda": ready, "nemo": True, "pyannote": gpu.pyannote_available()}
    with pytest.raises(ValueError):
        gpu.gpu_tier_ready("whisper")


# ------------------------------------------------------ GPU memory: limits, OOM, precision ------
T4_BYTES = 15_835_660_288  # torch.cuda.get_device_properties(0).total_memory on a Colab T4


class OutOfMemoryOnFullAttention:
    """Wraps an encoder's forward: raises CUDA's out-of-memory error while the encoder runs full
    attention, as a T4 does on a long file, and records the attention of every call."""

    def __init__(self, encoder):
        self.encoder, self.forward, self.calls = encoder, encoder.forward, []

    def __call__(self, *args, **kwargs):
        self.calls.append(self.encoder.self_attention_model)
        if self.encoder.self_attention_model == "rel_pos":
            scratch = torch.empty(1 << 20)  # noqa: F841  the frame holds memory, as a real OOM's would
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 11.72 GiB")
        return self.forward(*args, **kwargs)


def test_out_of_memory_retries_with_local_attention(tokenizer_dir, speech_wav, caplog):
    model = build_tdt_model(tokenizer_dir)
    injected = OutOfMemoryOnFullAttention(model.encoder)
    model.encoder.forward = injected
    backend = NemoAsr(NemoAsrOptions(model="tiny-tdt", full_attention_max_seconds=600, word_confidence=False),
                      model=model)
    with caplog.at_level("WARNING", logger="vtxlib.asr"):
        transcript = backend.transcribe(speech_wav)
    assert injected.calls[0] == "rel_pos" and injected.calls[-1] == "rel_pos_local_attn"
    assert backend._attention == "local" and backend._model is model, "the model stays loaded after a retry"
    assert assert_valid_words(transcript, speech_wav.duration)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "vtxlib.asr"]
    assert len(warnings) == 1 and "out of GPU memory" in warnings[0] and "local attention" in warnings[0]


def test_out_of_memory_with_every_strategy_ends_in_one_line_and_releases_the_model(ctc_model, long_wav):
    class AlwaysOutOfMemory(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.windows = []

        def transcribe(self, arrays, **kwargs):
            self.windows.append(round(len(arrays[0]) / SR))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    model = AlwaysOutOfMemory()
    backend = NemoAsr(NemoAsrOptions(model="fake", long_audio="chunk", full_attention_max_seconds=600,
                                     chunk_seconds=300, word_confidence=False), model=model)
    with pytest.raises(BackendUnavailable, match="out of GPU memory") as info:
        backend.transcribe(long_wav)
    assert "\n" not in str(info.value)
    # 630 s in 300 s chunks, then 150, 75 and 37.5 s; 18.75 s would be under the 20 s floor
    assert sorted(set(model.windows), reverse=True) == [300, 150, 75, 38]
    assert backend._model is None


def test_full_attention_limit_follows_the_gpu_memory():
    from vtxlib.asr.nemo import full_attention_limit

    t4_fp32 = full_attention_limit(T4_BYTES, "fp32")
    t4_bf16 = full_attention_limit(T4_BYTES, "bf16")
    a100 = full_attention_limit(80 * 10**9, "bf16")
    assert 300 <= t4_fp32 < 600 and 300 <= t4_bf16 < 600, (t4_fp32, t4_bf16)  # 600 s does not fit a T4
    assert 1200 <= a100 <= 1440  # the model card's 24 minutes on an 80 GB A100
    assert full_attention_limit(2 * 2**30, "bf16") == 0.0
    assert full_attention_limit(None, "fp32") == 600.0  # CPU: the fixed default


def test_strategy_on_a_t4_uses_local_attention_past_the_limit(monkeypatch):
    backend = NemoAsr(NemoAsrOptions(model="nvidia/parakeet-tdt-0.6b-v2"), model=object())
    backend._device, backend.precision = "cuda", "fp16"
    monkeypatch.setattr(gpu, "total_gpu_memory_bytes", lambda device: T4_BYTES)
    limit = backend.full_attention_seconds()
    assert backend.strategy(limit - 1).attention == "full" and backend.strategy(limit - 1).window_seconds is None
    assert backend.strategy(600).attention == "local" and backend.strategy(600).window_seconds == 1200
    assert len(backend.plan(600)) == 1 and len(backend.plan(3 * 3600)) == 10


def test_precision_is_what_the_gpu_really_runs(monkeypatch):
    assert gpu.choose_precision((7, 5)) == "fp16"  # T4: bf16 only by emulation
    assert gpu.choose_precision((8, 0)) == "bf16"
    assert gpu.choose_precision((7, 5), half_precision=False) == "fp32"
    assert gpu.choose_precision(None) == "fp32"
    # torch on a T4 says bf16 is supported because it can emulate it; NeMo's attention trusts that
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert torch.cuda.is_bf16_supported() is True
    with gpu.native_bf16_only():
        assert torch.cuda.is_bf16_supported() is False
    assert torch.cuda.is_bf16_supported() is True
    backend = NemoAsr(NemoAsrOptions(model="x"), model=object())
    backend._device, backend.precision = "cuda", "fp16"
    monkeypatch.setattr(gpu, "compute_capability", lambda device: (7, 5))
    assert backend.precision_note() == ("fp16 autocast, attention in fp32 (no native bf16 on this GPU: "
                                        "compute capability 7.5)")


def test_a_failing_transcription_releases_the_model(speech_wav):
    """A notebook keeps the last exception; its traceback must not keep the model alive."""
    import gc
    import weakref

    class Failing(torch.nn.Module):
        def transcribe(self, arrays, **kwargs):
            model = self  # noqa: F841  a library frame holding the model, as NeMo's do
            raise RuntimeError("decoder failed")

    model = Failing()
    alive = weakref.ref(model)
    backend = NemoAsr(NemoAsrOptions(model="fake", word_confidence=False), model=model)
    del model
    try:
        backend.transcribe(speech_wav)
    except RuntimeError as e:
        kept = e  # what sys.last_value does in a notebook
    gc.collect()
    assert alive() is None, "the model is still referenced after the failure"
    assert kept.__traceback__ is not None and "decoder failed" in str(kept)
