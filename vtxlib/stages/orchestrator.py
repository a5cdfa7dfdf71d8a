"""Runs a stage graph up to a requested stage, in dependency order, on one thread, but for a stage
that may run beside another (diarization beside ASR) on a second one."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Iterable, Iterator, Optional

from ..errors import InputError
from .base import RunContext, RunState, Stage

log = logging.getLogger("vtxlib.pipeline")


class StageGraph:
    """Stages in registration order, which must be a dependency order (each stage after the
    stages it reads). ``acquire`` is the graph's source: every run starts with it."""

    def __init__(self, stages: Iterable[Stage]):
        self.stages = tuple(stages)
        self.by_name = {stage.name: stage for stage in self.stages}
        if len(self.by_name) != len(self.stages):
            raise ValueError(f"two stages share a name: {[s.name for s in self.stages]}")
        seen = {"acquire"}
        for stage in self.stages:
            missing = [name for name in stage.inputs if name not in seen]
            if missing or (stage.within and stage.within not in seen) or (stage.beside and stage.beside not in seen):
                raise ValueError(f"stage {stage.name} is registered before {missing or stage.within or stage.beside}")
            seen.add(stage.name)

    @property
    def names(self) -> tuple[str, ...]:
        return ("acquire",) + tuple(stage.name for stage in self.stages)

    def __getitem__(self, name: str) -> Stage:
        return self.by_name[name]

    def __iter__(self) -> Iterator[Stage]:
        return iter(self.stages)

    def select(self, until: str) -> list[Stage]:
        """The stages a run up to UNTIL runs: every stage registered up to it (what the notebooks of
        the earlier stages ran too), and those that run within a selected stage."""
        if until not in self.names:
            raise InputError(f"until={until!r}: expected one of {', '.join(self.names)}")
        last = self.names.index(until)
        upto = [stage for stage in self.stages if self.names.index(stage.name) <= last]
        chosen = {stage.name for stage in upto}
        return [stage for stage in self.stages if stage.name in chosen or stage.within in chosen]

    def run(self, ctx: RunContext, state: RunState, until: str) -> list[Stage]:
        """Run the stages up to UNTIL; returns those selected."""
        selected = self.select(until)
        ctx.order = self.names
        ctx.run_within = lambda parent, st: [stage.compute(ctx, st) for stage in selected if stage.within == parent]
        _Run(ctx, state, selected).go()
        return selected


class _Run:
    def __init__(self, ctx: RunContext, state: RunState, selected: list[Stage]):
        self.ctx, self.state = ctx, state
        self.names = {stage.name for stage in selected}
        self.main = [stage for stage in selected if stage.within is None]
        self.candidates = [stage for stage in self.main if stage.beside in self.names]
        self.done: set[str] = {"acquire"}
        self.running: dict[str, Future] = {}
        self.pool: Optional[ThreadPoolExecutor] = None

    def go(self) -> None:
        try:
            for stage in self.main:
                self._start_beside()
                if stage.name in self.running:
                    continue
                for name in stage.requires(self.ctx):
                    self._join(name)
                stage.compute(self.ctx, self.state)
                self.done.add(stage.name)
            for name in list(self.running):
                self._join(name)
        except BaseException:
            wait(list(self.running.values()))  # let it finish and cache; the first error is the one to report
            raise
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def _start_beside(self) -> None:
        """Decide, once its requirements are met, whether a candidate runs beside its partner (on
        the second thread) or in its own turn."""
        for stage in list(self.candidates):
            required = [name for name in stage.requires(self.ctx) if name in self.names]
            if not all(name in self.done for name in required):
                continue
            self.candidates.remove(stage)
            if stage.beside in self.done or not stage.may_run_beside(self.ctx, self.state):
                continue
            self.ctx.parallel = (stage.beside, stage.name)
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vtx-{stage.name}")
            self.running[stage.name] = self.pool.submit(stage.compute, self.ctx, self.state)

    def _join(self, name: str) -> None:
        future = self.running.get(name)
        if future is None:
            return
        future.result()
        del self.running[name]
        self.done.add(name)
