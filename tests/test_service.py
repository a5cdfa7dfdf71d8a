"""The HTTP service: FastAPI's TestClient over a stand-in pipeline for the protocol, and the real
pipeline behind a real uvicorn server on 127.0.0.1 (no network beyond loopback)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from needs import require  # noqa: E402

require("fastapi", extra="service")
require("httpx", extra="service")

from fastapi.testclient import TestClient  # noqa: E402

from vtxlib.audio import write_wav  # noqa: E402
from vtxlib.errors import InputError  # noqa: E402
from vtxlib.pipeline import PipelineOptions  # noqa: E402
from vtxlib.service import ServiceOptions, create_app  # noqa: E402
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Turn, Word  # noqa: E402
from vtxlib.workspace import Workspace  # noqa: E402

needs_ffmpeg = pytest.mark.tools("ffmpeg", "ffprobe")


class FakePipeline:
    """Stands in for Pipeline: same attributes the service uses, a canned two-speaker result."""

    def __init__(self, workspace: Workspace, fail: Exception | None = None):
        self.workspace = workspace
        self.default_options = PipelineOptions(emotion="off")
        self.fail = fail
        self.runs: list[tuple[str, PipelineOptions]] = []
        self.loads = 0
        self.gate = threading.Event()
        self.gate.set()
        self._backends: dict = {}
        self.incomplete: dict = {}

    def warm_up(self) -> None:
        self.loads += 1
        self._backends = {"asr": SimpleNamespace(name="fake-asr"), "diarize": SimpleNamespace(name="fake-diar")}

    def backends(self) -> dict:
        return dict(self._backends)

    def run(self, source: str, out_dir=None, until: str = "subtitles", options=None, hook=None):
        from vtxlib.subtitles import write_outputs

        options = options or self.default_options
        self.runs.append((source, options))
        hook("asr", "start")
        assert self.gate.wait(20)
        if self.fail is not None:
            raise self.fail
        other = "SPEAKER_00" if options.num_speakers == 1 else "SPEAKER_01"  # options change the result
        words = [Word("hello", 0.1, 0.4, 0.9, "SPEAKER_00"), Word("there", 0.5, 0.8, 0.9, "SPEAKER_00"),
                 Word("hi", 1.2, 1.4, 0.9, other)]
        turns = [Turn("SPEAKER_00", 0.1, 0.8, words[:2]), Turn(other, 1.2, 1.4, words[2:])]
        media = MediaInfo(id="f-fake", title=Path(source).stem, source=source, duration=1.5, path=source)
        document = Document(media=media, transcript=AlignedTranscript(turns, language="en"))
        # like Pipeline.run: DIR/<media_id>/ when out_dir is given, else the workspace's outputs
        target = Path(out_dir) / media.id if out_dir else self.workspace.outputs_dir(media.id)
        outputs = write_outputs(document, target)
        return SimpleNamespace(document=document, outputs=outputs, incomplete=dict(self.incomplete))

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


def client_for(workspace, pipeline, base_url: str = "http://127.0.0.1:8000", **service_options) -> TestClient:
    app = create_app(workspace, ServiceOptions(**service_options), pipeline=pipeline)
    return TestClient(app, base_url=base_url)


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
    import platform
    from importlib.metadata import version

    assert body["versions"]["fastapi"] == version("fastapi") and body["versions"]["python"] == platform.python_version()
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


def test_serve_command_registers_with_the_cli_and_defaults_to_loopback():
    from vtxlib import cli

    parser = cli.build_parser()
    args = parser.parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert args.func.__name__ == "cmd_serve"
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


@pytest.mark.tools("espeak-ng", "ffmpeg")
def test_real_server_on_loopback_with_the_embedded_pipeline(tmp_path, monkeypatch):
    import httpx
    import torch
    import uvicorn

    from vtxlib.asr import whisper_cpu

    torch.set_num_threads(1)
    loads = []
    real_load = whisper_cpu.load_whisper_model
    monkeypatch.setattr(whisper_cpu, "load_whisper_model",
                        lambda options, *a, **k: loads.append(options.model) or real_load(options, *a, **k))
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
        # loaded at start-up, before any request: the language identifier (base) and the English ASR
        assert sorted(loads) == ["base", "tiny.en"]
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
            detection = body["language_detection"]  # the language stage's result, its note included
            assert body["language"] == detection["language"] == "en" and detection["source"] == "detected"
            assert detection["note"] and detection["shares"]["en"] > 0.5
            assert body["turns"][0]["speaker"] != body["turns"][-1]["speaker"]
            assert all("emotion" in t for t in body["turns"])  # the embedded emotion stage ran
            assert body["outputs"]["vtt"] == "transcript.vtt"  # a file name, not a server path
            vtt = client.get(f"/jobs/{body['job_id']}/vtt")
            assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
            # the same media again comes from the workspace cache
            again = client.post("/transcribe", files={"file": ("copy.wav", clip.read_bytes(), "audio/wav")},
                                data={"num_speakers": "2"}).json()
            assert again["turns"] == body["turns"]
            assert again["stages"]["asr"]["cached"] is True
            # a URL to a loopback address is refused before anything is fetched
            url_job = client.post("/transcribe", data={"url": f"http://127.0.0.1:{port}/status"})
            assert url_job.status_code == 400 and "refused by the URL policy" in url_job.json()["error"]
        assert sorted(loads) == ["base", "tiny.en"]  # English speech: no other model was needed
    finally:
        server.should_exit = True
        thread.join(15)
    assert not thread.is_alive()


# -- safety: per-job outputs, paths, limits, authentication, hosts, URLs, crash recovery ---------------

@needs_ffmpeg
def test_each_job_keeps_its_own_outputs(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "same.wav", 0.5).read_bytes()
    with client_for(workspace, fake) as client:
        a = client.post("/transcribe", files={"file": ("same.wav", audio, "audio/wav")}, data={"num_speakers": "2"})
        b = client.post("/transcribe", files={"file": ("same.wav", audio, "audio/wav")}, data={"num_speakers": "1"})
        assert a.status_code == b.status_code == 200
        assert a.json()["speakers"] == ["SPEAKER_00", "SPEAKER_01"] and b.json()["speakers"] == ["SPEAKER_00"]
        a_json = client.get(f"/jobs/{a.json()['job_id']}/json").json()
        b_json = client.get(f"/jobs/{b.json()['job_id']}/json").json()
        assert a_json["speakers"] == a.json()["speakers"] and b_json["speakers"] == b.json()["speakers"]
        assert "SPEAKER_01" in client.get(f"/jobs/{a.json()['job_id']}/vtt").text
        assert "SPEAKER_01" not in client.get(f"/jobs/{b.json()['job_id']}/vtt").text
    assert (workspace.root / "outputs" / "jobs" / a.json()["job_id"]).is_dir()


@needs_ffmpeg
def test_answers_and_errors_name_files_not_server_folders(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "talk.wav", 0.5).read_bytes()
    failing = FakePipeline(workspace)
    with client_for(workspace, fake) as client:
        done = client.post("/transcribe", files={"file": ("talk.wav", audio, "audio/wav")})
        job_id = done.json()["job_id"]
        answers = [done.text, client.get(f"/jobs/{job_id}").text, client.get(f"/jobs/{job_id}/json").text,
                   client.post("/transcribe", files={"file": ("notes.txt", b"not media", "text/plain")}).text]
        assert done.json()["outputs"]["vtt"] == "transcript.vtt"
        assert done.json()["media"]["source"] == "talk.wav" and "path" not in done.json()["media"]
    with client_for(workspace, failing) as client:
        upload_dir = workspace.root / "service" / "uploads"
        failing.fail = InputError(f"{upload_dir}/0123/talk.wav has no audio stream; in {workspace.root}")
        answers.append(client.post("/transcribe", files={"file": ("talk.wav", audio, "audio/wav")}).text)
    for text in answers:
        assert str(workspace.root) not in text and str(tmp_path) not in text, text


def test_speaker_counts_have_an_upper_bound(workspace, fake):
    with client_for(workspace, fake) as client:
        for field in ("num_speakers", "min_speakers", "max_speakers"):
            response = client.post("/transcribe", data={"url": "https://example.com/v", field: "21"})
            assert response.status_code == 400 and "between 1 and 20" in response.json()["error"], response.text
    assert fake.runs == []


KEY = "s3cret-key-for-tests"


def test_an_api_key_guards_every_endpoint_but_a_minimal_status(workspace, fake):
    with client_for(workspace, fake, base_url="http://vtx.example", api_key=KEY) as client:
        anonymous = client.get("/status")
        assert anonymous.status_code == 200 and anonymous.json() == {"ready": True}
        for method, path in (("get", "/jobs/0123456789abcdef"), ("get", "/jobs/0123456789abcdef/vtt"),
                             ("post", "/transcribe")):
            response = getattr(client, method)(path)
            assert response.status_code == 401 and "Bearer" in response.json()["error"], path
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/jobs/0123456789abcdef", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
        auth = {"Authorization": f"Bearer {KEY}"}
        assert client.get("/jobs/0123456789abcdef", headers=auth).status_code == 404
        full = client.get("/status", headers=auth).json()
        assert full["backends"] and full["versions"]
        assert KEY not in json.dumps(full)
        # the docs page and the schema are readable without the key, and say how to authorize
        docs, spec = client.get("/docs"), client.get("/openapi.json").json()
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert "Authorize" in spec["info"]["description"] and "Bearer" in spec["info"]["description"]
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert KEY not in docs.text + json.dumps(spec)


def test_serve_refuses_a_public_bind_without_a_key_and_never_prints_it(monkeypatch, capsys, caplog):
    import uvicorn

    from vtxlib import cli
    from vtxlib.service import cli as serve_cli

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    monkeypatch.setattr(serve_cli, "create_app", lambda *a, **k: "app")
    monkeypatch.delenv("VTX_API_KEY", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert started == [] and len(err.strip().splitlines()) == 1 and "VTX_API_KEY" in err
    monkeypatch.setenv("VTX_API_KEY", KEY)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", "-vv"]) == 0 and started
    out = capsys.readouterr()
    assert KEY not in out.out + out.err + caplog.text
    assert KEY not in repr(ServiceOptions(api_key=KEY)) and KEY not in ServiceOptions(api_key=KEY).model_dump_json()


def test_foreign_hosts_and_cross_site_posts_are_refused_without_a_key(workspace, fake):
    with client_for(workspace, fake) as client:
        assert client.get("/status").status_code == 200
        assert client.get("/status", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/status", headers={"Host": "[::1]:8000"}).status_code == 200
        assert client.get("/status", headers={"Host": "attacker.example"}).status_code == 400  # DNS rebinding
        form = {"url": "https://example.com/v", "mode": "later"}  # would be a 400 if it got through
        for headers in ({"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Origin": "null"}):
            response = client.post("/transcribe", data=form, headers=headers)
            assert response.status_code == 403 and "cross-site" in response.json()["error"], headers
        same = client.post("/transcribe", data=form, headers={"Origin": "http://127.0.0.1:8000",
                                                              "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 400
    with client_for(workspace, FakePipeline(workspace), base_url="http://vtx.lan",
                    trusted_hosts=("vtx.lan",)) as client:
        assert client.get("/status").status_code == 200


def test_url_requests_are_refused_for_local_and_private_addresses(workspace, fake, monkeypatch):
    from local_http import stub_resolver

    stub_resolver(monkeypatch, {"metadata.test": "169.254.169.254", "intranet.test": "10.1.2.3"})
    with client_for(workspace, fake) as client:
        for url in ("http://127.0.0.1:8000/status", "http://localhost:8000/status",
                    "http://169.254.169.254/latest/meta-data/", "http://metadata.test/latest/meta-data/",
                    "http://[::1]:8000/status", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:8000/",
                    "http://intranet.test/talk.mp4", "http://[fd00::1]/a.wav", "http://224.0.0.1/a.wav",
                    "http://2130706433:8000/status", "http://0x7f.0.0.1:8000/status", "HTTP://127.1:8000/"):
            response = client.post("/transcribe", data={"url": url})
            assert response.status_code == 400 and "refused" in response.json()["error"], (url, response.text)
        secret = client.post("/transcribe", data={"url": "https://bob:hunter2@example.com/a.mp4"})
        assert secret.status_code == 400 and "hunter2" not in secret.text
        for url in ("http://", "http://[::1", "http://example.com:99999/x.wav"):
            assert client.post("/transcribe", data={"url": url}).status_code == 400, url
    assert fake.runs == []
    assert "hunter2" not in "".join(p.read_text() for p in (workspace.root / "service" / "jobs").glob("*.json"))
    with client_for(workspace, FakePipeline(workspace), allow_url_networks=("10.0.0.0/8",)) as client:
        allowed = client.post("/transcribe", data={"url": "http://intranet.test/talk.mp4"})
        assert allowed.status_code == 202


SERVER_SCRIPT = """
import sys, time, uvicorn
from vtxlib.pipeline import PipelineOptions
from vtxlib.service import ServiceOptions, create_app
from vtxlib.workspace import Workspace

