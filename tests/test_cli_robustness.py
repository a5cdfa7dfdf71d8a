"""The command line when its reader goes away: ``run ... | head -1`` ends quietly, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `run` with a stand-in pipeline (no models): what matters is the listing it prints at the end
_RUN_WITH_A_STAND_IN = """
import sys
from types import SimpleNamespace
import vtxlib.pipeline
from vtxlib import cli

class StandIn:
    def __init__(self, *args, **kwargs):
        pass
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False
    def run(self, source, out_dir=None):
        outputs = {name: f"/tmp/out/f-0/transcript.{name}" for name in ("json", "vtt", "srt", "txt", "rttm")}
        return SimpleNamespace(summary=lambda: "f-0: 2 speakers, 41 words", outputs=outputs, incomplete={})

vtxlib.pipeline.Pipeline = StandIn
sys.exit(cli.main(["run", sys.argv[1], "--quiet", "--workspace", sys.argv[2]]))
"""


def test_run_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    source = tmp_path / "talk.wav"
    source.write_bytes(b"RIFF")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head -1) is gone before anything is written
    try:
        proc = subprocess.run([sys.executable, "-c", _RUN_WITH_A_STAND_IN, str(source), str(tmp_path / "ws")],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 141, (proc.returncode, proc.stderr)


def test_run_into_an_open_pipe_prints_the_listing(tmp_path):
    source = tmp_path / "talk.wav"
    source.write_bytes(b"RIFF")
    proc = subprocess.run([sys.executable, "-c", _RUN_WITH_A_STAND_IN, str(source), str(tmp_path / "ws")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "f-0: 2 speakers, 41 words" and "transcript.vtt" in proc.stdout
