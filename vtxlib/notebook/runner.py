"""Stage runs from a notebook: one Pipeline per kernel, so models load once however often cells rerun.

Each notebook calls :func:`stage_run` with its stage name and its own form fields; it reads the
previous stage's artifact from the workspace cache through the same :class:`~vtxlib.pipeline.Pipeline`
and writes its own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

from ..colab_install import flush_drive, in_colab
from ..errors import InputError
from ..workspace import Workspace
from .credentials import store_cookies
from .display import show_markdown
from .drive import open_workspace
from .session import (
    NotebookSession,
    load_session,
    normalise_option,
    parse_speaker_names,
    resolve_source,
    save_session,
    session_options,
)
from .views import suggested_names

log = logging.getLogger("vtxlib.notebook")

_PIPELINE: dict[str, Any] = {}  # one Pipeline per kernel: models load once however often cells rerun
_HOOK: Any = None  # the notebook's progress line (vtxlib.progress.NotebookHook), one output per stage_run
_NAMED_STAGES = ("subtitles", "translate")  # stages that write files, with the session's speaker names


def pipeline_for(workspace: Workspace, options) -> Any:
    """The kernel's Pipeline for these options; a new one (and the old one closed) when they change."""
    from ..pipeline import Pipeline

    key = json.dumps([str(workspace.root), options.model_dump(mode="json")], sort_keys=True)
    if _PIPELINE.get("key") != key:
        close_pipeline()
        _PIPELINE.update(key=key, pipeline=Pipeline(workspace, options, hook=progress_hook()))
    return _PIPELINE["pipeline"]


def progress_hook():
    """The kernel's NotebookHook: one progress line per stage run, kept as its summary (no widgets)."""
    global _HOOK
    from ..progress import NotebookHook

    if _HOOK is None:
        _HOOK = NotebookHook()
    return _HOOK


def close_pipeline() -> None:
    pipeline = _PIPELINE.pop("pipeline", None)
    _PIPELINE.pop("key", None)
    if pipeline is not None:
        pipeline.close()


def stage_run(until: str, source: str = "", workspace: str = "", force: Optional[str] = None,
              out_dir: Optional[str] = None, allow_sample: bool = False, **options: Any):
    """Run the pipeline up to UNTIL for SOURCE, reusing every cached earlier stage.

    ``options`` are the calling notebook's own PipelineOptions fields (form values; empty text and
    a speaker count of 0 mean "automatic"). They are stored in the workspace's notebook session, so
    later notebooks run with the same settings. Speaker names chosen in 08_review are applied to
    the written subtitles and report.
    """
    from ..pipeline import PipelineOptions

    allowed = _check_call(until, options)
    ws = open_workspace(workspace)
    session = _updated_session(ws, source, options, allow_sample)
    pipeline_options = PipelineOptions(**{k: v for k, v in session.options.items() if k in allowed},
                                       force=normalise_option("force", force))
    save_session(ws, session)
    pipeline = pipeline_for(ws, pipeline_options)
    progress_hook().begin()  # this call's own summary line
    if until not in _NAMED_STAGES:
        return pipeline.run(session.source, until=until)
    names = dict(session.speaker_names.get(pipeline.acquire(session.source).id, {}))
    return pipeline.run(session.source, out_dir=Path(out_dir) if out_dir else None, until=until,
                        options=pipeline_options.replace(speaker_names=names))


def _check_call(until: str, options: dict[str, Any]) -> list[str]:
    """The options a notebook may set, after checking UNTIL and OPTIONS against them."""
    from ..pipeline import STAGES

    if until not in STAGES:
        raise InputError(f"until={until!r}: expected one of {', '.join(STAGES)}")
    allowed = session_options()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; expected: {', '.join(allowed)}")
    return allowed


def _updated_session(ws: Workspace, source: str, options: dict[str, Any], allow_sample: bool) -> NotebookSession:
    """The stored session with this call's source and options on top (not saved yet)."""
    session = load_session(ws)
    src = resolve_source(source, session, allow_sample)
    if normalise_option("cookies", options.get("cookies")):
        options["cookies"] = str(store_cookies(ws, options["cookies"]))
    session.options.update({k: normalise_option(k, v) for k, v in options.items()})
    session.source = src
    return session


def set_speaker_names(names: str = "", apply_suggested: bool = False, source: str = "",
                      workspace: str = "") -> dict[str, str]:
    """Store the speaker names for SOURCE's media: the suggested ones only when APPLY_SUGGESTED, then
    the typed NAMES on top. Empty NAMES and no suggestions leave stored names as they are."""
    ws = open_workspace(workspace)
    result = stage_run("enhance", source, workspace)
    mapping: dict[str, str] = {}
    if apply_suggested:
        mapping.update({s: v.name for s, v in suggested_names(result.document).items() if v.name})
    mapping.update(parse_speaker_names(names))
    unknown = sorted(set(mapping) - set(result.document.speakers))
    if unknown:
        raise InputError(f"unknown speaker(s) {', '.join(unknown)}; this transcript has "
                         f"{', '.join(result.document.speakers) or 'no speakers'}")
    if mapping:
        session = load_session(ws)
        session.speaker_names[result.media.id] = {**session.speaker_names.get(result.media.id, {}), **mapping}
        save_session(ws, session)
    return load_session(ws).speaker_names.get(result.media.id, {})


def finish_runtime() -> bool:
    """The last cell of every notebook: flush Drive (Colab), then say how to release the runtime.
    Returns whether Drive was flushed."""
    close_pipeline()
    flushed = flush_drive(echo=log.info)
    if in_colab():
        show_markdown("**Done.** " + ("Drive is flushed: the next notebook's runtime sees everything written "
                      "here. " if flushed else "") + "Colab's free tier holds one GPU runtime at a time: release "
                      "this one with *Runtime → Disconnect and delete runtime* before opening the next notebook.")
    else:
        show_markdown("**Done.** Nothing to release outside Colab.")
    return flushed
