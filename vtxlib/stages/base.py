"""What every stage is made of: :class:`Stage` (a name, the stages it reads, an options model, its
typed output and how it is loaded and stored), :class:`RunContext` (one run's options, hook, records,
timing, media and output folder, passed to every stage explicitly) and :class:`RunState` (the results
of the stages run so far)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional

from pydantic import BaseModel

from ..errors import VtxError
from ..options import STAGES, PipelineOptions
from ..types import LanguageDetection, MediaInfo, StageRecord, VoiceMatch

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger("vtxlib.pipeline")

#: hook(stage, event, completed=None, total=None); event is "start", "progress", "done" or "cached"
Hook = Callable[..., None]


@dataclass(frozen=True)
class Ref:
    """Where a stage's result lives (its key) and what it contains (the digest later keys use)."""

    key: str
    digest: str


@dataclass
class RunContext:
    """The state of one run, never shared with another: its options, hook, stage records, clocks,
    media and output folder, and the pipeline's cache and backends. :meth:`Pipeline.run` makes one
    per call and hands it to every stage, so one Pipeline can run jobs with different options at
    the same time (threads included: the context travels as an argument)."""

    options: PipelineOptions
    hook: Hook
    workspace: "Workspace"
    cache: Any  # vtxlib.stages.cache.StageCache (which reads this context: not imported here)
    backends: Any  # vtxlib.stages.backends.BackendRegistry
    out_dir: Optional[Path] = None
    media: Optional[MediaInfo] = None
    records: dict[str, StageRecord] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    clock_started: float = field(default_factory=time.perf_counter)  # the run's wall clock starts here
    parallel: tuple[str, ...] = ()  # stages that ran side by side (their seconds overlap)
    report_wall: Optional[float] = None  # the wall clock report.html shows (up to the subtitles)
    voice_clips: Any = None  # vtxlib.voices.CheckedClips of this run's --voices
    enrollment: Any = None  # vtxlib.voices.Enrollment in the diarizer's space
    language: Optional[LanguageDetection] = None  # what the language stage concluded (None: not run)
    order: tuple[str, ...] = STAGES  # the graph's stage names, acquire first
    run_within: Callable[[str, "RunState"], None] = lambda stage, state: None  # the stages inside STAGE

    def forced(self, stage: str) -> bool:
        """Whether --force asks to recompute STAGE (the forced stage and every stage after it)."""
        force = self.options.force
        return force is not None and self.order.index(stage) >= self.order.index(force)

    def progress(self, stage: str):
        def report(completed: float, total: float) -> None:
            self.hook(stage, "progress", completed=completed, total=total)

        return report

    def timed(self, stage: str, backend: str, options: dict) -> "StageTimer":
        return StageTimer(self, stage, backend, options)

    def note_model(self, stage: str, model: Optional[str], version: Optional[str]) -> None:
        record = self.records.get(stage)
        if record is not None:
            record.model, record.model_version = model, version

    def stage_records(self) -> dict[str, StageRecord]:
        """Stage records in pipeline order (ASR and diarization finish in either order)."""
        return dict(sorted(self.records.items(), key=lambda item: self.order.index(item[0])))

    def cached(self, media_id: str, stage: str, backend: str, options: dict, inputs: list[str],
               compute: Callable[[], Any], load: Callable[[dict], Any], **kwargs: Any) -> tuple[Any, Ref]:
        """:meth:`StageCache.cached` for this run."""
        return self.cache.cached(self, media_id, stage, backend, options, inputs, compute, load, **kwargs)


class StageTimer:
    """Times a stage's work, records it and tells the hook ("start", then "done")."""

    def __init__(self, ctx: RunContext, stage: str, backend: str, options: dict):
        self.ctx, self.stage, self.backend, self.options = ctx, stage, backend, options

    def __enter__(self) -> "StageTimer":
        self.started = time.perf_counter()
        self.ctx.hook(self.stage, "start")
        log.info("%s: running (%s)", self.stage, self.backend)
        return self

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def __exit__(self, exc_type, exc, tb) -> None:
        seconds = time.perf_counter() - self.started
        if exc_type is None:
            self.ctx.records[self.stage] = StageRecord(backend=self.backend, options=self.options,
                                                       seconds=round(seconds, 3))
            self.ctx.hook(self.stage, "done")
        elif not issubclass(exc_type, VtxError):
            log.debug("%s failed after %.1f s", self.stage, seconds)


@dataclass
class RunState:
    """The results of one run's stages so far: each stage's output and its :class:`Ref` by stage
    name, and the document being assembled (align, emotion, enhance and subtitles update it)."""

    media: MediaInfo
    values: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Ref] = field(default_factory=dict)
    document: Any = None  # vtxlib.types.Document once align has run
    voice_matches: list[VoiceMatch] = field(default_factory=list)
    language_deferred: bool = False  # the language stage ran beside diarization
    folder: Optional[Path] = None  # the subtitles stage's output folder while it is written
    written: dict[str, Any] = field(default_factory=dict)  # files written into that folder, by kind

    def put(self, stage: str, value: Any, ref: Optional[Ref] = None) -> None:
        self.values[stage] = value
        if ref is not None:
            self.refs[stage] = ref

    def get(self, stage: str) -> Any:
        return self.values.get(stage)


class Stage:
    """One stage of the graph. ``inputs`` are the stages whose results it reads (the orchestrator
    runs them first); ``options_model`` its options (the part of the cache key the user sets);
    ``output`` the pydantic model of its cached artifact, which :meth:`load` and :meth:`store`
    convert to and from JSON. :meth:`compute` reads its inputs from the state and puts its result
    there (through the cache where the stage has an artifact).

    ``within`` names a stage whose output folder this one writes into: it runs inside that stage,
    whatever stage the run stops at (translation writes its tracks beside the subtitles).
    ``beside`` names a stage this one may run alongside, on its own thread, when
    :meth:`may_run_beside` says so (diarization beside ASR).
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    options_model: ClassVar[Optional[type[BaseModel]]] = None
    output: ClassVar[Optional[type[BaseModel]]] = None
    within: ClassVar[Optional[str]] = None
    beside: ClassVar[Optional[str]] = None

    def check(self, ctx: RunContext) -> None:
        """Checks before any work of the run (a bad option must not cost a download)."""

    def requires(self, ctx: RunContext) -> tuple[str, ...]:
        """The stages that must have finished before this one starts in this run (its inputs,
        and any a backend's needs add)."""
        return self.inputs

    def may_run_beside(self, ctx: RunContext, state: RunState) -> bool:
        return False

    def compute(self, ctx: RunContext, state: RunState) -> None:
        raise NotImplementedError

    def load(self, data: dict) -> Any:
        assert self.output is not None, f"{self.name} has no artifact"
        return self.output.model_validate(data)

    def store(self, result: Any) -> dict:
        return result.model_dump(mode="json", by_alias=True)

    def __repr__(self) -> str:
        return f"<stage {self.name}>"
