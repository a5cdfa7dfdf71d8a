"""The workspace never harms files it did not write, and never serves a stale or damaged record:
only vtx's own temporaries are cleaned, concurrent runs publishing the same outputs do not collide,
damaged source records are recomputed, and a file edited in place (same size and mtime) is seen."""

import os
import threading
import time
from pathlib import Path

from fakes import HelloAsr, OneTurnDiarizer, tone_wav

from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.workspace import Workspace


class VersionedAsr(HelloAsr):
    options = {"v": 1}


def _wav(path: Path, seconds=1.5, freq=200) -> Path:
    return tone_wav(path, seconds, freq)


def _pipeline(ws):
    return Pipeline(ws, PipelineOptions(emotion="off", report=False),
                    backends={"asr": VersionedAsr(), "diarize": OneTurnDiarizer()})


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


# -- only vtx's own temporaries are ever removed -------------------------------------------------

def test_run_out_dir_keeps_the_users_hidden_files(tmp_path):
    """The probe's repro: ``run --out o`` removed these two (old temporary pattern, older than the run)."""
    out = tmp_path / "o"
    out.mkdir()
    (out / ".notes.backup_1.wav").write_text("x\n")
    (out / ".photos.holiday1.part").mkdir()
    (out / ".photos.holiday1.part" / "img.jpg").write_bytes(b"jpeg")
    for name in (".notes.backup_1.wav", ".photos.holiday1.part"):
        _age(out / name, 2 * 3600)
    _pipeline(Workspace(tmp_path / "ws")).run(str(_wav(tmp_path / "sample.wav")), out_dir=out)
    assert (out / ".notes.backup_1.wav").read_text() == "x\n"
    assert (out / ".photos.holiday1.part" / "img.jpg").read_bytes() == b"jpeg"


def test_only_names_vtx_gives_its_temporaries_are_candidates(tmp_path):
    from vtxlib.workspace import atomic_path, remove_stale_temporaries

    user_names = [".audio.wav.k3j_9x2a.wav", ".a1b2.json.p999999999h0a1b2c.zz9_8yx7.part", ".notes.abcdefgh.txt",
                  ".config.settings", "audio.wav", ".download"]
    for name in user_names:
        (tmp_path / name).write_text("x")
    with atomic_path(tmp_path / "a.json") as tmp:  # a real one, kept by renaming a copy
        (tmp_path / tmp.name.replace(f"p{os.getpid()}", "p999999999")).write_text("partial")
    for path in tmp_path.iterdir():
        _age(path, 3 * 24 * 3600)  # old enough even for a temporary written on another host
    assert remove_stale_temporaries(tmp_path, since=time.time()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(user_names + ["a.json"])


# -- two runs publishing the same outputs ------------------------------------------------------

def test_two_writers_replacing_the_same_output_folder_do_not_collide(tmp_path):
    """Both swaps move the current folder aside and rename theirs in; unserialised, one rename
    meets the other's folder (``OSError: [Errno 39] Directory not empty``) and leaves its temporary."""
    from vtxlib.workspace import atomic_folder

    target, errors = tmp_path / "out" / "f-0123", []
    start = threading.Barrier(3)

    def publish(writer: int) -> None:
        start.wait()
        try:
            for round_ in range(150):
                with atomic_folder(target) as folder:
                    for name in ("a.txt", "b.txt", "c.txt"):
                        (folder / name).write_text(f"{writer}:{round_}")
        except Exception as e:  # collected: an exception in a thread would not fail the test
            errors.append(e)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    contents = {p.read_text() for p in target.iterdir()}
    assert len(contents) == 1, "the published set mixes two writers' files"


# -- cache keys name every library that shapes a result -------------------------------------------

def test_the_embedded_emotion_key_changes_with_vader_sentiments_version(monkeypatch):
    """The embedded estimator scores the words with vaderSentiment's lexicon: another version of it
    can change every label, so the cached emotion stage must not survive an upgrade."""
    import importlib.metadata

    from vtxlib import versions

    before = versions.library_versions("emotion", "embedded")
    installed = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "99.0" if name.lower() == "vadersentiment" else installed(name))
    after = versions.library_versions("emotion", "embedded")
    assert after != before
    assert [name for name in after if after[name] == "99.0"] == ["vaderSentiment"]
