"""Cheap checks for the GPU tier and a helper to hand GPU memory back between stages.

The ``*_available`` checks only look for installed packages (``importlib.util.find_spec``) and never
import torch, NeMo or pyannote, so ``--asr auto`` / ``--diarizer auto`` decide in milliseconds.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import shutil
import sys
from typing import Optional

log = logging.getLogger("vtxlib.gpu")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or half-installed
        return False


def nemo_available() -> bool:
    """NeMo's ASR collection is installed (``nemo_toolkit[asr]``)."""
    return _installed("nemo") and _installed("nemo.collections.asr")


def pyannote_available() -> bool:
    """pyannote.audio is installed."""
    return _installed("pyannote.audio")


def cuda_available() -> bool:
    """A CUDA device is usable.

    Uses torch when it is already imported (free); otherwise looks for the NVIDIA driver first so
    that a CPU machine never pays for importing torch just to learn there is no GPU.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    torch = sys.modules.get("torch")
    if torch is None:
        if not _nvidia_driver_present():
            return False
        if not _installed("torch"):
            return False
        import torch
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install reports as unavailable, not as a crash
        return False


def _nvidia_driver_present() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; anything else is returned as is."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device


def free_gpu_memory() -> None:
    """Collect garbage and release cached CUDA blocks (call after deleting a model)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
        try:
            torch.cuda.ipc_collect()
        except RuntimeError:
            pass


def peak_gpu_memory_mb(reset: bool = False) -> Optional[float]:
    """Peak CUDA memory allocated by this process since the last reset, in MiB (None off-GPU)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    value = torch.cuda.max_memory_allocated() / 2**20
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return value


def gpu_tier_report() -> dict[str, bool]:
    """What ``auto`` backend selection looks at; safe to log."""
    return {"cuda": cuda_available(), "nemo": nemo_available(), "pyannote": pyannote_available()}


def gpu_tier_ready(library: str) -> tuple[bool, str]:
    """Whether the GPU-tier backend built on ``library`` ("nemo" | "pyannote") should be chosen by
    ``auto``, with the reason to log either way."""
    checks = {"nemo": nemo_available, "pyannote": pyannote_available}
    if library not in checks:
        raise ValueError(f"unknown GPU-tier library {library!r}; expected one of {sorted(checks)}")
    if not checks[library]():
        return False, f"{library} is not installed"
    if not cuda_available():
        return False, "no CUDA device"
    return True, f"CUDA device and {library} present"
