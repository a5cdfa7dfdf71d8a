"""Checks made before any work starts, so a bad option fails in one line rather than mid-run."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path
from typing import Optional

from .errors import InputError

#: the most speakers a request may ask for (the diarizers are neither built nor tested past this)
MAX_SPEAKERS = 20

#: errno values that mean "this location cannot be written"
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def check_speaker_counts(num_speakers: Optional[int] = None, min_speakers: Optional[int] = None,
                         max_speakers: Optional[int] = None) -> None:
    """The one check of speaker counts (CLI, service, ``SpeakerCount``): each given count an integer
    in 1..MAX_SPEAKERS, either an exact count or bounds, and the bounds in order. InputError names
    the option."""
    for name, value in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                        ("max_speakers", max_speakers)):
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= MAX_SPEAKERS:
            raise InputError(f"--{name.replace('_', '-')} must be a whole number between 1 and {MAX_SPEAKERS} "
                             f"(a positive integer), got {value!r}")
    if num_speakers is not None and (min_speakers is not None or max_speakers is not None):
        raise InputError("give either --num-speakers or --min-speakers/--max-speakers, not both")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise InputError(f"--min-speakers ({min_speakers}) is larger than --max-speakers ({max_speakers})")


def check_writable_dir(path: Path, what: str) -> Path:
    """``path`` is (or can be created as) a folder this process can write into."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} is an existing file, not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise InputError(f"{what} {path} is not writable ({e.strerror or e}); choose another folder") from e
    return path


def is_unwritable(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _UNWRITABLE


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _FULL


def describe_os_error(error: OSError) -> Optional[str]:
    """One line for a write that failed because of the disk, not the input; None otherwise."""
    where = f" while writing {error.filename}" if error.filename else ""
    if is_disk_full(error):
        return (f"the disk is full (no space left on device){where}; free some space or choose another "
                f"--workspace/--out folder")
    if is_unwritable(error):
        return f"cannot write{where}: {error.strerror or 'permission denied'}; choose a writable folder"
    return None


def os_error_in_chain(error: BaseException) -> Optional[OSError]:
    """The first disk-related OSError in ``error``'s cause/context chain."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and describe_os_error(error):
            return error
        error = error.__cause__ or error.__context__
    return None