class Stuck:  # a pipeline that never finishes: the job is 'running' when the server is killed
    default_options = PipelineOptions(emotion="off")
    def warm_up(self): pass
    def backends(self): return {}
    def run(self, source, out_dir=None, until="subtitles", options=None, hook=None):
        hook("asr", "start")
        time.sleep(600)

app = create_app(Workspace(sys.argv[1]), ServiceOptions(warm_up=False), pipeline=Stuck())
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@needs_ffmpeg
def test_jobs_of_a_killed_server_are_failed_and_their_uploads_removed(workspace, fake, tmp_path):
    import sys

    import httpx

    port = free_port()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(workspace.root), str(port)], cwd=root)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.time() + 60
            while True:
                try:
                    http.get("/status")
                    break
                except httpx.TransportError:
                    assert time.time() < deadline and proc.poll() is None, "server did not start"
                    time.sleep(0.1)
            audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
            queued = [http.post("/transcribe", files={"file": (f"{n}.wav", audio, "audio/wav")},
                                data={"mode": "async"}).json()["job_id"] for n in ("first", "second")]
            while http.get(f"/jobs/{queued[0]}").json()["status"] != "running":
                assert time.time() < deadline
                time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.wait(10)
    uploads = workspace.root / "service" / "uploads"
    assert len(list(uploads.iterdir())) == 2  # what the killed server left behind
    with client_for(workspace, fake) as client:
        for job_id in queued:
            record = client.get(f"/jobs/{job_id}").json()
            assert record["status"] == "failed", record
            assert "server stopped" in record["error"]["message"] and "upload_folder" not in record
    assert list(uploads.iterdir()) == []


