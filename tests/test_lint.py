"""ruff (ruff.toml: pycodestyle errors, pyflakes incl. unused imports, import order) over the code.

Every file must be clean; most findings fix themselves with ``ruff check --fix vtxlib tests bench tools``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("vtxlib", "tests", "bench", "tools")


@pytest.fixture(scope="module")
def findings() -> dict[str, list[str]]:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "json", "--no-cache", *PATHS],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        pytest.fail(f"ruff did not run (exit {proc.returncode}): {proc.stderr.strip()[:300]} "
                    f"(pip install 'vtxlib[dev]')")
    by_file: dict[str, list[str]] = {}
    for item in json.loads(proc.stdout or "[]"):
        name = Path(item["filename"]).resolve().relative_to(ROOT).as_posix()
        by_file.setdefault(name, []).append(f"{name}:{item['location']['row']}: {item['code']} {item['message']}")
    return by_file


def test_ruff_finds_nothing_outside_the_shrinking_list(findings):
    new = [line for _, lines in sorted(findings.items()) for line in lines]
    assert not new, "ruff findings (run `ruff check --fix vtxlib tests bench tools`):\n" + "\n".join(new)
