"""Cheap checks for the GPU tier and a helper to hand GPU memory back between stages.

The ``*_available`` checks only look for installed packages (``importlib.util.find_spec``) and never
import torch, NeMo or pyannote, so ``--asr auto`` / ``--diarizer auto`` decide in milliseconds.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import shutil
import socket
import sys
import traceback
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

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


# -- Hugging Face reachability: fail in seconds rather than after a minute of retries -------------

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


def hf_offline_reason(timeout: float = 3.0) -> Optional[str]:
    """Why the Hugging Face hub cannot be used now, or None when it answers.

    ``HF_HUB_OFFLINE`` counts as offline; otherwise one TCP connection to the hub's host (``HF_ENDPOINT``)
    is tried with a short timeout. Behind a proxy the direct probe says nothing, so it is skipped.
    """
    constants = sys.modules.get("huggingface_hub.constants")
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if flag or bool(getattr(constants, "HF_HUB_OFFLINE", False)):
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return None
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return f"{host} is unreachable ({e.strerror or e})"
    return None


def hub_file_cached(repo_id: str, filename: str, cache_dir: Optional[Path] = None) -> bool:
    """``filename`` of ``repo_id`` is in the local Hugging Face cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None)
    return isinstance(found, str)


# -- precision, memory and failures on the GPU ----------------------------------------------------

def device_index(device: str) -> int:
    """``"cuda"`` -> 0, ``"cuda:1"`` -> 1."""
    return int(device.split(":", 1)[1]) if ":" in device else 0


def total_gpu_memory_bytes(device: str) -> Optional[int]:
    """Total memory of a CUDA device (None for the CPU or when torch cannot tell)."""
    if not device.startswith("cuda"):
        return None
    torch = sys.modules.get("torch")
    try:
        return int(torch.cuda.get_device_properties(device_index(device)).total_memory)
    except Exception:  # no torch imported, or no such device
        return None


def compute_capability(device: str) -> Optional[tuple[int, int]]:
    """``(major, minor)`` of a CUDA device; a T4 is (7, 5), an A100 (8, 0); None off-GPU."""
    if not device.startswith("cuda"):
        return None
    torch = sys.modules.get("torch")
    try:
        return tuple(torch.cuda.get_device_capability(device_index(device)))
    except Exception:
        return None


def choose_precision(capability: Optional[tuple[int, int]], half_precision: bool = True) -> str:
    """The precision a GPU really runs: ``"bf16"`` where bf16 is native (compute capability >= 8.0),
    ``"fp16"`` before that (a T4, 7.5: torch reports bf16 as supported, but only by emulation),
    ``"fp32"`` on the CPU or when half precision is off."""
    if capability is None or not half_precision:
        return "fp32"
    return "bf16" if capability >= (8, 0) else "fp16"


@contextlib.contextmanager
def native_bf16_only():
    """While active, ``torch.cuda.is_bf16_supported()`` answers for native bf16 only.

    NeMo's attention leaves an fp16 autocast for bf16 whenever torch says bf16 is supported, and on
    a T4 torch says so because bf16 can be emulated; emulated bf16 is slow, so there the attention
    should run in fp32 (NeMo's own choice when bf16 is absent)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    original = torch.cuda.is_bf16_supported

    def native(including_emulation: bool = True) -> bool:
        return original(including_emulation=False)

    torch.cuda.is_bf16_supported = native
    try:
        yield
    finally:
        torch.cuda.is_bf16_supported = original


def is_out_of_memory(error: BaseException) -> bool:
    """A CUDA out-of-memory error (``torch.cuda.OutOfMemoryError``, or the RuntimeError older code
    paths raise with the same message)."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    return isinstance(error, RuntimeError) and "CUDA out of memory" in str(error)


def drop_traceback_locals(error: BaseException) -> None:
    """Clear the local variables of the finished frames in ``error``'s traceback (and of the
    errors it chains), so the models and tensors they referenced can be freed although the
    exception object is kept (a notebook keeps the last one). Line numbers and code stay."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__
