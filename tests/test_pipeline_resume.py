"""Workspace cache: atomic writes, skip-if-cached, --force, and resume after a failure mid-stage."""

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from vtxlib.errors import InputError
from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.types import Diarization, Segment, SpeakerTurn, Transcript, Word
from vtxlib.workspace import Workspace, atomic_path, atomic_write_json, stage_key


class CountingAsr:
    name = "fake-asr"

    def __init__(self):
        self.calls = 0

    def options_dict(self):
        return {"v": 1}

    def transcribe(self, audio, progress=None):
        self.calls += 1
        words = [Word("hello", 0.2, 0.5, 0.9), Word("there", 0.6, 0.9, 0.9),
                 Word("general", 1.3, 1.6, 0.9), Word("kenobi", 1.7, 1.9, 0.9)]
        return Transcript([Segment("hello there", 0.2, 0.9, words[:2]),
                           Segment("general kenobi", 1.3, 1.9, words[2:])], language="en", backend=self.name)

    def close(self):
        pass


class FlakyDiarizer:
    """Fails inside the stage the first N times, as a crash or a disconnect would."""

    name = "fake-diarizer"

    def __init__(self, failures=1):
        self.failures, self.calls = failures, 0

    def options_dict(self):
        return {}

    def diarize(self, audio, count, progress=None):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("injected failure inside diarize")
        return Diarization([SpeakerTurn("SPEAKER_00", 0.1, 1.0), SpeakerTurn("SPEAKER_01", 1.2, 2.0)],
                           backend=self.name)

    def close(self):
        pass


def _wav(path: Path, seconds=2.2) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    data = (0.2 * np.sin(2 * math.pi * 200 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(data.tobytes())
    return path


def _pipeline(ws, asr, diarizer, **options):
    p = Pipeline(ws, PipelineOptions(emotion="off", report=False, **options))
    p._backends.update({"asr": asr, "diarize": diarizer})
    return p


def test_resume_after_failure_inside_a_stage(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=1)
    with pytest.raises(RuntimeError, match="injected"):
        _pipeline(ws, asr, diarizer).run(str(src))
    assert asr.calls == 1
    media_dirs = list((ws.root / "media").iterdir())
    assert len(media_dirs) == 1
    # the failed stage left nothing behind that a rerun could mistake for a result
    assert not (media_dirs[0] / "diarize").exists() or not list((media_dirs[0] / "diarize").glob("*.json"))
    assert not list(media_dirs[0].rglob("*.part"))

    result = _pipeline(ws, asr, diarizer).run(str(src), out_dir=tmp_path / "out")
    assert asr.calls == 1, "ASR was recomputed although its artifact was cached"
    assert diarizer.calls == 2
    assert result.document.stages["asr"].cached and result.document.stages["audio"].cached
    assert not result.document.stages["diarize"].cached
    assert [w.speaker for w in result.document.transcript.words] == ["SPEAKER_00"] * 2 + ["SPEAKER_01"] * 2
    assert (tmp_path / "out" / result.media.id / "transcript.vtt").exists()


def test_rerun_is_fully_cached_and_force_recomputes_from_a_stage(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    _pipeline(ws, asr, diarizer).run(str(src))
    again = _pipeline(ws, asr, diarizer).run(str(src))
    assert (asr.calls, diarizer.calls) == (1, 1)
    assert all(again.document.stages[s].cached for s in ("audio", "asr", "diarize", "align"))
    forced = _pipeline(ws, asr, diarizer, force="diarize").run(str(src))
    assert (asr.calls, diarizer.calls) == (1, 2)
    assert forced.document.stages["asr"].cached and not forced.document.stages["align"].cached
    _pipeline(ws, asr, diarizer, force="asr").run(str(src))
    assert (asr.calls, diarizer.calls) == (2, 3)


def test_changed_options_change_the_key(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    _pipeline(ws, asr, diarizer).run(str(src))
    _pipeline(ws, asr, diarizer, num_speakers=2).run(str(src))
    assert (asr.calls, diarizer.calls) == (1, 2)


def test_corrupt_artifact_is_recomputed_not_trusted(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    artifact = ws.artifact_path(first.media.id, "asr", first.keys["asr"])
    artifact.write_text('{"segments": [')  # damaged from outside (e.g. a hand-edited file)
    _pipeline(ws, asr, diarizer).run(str(src))
    assert asr.calls == 2
    assert json.loads(artifact.read_text())["backend"] == "fake-asr"


def test_until_stops_early(tmp_path):
    ws = Workspace(tmp_path / "ws")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    result = _pipeline(ws, asr, diarizer).run(str(_wav(tmp_path / "t.wav")), until="asr")
    assert result.transcript is not None and result.diarization is None and result.document is None
    assert diarizer.calls == 0


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_stage_key_depends_on_everything():
    base = stage_key("asr", "whisper-cpu", {"beam": 5}, ["a"])
    assert base == stage_key("asr", "whisper-cpu", {"beam": 5}, ["a"])
    assert len({base, stage_key("asr", "nemo", {"beam": 5}, ["a"]), stage_key("asr", "whisper-cpu", {"beam": 1}, ["a"]),
                stage_key("asr", "whisper-cpu", {"beam": 5}, ["b"]), stage_key("diarize", "whisper-cpu", {"beam": 5}, ["a"])}) == 5


def test_bad_options_are_rejected_clearly():
    with pytest.raises(InputError, match="--force"):
        PipelineOptions(force="transcribe")
    with pytest.raises(InputError, match="positive integer"):
        PipelineOptions(num_speakers=0)
    with pytest.raises(InputError, match="not both"):
        PipelineOptions(num_speakers=2, max_speakers=3)
    with pytest.raises(InputError, match="larger than"):
        PipelineOptions(min_speakers=4, max_speakers=2)


class GpuNamed:
    """Wraps a fake backend under a GPU-tier name and records closes and the running thread."""

    def __init__(self, inner, name):
        self.inner, self.name, self.closed, self.threads = inner, name, 0, []

    def options_dict(self):
        return self.inner.options_dict()

    def transcribe(self, audio, progress=None):
        import threading

        self.threads.append(threading.current_thread().name)
        return self.inner.transcribe(audio, progress)

    def diarize(self, audio, count, progress=None):
        import threading

        self.threads.append(threading.current_thread().name)
        return self.inner.diarize(audio, count, progress)

    def close(self):
        self.closed += 1


def test_gpu_models_are_released_after_their_stage_and_not_run_together(tmp_path):
    ws = Workspace(tmp_path / "ws")
    asr, diarizer = GpuNamed(CountingAsr(), "nemo"), GpuNamed(FlakyDiarizer(failures=0), "pyannote")
    pipeline = _pipeline(ws, asr, diarizer)
    pipeline.run(str(_wav(tmp_path / "t.wav")))
    assert (asr.closed, diarizer.closed) == (1, 1)
    assert asr.threads == diarizer.threads == ["MainThread"]  # sequential: one device's memory
    assert "asr" not in pipeline.backends() and "diarize" not in pipeline.backends()


def test_cpu_asr_and_diarization_run_side_by_side(tmp_path):
    ws = Workspace(tmp_path / "ws")
    asr, diarizer = GpuNamed(CountingAsr(), "whisper-cpu"), GpuNamed(FlakyDiarizer(failures=0), "embedded")
    pipeline = _pipeline(ws, asr, diarizer)
    pipeline.run(str(_wav(tmp_path / "t.wav")))
    assert asr.threads == ["MainThread"] and diarizer.threads[0].startswith("vtx-diarize")
    assert (asr.closed, diarizer.closed) == (0, 0)  # CPU models stay loaded for the next run
