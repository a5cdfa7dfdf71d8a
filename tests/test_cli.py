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
    assert set(commands) == {"batch", "live", "run", "schema", "serve", "upload"}  # a new one needs a line here


def test_each_command_module_adds_one_subcommand_that_runs_its_own_function():
    """One style: ``add_parser(subparsers) -> None`` adds the subcommand and sets ``func``."""
    import argparse

    from vtxlib import cli

    names = []
    for module in cli.COMMANDS:
        subparsers = argparse.ArgumentParser().add_subparsers()
        assert module.add_parser(subparsers) is None
        [(name, parser)] = subparsers.choices.items()
        func = parser.get_default("func")
        assert callable(func) and func.__module__ == module.__name__, (name, func)
        names.append(name)
    assert names == ["run", "schema", "upload", "batch", "live", "serve"]  # the order --help lists them in


def test_upload_dry_run_writes_the_request(tmp_path):
    vtt = tmp_path / "transcript.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v SPEAKER_00>Hello there.\n")
    proc = subprocess.run([sys.executable, "-m", "vtxlib", "upload", str(vtt), "--video",
                           "https://youtu.be/dQw4w9WgXcQ", "--dry-run", "--workspace", str(tmp_path / "ws")],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "400 quota units" in proc.stdout
    request_path = tmp_path / "transcript.vtt.youtube-request.json"
    assert f"request written to {request_path}" in proc.stdout
    request = json.loads(request_path.read_text())
    assert request["action"] == "insert" and request["method"] == "POST" and request["params"]["part"] == "snippet"
    assert request["body"]["snippet"] == {"videoId": "dQw4w9WgXcQ", "language": "en", "name": "vtx",
                                          "isDraft": False}
    assert request["media"] == {"path": str(vtt), "mimetype": "text/vtt", "size_bytes": vtt.stat().st_size,
                                "upload": "multipart"}


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
    assert (request["body"]["snippet"]["videoId"], request["body"]["snippet"]["language"]) == ("dQw4w9WgXcQ", "de")
    assert request["media"]["path"].endswith("transcript.vtt") and Path(request["media"]["path"]).is_file()
    data = json.loads(next((tmp_path / "out").glob("*/transcript.json")).read_text())
    assert "subtitles" in data["stages"]


def test_upload_of_a_local_file_to_its_source_is_refused(tmp_path):
    from vtxlib.testing.samples import pyannote_sample

    proc = subprocess.run([sys.executable, "-m", "vtxlib", "run", str(pyannote_sample().wav), "--workspace",
                           str(tmp_path / "ws"), "--emotion", "off", "--no-report", "--upload", "source",
                           "--upload-dry-run"],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "not a YouTube video id or URL" in proc.stderr and pyannote_sample().wav.name in proc.stderr


# -- the one-line contract: bad links, bad --out, read-only and full disks ------------------------

import errno  # noqa: E402
import os  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from vtxlib import cli  # noqa: E402


@pytest.fixture
def quiet_env(monkeypatch, tmp_path):
    """In-process runs: model caches into tmp, and Pipeline.run recorded instead of run."""
    for name in ("HF_HOME", "NEMO_CACHE_DIR", "TORCH_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    runs = []
    from vtxlib.pipeline import Pipeline

    monkeypatch.setattr(Pipeline, "run", lambda self, source, out_dir=None, until="upload": runs.append(source)
                        or SimpleNamespace(summary=lambda: "ok", outputs={}))
    return runs


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    return err


def read_only(monkeypatch, folder: Path) -> Path:
    """Make FOLDER read-only: chmod, and (root ignores modes) writes inside it fail with EROFS."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and Path(path).resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    return folder


@pytest.mark.parametrize("source, expected", [
    ("http://", "names no host"),
    ("http://[::1", "invalid URL"),
    ("http://127.0.0.1:99999/x.wav", "invalid URL"),
    ("ftp://example.com/talk.mp4", "unsupported scheme (expected http or https or a local file)"),
])
def test_malformed_sources_are_one_line_errors(tmp_path, capsys, source, expected):
    assert cli.main(["run", source, "--workspace", str(tmp_path / "ws"), "--emotion", "off", "--no-report"]) == 1
    err = one_line_error(capsys)
    assert expected in err and "file not found" not in err


def test_out_pointing_at_a_file_fails_before_the_pipeline_runs(tmp_path, capsys, quiet_env):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    existing = tmp_path / "taken.txt"
    existing.write_text("keep me")
    assert cli.main(["run", str(wav), "--workspace", str(tmp_path / "ws"), "--out", str(existing)]) == 1
    assert "--out" in one_line_error(capsys) and quiet_env == [] and existing.read_text() == "keep me"


def test_read_only_out_or_workspace_fails_before_the_pipeline_runs(tmp_path, capsys, quiet_env, monkeypatch):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    (tmp_path / "ws" / "models").mkdir(parents=True)  # an existing workspace
    locked_out = read_only(monkeypatch, tmp_path / "locked-out")
    try:
        assert cli.main(["run", str(wav), "--workspace", str(tmp_path / "ws"), "--out", str(locked_out)]) == 1
        err = one_line_error(capsys)
        assert "--out" in err and "not writable" in err
        read_only(monkeypatch, tmp_path / "ws")
        assert cli.main(["run", str(wav), "--workspace", str(tmp_path / "ws")]) == 1
        assert "workspace" in one_line_error(capsys)
    finally:
        locked_out.chmod(0o755)
        (tmp_path / "ws").chmod(0o755)
    assert quiet_env == []


def test_a_full_disk_is_named_as_such_in_one_line(tmp_path, capsys, monkeypatch):
    from vtxlib import acquire

    for name in ("HF_HOME", "NEMO_CACHE_DIR", "TORCH_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    wav = tmp_path / "talk.wav"
    wav.write_bytes(b"RIFF" + bytes(64))

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(acquire, "atomic_write_json", full)
    assert cli.main(["run", str(wav), "--workspace", str(tmp_path / "ws"), "--emotion", "off"]) == 1
    err = one_line_error(capsys)
    assert "disk is full" in err and "corrupt" not in err and "not found" not in err


def test_speaker_counts_over_the_limit_are_refused(tmp_path, capsys, quiet_env):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    for option in ("--num-speakers", "--max-speakers", "--min-speakers"):
        assert cli.main(["run", str(wav), "--workspace", str(tmp_path / "ws"), option, "21"]) == 1
        assert "between 1 and 20" in one_line_error(capsys)
    assert quiet_env == []


def test_every_pipeline_option_reaches_pipeline_options_from_the_command_line():
    """The CLI is made from PipelineOptions: each option's flag sets that option (and only it)."""
    import typing

    from vtxlib.cli import CLI_FLAGS, pipeline_options_from_args
    from vtxlib.pipeline import UPLOAD_OPTIONS, PipelineOptions, option_names

    given = {"asr": ("--asr", "nemo"), "asr_model": ("--asr-model", "m"), "language": ("--language", "de"),
             "allow_cloud": ("--allow-cloud",), "cloud_dry_run": ("--cloud-dry-run",),
             "diarizer": ("--diarizer", "sortformer"), "diarizer_model": ("--diarizer-model", "d"),
             "num_speakers": ("--num-speakers", "2"), "min_speakers": None, "max_speakers": None,
             "emotion": ("--emotion", "off"), "enhance": ("--enhance", "gemini"),
             "enhance_model": ("--enhance-model", "g"), "report": ("--no-report",),
             "visible_speaker": ("--visible-speaker", "name"), "voices": ("--voices", "people"),
             "translate": ("--translate", "en,fr"), "translator": ("--translator", "gemini"),
             "force": ("--force", "align"), "upload_video": ("--upload", "dQw4w9WgXcQ"),
             "upload_dry_run": ("--upload-dry-run",), "upload_language": ("--upload-language", "fr"),
             "upload_client_secrets": ("--client-secrets", "c.json"),
             "cookies": ("--cookies", "cookies.txt")}
    assert set(given) == set(option_names("cli")) | set(UPLOAD_OPTIONS)  # a new option needs a line here
    defaults = pipeline_options_from_args(build_parser().parse_args(["run", "x"]))
    assert defaults == PipelineOptions()
    for name, argv in given.items():
        if argv is None:
            continue
        assert argv[0] == CLI_FLAGS.get(name, "--" + name.replace("_", "-"))
        options = pipeline_options_from_args(build_parser().parse_args(["run", "x", *argv]))
        changed = {n for n in option_names() if getattr(options, n) != getattr(defaults, n)}
        assert changed == {name}, (name, changed)
    counts = pipeline_options_from_args(build_parser().parse_args(["run", "x", "--min-speakers", "2",
                                                                   "--max-speakers", "4"]))
    assert (counts.min_speakers, counts.max_speakers) == (2, 4)
    assert typing.get_args(PipelineOptions.model_fields["emotion"].annotation) == ("auto", "embedded",
                                                                                   "speechbrain", "off")


def test_option_choices_match_the_backend_registries():
    import typing

    from vtxlib.asr import ASR_BACKENDS
    from vtxlib.diarize import DIARIZERS
    from vtxlib.pipeline import STAGES, PipelineOptions

    fields = PipelineOptions.model_fields
    assert typing.get_args(fields["asr"].annotation) == ASR_BACKENDS
    assert typing.get_args(fields["diarizer"].annotation) == DIARIZERS
    assert typing.get_args(typing.get_args(fields["force"].annotation)[0]) == STAGES
