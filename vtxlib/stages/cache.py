"""The stage cache, kept in the workspace: each stage's artifact under a key made of its backend,
options, the versions of its code, libraries and model files, and the content digests of its
inputs; an artifact whose content still matches its record is loaded instead of recomputed.

``backends.json`` (per media, :class:`BackendsRecord`) records which backend made the last
asr/diarize/emotion result, so ``auto`` on a CPU-only runtime reuses a GPU result made earlier.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from pydantic import ValidationError

from .. import versions
from ..capabilities import model_files as named_model_files
from ..types import StageRecord, VtxModel
from ..workspace import (
    Artifact,
    Workspace,
    atomic_write_json,
    content_digest,
    normalised,
    remove_stale_temporaries,
    stage_key,
)
from .base import Ref

if TYPE_CHECKING:
    from .base import RunContext

log = logging.getLogger("vtxlib.pipeline")

#: Per media: the backend, key and inputs of the last asr/diarize/emotion result (``auto`` reuses it).
BACKENDS_RECORD = "backends.json"
GPU_BACKENDS = ("nemo", "pyannote", "sortformer", "speechbrain")


class BackendEntry(VtxModel):
    """One stage's entry in ``backends.json``."""

    backend: str
    key: str
    inputs: list[str]
    request: Optional[dict[str, Any]] = None
    chosen_by: Optional[str] = None  # "auto": asr auto with --allow-cloud, the router chose ``backend``


class BackendsRecord(VtxModel):
    """``backends.json``: the entry of each stage, by stage name (an unreadable entry is left out)."""

    stages: dict[str, BackendEntry] = {}

    @classmethod
    def read(cls, path: Path) -> "BackendsRecord":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        stages = {}
        for stage, entry in data.items():
            try:
                stages[stage] = BackendEntry.model_validate(entry)
            except ValidationError:
                continue
        return cls(stages=stages)

    def as_json(self) -> dict:
        return {stage: entry.model_dump(mode="json", exclude_none=True) for stage, entry in self.stages.items()}


def request_of(ctx: "RunContext", stage: str) -> dict:
    """What the user asked of the stage besides the backend; a recorded result must match it."""
    opts = ctx.options
    if stage == "asr":
        return {"model": opts.asr_model, "language": opts.language}
    if stage == "diarize":
        return {"model": opts.diarizer_model, **opts.speaker_count().model_dump()}
    return {}


def choice_of(ctx: "RunContext", stage: str) -> str:
    return {"asr": ctx.options.asr, "diarize": ctx.options.diarizer, "emotion": ctx.options.emotion}[stage]


