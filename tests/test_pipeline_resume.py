"""Workspace cache: atomic writes, skip-if-cached, --force, resume after a failure mid-stage, and
never a stale result: keys follow code, library and model versions and input content, artifacts are
checked before reuse, a moved workspace still reads its own files, leftovers are cleaned."""

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest
from fakes import tone_wav

from vtxlib.errors import InputError
from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.types import Diarization, Segment, SpeakerTurn, Transcript, Word
from vtxlib.workspace import Workspace, atomic_path, atomic_write_json, atomic_write_text, stage_key


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


def _pipeline(ws, asr, diarizer, **options):
    return Pipeline(ws, PipelineOptions(**{"emotion": "off", "report": False, **options}),
                    backends={"asr": asr, "diarize": diarizer})


class CountingDiarizer:
    """Gives as many speakers as asked for, after both runs of a test have entered the stage."""

    name = "count-diarizer"

    def __init__(self, runs=2):
        self.inside = threading.Barrier(runs, timeout=30)

    def options_dict(self):
        return {}

    def diarize(self, audio, count, progress=None):
        self.inside.wait()  # the two runs are inside the pipeline at the same time
        return Diarization(turns=[SpeakerTurn(speaker=f"SPEAKER_0{i}", start=0.2 + i * 1.1, end=1.0 + i * 1.1)
                                  for i in range(count.num_speakers)], backend=self.name)


