"""Checks every transcript.json a test wrote against the committed schema (used by conftest.py)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "transcript.schema.json"


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(path: Path) -> list[str]:
    """What is wrong with the transcript.json at PATH: schema violations, or a failed model load."""
    from vtxlib.types import Document, DocumentError

    data = json.loads(path.read_text(encoding="utf-8"))
    found = [f"{path}: {'/'.join(map(str, e.absolute_path)) or 'top level'}: {e.message}"
             for e in _validator().iter_errors(data)]
    try:
        Document.load(path)
    except DocumentError as e:
        found.append(str(e))
    return found
