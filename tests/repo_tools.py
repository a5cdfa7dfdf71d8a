"""The repository's own tools (tools/*.py) imported by tests that check what they generate."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_notebooks_module():
    """tools/make_notebooks.py as a module (tools/ is not a package)."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        return importlib.import_module("make_notebooks")
    finally:
        sys.path.remove(str(ROOT / "tools"))
