"""acquire and audio on damaged or misleading input: a damaged source record is recomputed, a file
edited in place (same size and mtime) gets its new content's id, download leftovers are removed,
and errors name the real cause (a refused connection, a text file named .mp4)."""

import logging
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from fakes import tone_wav

from vtxlib.acquire import acquire
from vtxlib.errors import InputError, StageFailed
from vtxlib.workspace import Workspace


def _wav(path: Path, seconds: float = 0.5, freq: float = 440.0) -> Path:
    return tone_wav(path, seconds, freq, amplitude=0.3)


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def _records(ws: Workspace) -> list[Path]:
    return sorted((ws.root / "sources").glob("*.json"))


def _damage(path: Path, how: str) -> None:
    text = path.read_text()
    path.write_text("" if how == "emptied" else text[: len(text) // 2])


# -- damaged sources/<hash>.json --------------------------------------------------------------

@pytest.mark.parametrize("how", ["truncated", "emptied"])
def test_a_damaged_file_source_record_is_recomputed_with_a_warning(tmp_path, ws, caplog, how):
    src = _wav(tmp_path / "talk.wav")
    first = acquire(str(src), ws)
    [record] = _records(ws)
    _damage(record, how)
    with caplog.at_level(logging.WARNING, logger="vtxlib.acquire"):
        again = acquire(str(src), ws)
    assert again.id == first.id
    assert any("recomputed" in r.getMessage() and record.name in r.getMessage() for r in caplog.records)
    assert acquire(str(src), ws).id == first.id  # and the record was written again, whole
    assert record.read_text().startswith("{")


@pytest.mark.parametrize("how", ["truncated", "emptied"])
def test_a_damaged_url_source_record_is_recomputed_with_a_warning(tmp_path, ws, caplog, how):
    from local_http import LocalServer

    body = _wav(tmp_path / "a.wav").read_bytes()
    with LocalServer({"/talk.wav": (200, {"Content-Type": "audio/wav"}, body)}) as server:
        first = acquire(server.url("/talk.wav"), ws)
        [record] = _records(ws)
        _damage(record, how)
        with caplog.at_level(logging.WARNING, logger="vtxlib.acquire"):
            again = acquire(server.url("/talk.wav"), ws)
    assert again.id == first.id and Path(again.path).read_bytes() == body
    assert any("recomputed" in r.getMessage() for r in caplog.records)


# -- the fingerprint of a local file covers its content -----------------------------------------

def _edit_in_place_keeping_size_and_mtime(path: Path, offset: int) -> None:
    stat = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


@pytest.mark.parametrize("size, offset", [(200_000, 100_000), (40 << 20, 7)])
def test_the_fingerprint_changes_when_content_changes_under_the_same_size_and_mtime(tmp_path, size, offset):
    from vtxlib.acquire import source_fingerprint

    path = tmp_path / "video.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
    before = source_fingerprint(path)
    assert source_fingerprint(path) == before
    _edit_in_place_keeping_size_and_mtime(path, offset)
    assert source_fingerprint(path) != before


def test_a_file_edited_in_place_with_the_same_size_and_mtime_gets_a_new_id(tmp_path, ws):
    """tar, rsync -a and cp -p keep mtimes: the cached record must not serve the old transcript."""
    src = _wav(tmp_path / "talk.wav", seconds=1.0)
    first = acquire(str(src), ws)
    _edit_in_place_keeping_size_and_mtime(src, src.stat().st_size // 2)
    second = acquire(str(src), ws)
    assert second.id != first.id


# -- downloads leave nothing behind; errors name the cause ----------------------------------------

def test_a_download_leaves_no_empty_download_folder(tmp_path, ws):
    from local_http import LocalServer

    body = _wav(tmp_path / "a.wav").read_bytes()
    with LocalServer({"/talk.wav": (200, {"Content-Type": "audio/wav"}, body)}) as server:
        info = acquire(server.url("/talk.wav"), ws)
    media_dir = Path(info.path).parent
    assert sorted(p.name for p in media_dir.iterdir()) == [Path(info.path).name]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_not_reported_as_no_network(ws):
    with pytest.raises(StageFailed) as caught:
        acquire(f"http://127.0.0.1:{_closed_port()}/talk.wav", ws)
    message = str(caught.value)
    assert "refused" in message and "no network" not in message, message


def test_a_text_file_named_mp4_is_not_called_truncated(tmp_path, ws):
    from vtxlib.audio import decode

    text = tmp_path / "notes.mp4"
    text.write_text("these are my meeting notes, not a video\n" * 40)
    with pytest.raises(InputError) as caught:
        decode(text, ws.audio_path("t"))
    message = str(caught.value)
    assert "not a media file" in message and "text" in message
    assert "moov" not in message and "truncated" not in message, message
