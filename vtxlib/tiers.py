"""``auto``: the GPU tier when it can run here, else the embedded CPU tier. The name check, the
logged choice and the fall-back when the chosen GPU-tier model cannot load, shared by the asr,
diarize and emotion packages (each keeps its own rule for *when* the GPU tier can run).
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from .errors import BackendUnavailable, InputError

Backend = TypeVar("Backend")


def is_auto(kind: str, name: str, known: tuple[str, ...]) -> bool:
    """Whether ``name`` is ``auto``; an InputError listing ``known`` when it is none of them."""
    if name not in known:
        raise InputError(f"unknown {kind} {name!r}; expected one of: {', '.join(known)}")
    return name == "auto"


def log_choice(log: logging.Logger, kind: str, chosen: str, why: str) -> str:
    log.info("%s auto -> %s (%s)", kind, chosen, why)
    return chosen


def loaded_or_fallback(backend: Backend, fallback: Callable[[], Backend], log: logging.Logger, what: str,
                       refusals: tuple[type[Exception], ...] = (BackendUnavailable,)) -> Backend:
    """``backend`` loaded now, or, when loading fails with one of ``refusals``, one warning line and
    ``fallback()``: a model that cannot load here (gated, offline) must not end an ``auto`` run.
    ``what``: "diarizer: auto falls back to WHAT"."""
    try:
        backend.load()
    except refusals as e:
        log.warning("%s: %s", what, e)
        return fallback()
    return backend
