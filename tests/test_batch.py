"""Batch runner: source lists, playlist expansion, the status table, failure isolation, and resuming
a batch that was killed (a real SIGKILL of ``python -m vtxlib.batch``)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from needs import require

from vtxlib.batch import (
    BatchOptions,
    SourceStatus,
    expand_playlist,
    format_table,
    parameters_from_args,
    read_sources,
    run_batch,
    source_folder_name,
    table_csv,
)
from vtxlib.errors import InputError
from vtxlib.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = "01_acquire,06_subtitles"  # 06 runs every stage up to the subtitles; 02-05 add only displays


# -- sources ---------------------------------------------------------------------------------------
def test_text_list_skips_comments_blanks_and_duplicates(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# my videos\n\na.wav\n  https://youtu.be/dQw4w9WgXcQ  \na.wav\n# b.wav\n")
    assert read_sources(str(path)) == ["a.wav", "https://youtu.be/dQw4w9WgXcQ"]


def test_csv_with_source_column_and_without_header(tmp_path):
    with_header = tmp_path / "with.csv"
    with_header.write_text("title,source\nfirst,a.mp4\nsecond,\"b, c.mp4\"\n,\n")
    assert read_sources(str(with_header)) == ["a.mp4", "b, c.mp4"]
    plain = tmp_path / "plain.csv"
    plain.write_text("x.wav,ignored\ny.wav\n")
    assert read_sources(str(plain)) == ["x.wav", "y.wav"]


def test_missing_or_empty_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_sources(str(tmp_path / "nope.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="no sources"):
        read_sources(str(empty))


def test_playlist_expansion_uses_flat_entries():
    flat = {"_type": "playlist", "entries": [
        {"url": "https://www.youtube.com/watch?v=aaaaaaaaaaa", "id": "aaaaaaaaaaa"},
        {"id": "bbbbbbbbbbb"}, None]}
    seen = []
    sources = expand_playlist("https://www.youtube.com/playlist?list=PL1", lambda url: seen.append(url) or flat)
    assert sources == ["https://www.youtube.com/watch?v=aaaaaaaaaaa", "https://www.youtube.com/watch?v=bbbbbbbbbbb"]
    assert seen == ["https://www.youtube.com/playlist?list=PL1"]
    single = expand_playlist("https://youtu.be/ccccccccccc", lambda url: {"id": "ccccccccccc"})
    assert single == ["https://youtu.be/ccccccccccc"]
    with pytest.raises(InputError, match="no videos"):
        expand_playlist("https://www.youtube.com/playlist?list=PL2", lambda url: {"entries": []})


def test_status_table_columns_and_values():
    rows = [SourceStatus("a.wav", "done", speakers=2, words=75, language="es+de", seconds=12.345,
                         outputs="ws/outputs/f-a"),
            SourceStatus("bad.wav", "failed", seconds=1.0, error="01_acquire: InputError: bad | file"),
            SourceStatus("c.wav", "done", speakers=1, words=9, language="hu (unsure)", seconds=3.0, skipped=True)]
    text = format_table(rows).splitlines()
    assert text[0].split() == ["source", "status", "speakers", "words", "language", "seconds", "outputs", "error"]
    assert text[1].split()[:7] == ["a.wav", "done", "2", "75", "es+de", "12.3", "ws/outputs/f-a"]
    assert table_csv(rows).splitlines()[1].split(",")[6] == "ws/outputs/f-a"
    assert table_csv(rows).splitlines()[3].split(",")[4] == "hu (unsure)"
    assert "done (earlier run)" in text[3]
    markdown = format_table(rows, markdown=True).splitlines()
    assert len(markdown) == 5 and "bad / file" in markdown[3]


def test_cli_options_become_notebook_parameters():
    from vtxlib.cli import add_pipeline_arguments

    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args(["--num-speakers", "3", "--asr", "whisper-cpu", "--no-report",
                              "--param", "DRY_RUN=false", "--param", "VIDEO_ID=dQw4w9WgXcQ"])
    assert parameters_from_args(args) == {"NUM_SPEAKERS": 3, "ASR": "whisper-cpu", "ENHANCE": "off",
                                          "REPORT": False, "DRY_RUN": False, "VIDEO_ID": "dQw4w9WgXcQ"}
    with pytest.raises(InputError):
        parameters_from_args(parser.parse_args(["--param", "novalue"]))


def test_translate_options_become_the_subtitles_notebook_parameters():
    from vtxlib.cli import add_pipeline_arguments

    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args(["--translate", "en, FR", "--translator", "whisper"])
    assert parameters_from_args(args) == {"TRANSLATE": "en,fr", "TRANSLATOR": "whisper", "ENHANCE": "off"}
    with pytest.raises(InputError, match="language codes"):
        parameters_from_args(parser.parse_args(["--translate", "french!"]))


def test_unknown_notebook_is_refused():
    with pytest.raises(InputError, match="99_nothing"):
        BatchOptions(notebooks=("99_nothing",))


def test_source_folders_are_unique_and_safe():
    a = source_folder_name(0, "https://www.youtube.com/watch?v=aaaaaaaaaaa")
    b = source_folder_name(0, "https://www.youtube.com/watch?v=bbbbbbbbbbb")
    assert a != b and "/" not in a and "?" not in a


def language_label(transcript_json: dict) -> str:
    from vtxlib.language import label
    from vtxlib.types import Document

    document = Document.model_validate(transcript_json)
    return label(document.language_detection, document.language)


# -- a real batch, killed and resumed -------------------------------------------------------------
@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    require("papermill", extra="notebooks")
    from vtxlib.testing.synth import make_conversation

    folder = tmp_path_factory.mktemp("batch-sources")
    first = make_conversation(folder / "synth", 2, 12, seed=11).wav
    last = make_conversation(folder / "synth", 2, 10, seed=12).wav
    bad = folder / "broken.wav"
    bad.write_bytes(b"RIFF this is not audio at all" * 50)
    listing = folder / "videos.csv"
    listing.write_text(f"title,source\nfirst,{first}\nbroken,{bad}\nlast,{last}\n")
    return listing, [str(first), str(bad), str(last)]


def _status(folder: Path) -> dict:
    path = folder / "status.json"
    try:
        return {r["source"]: r for r in json.loads(path.read_text())["sources"]} if path.is_file() else {}
    except ValueError:  # never partial: written atomically; tolerate a race with the rename anyway
        return {}


@pytest.mark.notebooks
def test_batch_isolates_failures_and_resumes_after_kill(sources, tmp_path, monkeypatch):
    listing, (first, bad, last) = sources
    workspace = Workspace(tmp_path / "ws")
    batch = workspace.batch_dir / "videos"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "vtxlib", "batch", str(listing), "--workspace", str(workspace.root),
               "--notebooks", NOTEBOOKS, "--name", "videos", "-q"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and _status(batch).get(first, {}).get("status") != "done":
            assert proc.poll() is None, "the batch ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its kernel, as a killed Colab/VM would
        proc.wait()
    killed = _status(batch)
    assert killed[first]["status"] == "done", "the first source never finished"
    assert killed[last]["status"] in ("pending", "running"), "killed too late to test resuming"
    first_notebooks = {p: p.stat().st_mtime_ns for p in Path(killed[first]["folder"]).glob("*.ipynb")}
    assert sorted(p.name for p in first_notebooks) == ["01_acquire.ipynb", "06_subtitles.ipynb"]

    options = BatchOptions(notebooks=tuple(NOTEBOOKS.split(",")), name="videos")
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])  # the kernel imports this checkout's vtxlib too
    lines: list[str] = []
    report = run_batch(str(listing), workspace, options, echo=lines.append)

    rows = {r.source: r for r in report.rows}
    assert [r.source for r in report.rows] == [first, bad, last]
    assert rows[first].skipped and rows[first].status == "done"
    assert {p: p.stat().st_mtime_ns for p in first_notebooks} == first_notebooks, "a done source was rerun"
    assert rows[bad].status == "failed" and rows[bad].error.startswith("01_acquire:")
    assert "InputError: " in rows[bad].error and "broken.wav is not a media file" in rows[bad].error
    assert rows[last].status == "done" and not rows[last].skipped
    for row in (rows[first], rows[last]):
        assert row.speakers >= 1 and row.words > 0 and row.seconds > 0 and row.media_id
        executed = Path(row.folder) / "06_subtitles.ipynb"
        assert executed.is_file()
        assert Path(row.outputs) == Path(workspace.root) / "outputs" / row.media_id  # the status says where
        files = json.loads((Path(row.outputs) / "transcript.json").read_text())
        assert len(files["speakers"]) == row.speakers
        assert sum(len(turn["words"]) for turn in files["turns"]) == row.words
        assert row.language and row.language == language_label(files)  # the transcript's language, as a label
    assert len(report.skipped) == 1 and len(report.failed) == 1
    assert report.audio_seconds == pytest.approx(rows[last].duration) and report.real_time_factor > 0
    assert any(line.startswith("skip") for line in lines)

    with open(batch / "status.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["source", "status", "speakers", "words", "language", "seconds", "outputs", "error"]
    assert [row[1] for row in table[1:]] == ["done (earlier run)", "failed", "done"]
    assert table[2][7] == rows[bad].error and table[3][6] == rows[last].outputs
    assert "x real time" in (batch / "status.md").read_text() and "x real time" in report.throughput()

    lines.clear()
    again = run_batch(str(listing), workspace, BatchOptions(notebooks=tuple(NOTEBOOKS.split(",")), name="videos",
                                                            retry_failed=False), echo=lines.append)
    assert len(again.skipped) == 3 and again.failed and not any(line.startswith("start") for line in lines)
    assert again.audio_seconds == 0


def test_batch_subcommand_registers_with_the_cli():
    from vtxlib.batch_cli import add_parser, cmd_batch

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", "videos.txt", "--kernel", "notebook", "--notebooks", "01_acquire"])
    assert args.func is cmd_batch and args.kernel == "notebook" and args.input == "videos.txt"