class AcquiringPipeline(FakePipeline):
    """A stand-in that really acquires its source (as the first stage of the real pipeline does)."""

    def run(self, source: str, out_dir=None, until: str = "subtitles", options=None, hook=None):
        from vtxlib.acquire import acquire

        acquire(source, self.workspace)
        return super().run(source, out_dir, until, options=options, hook=hook)


def test_url_jobs_check_every_redirect_in_the_worker(workspace, monkeypatch):
    from local_http import LocalServer, stub_resolver

    stub_resolver(monkeypatch, {"inside.test": "127.0.0.2"})
    with LocalServer({"/secret": (200, {"Content-Type": "audio/wav"}, b"RIFF")}, host="127.0.0.2") as inside:
        hop = {"/talk.wav": (302, {"Location": f"http://inside.test:{inside.port}/secret"}, b"")}
        with LocalServer(hop) as outside, \
                client_for(workspace, AcquiringPipeline(workspace), allow_url_networks=("127.0.0.1/32",)) as client:
            accepted = client.post("/transcribe", data={"url": outside.url("/talk.wav")})
            assert accepted.status_code == 202, accepted.text
            record = wait_for_job(client, accepted.json()["job_id"])
            assert outside.hits  # the allow-listed first hop was fetched
        assert record["status"] == "failed" and record["error"]["http_status"] == 422
        assert "private" in record["error"]["message"]
        assert inside.hits == []  # the redirect target was refused before connecting


