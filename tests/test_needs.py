"""A missing dependency or tool skips a test locally and fails it under CI (tests/needs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import conftest
import pytest
from needs import require, require_tools

TESTS = Path(__file__).parent


@pytest.fixture
def local(monkeypatch):
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def ci(monkeypatch):
    monkeypatch.setenv("CI", "true")


def test_a_missing_module_skips_locally_naming_the_extra(local):
    with pytest.raises(pytest.skip.Exception, match=r"vtx_no_such_module.*pip install -e '\.\[gpu\]'"):
        require("vtx_no_such_module", extra="gpu")


def test_a_missing_module_fails_under_ci(ci):
    with pytest.raises(pytest.fail.Exception, match=r"CI must run this test.*vtx_no_such_module.*\.\[gpu\]"):
        require("vtx_no_such_module", extra="gpu")


def test_a_present_module_is_returned(ci):
    assert require("json", extra="cpu").dumps([1]) == "[1]"


def test_a_missing_tool_fails_under_ci_naming_the_apt_package(ci, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="espeak-ng.*apt-get install espeak-ng ffmpeg"):
        require_tools("espeak-ng", "ffprobe")


def test_a_missing_tool_skips_locally(local, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.skip.Exception, match="sox"):
        require_tools("sox")


class Item:
    """The part of a pytest item that the setup hook reads."""

    def __init__(self, *marks):
        self.marks = [mark.mark for mark in marks]

    def iter_markers(self, name):
        return [mark for mark in self.marks if mark.name == name]

    def get_closest_marker(self, name):
        return next(iter(self.iter_markers(name)), None)


def test_the_tools_marker_fails_under_ci(ci, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="ffmpeg"):
        conftest.pytest_runtest_setup(Item(pytest.mark.tools("ffmpeg")))


def test_only_the_gpu_marker_skips_under_ci(ci, monkeypatch):
    monkeypatch.setattr(conftest, "_cuda_available", lambda: False)
    with pytest.raises(pytest.skip.Exception, match="CUDA"):
        conftest.pytest_runtest_setup(Item(pytest.mark.gpu))
    conftest.pytest_runtest_setup(Item(pytest.mark.slow))  # no skip, no failure


#: files allowed to skip by themselves: the helper, the hook, and the Colab re-resolution check,
#: which needs the package registry (not a dependency of the suite)
SKIPPING_ALLOWED = {"needs.py", "conftest.py", "test_colab_lock.py", "test_needs.py"}


def test_no_test_module_skips_on_its_own():
    """A bare importorskip, skipif or pytest.skip would pass over a broken install under CI."""
    pattern = re.compile(r"importorskip|mark\.skipif|pytest\.skip\(")
    offenders = [f"{path.name}:{number}" for path in sorted(TESTS.glob("*.py")) if path.name not in SKIPPING_ALLOWED
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders, "route skips through tests/needs.py (require, require_tools, the tools marker): " + \
        ", ".join(offenders)
