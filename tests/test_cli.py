"""CLI wiring: subcommands exist, and the upload command's dry run writes the request it would send."""

import json
import subprocess
import sys
from pathlib import Path

from vtxlib.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def test_subcommands_are_registered():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"run", "upload"} <= set(commands)


def test_upload_dry_run_writes_the_request(tmp_path):
    vtt = tmp_path / "transcript.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v SPEAKER_00>Hello there.\n")
    proc = subprocess.run([sys.executable, "-m", "vtxlib", "upload", str(vtt), "--video",
                           "https://youtu.be/dQw4w9WgXcQ", "--dry-run", "--workspace", str(tmp_path / "ws")],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "400 quota units" in proc.stdout
    request = json.loads(next(tmp_path.glob("*.youtube-request.json")).read_text())
    assert "insert" in json.dumps(request)
    assert "dQw4w9WgXcQ" in json.dumps(request)


def test_upload_without_token_or_terminal_is_one_line_error(tmp_path):
    vtt = tmp_path / "transcript.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v SPEAKER_00>Hello there.\n")
    proc = subprocess.run([sys.executable, "-m", "vtxlib", "upload", str(vtt), "--video", "dQw4w9WgXcQ",
                           "--workspace", str(tmp_path / "ws")],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_run_with_upload_dry_run_writes_the_request_after_the_subtitles(tmp_path):
    from vtxlib.testing.samples import pyannote_sample

    proc = subprocess.run([sys.executable, "-m", "vtxlib", "run", str(pyannote_sample().wav), "--workspace",
                           str(tmp_path / "ws"), "--out", str(tmp_path / "out"), "--emotion", "off", "--no-report",
                           "--upload", "dQw4w9WgXcQ", "--upload-dry-run", "--upload-language", "de"],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "upload: dry run" in proc.stdout
    request = json.loads(next((tmp_path / "out").glob("*/transcript.vtt.youtube-request.json")).read_text())
    text = json.dumps(request)
    assert "dQw4w9WgXcQ" in text and '"de"' in text
    data = json.loads(next((tmp_path / "out").glob("*/transcript.json")).read_text())
    assert "subtitles" in data["stages"]


def test_upload_of_a_local_file_to_its_source_is_refused(tmp_path):
    from vtxlib.testing.samples import pyannote_sample

    proc = subprocess.run([sys.executable, "-m", "vtxlib", "run", str(pyannote_sample().wav), "--workspace",
                           str(tmp_path / "ws"), "--emotion", "off", "--no-report", "--upload", "source",
                           "--upload-dry-run"],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")
