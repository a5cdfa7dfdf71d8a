"""A pre-signed link's query string (``X-Amz-Signature``, ``token``) is a secret: it never reaches
what vtx shows or stores for sharing (transcript.json, report.html, sources/*.json, job records,
API answers, error messages). No test here contacts an address off this machine: the bucket's
host name resolves to a loopback server."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest
from fakes import HelloAsr, OneTurnDiarizer
from needs import require

from vtxlib import netguard
from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.workspace import Workspace

BUCKET = "bucket.s3.amazonaws.com"
SECRETS = ("X-Amz-Signature", "abc123sig", "token=", "xyz789tok")


def _signed(port: int | None = None) -> str:
    host = f"{BUCKET}:{port}" if port else BUCKET
    return f"https://{host}/v.mp4?X-Amz-Signature=abc123sig&token=xyz789tok#t=10"


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("source, expected", [
    (_signed(), f"https://{BUCKET}/v.mp4"),
    ("https://alice:hunter2@h.test/a.wav?sig=1", "https://h.test/a.wav"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&si=tracking123&t=42",
     "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42"),  # a YouTube link keeps its video id
    ("https://youtu.be/dQw4w9WgXcQ?si=tracking123", "https://youtu.be/dQw4w9WgXcQ"),
    ("/home/alice/private/talk.mp4", "talk.mp4"),
])
def test_share_safe_names_drop_query_strings_and_fragments(source, expected):
    assert netguard.share_safe_source(source) == expected
    assert netguard.redact(source) == expected or "://" not in source


def _wav_bytes(path: Path) -> bytes:
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * math.pi * 300 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(tone.tobytes())
    return path.read_bytes()


def _every_file(*folders: Path) -> dict[Path, str]:
    return {path: path.read_bytes().decode("utf-8", "replace") for folder in folders
            for path in folder.rglob("*") if path.is_file() and path.suffix != ".wav"}


def test_a_signed_links_query_is_in_no_output_or_stored_record(tmp_path, monkeypatch):
    from local_http import LocalServer, stub_resolver

    stub_resolver(monkeypatch, {BUCKET: "127.0.0.1"})
    ws, out = Workspace(tmp_path / "ws"), tmp_path / "out"
    body = _wav_bytes(tmp_path / "v.wav")
    with LocalServer({"/v.mp4": (200, {"Content-Type": "audio/wav"}, body)}) as server:
        url = _signed(server.port).replace("https://", "http://")
        pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=True),
                            backends={"asr": HelloAsr(), "diarize": OneTurnDiarizer()})
        result = pipeline.run(url, out_dir=out)
        assert server.hits and "X-Amz-Signature=abc123sig" in server.hits[0]  # the download used it
    assert {"json", "report"} <= set(result.outputs)
    files = _every_file(out, ws.root / "sources", ws.root / "media")
    assert any(path.name == "report.html" for path in files) and list((ws.root / "sources").glob("*.json"))
    leaks = {str(path): _leaks(text) for path, text in files.items() if _leaks(text)}
    assert leaks == {}
    assert _leaks(result.document.media.source) == []


def test_a_failed_download_does_not_echo_the_signature(tmp_path, monkeypatch):
    from local_http import LocalServer, stub_resolver

    from vtxlib.acquire import acquire
    from vtxlib.errors import VtxError

    stub_resolver(monkeypatch, {BUCKET: "127.0.0.1"})
    with LocalServer({}) as server:  # every path is 404
        with pytest.raises(VtxError) as caught:
            acquire(_signed(server.port).replace("https://", "http://"), Workspace(tmp_path / "ws"))
    assert _leaks(str(caught.value)) == []


def test_the_service_answers_and_stores_no_signature(tmp_path, monkeypatch):
    require("fastapi", extra="service")
    from local_http import LocalServer, stub_resolver
    from test_service import AcquiringPipeline, client_for, wait_for_job

    stub_resolver(monkeypatch, {BUCKET: "127.0.0.1"})
    ws = Workspace(tmp_path / "ws")
    body = _wav_bytes(tmp_path / "v.wav")
    with LocalServer({"/v.mp4": (200, {"Content-Type": "audio/wav"}, body)}) as server, \
            client_for(ws, AcquiringPipeline(ws), allow_url_networks=("127.0.0.1/32",)) as client:
        url = _signed(server.port).replace("https://", "http://")
        accepted = client.post("/transcribe", data={"url": url})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        record = wait_for_job(client, job_id)
        assert record["status"] == "done", record
        answers = [accepted.text, client.get(f"/jobs/{job_id}").text, client.get(f"/jobs/{job_id}/json").text]
        failed = client.post("/transcribe", data={"url": url.replace("/v.mp4", "/gone.mp4")})
        answers.append(client.get(f"/jobs/{failed.json()['job_id']}").text if failed.status_code == 202
                       else failed.text)
        wait_for_job(client, failed.json()["job_id"])
        answers.append(client.get(f"/jobs/{failed.json()['job_id']}").text)
    assert record["request"]["name"] == f"http://{BUCKET}:{server.port}/v.mp4"
    assert [_leaks(answer) for answer in answers] == [[]] * len(answers)
    stored = _every_file(ws.root / "service", ws.root / "sources", ws.root / "outputs")
    assert any(path.parent.name == "jobs" for path in stored)
    assert {str(path): _leaks(text) for path, text in stored.items() if _leaks(text)} == {}
