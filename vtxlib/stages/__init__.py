"""The pipeline's stages: one module per stage (a :class:`Stage`), the graph that registers them
(:mod:`vtxlib.stages.graph`), the orchestrator that runs it up to a stage, and the cache and
backends the stages share (see docs/architecture.md)."""

from .base import Hook, Ref, RunContext, RunState, Stage
from .cache import StageCache
from .orchestrator import StageGraph

__all__ = ["Hook", "Ref", "RunContext", "RunState", "Stage", "StageCache", "StageGraph"]
