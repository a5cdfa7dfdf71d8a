"""What a Colab user meets between runtimes: a later runtime without a GPU reuses the GPU results
instead of starting the CPU tier, the resolved backends are recorded in the workspace, and a GPU stage
that fails releases its model even while the notebook keeps the exception."""

from __future__ import annotations

import gc
import json
import logging
import weakref

import pytest
from fakes import tone_wav
from test_pipeline_resume import CountingAsr, FlakyDiarizer, GpuNamed

from vtxlib import gpu
from vtxlib.pipeline import BACKENDS_RECORD, Pipeline, PipelineOptions
from vtxlib.types import AudioFile
from vtxlib.workspace import Workspace


def _gpu_run(ws, src):
    """What a GPU runtime leaves in the workspace: results made by nemo and pyannote under auto."""
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False),
                        backends={"asr": GpuNamed(CountingAsr(), "nemo"),
                                  "diarize": GpuNamed(FlakyDiarizer(failures=0), "pyannote")})
    return pipeline.run(str(src))


def test_a_runtime_without_cuda_reuses_the_gpu_results(tmp_path, monkeypatch):
    import vtxlib.asr
    import vtxlib.diarize

    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    first = _gpu_run(ws, src)
    record = json.loads((ws.media_dir(first.media.id) / BACKENDS_RECORD).read_text())
    assert {stage: entry["backend"] for stage, entry in record.items()} == {"asr": "nemo", "diarize": "pyannote"}

    monkeypatch.setattr(gpu, "cuda_available", lambda: False)

    def no_backend(*args, **kwargs):
        raise AssertionError("a backend was resolved and created although the GPU results are cached")

    monkeypatch.setattr(vtxlib.asr, "create_asr", no_backend)
    monkeypatch.setattr(vtxlib.diarize, "create_diarizer", no_backend)
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False))
    second = pipeline.run(str(src))
    assert second.transcript == first.transcript and second.diarization == first.diarization
    stages = second.document.stages
    assert (stages["asr"].backend, stages["asr"].cached) == ("nemo", True)
    assert (stages["diarize"].backend, stages["diarize"].cached) == ("pyannote", True)
    assert pipeline.backends() == {}


def test_a_different_request_is_not_served_by_the_recorded_result(tmp_path, monkeypatch):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    _gpu_run(ws, src)
    monkeypatch.setattr(gpu, "cuda_available", lambda: False)
    cpu_asr = GpuNamed(CountingAsr(), "whisper-cpu")
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False, num_speakers=3, asr_model="base"),
                        backends={"asr": cpu_asr, "diarize": GpuNamed(FlakyDiarizer(failures=0), "embedded")})
    result = pipeline.run(str(src))
    assert cpu_asr.inner.calls == 1 and result.document.stages["diarize"].backend == "embedded"


def test_auto_on_the_cpu_warns_in_one_line_with_the_expected_time_on_a_long_file(tmp_path, caplog):
    pipeline = Pipeline(Workspace(tmp_path / "ws"), PipelineOptions())
    with caplog.at_level(logging.WARNING, logger="vtxlib.pipeline"):
        pipeline._warn_if_slow_on_cpu("whisper-cpu", AudioFile(path="x.wav", sample_rate=16000, duration=5 * 60))
        pipeline._warn_if_slow_on_cpu("nemo", AudioFile(path="x.wav", sample_rate=16000, duration=3 * 3600))
        pipeline._warn_if_slow_on_cpu("whisper-cpu", AudioFile(path="x.wav", sample_rate=16000, duration=3 * 3600))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "3.0 h" in messages[0] and "15 min" in messages[0] and "\n" not in messages[0]


class FailingGpuAsr:
    """A GPU-tier ASR whose model call fails, with the model referenced from the failing frame."""

    name = "nemo"

    def __init__(self, model):
        self.model = model
        self.closed = 0

    def options_dict(self):
        return {}

    def transcribe(self, audio, progress=None):
        model = self.model  # noqa: F841  (a library frame holding the model)
        raise RuntimeError("CUDA error: device-side assert triggered")

    def close(self):
        self.closed += 1
        self.model = None


def test_a_failed_gpu_stage_releases_its_model_while_the_exception_is_kept(tmp_path):
    class Model:
        pass

    model = Model()
    alive = weakref.ref(model)
    asr = FailingGpuAsr(model)
    del model
    pipeline = Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", report=False),
                        backends={"asr": asr, "diarize": GpuNamed(FlakyDiarizer(failures=0), "pyannote")})
    with pytest.raises(RuntimeError, match="device-side") as info:
        pipeline.run(str(tone_wav(tmp_path / "talk.wav")))
    gc.collect()
    assert info.value.__traceback__ is not None  # kept, as a notebook keeps sys.last_value
    assert asr.closed == 1 and "asr" not in pipeline.backends()
    assert alive() is None, "the failed stage's model is still referenced"
