"""Every transcript.json a test leaves in its temporary folder must match the published schema."""

from __future__ import annotations

import pytest


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