class StageCache:
    """The workspace's stage artifacts and backend records, shared by the runs of a pipeline."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._record_lock = threading.Lock()

    # -- artifacts ---------------------------------------------------------------------------
    def cached(self, ctx: "RunContext", media_id: str, stage: str, backend: str, options: dict,
               inputs: list[str], compute: Callable[[], Any], load: Callable[[dict], Any], *,
               model_files: Sequence[Path] = (), extra_versions: Optional[dict] = None,
               store: Callable[[Any], dict] = lambda result: result.model_dump(mode="json", by_alias=True),
               files: Callable[[Any], Sequence[Path]] = lambda result: (),
               unfinished: Callable[[Any], Optional[str]] = lambda result: None) -> tuple[Any, Ref]:
        """Load STAGE's artifact, or compute and store it; INPUTS are the digests of its inputs.

        ``store``/``load`` convert the result to and from the artifact's JSON, ``files`` names files
        the artifact refers to (checked before reuse), and ``unfinished`` says why a result is not
        final (then it is returned but not cached).
        """
        versions_used = {**self.versions(stage, backend, model_files), **(extra_versions or {})}
        key = stage_key(stage, backend, options, inputs, versions_used)
        remove_stale_temporaries(self.workspace.media_dir(media_id) / stage, ctx.started)
        if not ctx.forced(stage):
            loading = time.perf_counter()
            hit = self.load_cached(media_id, stage, key, load)
            if hit is not None:
                result, artifact = hit
                log.info("%s: cached (%s)", stage, key)
                ctx.records[stage] = StageRecord(backend=backend, options=options, seconds=artifact.seconds or 0.0,
                                                 cached=True, load_seconds=round(time.perf_counter() - loading, 3))
                ctx.hook(stage, "cached")
                return result, Ref(key, artifact.digest)
        with ctx.timed(stage, backend, options) as timer:
            result = compute()
            data, reason = store(result), unfinished(result)
            seconds = timer.elapsed()
            if reason is None:
                digest = self.workspace.save_artifact(media_id, stage, key, data, files(result),
                                                      seconds=seconds).digest
            else:
                digest = content_digest(normalised(data))
        ctx.records[stage].seconds = seconds  # the figure a later cached run reports again
        if reason is not None:
            ctx.records[stage].incomplete = reason
            log.warning("%s did not finish its work (%s): not cached, the next run tries again", stage, reason)
        return result, Ref(key, digest)

    def load_cached(self, media_id: str, stage: str, key: str,
                    load: Callable[[dict], Any]) -> Optional[tuple[Any, Artifact]]:
        """(result, artifact) of a valid cached artifact, else None (a recompute follows)."""
        artifact = self.workspace.read_artifact(media_id, stage, key)
        if artifact is None:
            return None
        try:
            result = load(artifact.data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            log.warning("%s: the cached artifact %s has an unexpected shape (%s: %s); it will be recomputed",
                        stage, key, type(e).__name__, e)
            return None
        return (result, artifact) if result is not None else None

    def versions(self, stage: str, backend: str, model_files: Sequence[Path]) -> dict:
        """What besides options and inputs determines the output: code, libraries, model files."""
        return {"code": versions.STAGE_VERSIONS.get(stage), "libraries": versions.library_versions(stage, backend),
                "model": self.model_checksum(model_files)}

    def model_checksum(self, paths: Sequence[Path]) -> Optional[str]:
        named = sorted(_expand_files(paths))
        if not named:
            return None
        sums = [[name, self.workspace.file_checksum(path)] for name, path in named]
        return hashlib.sha256(json.dumps(sums).encode()).hexdigest()[:16]

    # -- which backend made a stage's result (auto reuses a GPU result on a CPU-only runtime) ----
    def record_path(self, media_id: str) -> Path:
        return self.workspace.media_dir(media_id) / BACKENDS_RECORD

    def backends_record(self, media_id: str) -> BackendsRecord:
        return BackendsRecord.read(self.record_path(media_id))

    def record_backend(self, ctx: "RunContext", media_id: str, stage: str, backend: str, ref: Ref,
                       inputs: list[str], routed: bool = False) -> None:
        if ctx.records.get(stage) is not None and ctx.records[stage].incomplete:
            return
        with self._record_lock:
            record = self.backends_record(media_id)
            record.stages[stage] = BackendEntry(backend=backend, key=ref.key, inputs=inputs,
                                                request=request_of(ctx, stage),
                                                chosen_by="auto" if routed else None)
            atomic_write_json(self.record_path(media_id), record.as_json())

    def recorded_hit(self, ctx: "RunContext", stage: str, media_id: str, inputs: list[str]) -> Optional[BackendEntry]:
        """The recorded GPU-tier result ``auto`` should reuse for these inputs, if any."""
        if choice_of(ctx, stage) != "auto" or ctx.forced(stage):
            return None
        entry = self.backends_record(media_id).stages.get(stage)
        if entry is None or entry.backend not in GPU_BACKENDS:
            return None  # an embedded-tier result is found by the normal cache when auto resolves to it
        if entry.inputs != inputs or entry.request != request_of(ctx, stage):
            return None
        return entry if self.workspace.artifact_path(media_id, stage, entry.key).exists() else None

    def reuse_recorded(self, ctx: "RunContext", stage: str, media_id: str, inputs: list[str],
                       load: Callable[[dict], Any]) -> Optional[tuple[Any, Ref]]:
        """``auto``: the GPU-tier result already made from these inputs, before resolving a backend
        (a CPU-only runtime must not start a CPU transcription when the GPU transcript exists)."""
        entry = self.recorded_hit(ctx, stage, media_id, inputs)
        hit = self.load_cached(media_id, stage, entry.key, load) if entry else None
        if hit is None:
            return None
        result, artifact = hit
        log.info("%s: auto reuses the cached %s result (%s)", stage, entry.backend, entry.key)
        ctx.records[stage] = StageRecord(backend=entry.backend, options={}, seconds=artifact.seconds or 0.0,
                                         cached=True)
        ctx.hook(stage, "cached")
        return result, Ref(entry.key, artifact.digest)


def model_files_of(backend: Any, options: dict) -> list[Path]:
    """The local model files a backend reads: those it names (``model_files()``) and any option
    that is a path to an existing file or folder (a local model given instead of a hub name)."""
    named = named_model_files(backend)
    given = [Path(v).expanduser() for v in options.values() if _looks_like_path(v)]
    return sorted({p for p in named + given if p.exists()})


def _looks_like_path(value: Any) -> bool:
    # hub names ("org/model") contain a slash too; they are dropped for not existing on disk
    return isinstance(value, str) and (os.sep in value or value.startswith("~"))


def _expand_files(paths: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    """(name, path) of each file, folders expanded to their files (named relative to the folder)."""
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(path)
                if file.is_file() and not any(part.startswith(".") for part in relative.parts):
                    yield relative.as_posix(), file
        elif path.is_file():
            yield path.name, path