@needs_ffmpeg
def test_a_full_disk_is_507_not_500(workspace, tmp_path, monkeypatch):
    import errno

    from vtxlib.service import app as service_app

    audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
    disk_full = OSError(errno.ENOSPC, "No space left on device", str(workspace.root / "x"))
    with client_for(workspace, FakePipeline(workspace, fail=disk_full)) as client:
        during_job = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")})
        assert during_job.status_code == 507 and "disk is full" in during_job.json()["error"]

        def no_space(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(service_app, "store_upload", no_space)
        upload = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")})
        assert upload.status_code == 507 and "disk is full" in upload.json()["error"]
        assert client.get("/status").json()["jobs"]["handled"] == 1  # the worker is alive


def test_the_api_key_file_gives_its_first_line(tmp_path, monkeypatch):
    from vtxlib.service import load_api_key

    monkeypatch.setenv("VTX_API_KEY", "from-the-environment")
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"  {KEY}  \nsecond line\n")
    assert load_api_key(key_file) == KEY
    assert load_api_key(None) == "from-the-environment"
    key_file.write_text("\n")
    with pytest.raises(InputError, match="empty"):
        load_api_key(key_file)
    with pytest.raises(InputError, match="cannot read") as caught:
        load_api_key(tmp_path / "missing.txt")
    assert KEY not in str(caught.value)


