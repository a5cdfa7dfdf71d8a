"""Google Drive and the workspace folder a notebook uses (Drive on Colab, else a local folder)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

from ..colab_install import drive_wanted, in_colab
from ..errors import InputError, VtxError
from ..workspace import COLAB_DRIVE_MOUNT, COLAB_DRIVE_ROOT, Workspace, default_root

log = logging.getLogger("vtxlib.notebook")

COLAB_LOCAL_ROOT = Path("/content/vtx-workspace")
DRIVE_MOUNT_POINT = str(COLAB_DRIVE_MOUNT)


class DriveUnavailable(VtxError):
    """Google Drive could not be mounted."""


def mount_drive(mount_point: str = DRIVE_MOUNT_POINT, mount: Optional[Callable[[str], Any]] = None) -> Path:
    """Mount Google Drive on Colab and return the ``MyDrive`` folder."""
    my_drive = Path(mount_point) / "MyDrive"
    if my_drive.is_dir():
        return my_drive
    if mount is None:
        mount = _colab_mount()
    try:
        mount(mount_point)
    except Exception as e:  # the Colab helper raises plain exceptions (timeout, refused consent)
        raise DriveUnavailable(
            f"Google Drive could not be mounted at {mount_point} ({e}). Run the cell again and allow "
            f"access in the pop-up, or untick USE_DRIVE to work in a local folder that is lost when "
            f"the runtime ends") from e
    if not my_drive.is_dir():
        raise DriveUnavailable(f"Drive was mounted but {my_drive} does not exist")
    return my_drive


def _colab_mount() -> Callable[[str], Any]:
    if not in_colab():
        raise DriveUnavailable("Google Drive can only be mounted inside Colab; "
                               "leave WORKSPACE empty to use a local folder")
    from google.colab import drive  # type: ignore

    return drive.mount


def check_free_space(path: Path, min_free_gb: float = 1.0) -> float:
    """Free gigabytes at PATH; an actionable error when below MIN_FREE_GB (a full Drive)."""
    free_gb = shutil.disk_usage(path).free / 1e9
    if free_gb < min_free_gb:
        on_drive = str(path).startswith(DRIVE_MOUNT_POINT)
        where = "Google Drive" if on_drive else "the disk"
        fix = ("empty Drive's bin or free space in Drive, or untick USE_DRIVE to use the runtime's "
               "local disk (lost when the runtime ends)" if on_drive
               else "free space or choose another WORKSPACE folder")
        raise InputError(f"{where} at {path} has only {free_gb:.2f} GB free; vtx needs at least "
                         f"{min_free_gb:.1f} GB for audio, artifacts and model caches: {fix}")
    return free_gb


def workspace_root(workspace: str = "", use_drive: bool = True) -> Path:
    """The workspace folder a notebook uses: WORKSPACE if given, else Drive on Colab, else local."""
    if workspace and str(workspace).strip():
        return Path(str(workspace).strip()).expanduser()
    if not in_colab():
        return default_root()
    if not (use_drive and drive_wanted()):  # the setup cell's USE_DRIVE holds for the whole runtime
        return COLAB_LOCAL_ROOT
    try:
        mount_drive()
        return COLAB_DRIVE_ROOT
    except DriveUnavailable as e:
        log.warning("%s; using %s for now", e, COLAB_LOCAL_ROOT)
        return COLAB_LOCAL_ROOT


def open_workspace(workspace: str = "", use_drive: bool = True, min_free_gb: float = 0.5) -> Workspace:
    """Create (or reopen) the workspace and check it has room; later notebooks in this kernel reuse it."""
    ws = Workspace(workspace_root(workspace, use_drive))
    check_free_space(ws.root, min_free_gb)
    os.environ["VTX_WORKSPACE"] = str(ws.root)  # later calls in this kernel find the same tree
    ws.configure_model_caches()
    return ws
