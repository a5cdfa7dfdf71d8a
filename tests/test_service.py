"""The HTTP service: FastAPI's TestClient over a stand-in pipeline for the protocol, and the real
pipeline behind a real uvicorn server on 127.0.0.1 (no network beyond loopback)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from vtxlib.errors import InputError  # noqa: E402
from vtxlib.audio import write_wav  # noqa: E402
from vtxlib.pipeline import PipelineOptions  # noqa: E402
from vtxlib.service import ServiceOptions, create_app  # noqa: E402
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Turn, Word  # noqa: E402
from vtxlib.workspace import Workspace  # noqa: E402

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg/ffprobe")


class FakePipeline:
    """Stands in for Pipeline: same attributes the service uses, a canned two-speaker result."""

    def __init__(self, workspace: Workspace, fail: Exception | None = None):
        self.workspace = workspace
        self.options = PipelineOptions(emotion="off")
        self.hook = None
        self.fail = fail
        self.runs: list[tuple[str, PipelineOptions]] = []
        self.loads = 0
        self.gate = threading.Event()
        self.gate.set()
        self._backends: dict = {}

    def warm_up(self) -> None:
        self.loads += 1
        self._backends = {"asr": SimpleNamespace(name="fake-asr"), "diarize": SimpleNamespace(name="fake-diar")}

    def backends(self) -> dict:
        return dict(self._backends)

    def run(self, source: str, out_dir=None, until: str = "subtitles"):
        from vtxlib.subtitles import write_outputs

        self.runs.append((source, self.options))
        self.hook("asr", "start")
        assert self.gate.wait(20)
        if self.fail is not None:
            raise self.fail
        words = [Word("hello", 0.1, 0.4, 0.9, "SPEAKER_00"), Word("there", 0.5, 0.8, 0.9, "SPEAKER_00"),
                 Word("hi", 1.2, 1.4, 0.9, "SPEAKER_01")]
        turns = [Turn("SPEAKER_00", 0.1, 0.8, words[:2]), Turn("SPEAKER_01", 1.2, 1.4, words[2:])]
        media = MediaInfo(id="f-fake", title=Path(source).stem, source=source, duration=1.5)
        document = Document(media=media, transcript=AlignedTranscript(turns, language="en"))
        outputs = write_outputs(document, self.workspace.outputs_dir(media.id))
        return SimpleNamespace(document=document, outputs=outputs)

    def close(self) -> None:
        pass


def tone_wav(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    write_wav(path, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    return path


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def fake(workspace) -> FakePipeline:
    return FakePipeline(workspace)


def client_for(workspace, pipeline, **service_options) -> TestClient:
    app = create_app(workspace, ServiceOptions(**service_options), pipeline=pipeline)
    return TestClient(app)


def wait_for_job(client, job_id: str, timeout: float = 20.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        record = client.get(f"/jobs/{job_id}").json()
        if record["status"] in ("done", "failed"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


# -- protocol, stand-in pipeline -------------------------------------------------------------------

def test_status_reports_ready_backends_and_versions(workspace, fake):
    with client_for(workspace, fake) as client:
        body = client.get("/status").json()
    assert body["ready"] is True and body["error"] is None
    assert body["backends"] == {"asr": "fake-asr", "diarize": "fake-diar"}
    assert body["versions"]["fastapi"] and body["versions"]["python"]
    assert body["jobs"]["pending"] == 0
    assert fake.loads == 1


@needs_ffmpeg
def test_short_upload_is_answered_synchronously(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "meeting.wav", 1.0)
    with client_for(workspace, fake) as client:
        response = client.post("/transcribe", files={"file": ("meeting.wav", audio.read_bytes(), "audio/wav")},
                               data={"num_speakers": "2"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
        assert [t["text"] for t in body["turns"]] == ["hello there", "hi"]
        assert set(body["turns"][0]) == {"speaker", "start", "end", "text"}
        assert [w["text"] for w in body["words"]] == ["hello", "there", "hi"]
        vtt = client.get(f"/jobs/{body['job_id']}/vtt")
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT") and "<v SPEAKER_01>" in vtt.text
        second = client.post("/transcribe", files={"file": ("b.wav", audio.read_bytes(), "audio/wav")})
        assert second.status_code == 200
    source, options = fake.runs[0]
    assert Path(source).name == "meeting.wav" and options.num_speakers == 2
    assert fake.runs[1][1].num_speakers is None  # per-request options do not leak into the next
    assert not Path(source).exists()  # the upload is removed once the job is done
    assert fake.loads == 1  # models loaded once, at start-up


@needs_ffmpeg
def test_long_upload_becomes_a_background_job_stored_in_the_workspace(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "long.wav", 1.0)
    with client_for(workspace, fake, sync_max_seconds=0.5) as client:
        response = client.post("/transcribe", files={"file": ("long.wav", audio.read_bytes(), "audio/wav")})
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        assert response.headers["location"] == f"/jobs/{job_id}"
        record = wait_for_job(client, job_id)
    assert record["status"] == "done" and record["stage"] == "asr"
    assert record["result"]["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    stored = json.loads((workspace.root / "service" / "jobs" / f"{job_id}.json").read_text())
    assert stored["result"]["turns"] == record["result"]["turns"]
    # a restarted server still answers for the job
    with client_for(workspace, FakePipeline(workspace)) as client:
        assert client.get(f"/jobs/{job_id}").json()["status"] == "done"
        assert client.get("/jobs/0123456789abcdef").status_code == 404
        assert client.get("/jobs/../../etc").status_code == 404


@needs_ffmpeg
def test_async_mode_and_busy_server_answers_503(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
    fake.gate.clear()  # the first job blocks in the pipeline
    with client_for(workspace, fake, max_pending_jobs=1) as client:
        first = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")}, data={"mode": "async"})
        assert first.status_code == 202
        busy = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")})
        assert busy.status_code == 503
        assert "busy" in busy.json()["error"] and busy.headers["retry-after"] == "10"
        status = client.get("/status").json()["jobs"]
        assert status["pending"] == 1 and status["running"] == first.json()["job_id"]
        fake.gate.set()
        assert wait_for_job(client, first.json()["job_id"])["status"] == "done"
        again = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")})
        assert again.status_code == 200


def test_missing_and_invalid_fields_are_400(workspace, fake):
    with client_for(workspace, fake) as client:
        missing = client.post("/transcribe", data={"num_speakers": "2"})
        assert missing.status_code == 400 and "missing field" in missing.json()["error"]
        both = client.post("/transcribe", files={"file": ("a.wav", b"RIFF", "audio/wav")},
                           data={"url": "https://example.com/v"})
        assert both.status_code == 400 and "not both" in both.json()["error"]
        not_int = client.post("/transcribe", data={"url": "https://example.com/v", "num_speakers": "two"})
        assert not_int.status_code == 400 and "num_speakers" in not_int.json()["error"]
        zero = client.post("/transcribe", data={"url": "https://example.com/v", "num_speakers": "0"})
        assert zero.status_code == 400
        bounds = client.post("/transcribe", data={"url": "https://example.com/v", "min_speakers": "3",
                                                  "max_speakers": "2"})
        assert bounds.status_code == 400
        ftp = client.post("/transcribe", data={"url": "ftp://example.com/v.mp4"})
        assert ftp.status_code == 400 and "http(s)" in ftp.json()["error"]
        emotion = client.post("/transcribe", data={"url": "https://example.com/v", "emotion": "angry"})
        assert emotion.status_code == 400
        mode = client.post("/transcribe", data={"url": "https://example.com/v", "mode": "later"})
        assert mode.status_code == 400
    assert fake.runs == []  # nothing invalid reached the pipeline


@needs_ffmpeg
def test_unsupported_media_is_415_with_a_clear_message(workspace, fake, tmp_path):
    video = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x64:rate=5:duration=1", "-pix_fmt", "yuv420p", str(video)], check=True)
    with client_for(workspace, fake) as client:
        text = client.post("/transcribe", files={"file": ("notes.txt", b"not media at all", "text/plain")})
        assert text.status_code == 415
        assert "unsupported media" in text.json()["error"] and "expected a video or audio" in text.json()["error"]
        no_audio = client.post("/transcribe", files={"file": ("silent.mp4", video.read_bytes(), "video/mp4")})
        assert no_audio.status_code == 415 and "no audio stream" in no_audio.json()["error"]
        empty = client.post("/transcribe", files={"file": ("e.wav", b"", "audio/wav")})
        assert empty.status_code == 400 and "empty" in empty.json()["error"]
    assert fake.runs == []
    assert list((workspace.root / "service" / "uploads").iterdir()) == []  # rejected uploads are removed


def test_upload_size_limit_is_413_declared_or_streamed(workspace, fake):
    limit_mb = 0.05
    big = b"\0" * int(0.2 * 1024 * 1024)
    with client_for(workspace, fake, max_upload_mb=limit_mb) as client:
        declared = client.post("/transcribe", files={"file": ("big.wav", big, "audio/wav")})
        assert declared.status_code == 413 and "limit" in declared.json()["error"]
        boundary = "vtxboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode()

        def chunked():  # no Content-Length: the body is counted while it is read
            yield head
            for i in range(0, len(big), 16384):
                yield big[i:i + 16384]
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = client.post("/transcribe", content=chunked(),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert streamed.status_code == 413
    assert fake.runs == []


@needs_ffmpeg
def test_pipeline_failures_map_to_statuses(workspace, tmp_path):
    audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
    failing = FakePipeline(workspace, fail=InputError("the file is corrupt"))
    with client_for(workspace, failing) as client:
        response = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")})
        assert response.status_code == 422 and response.json()["error"] == "the file is corrupt"
        record = client.get(f"/jobs/{response.json()['job_id']}").json()
        assert record["status"] == "failed" and record["error"]["type"] == "InputError"
        assert client.get(f"/jobs/{response.json()['job_id']}/vtt").status_code == 409
    crashing = FakePipeline(workspace, fail=RuntimeError("bug"))
    with client_for(workspace, crashing) as client:
        assert client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")}).status_code == 500
        # the worker survived the crash
        assert client.get("/status").json()["jobs"]["handled"] == 1


def test_not_ready_when_warm_up_fails(workspace, fake):
    from vtxlib.errors import BackendUnavailable

    def broken():
        raise BackendUnavailable("the bundled ASR model is missing")

    fake.warm_up = broken
    with client_for(workspace, fake) as client:
        status = client.get("/status").json()
        assert status["ready"] is False and "ASR model is missing" in status["error"]
        response = client.post("/transcribe", data={"url": "https://example.com/v"})
        assert response.status_code == 503 and "not ready" in response.json()["error"]


def test_serve_command_registers_with_the_cli_and_defaults_to_loopback(monkeypatch):
    from vtxlib import cli

    monkeypatch.setattr(cli, "_EXTRA_COMMANDS", ["service"])
    parser = cli.build_parser()
    args = parser.parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert args.handler.__name__ == "cmd_serve"
    args = parser.parse_args(["serve", "--port", "9000", "--num-speakers", "2", "--max-upload-mb", "10"])
    assert args.port == 9000 and args.num_speakers == 2 and args.max_upload_mb == 10
    assert cli.pipeline_options_from_args(args).num_speakers == 2


# -- the real pipeline behind a real server on loopback ----------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SPOKEN = ["Good morning, the budget meeting starts now.", "Thank you, I have the numbers ready."]


def word_error_rate(reference: str, hypothesis: str) -> float:
    import re

    import jiwer

    def clean(s: str) -> str:
        return " ".join(re.sub(r"[^a-z' ]+", " ", s.lower()).split())

    return jiwer.wer(clean(reference), clean(hypothesis))


def speech_clip(target: Path) -> Path:
    """Two espeak-ng voices, one sentence each."""
    from vtxlib.audio import load_audio

    parts = []
    for i, (voice, text) in enumerate(zip(["en-us", "en+f3"], SPOKEN)):
        raw, wav = target.parent / f"v{i}.raw.wav", target.parent / f"v{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ac", "1",
                        "-ar", "16000", str(wav)], check=True)
        parts += [np.zeros(8000, np.float32), load_audio(wav)]
    write_wav(target, np.concatenate(parts + [np.zeros(8000, np.float32)]))
    return target


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
                    reason="needs espeak-ng and ffmpeg")
def test_real_server_on_loopback_with_the_embedded_pipeline(tmp_path, monkeypatch):
    import httpx
    import torch
    import uvicorn

    from vtxlib.asr import whisper_cpu

    torch.set_num_threads(1)
    loads = []
    real_load = whisper_cpu.load_whisper_model
    monkeypatch.setattr(whisper_cpu, "load_whisper_model", lambda o: loads.append(1) or real_load(o))
    clip = speech_clip(tmp_path / "two-voices.wav")
    workspace = Workspace(tmp_path / "ws")
    app = create_app(workspace, ServiceOptions(), PipelineOptions(asr="whisper-cpu", diarizer="embedded",
                                                                  report=False))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 60
        while not server.started and time.time() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        assert loads == [1]  # loaded at start-up, before any request
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            status = client.get("/status").json()
            assert status["ready"] and status["backends"]["asr"] == "whisper-cpu"
            response = client.post("/transcribe", files={"file": ("two-voices.wav", clip.read_bytes(), "audio/wav")},
                                   data={"num_speakers": "2"})
            assert response.status_code == 200, response.text
            body = response.json()
            text = " ".join(t["text"] for t in body["turns"])
            assert word_error_rate(" ".join(SPOKEN), text) <= 0.35, text
            assert len(body["speakers"]) == 2
            assert body["turns"][0]["speaker"] != body["turns"][-1]["speaker"]
            assert all("emotion" in t for t in body["turns"])  # the embedded emotion stage ran
            assert Path(body["outputs"]["vtt"]).is_file()
            assert Path(body["outputs"]["vtt"]).is_relative_to(workspace.root)
            # the same media again comes from the workspace cache
            again = client.post("/transcribe", files={"file": ("copy.wav", clip.read_bytes(), "audio/wav")},
                                data={"num_speakers": "2"}).json()
            assert again["turns"] == body["turns"]
            assert again["stages"]["asr"]["cached"] is True
            # a URL is a background job; offline (a closed loopback port) it fails with a clear error
            url_job = client.post("/transcribe", data={"url": f"http://127.0.0.1:{free_port()}/talk.mp4"})
            assert url_job.status_code == 202
            deadline = time.time() + 30
            record = client.get(url_job.json()["status_url"]).json()
            while record["status"] in ("queued", "running") and time.time() < deadline:
                time.sleep(0.1)
                record = client.get(url_job.json()["status_url"]).json()
            assert record["status"] == "failed" and record["error"]["http_status"] == 502
            assert "could not download" in record["error"]["message"]
        assert loads == [1]
    finally:
        server.should_exit = True
        thread.join(15)
    assert not thread.is_alive()
