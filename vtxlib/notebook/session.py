"""Settings shared between notebooks, kept in ``<workspace>/notebook_session.json``: the source,
the options set in earlier notebooks and the speaker names, so any notebook can be rerun alone
after a disconnect. Form values are turned into pipeline option values here."""

from __future__ import annotations

import logging
from typing import Any, Optional

from pydantic import Field

from ..errors import InputError
from ..types import VtxModel
from ..workspace import Workspace, atomic_write_json

log = logging.getLogger("vtxlib.notebook")

SESSION_FILE = "notebook_session.json"
_SPEAKER_COUNTS = ("num_speakers", "min_speakers", "max_speakers")


class NotebookSession(VtxModel):
    source: Optional[str] = None
    options: dict[str, Any] = Field(default_factory=dict)
    speaker_names: dict[str, dict[str, str]] = Field(default_factory=dict)  # media id -> names


def session_options() -> list[str]:
    """The pipeline options a notebook may pass to :func:`~vtxlib.notebook.stage_run` (kept in the
    session); ``force`` applies to one call and is never stored."""
    from ..pipeline import option_names

    return option_names("notebook")


def load_session(workspace: Workspace) -> NotebookSession:
    path = workspace.root / SESSION_FILE
    if not path.is_file():
        return NotebookSession()
    try:
        return NotebookSession.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as e:
        log.warning("ignoring unreadable %s (%s)", path, e)
        return NotebookSession()


def save_session(workspace: Workspace, session: NotebookSession) -> None:
    atomic_write_json(workspace.root / SESSION_FILE, session.model_dump(mode="json"))


def normalise_option(name: str, value: Any) -> Any:
    """Form values to PipelineOptions values: empty text -> None, speaker count 0 -> None."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if name in _SPEAKER_COUNTS and value is not None:
        value = int(value)
        return value if value > 0 else None
    return value


def resolve_source(source: str, session: NotebookSession, allow_sample: bool = False) -> str:
    """SOURCE from the form, else the one the previous notebook used, else (01_acquire) the sample."""
    if source and str(source).strip():
        return str(source).strip()
    if session.source:
        return session.source
    if allow_sample:
        return sample_source()
    raise InputError("no SOURCE: set SOURCE in the form (a video URL or a file path) "
                     "or run 01_acquire first")


def sample_source() -> str:
    """The 30-second two-speaker sample recording (from pyannote.audio's wheel; fetched from PyPI
    when that package is not installed)."""
    from ..testing.samples import pyannote_sample

    return str(pyannote_sample().wav)


def parse_speaker_names(text: str) -> dict[str, str]:
    """``"SPEAKER_00=Alice; SPEAKER_01=Bob"`` (``;``, ``,`` or newlines between pairs) -> mapping."""
    mapping: dict[str, str] = {}
    for part in text.replace("\n", ";").replace(",", ";").split(";"):
        if not part.strip():
            continue
        speaker, sep, name = part.partition("=")
        if not sep or not speaker.strip() or not name.strip():
            raise InputError(f"speaker name {part.strip()!r}: expected SPEAKER_00=Name")
        mapping[speaker.strip()] = name.strip()
    return mapping
