"""Every transcript.json a test leaves in its temporary folder must match the published schema.

Markers registered here (in code, so that pyproject.toml, whose digest the locks record, stays
as it is): ``tools(...)`` for command-line tools a test needs (skipped locally, failed under
``CI=true``, see tests/needs.py) and ``gpu`` for the only tests allowed to skip under CI: those
that need a CUDA device.
"""

from __future__ import annotations

import pytest
from needs import require_tools


def pytest_configure(config):
    config.addinivalue_line("markers", "tools(*names): needs these programs on PATH (a missing one skips "
                                       "locally and fails under CI=true)")
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped without one, also under CI")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_runtest_setup(item):
    for mark in item.iter_markers("tools"):
        require_tools(*mark.args)
    if item.get_closest_marker("gpu") is not None and not _cuda_available():
        pytest.skip("needs a CUDA GPU (none on this machine)")


@pytest.fixture(autouse=True)
def _transcripts_match_the_schema(request):
    # taken before the test runs, so that tmp_path is torn down after this check
    tmp_path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp_path is None:
        return
    from transcript_schema_check import problems

    written = [p for p in tmp_path.rglob("transcript.json") if p.is_file()]
    found = [problem for path in written for problem in problems(path)]
    assert not found, "transcript.json does not match schemas/transcript.schema.json:\n" + "\n".join(found[:10])
