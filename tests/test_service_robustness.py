"""The service recovers from what a probe did to it: a full disk during an upload, uploads left by a
killed server, a damaged job record, a bad or busy port, a key file others can read, and data kept
forever (the retention setting)."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from pathlib import Path

import pytest
from needs import require

require("fastapi", extra="service")
require("httpx", extra="service")

from test_service import FakePipeline, client_for, needs_ffmpeg, tone_wav  # noqa: E402

from vtxlib.workspace import Workspace  # noqa: E402

KEY = "k3y-0f-the-robustness-tests-4d2b"


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


# -- a full disk during an upload -----------------------------------------------------------------

class _SmallDisk:
    """``open`` for the service module on a disk of QUOTA bytes under FOLDER: a write that would
    pass it fails with ENOSPC after writing what fits, as a real full disk does."""

    def __init__(self, folder: Path, quota: int):
        self.folder, self.quota = folder, quota

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        if "w" not in mode or not Path(path).is_relative_to(self.folder):
            return handle
        disk = self

        class Limited:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, data):
                room = disk.quota - disk.used()
                if len(data) > room:
                    handle.write(data[:max(0, room)])
                    handle.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
                written = handle.write(data)
                handle.flush()
                return written

        return Limited()


@needs_ffmpeg
def test_a_failed_upload_is_removed_so_the_next_request_succeeds(workspace, tmp_path, monkeypatch):
    from vtxlib.service import security

    small = tone_wav(tmp_path / "small.wav", 0.5).read_bytes()
    large = tone_wav(tmp_path / "large.wav", 8.0).read_bytes()
    uploads = workspace.root / "service" / "uploads"
    monkeypatch.setattr(security, "open", _SmallDisk(uploads, quota=len(small) + 4096), raising=False)
    with client_for(workspace, FakePipeline(workspace)) as client:
        full = client.post("/transcribe", files={"file": ("large.wav", large, "audio/wav")})
        assert full.status_code == 507 and "disk is full" in full.json()["error"]
        assert list(uploads.iterdir()) == [], "the partial upload was left behind"
        after = client.post("/transcribe", files={"file": ("small.wav", small, "audio/wav")})
        assert after.status_code == 200, after.text


def test_uploads_left_by_a_killed_server_are_removed_at_start(workspace, tmp_path):
    uploads = workspace.root / "service" / "uploads"
    orphan = uploads / ("ab" * 16)
    orphan.mkdir(parents=True)
    (orphan / "talk.wav").write_bytes(b"RIFF" + bytes(1000))  # a partial upload, no job names it
    with client_for(workspace, FakePipeline(workspace)) as client:
        assert client.get("/status").status_code == 200
        assert not orphan.exists()


# -- a damaged job record -------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ['{"job_id": "0123456789abcdef", "status": "do', "", "[1, 2]"])
def test_a_damaged_job_record_is_a_json_error_not_a_plain_text_500(workspace, caplog, damage):
    from fastapi.testclient import TestClient

    from vtxlib.service import ServiceOptions, create_app

    jobs = workspace.root / "service" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "0123456789abcdef.json").write_text(damage)
    app = create_app(workspace, ServiceOptions(), pipeline=FakePipeline(workspace))
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        answer = client.get("/jobs/0123456789abcdef")
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    assert answer.status_code == 500 and "damaged" in answer.json()["error"]
    assert any("0123456789abcdef" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# -- job files written by earlier versions --------------------------------------------------------

# Job files as the service has written them since job records were first stored (json.dumps,
# indent 1, no nulls, the upload folder's name last): a finished job and one a killed server left running.
DONE_JOB_FILE = """{
 "job_id": "d9b377772c2c4546",
 "status": "done",
 "created": 1796655167.2070415,
 "started": 1796655167.2188466,
 "finished": 1796655167.222889,
 "request": {
  "name": "réunion.wav",
  "overrides": {
   "num_speakers": 2,
   "voices": "uploaded"
  }
 },
 "result": {
  "job_id": "d9b377772c2c4546",
  "media": {
   "id": "f-1234",
   "title": "réunion",
   "source": "réunion.wav",
   "duration": 1.25,
   "kind": "file"
  },
  "language": "fr",
  "language_probability": 0.875,
  "language_source": "detected",
  "speakers": [
   "SPEAKER_00"
  ],
  "speaker_names": {},
  "voice_matches": [],
  "turns": [
   {
    "speaker": "SPEAKER_00",
    "start": 0.5,
    "end": 0.9,
    "text": "héllo"
   }
  ],
  "words": [
   {
    "text": "héllo",
    "start": 0.5,
    "end": 0.9,
    "speaker": "SPEAKER_00"
   }
  ],
  "outputs": {
   "vtt": "transcript.vtt",
   "json": "transcript.json"
  },
  "stages": {},
  "incomplete": {}
 },
 "upload_folder": "ababababababababababababababab11"
}"""
RUNNING_JOB_FILE = """{
 "job_id": "ee4534df894a47a0",
 "status": "running",
 "created": 1796655167.2590067,
 "started": 1796655167.2633302,
 "request": {
  "name": "stuck.wav",
  "overrides": {}
 },
 "upload_folder": "ababababababababababababababab09"
}"""


def test_job_files_of_earlier_versions_load_and_are_written_back_in_their_format(tmp_path):
    from vtxlib.service import JobRecord

    path = tmp_path / "d9b377772c2c4546.json"
    path.write_text(DONE_JOB_FILE, encoding="utf-8")
    record = JobRecord.from_file(path)
    assert record.status == "done" and record.upload_folder == "ababababababababababababababab11"
    assert record.result.turns[0].text == "héllo" and record.request.overrides["voices"] == "uploaded"
    assert record.stored_json() == DONE_JOB_FILE  # the same bytes, upload folder included
    answered = record.model_dump(mode="json")
    assert "upload_folder" not in answered and "upload_folder" not in record.model_dump_json()
    assert "upload_folder" not in JobRecord.model_json_schema()["properties"]


def without_nulls(data):
    """An answer as stored: the service answers absent fields as null, files leave them out."""
    if isinstance(data, dict):
        return {key: without_nulls(value) for key, value in data.items() if value is not None}
    return [without_nulls(item) for item in data] if isinstance(data, list) else data


def test_a_server_answers_old_job_files_and_fails_the_unfinished_ones(workspace):
    jobs, uploads = workspace.root / "service" / "jobs", workspace.root / "service" / "uploads"
    jobs.mkdir(parents=True)
    (jobs / "d9b377772c2c4546.json").write_text(DONE_JOB_FILE, encoding="utf-8")
    (jobs / "ee4534df894a47a0.json").write_text(RUNNING_JOB_FILE, encoding="utf-8")
    left = uploads / "ababababababababababababababab09"
    left.mkdir(parents=True)
    (left / "stuck.wav").write_bytes(b"RIFF")
    with client_for(workspace, FakePipeline(workspace)) as client:
        done = client.get("/jobs/d9b377772c2c4546")
        running = client.get("/jobs/ee4534df894a47a0")
    expected = json.loads(DONE_JOB_FILE)
    del expected["upload_folder"]
    assert done.status_code == 200 and without_nulls(done.json()) == expected
    assert running.status_code == 200
    failed = running.json()
    assert failed["status"] == "failed" and failed["error"]["type"] == "Interrupted"
    assert failed["error"]["http_status"] == 503 and "while this job was running" in failed["error"]["message"]
    assert failed["finished"] >= failed["started"] and "upload_folder" not in failed
    stored = json.loads((jobs / "ee4534df894a47a0.json").read_text(encoding="utf-8"))
    assert stored == without_nulls(failed)  # rewritten without the upload folder, which is gone
    assert not left.exists()
    assert (jobs / "d9b377772c2c4546.json").read_text(encoding="utf-8") == DONE_JOB_FILE  # left as it was


# -- the command line: a bad or busy port, a key file others can read --------------------------------

def _serve(monkeypatch, argv: list[str]) -> tuple[int, list]:
    import uvicorn

    from vtxlib import cli
    from vtxlib.service import cli as serve_cli

    loaded = []
    monkeypatch.setattr(serve_cli, "create_app", lambda *a, **k: loaded.append("models") or "app")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: loaded.append("server"))
    monkeypatch.delenv("VTX_API_KEY", raising=False)
    return cli.main(["serve", *argv]), loaded


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_an_impossible_port_is_one_line(monkeypatch, capsys, port):
    code, loaded = _serve(monkeypatch, ["--port", port])
    err = capsys.readouterr().err
    assert code == 1 and loaded == []
    assert len(err.strip().splitlines()) == 1 and "--port" in err and "65535" in err, err


def test_a_port_in_use_is_refused_before_the_models_load(monkeypatch, capsys):
    from vtxlib.service import EXIT_ADDRESS_IN_USE

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, loaded = _serve(monkeypatch, ["--port", str(busy.getsockname()[1])])
    err = capsys.readouterr().err
    assert loaded == [] and code == EXIT_ADDRESS_IN_USE and code not in (0, 1, 3)
    assert len(err.strip().splitlines()) == 1 and "in use" in err, err


def test_a_key_file_others_can_read_is_accepted_with_a_warning(tmp_path, caplog):
    from vtxlib.service import load_api_key

    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    os.chmod(key_file, 0o644)
    with caplog.at_level(logging.WARNING, logger="vtxlib.service"):
        assert load_api_key(key_file) == KEY
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("chmod 600" in message for message in warnings), warnings
    assert KEY not in caplog.text
    caplog.clear()
    os.chmod(key_file, 0o600)
    with caplog.at_level(logging.WARNING, logger="vtxlib.service"):
        assert load_api_key(key_file) == KEY
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- retention ------------------------------------------------------------------------------------

def _age_tree(path: Path, days: float) -> None:
    past = time.time() - days * 86400
    for entry in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(entry, (past, past), follow_symlinks=False)


@needs_ffmpeg
def test_retention_removes_old_jobs_outputs_and_source_records_only(workspace, tmp_path):
    from vtxlib.service import ServiceOptions, sweep_expired

    audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
    fake = FakePipeline(workspace)
    with client_for(workspace, fake) as client:
        old, new = (client.post("/transcribe", files={"file": (f"{n}.wav", audio, "audio/wav")}).json()["job_id"]
                    for n in ("old", "new"))
    jobs, outputs, sources = (workspace.root / "service" / "jobs", workspace.root / "outputs" / "jobs",
                              workspace.root / "sources")
    sources.mkdir(exist_ok=True)
    (sources / "old.json").write_text("{}")
    (sources / "new.json").write_text("{}")
    for path in (jobs / f"{old}.json", outputs / old, sources / "old.json"):
        _age_tree(path, 10)
    for media_id in ("f-old", "f-new"):
        (workspace.media_dir(media_id) / "audio.wav").write_bytes(b"RIFF")
    _age_tree(workspace.root / "media" / "f-old", 10)
    running = json.loads((jobs / f"{new}.json").read_text())
    running.update(job_id="0123456789abcdef", status="running")
    (jobs / "0123456789abcdef.json").write_text(json.dumps(running))
    _age_tree(jobs / "0123456789abcdef.json", 10)  # old, but its job is not over: kept

    assert ServiceOptions().retention_days is None  # nothing is deleted unless asked for
    removed = sweep_expired(workspace.root, max_age_days=7)
    assert removed == {"jobs": 1, "outputs": 1, "sources": 1, "media": 1}
    assert (jobs / "0123456789abcdef.json").exists()
    assert sorted(p.name for p in (workspace.root / "media").iterdir()) == ["f-new"]
    assert not (jobs / f"{old}.json").exists() and not (outputs / old).exists()
    assert not (sources / "old.json").exists()
    assert (jobs / f"{new}.json").exists() and (outputs / new).is_dir() and (sources / "new.json").exists()


@needs_ffmpeg
def test_the_service_sweeps_at_start_with_a_retention_setting(workspace, tmp_path):
    audio = tone_wav(tmp_path / "a.wav", 0.5).read_bytes()
    with client_for(workspace, FakePipeline(workspace)) as client:
        old = client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")}).json()["job_id"]
    record = workspace.root / "service" / "jobs" / f"{old}.json"
    _age_tree(record, 3)
    _age_tree(workspace.root / "outputs" / "jobs" / old, 3)
    with client_for(workspace, FakePipeline(workspace)) as client:  # no retention: kept
        assert client.get(f"/jobs/{old}").status_code == 200
    with client_for(workspace, FakePipeline(workspace), retention_days=2) as client:
        assert client.get(f"/jobs/{old}").status_code == 404
        assert client.get("/status").json()["limits"]["retention_days"] == 2
    assert not record.exists() and not (workspace.root / "outputs" / "jobs" / old).exists()


def test_the_worker_sweeps_again_while_the_server_runs(tmp_path):
    from vtxlib.service import JobManager

    sweeps = []
    manager = JobManager(lambda job: None, tmp_path / "jobs", sweep=lambda: sweeps.append(time.monotonic()),
                         sweep_every_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while len(sweeps) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        manager.shutdown()
    assert len(sweeps) >= 3  # once at start, then every sweep_every_s between jobs


def test_an_unexpected_error_is_answered_in_json_too(workspace):
    from fastapi.testclient import TestClient

    from vtxlib.service import ServiceOptions, create_app

    class Broken(FakePipeline):
        calls = 0

        def backends(self):  # fine at start-up, then a bug
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("a bug in a backend's bookkeeping")
            return super().backends()

    app = create_app(workspace, ServiceOptions(), pipeline=Broken(workspace))
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        answer = client.get("/status")
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error": "internal error (RuntimeError); the server log has the details", "status": 500}