def test_a_stage_that_did_not_do_its_work_is_named_in_the_answer(workspace, fake, tmp_path):
    audio = tone_wav(tmp_path / "meeting.wav", 1.0)
    with client_for(workspace, fake) as client:
        done = client.post("/transcribe", files={"file": ("a.wav", audio.read_bytes(), "audio/wav")}).json()
        fake.incomplete = {"enhance": "0 of 1 chunks corrected"}
        unfinished = client.post("/transcribe", files={"file": ("b.wav", audio.read_bytes(), "audio/wav")}).json()
    assert done["incomplete"] == {}
    assert unfinished["incomplete"] == {"enhance": "0 of 1 chunks corrected"}


def test_openapi_shows_the_transcript_and_job_schemas(workspace, fake):
    with client_for(workspace, fake) as client:
        spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"TranscriptResponse", "JobRecord", "JobAccepted", "TurnSummary", "Word", "ErrorAnswer"} <= set(schemas)
    assert {"speakers", "turns", "words", "media"} <= set(schemas["TranscriptResponse"]["properties"])
    assert schemas["JobRecord"]["properties"]["status"]["enum"] == ["queued", "running", "done", "failed"]
    transcribe = spec["paths"]["/transcribe"]["post"]["responses"]
    ok = json.dumps(transcribe["200"]["content"]["application/json"]["schema"])
    assert "#/components/schemas/TranscriptResponse" in ok
    assert transcribe["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobAccepted")
    job = spec["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert job["$ref"].endswith("/JobRecord")


@needs_ffmpeg
def test_answers_validate_against_their_published_models(workspace, fake, tmp_path):
    from vtxlib.service import JobRecord, TranscriptResponse

    audio = tone_wav(tmp_path / "talk.wav", 1.0).read_bytes()
    with client_for(workspace, fake) as client:
        body = client.post("/transcribe", files={"file": ("talk.wav", audio, "audio/wav")}, data={"mode": "async"})
        assert body.status_code == 202, body.text
        record = wait_for_job(client, body.json()["job_id"])
    parsed = JobRecord.model_validate(record)
    assert isinstance(parsed.result, TranscriptResponse) and parsed.result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert parsed.result.turns[0].text == "hello there" and "words" not in record["result"]["turns"][0]


def test_async_job_results_carry_their_job_id(workspace, fake):
    with client_for(workspace, fake) as client:
        accepted = client.post("/transcribe", files={"file": ("a.wav", tone_wav(workspace.root.parent / "a.wav", 1.0)
                                                             .read_bytes(), "audio/wav")}, data={"mode": "async"})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        record = wait_for_job(client, job_id)
    assert record["status"] == "done" and record["result"]["job_id"] == job_id


class ReportingPipeline(FakePipeline):
    """The stand-in that also writes report.html, as the real pipeline does by default."""

    def run(self, source: str, out_dir=None, until: str = "subtitles", options=None, hook=None):
        from vtxlib.report import write_report

        result = super().run(source, out_dir, until, options, hook)
        folder = Path(result.outputs["vtt"]).parent
        result.outputs["report"] = write_report(result.document, folder / "report.html")
        return result


def test_every_listed_output_is_served_including_the_report(workspace):
    with client_for(workspace, ReportingPipeline(workspace)) as client:
        body = client.post("/transcribe", files={"file": ("a.wav", tone_wav(workspace.root.parent / "a.wav", 1.0)
                                                         .read_bytes(), "audio/wav")}).json()
        assert "report" in body["outputs"] and "styled.vtt" in body["outputs"]
        for fmt in body["outputs"]:
            response = client.get(f"/jobs/{body['job_id']}/{fmt}")
            assert response.status_code == 200, (fmt, response.text)
        report = client.get(f"/jobs/{body['job_id']}/report")
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["content-disposition"].startswith("inline") and "<h1>" in report.text
class TranslatingPipeline(FakePipeline):
    """The stand-in, writing a translated track for each language of ``translate`` as the pipeline does."""

    def run(self, source, out_dir=None, until="subtitles", options=None, hook=None):
        from vtxlib.subtitles import cue_digest, translation_cues, write_translations
        from vtxlib.types import Translation

        result = super().run(source, out_dir, until, options, hook)
        document = result.document
        cues = translation_cues(document)
        document.translations = [Translation(language=lang, backend="test", cue_digest=cue_digest(cues),
                                             cues={str(k + 1): f"[{lang}] {c.text}" for k, c in enumerate(cues)})
                                 for lang in self.runs[-1][1].translate_targets()]
        result.outputs.update(write_translations(document, Path(result.outputs["vtt"]).parent))
        return result


@needs_ffmpeg
def test_translate_parameter_reaches_the_pipeline_and_its_tracks_are_served(workspace, tmp_path):
    fake = TranslatingPipeline(workspace)
    audio = tone_wav(tmp_path / "meeting.wav", 1.0).read_bytes()
    with client_for(workspace, fake) as client:
        response = client.post("/transcribe", files={"file": ("meeting.wav", audio, "audio/wav")},
                               data={"translate": "fr, DE"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert {"vtt.fr", "srt.fr", "vtt.de", "srt.de"} <= set(body["outputs"])
        french = client.get(f"/jobs/{body['job_id']}/vtt.fr")
        assert french.status_code == 200 and "[fr] hello there" in french.text
        assert 'filename="transcript.fr.vtt"' in french.headers["content-disposition"]
        assert client.get(f"/jobs/{body['job_id']}/json.fr").status_code == 404
        bad = client.post("/transcribe", files={"file": ("m.wav", audio, "audio/wav")}, data={"translate": "french!"})
        assert bad.status_code == 400 and "language codes" in bad.json()["error"]
    assert fake.runs[0][1].translate == "fr,de"
