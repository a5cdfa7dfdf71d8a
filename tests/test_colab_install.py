"""On Colab, requirements-colab.txt is installed with the running torch pinned (never replaced)."""

from pathlib import Path

import pytest

from vtxlib import notebook

ROOT = Path(__file__).resolve().parents[1]


def test_colab_install_pins_the_running_torch(monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        constraints = Path(cmd[cmd.index("-c") + 1]).read_text()
        calls.append((cmd, constraints))
        return type("Done", (), {"returncode": 0, "stdout": "", "stderr": ""})()

    monkeypatch.setattr(notebook, "in_colab", lambda: True)
    assert notebook.install_colab_requirements(ROOT / "requirements-colab.txt", run=fake_run)
    cmd, constraints = calls[0]
    assert cmd[cmd.index("-r") + 1].endswith("requirements-colab.txt")
    from importlib.metadata import version

    assert f"torch=={version('torch')}" in constraints.split()  # exact, local label (+cu121) included


def test_not_on_colab_installs_nothing(monkeypatch):
    monkeypatch.setattr(notebook, "in_colab", lambda: False)
    assert not notebook.install_colab_requirements(ROOT / "requirements-colab.txt",
                                                   run=lambda *a, **k: pytest.fail("pip was called"))


def test_colab_requirements_never_list_torch():
    lines = [line.split("#")[0].strip().lower() for line in (ROOT / "requirements-colab.txt").read_text().splitlines()]
    names = {line.split("==")[0].split(">=")[0].split("[")[0] for line in lines if line}
    assert not names & {"torch", "torchvision", "torchaudio"}
    assert {"nemo_toolkit", "pyannote.audio", "speechbrain", "faster-whisper", "webvtt-py"} <= names