def test_two_runs_at_once_keep_their_own_options_and_records(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pipeline = _pipeline(ws, CountingAsr(), CountingDiarizer())
    jobs = {"one": (tone_wav(tmp_path / "one.wav"), PipelineOptions(emotion="off", report=False, num_speakers=1,
                                                                  speaker_names={"SPEAKER_00": "Ann"})),
            "two": (tone_wav(tmp_path / "two.wav", 2.4), PipelineOptions(emotion="off", report=False, num_speakers=2,
                                                                       speaker_names={"SPEAKER_00": "Bo"}))}
    results: dict = {}

    def run(name):
        source, options = jobs[name]
        results[name] = pipeline.run(str(source), out_dir=tmp_path / name, options=options)

    threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    one, two = results["one"].document, results["two"].document
    assert one.stages["diarize"].options["num_speakers"] == 1 and two.stages["diarize"].options["num_speakers"] == 2
    assert one.speakers == ["SPEAKER_00"] and two.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert one.speaker_names == {"SPEAKER_00": "Ann"} and two.speaker_names == {"SPEAKER_00": "Bo"}
    assert one.media.title == "one" and two.media.title == "two"
    assert list(one.stages) == list(two.stages) == ["acquire", "audio", "asr", "diarize", "align", "subtitles"]
    written = json.loads((tmp_path / "one" / one.media.id / "transcript.json").read_text())
    assert written["speaker_names"] == {"SPEAKER_00": "Ann"}
    assert pipeline.default_options.num_speakers is None  # the pipeline's own options were never touched


def test_resume_after_failure_inside_a_stage(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = tone_wav(tmp_path / "talk.wav")
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
    vtt = (tmp_path / "out" / result.media.id / "transcript.vtt").read_text()
    assert "<v SPEAKER_00>hello there" in vtt and "<v SPEAKER_01>general kenobi" in vtt


def test_rerun_is_fully_cached_and_force_recomputes_from_a_stage(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = tone_wav(tmp_path / "talk.wav")
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


class SlowAsr(CountingAsr):
    def transcribe(self, audio, progress=None):
        time.sleep(0.2)
        return super().transcribe(audio, progress)


def test_cached_stages_report_the_seconds_they_took_when_computed(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = SlowAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src), out_dir=tmp_path / "out")
    again = _pipeline(ws, asr, diarizer).run(str(src), out_dir=tmp_path / "out")
    assert asr.calls == 1
    computed, cached = first.document.stages, again.document.stages
    assert computed["asr"].seconds >= 0.2 and not computed["asr"].cached
    for stage in ("audio", "asr", "diarize", "align"):
        assert cached[stage].cached
        assert cached[stage].seconds == computed[stage].seconds, stage
        assert cached[stage].load_seconds is not None and cached[stage].load_seconds >= 0
    written = json.loads((Path(again.outputs["json"])).read_text(encoding="utf-8"))["stages"]
    assert written["asr"]["seconds"] == computed["asr"].seconds and written["asr"]["cached"] is True


def test_changed_options_change_the_key(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    _pipeline(ws, asr, diarizer).run(str(src))
    _pipeline(ws, asr, diarizer, num_speakers=2).run(str(src))
    assert (asr.calls, diarizer.calls) == (1, 2)


def test_corrupt_artifact_is_recomputed_not_trusted(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = tone_wav(tmp_path / "talk.wav")
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
    result = _pipeline(ws, asr, diarizer).run(str(tone_wav(tmp_path / "t.wav")), until="asr")
    assert result.transcript is not None and result.diarization is None and result.document is None
    assert diarizer.calls == 0


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(ValueError, match="crash mid-write"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_users_umask_not_0600(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        text = atomic_write_text(tmp_path / "transcript.vtt", "WEBVTT\n")
        data = atomic_write_json(tmp_path / "data.json", {"v": 1})
        secret = atomic_write_text(tmp_path / "token.json", "{}", mode=0o600)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(text.stat().st_mode) == expected
    assert stat.S_IMODE(data.stat().st_mode) == expected
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600  # an explicit mode still wins


def test_a_private_file_is_never_readable_by_others_while_it_is_written(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "token.json", mode=0o600) as tmp:
            assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


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
    pipeline.run(str(tone_wav(tmp_path / "t.wav")))
    assert (asr.closed, diarizer.closed) == (1, 1)
    assert asr.threads == diarizer.threads == ["MainThread"]  # sequential: one device's memory
    assert "asr" not in pipeline.backends() and "diarize" not in pipeline.backends()


def test_cpu_asr_and_diarization_run_side_by_side(tmp_path):
    ws = Workspace(tmp_path / "ws")
    asr, diarizer = GpuNamed(CountingAsr(), "whisper-cpu"), GpuNamed(FlakyDiarizer(failures=0), "embedded")
    pipeline = _pipeline(ws, asr, diarizer)
    pipeline.run(str(tone_wav(tmp_path / "t.wav")))
    assert asr.threads == ["MainThread"] and diarizer.threads[0].startswith("vtx-diarize")
    assert (asr.closed, diarizer.closed) == (0, 0)  # CPU models stay loaded for the next run


# -- keys follow code, library and model versions ----------------------------------------------

def _stages_cached(result, *stages):
    return [result.document.stages[s].cached for s in stages]


def test_a_bumped_stage_version_recomputes_that_stage(tmp_path, monkeypatch):
    import vtxlib.versions

    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    _pipeline(ws, asr, diarizer).run(str(src))
    bumped = {**getattr(vtxlib.versions, "STAGE_VERSIONS", {}), "align": 10_000}
    monkeypatch.setattr(vtxlib.versions, "STAGE_VERSIONS", bumped, raising=False)
    again = _pipeline(ws, asr, diarizer).run(str(src))
    assert _stages_cached(again, "audio", "asr", "diarize", "align") == [True, True, True, False]


def test_an_upgraded_library_recomputes_the_stage_that_uses_it(tmp_path, monkeypatch):
    import importlib.metadata

    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = GpuNamed(CountingAsr(), "whisper-cpu"), FlakyDiarizer(failures=0)
    _pipeline(ws, asr, diarizer).run(str(src))
    installed = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "99.0" if name == "faster-whisper" else installed(name))
    again = _pipeline(ws, asr, diarizer).run(str(src))
    assert len(asr.threads) == 2, "ASR was served from the cache after its library changed"
    assert _stages_cached(again, "audio", "asr", "diarize") == [True, False, True]


class FolderModelAsr(CountingAsr):
    """An ASR backend reading its model from a folder (as --asr-model DIR does)."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def model_files(self):
        return [self.folder]


def test_other_model_files_in_the_same_folder_recompute_and_are_hashed_once(tmp_path, monkeypatch):
    import vtxlib.workspace

    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"weights A" * 1000)
    (folder / "config.json").write_text("{}")
    asr = FolderModelAsr(folder)
    _pipeline(ws, asr, FlakyDiarizer(failures=0)).run(str(src))
    (folder / "model.bin").write_bytes(b"weights B" * 1000)  # same size, other weights
    _pipeline(ws, asr, FlakyDiarizer(failures=0)).run(str(src))
    assert asr.calls == 2

    hashed = []
    real_sha256 = vtxlib.workspace.file_sha256
    monkeypatch.setattr(vtxlib.workspace, "file_sha256", lambda path, *a: hashed.append(Path(path)) or
                        real_sha256(path, *a))
    again = _pipeline(ws, asr, FlakyDiarizer(failures=0)).run(str(src))
    assert asr.calls == 2 and again.document.stages["asr"].cached
    assert not [p for p in hashed if folder in p.parents], "unchanged model files were hashed again"


class LocalModelDiarizer(FlakyDiarizer):
    """A diarizer given a local model file as an option (as --diarizer-model PATH is)."""

    def __init__(self, model):
        super().__init__(failures=0)
        self.model = model

    def options_dict(self):
        return {"model": str(self.model)}


def test_a_local_model_named_by_an_option_is_part_of_the_key(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    model = tmp_path / "diarizer" / "config.yaml"
    model.parent.mkdir()
    model.write_text("threshold: 0.5\n")
    diarizer = LocalModelDiarizer(model)
    _pipeline(ws, CountingAsr(), diarizer).run(str(src))
    model.write_text("threshold: 0.7\n")
    again = _pipeline(ws, CountingAsr(), diarizer).run(str(src))
    assert diarizer.calls == 2 and not again.document.stages["diarize"].cached


# -- content, not upstream keys, decides ----------------------------------------------------

class VaryingAsr(CountingAsr):
    """Different words on every call, as a nondeterministic or updated model gives."""

    def transcribe(self, audio, progress=None):
        transcript = super().transcribe(audio, progress)
        for word in transcript.words:
            word.text = f"{word.text}{self.calls}"
        for segment in transcript.segments:
            segment.text = " ".join(w.text for w in segment.words)
        return transcript


def test_truncated_audio_is_decoded_again_and_later_stages_follow_its_content(tmp_path, caplog):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    audio = Path(first.audio.path)
    audio.write_bytes(audio.read_bytes()[: audio.stat().st_size // 2])  # damaged from outside
    with caplog.at_level(logging.WARNING, logger="vtxlib"):
        again = _pipeline(ws, asr, diarizer).run(str(src))
    assert not again.document.stages["audio"].cached
    assert "audio.wav" in caplog.text
    with wave.open(str(audio)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(first.audio.duration)
    # decoded again to the same content: transcript and speakers are still valid
    assert _stages_cached(again, "asr", "diarize", "align") == [True, True, True]


def test_a_recomputed_transcript_with_other_words_is_realigned(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = VaryingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    ws.artifact_path(first.media.id, "asr", first.keys["asr"]).unlink()  # lost, e.g. a Drive sync conflict
    again = _pipeline(ws, asr, diarizer).run(str(src))
    assert asr.calls == 2
    assert [w.text for w in again.document.transcript.words] == [w.text for w in again.transcript.words]
    assert not again.document.stages["align"].cached


def test_an_edited_artifact_is_recomputed_with_a_warning(tmp_path, caplog):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    artifact = ws.artifact_path(first.media.id, "asr", first.keys["asr"])
    artifact.write_text(artifact.read_text().replace('"hello', '"goodbye'))  # still valid JSON
    with caplog.at_level(logging.WARNING, logger="vtxlib"):
        again = _pipeline(ws, asr, diarizer).run(str(src))
    assert asr.calls == 2 and "recomputed" in caplog.text
    assert "goodbye" not in " ".join(w.text for w in again.document.transcript.words)


def test_an_artifact_of_the_wrong_shape_is_recomputed_not_a_traceback(tmp_path, caplog):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    ws.save_artifact(first.media.id, "asr", first.keys["asr"], {"language": "en"})  # no "segments"
    with caplog.at_level(logging.WARNING, logger="vtxlib"):
        again = _pipeline(ws, asr, diarizer).run(str(src))
    assert asr.calls == 2 and "shape" in caplog.text
    assert [w.text for w in again.document.transcript.words] == ["hello", "there", "general", "kenobi"]


# -- a moved workspace reads its own files -----------------------------------------------------

def test_a_moved_workspace_is_served_from_its_own_cache(tmp_path):
    src = tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(Workspace(tmp_path / "ws"), asr, diarizer).run(str(src))
    shutil.move(str(tmp_path / "ws"), str(tmp_path / "moved"))
    moved = Workspace(tmp_path / "moved")
    again = _pipeline(moved, asr, diarizer).run(str(src))
    assert _stages_cached(again, "audio", "asr", "diarize", "align") == [True] * 4
    assert (asr.calls, diarizer.calls) == (1, 1)
    assert Path(again.audio.path) == moved.root / "media" / first.media.id / "audio.wav"
    vtt = Path(again.outputs["vtt"])
    assert vtt.parent == moved.root / "outputs" / first.media.id
    assert "general kenobi" in vtt.read_text()


def test_a_moved_workspace_finds_its_downloaded_media(tmp_path, monkeypatch):
    from vtxlib import acquire as acq
    from vtxlib.types import MediaInfo

    def download(url, workspace, options, *rest):
        path = workspace.media_dir("Youtube-abc") / "original.wav"
        tone_wav(path)
        return MediaInfo(id="Youtube-abc", title="talk", source=url, kind="url", path=str(path))

    monkeypatch.setattr(acq, "_download", download)
    acq.acquire("https://www.youtube.com/watch?v=abc", Workspace(tmp_path / "ws"))
    shutil.move(str(tmp_path / "ws"), str(tmp_path / "moved"))

    def offline(*args):
        raise AssertionError("downloaded again although the workspace holds the file")

    monkeypatch.setattr(acq, "_download", offline)
    info = acq.acquire("https://www.youtube.com/watch?v=abc", Workspace(tmp_path / "moved"))
    assert Path(info.path) == (tmp_path / "moved").resolve() / "media" / "Youtube-abc" / "original.wav"


# -- outputs appear together; leftovers of killed runs are removed -----------------------------

def test_a_failure_while_writing_outputs_keeps_the_previous_set_whole(tmp_path, monkeypatch):
    from vtxlib import subtitles

    ws, src, out = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav"), tmp_path / "out"
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src), out_dir=out)
    folder = out / first.media.id
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def crash(self, document):
        raise KeyboardInterrupt  # a kill between two files of the set

    monkeypatch.setattr(subtitles.SRTWriter, "render", crash)
    with pytest.raises(KeyboardInterrupt):
        _pipeline(ws, asr, diarizer, speaker_names={"SPEAKER_00": "Obi-Wan"}).run(str(src), out_dir=out)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in out.iterdir()] == [first.media.id]


def test_no_report_leaves_no_older_report_beside_new_outputs(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer, report=True).run(str(src))
    assert Path(first.outputs["report"]).exists()
    again = _pipeline(ws, asr, diarizer, report=False).run(str(src))
    assert "report" not in again.outputs
    assert sorted(p.name for p in Path(again.outputs["vtt"]).parent.iterdir()) == sorted(
        Path(p).name for p in again.outputs.values())


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from vtxlib.workspace import atomic_path
with atomic_path(Path(sys.argv[1]), suffix=".wav") as tmp:
    tmp.write_bytes(b"RIFF partial")
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    sys.stdin.read()
"""


def _leave_temporary(target: Path, how: str):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target), how], cwd=os.getcwd(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if how == "kill":
        proc.wait(timeout=60)
    else:
        proc.stdout.readline()
    return proc


def test_temporaries_of_killed_writers_are_removed_at_the_start_of_a_stage(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    media = ws.media_dir(first.media.id)
    _leave_temporary(media / "audio.wav", "kill")
    killed = [p for p in media.iterdir() if p.name.startswith(".vtx-tmp.audio.wav.")]
    assert len(killed) == 1
    writer = _leave_temporary(media / "audio.wav", "live")
    try:
        live = [p for p in media.iterdir() if p.name.startswith(".vtx-tmp.audio.wav.") and p not in killed]
        past = time.time() - 60
        for path in killed + live:
            os.utime(path, (past, past))
        _pipeline(ws, asr, diarizer).run(str(src))
        assert not killed[0].exists(), "the temporary file of a killed decode was left behind"
        assert live[0].exists(), "the temporary file of a running writer was removed"
    finally:
        writer.kill()
        writer.wait()


_KILLED_PUBLISHER = """
import os, signal, sys
from pathlib import Path
from vtxlib.workspace import atomic_folder
with atomic_folder(Path(sys.argv[1])) as folder:
    (folder / "transcript.vtt").write_text("WEBVTT")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_while_writing_outputs_leaves_the_old_set_and_the_next_run_cleans_up(tmp_path):
    ws, src = Workspace(tmp_path / "ws"), tone_wav(tmp_path / "talk.wav")
    asr, diarizer = CountingAsr(), FlakyDiarizer(failures=0)
    first = _pipeline(ws, asr, diarizer).run(str(src))
    folder = Path(first.outputs["vtt"]).parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    subprocess.run([sys.executable, "-c", _KILLED_PUBLISHER, str(folder)], cwd=os.getcwd(), timeout=60)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    leftovers = [p for p in folder.parent.iterdir() if p != folder]
    assert len(leftovers) == 1 and (leftovers[0] / "transcript.vtt").exists()
    past = time.time() - 60
    os.utime(leftovers[0], (past, past))
    _pipeline(ws, asr, diarizer).run(str(src))
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
