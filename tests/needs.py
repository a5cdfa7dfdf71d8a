"""What a test needs that may be missing on a machine: a Python package or a command-line tool.

Locally a missing one skips the test, with the reason and what to install. Under CI (``CI=true``,
which ``.ci/run`` sets) it FAILS instead: every one of these is installed by ``make install-all``
(``scripts/install.sh all``), so a missing one is a broken install or lock, not something to pass
over in silence. The only skip CI allows is the ``gpu`` marker: a test that needs a CUDA device
(see tests/conftest.py).

Usage::

    nemo_asr = require("nemo.collections.asr", extra="gpu")   # module level or inside a test
    pytestmark = pytest.mark.tools("espeak-ng", "ffmpeg")       # or on one test
    require_tools("espeak-ng")                                  # inside a test or fixture
"""

from __future__ import annotations

import importlib
import os
import shutil
from typing import NoReturn

import pytest

INSTALL_ALL = "make install-all (scripts/install.sh all)"

#: the Debian package that provides each tool (scripts/install.sh apt-installs them)
TOOL_PACKAGES = {"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "espeak-ng": "espeak-ng", "sox": "sox",
                 "chromium": "chromium"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, install: str) -> NoReturn:
    """Skip (locally) or fail (under CI) because WHAT is missing; INSTALL says how to get it."""
    if in_ci():
        pytest.fail(f"CI must run this test, but {what} is missing: {install}", pytrace=False)
    pytest.skip(f"{what} is missing; to run it: {install}", allow_module_level=True)


def require(module: str, extra: str):
    """The imported MODULE, or skip/fail naming the pyproject extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing(f"the Python module {module} ({error})",
                f"pip install -e '.[{extra}]' or {INSTALL_ALL}")


def require_tools(*tools: str) -> None:
    """Skip/fail unless every one of TOOLS is on PATH, naming the apt packages that provide them."""
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        packages = sorted({TOOL_PACKAGES.get(tool, tool) for tool in absent})
        missing(f"{' and '.join(absent)} (not on PATH)",
                f"apt-get install {' '.join(packages)}, or {INSTALL_ALL}")
