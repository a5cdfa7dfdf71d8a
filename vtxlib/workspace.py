"""The workspace: a directory tree that caches every stage's artifact.

Layout (``drive_layout.md`` documents it for Google Drive)::

    <root>/
      sources/<hash>.json             source -> MediaInfo (so reruns need no network / rehash)
      media/<media_id>/
        original.<ext>                downloaded media (URLs only)
        audio.wav                     16 kHz mono PCM, decoded once
        <stage>/<key>.json            a stage's artifact, named by its cache key
      outputs/<media_id>/             transcript.{json,vtt,srt,rttm,txt} (default --out)
      models/                         HF_HOME, NeMo and other model caches
      voices/                         checked voice clips and voiceprints (--voices), per clip and model
      secrets/                        OAuth token (0600); never inside outputs
      batch/                          batch runs: executed notebooks, status tables

Every write goes to a temporary file in the same directory and is renamed into place, so a
crash or a Colab disconnect never leaves a partial artifact where a later run would read it. A
temporary name starts with ``.vtx-tmp.`` and carries the writing process's id and host
(``.vtx-tmp.<target>.p<pid>h<host>.<random>[.suffix]``), so a later run can tell the leftovers of a
killed process (removed by :func:`remove_stale_temporaries`) from files still being written, and
never takes a file of the user's (``--out`` may be any folder) for one of its own.

An artifact records a digest of its content (and the size and SHA-256 of files it refers to, such
as ``audio.wav``); it is reused only when that still matches, and later stages' keys are made of
these digests. Paths inside the workspace are stored relative to its root, so a copied or moved
workspace reads its own files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from .errors import InputError

log = logging.getLogger("vtxlib.workspace")

COLAB_DRIVE_MOUNT = Path("/content/drive")  # where Colab mounts Google Drive
COLAB_DRIVE_ROOT = COLAB_DRIVE_MOUNT / "MyDrive" / "vtx"
ENV_ROOT = "VTX_WORKSPACE"
ARTIFACT_RECORD = "_artifact"  # the integrity record inside every stage artifact
CHECKSUMS_FILE = "checksums.json"  # in models/: model file checksums by (path, size, mtime)
# A temporary written on another machine (a shared Drive) cannot be checked for a live writer;
# after this long it is taken for a leftover.
FOREIGN_TEMP_MAX_AGE_S = 24 * 3600

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
# .vtx-tmp.<target>.p<pid>h<host>.<8 random chars>[.<suffix>]: only names of this form are ever
# removed as leftovers (a user's ".notes.backup_1.wav" in an --out folder is not one)
TEMP_PREFIX = ".vtx-tmp."
_TEMP_NAME = re.compile(r"^\.vtx-tmp\.(?P<target>.+)\.p(?P<pid>\d+)h(?P<host>[0-9a-f]{6})\.[a-z0-9_]{8}"
                        r"(?:\.[A-Za-z0-9]+)?$")
_TEMP_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_checksum_lock = threading.Lock()


def default_root() -> Path:
    """``$VTX_WORKSPACE``, else the Drive folder when Drive is mounted on Colab, else ./vtx-workspace."""
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT]).expanduser()
    if COLAB_DRIVE_ROOT.parent.is_dir():
        return COLAB_DRIVE_ROOT
    return Path("vtx-workspace").resolve()


def stage_key(stage: str, backend: str, options: dict, inputs: list[str],
              versions: Optional[dict] = None) -> str:
    """A short stable hash of everything that determines a stage's output.

    ``inputs`` are the content digests of the stage's input artifacts; ``versions`` names the code,
    libraries and model files that produce the output (see :mod:`vtxlib.versions`).
    """
    payload = json.dumps({"stage": stage, "backend": backend, "options": options, "inputs": inputs,
                          "versions": versions}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _owner_tag() -> str:
    return f"p{os.getpid()}h{_HOST}"


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "", mode: Optional[int] = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` only on success.

    The file is created with ``mode`` (default 0666) less the umask, so a private file (a token,
    ``mode=0o600``) is never readable by others, not even while it is written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temporary(target, suffix or ".part", 0o666 if mode is None else mode)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _create_temporary(target: Path, suffix: str, mode: int) -> Path:
    """An empty new file next to TARGET, named like ``tempfile.mkstemp`` would, but created with
    MODE (0666 for outputs) so that the user's umask decides its permissions (mkstemp's 0600 would
    make every output unreadable to a web server or another user)."""
    while True:
        random_part = "".join(secrets.choice(_TEMP_CHARACTERS) for _ in range(8))
        path = target.parent / f"{TEMP_PREFIX}{target.name}.{_owner_tag()}.{random_part}{suffix}"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
        except FileExistsError:
            continue
        return path


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``target``; on success it replaces ``target`` whole.

    Files written there appear together or not at all, and files of an earlier run that this run
    did not write (an old ``report.html``) do not survive beside the new ones.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_folder_name(target)
    tmp.mkdir()
    try:
        yield tmp
        _replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _new_temp_folder_name(target: Path) -> Path:
    while True:
        path = target.parent / f"{TEMP_PREFIX}{target.name}.{_owner_tag()}.{secrets.token_hex(4)}"
        if not path.exists():
            return path


def _replace_folder(new: Path, target: Path) -> None:
    """Move TARGET aside and NEW into its place. Swaps in one folder are serialised (two runs
    publishing the same ``out/<id>`` would otherwise rename into each other's folder); where the
    file system has no locks, a swap that meets another writer's folder moves that one aside too."""
    with _folder_lock(target.parent):
        for attempt in range(_SWAP_ATTEMPTS):
            old = None
            if target.exists():
                old = _new_temp_folder_name(target)
                try:
                    os.replace(target, old)
                except FileNotFoundError:  # another writer moved it first
                    old = None
            try:
                os.replace(new, target)
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == _SWAP_ATTEMPTS - 1:
                    raise
                log.debug("%s was published by another writer meanwhile; replacing it", target)
            finally:
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)


_SWAP_ATTEMPTS = 5


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on FOLDER itself (no lock file is left in a user's --out folder).
    Without flock (Windows, some network or FUSE mounts) it does nothing; the swap retries instead."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_stale_temporaries(folder: Path, since: float) -> int:
    """Remove the temporary files and folders in FOLDER that a dead writer left behind.

    Only entries older than ``since`` (the start of the current run) are candidates, so nothing
    being written by this run is touched; of those, entries of a live process are kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        if _is_stale_temporary(entry, since):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            log.info("removed %s, left over by an interrupted run", entry)
            removed += 1
    return removed


def _is_stale_temporary(entry: Path, since: float) -> bool:
    match = _TEMP_NAME.match(entry.name)
    if not match:
        return False
    try:
        mtime = entry.lstat().st_mtime
    except FileNotFoundError:
        return False
    if mtime >= since:
        return False
    if time.time() - mtime > FOREIGN_TEMP_MAX_AGE_S:
        return True
    return match["host"] == _HOST and not _process_alive(int(match["pid"]))


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it there; leave it to the age limit
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def atomic_write_text(target: Path, text: str, mode: Optional[int] = None) -> Path:
    with atomic_path(Path(target), mode=mode) as tmp:
        tmp.write_text(text, encoding="utf-8")
        if mode is not None:
            os.chmod(tmp, mode)
        _fsync(tmp)
    return Path(target)


def atomic_write_json(target: Path, data: Any, mode: Optional[int] = None) -> Path:
    return atomic_write_text(target, json.dumps(data, ensure_ascii=False, indent=1), mode=mode)


def _fsync(path: Path) -> None:
    try:
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())
    except OSError:  # some FUSE mounts (Drive) refuse fsync; the rename still protects readers
        pass


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_digest(data: Any, files: Optional[dict[str, str]] = None) -> str:
    """SHA-256 of an artifact's JSON content and the checksums of the files it refers to."""
    blob = json.dumps({"data": data, "files": files or {}}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def normalised(data: Any) -> Any:
    """DATA as it reads back from JSON (tuples become lists, keys strings), so digests match."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def _file_record(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(path)}


@dataclass
class Artifact:
    """A stage's artifact as read back: its data and the digest later stages' keys are made of."""

    data: dict
    digest: str
    seconds: Optional[float] = None  # how long the stage took when it computed this artifact


class ArtifactMismatch(Exception):
    """An artifact whose content no longer matches what was recorded when it was written."""


class Workspace:
    def __init__(self, root: Optional[os.PathLike | str] = None):
        self.root = Path(root).expanduser().resolve() if root else default_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create the workspace at {self.root}: {e.strerror}. "
                             f"Choose another folder with --workspace or ${ENV_ROOT}.") from e

    # -- tree ------------------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self._dir("models")

    @property
    def secrets_dir(self) -> Path:
        path = self._dir("secrets")
        os.chmod(path, 0o700)
        return path

    @property
    def batch_dir(self) -> Path:
        return self._dir("batch")

    @property
    def voices_dir(self) -> Path:
        """Checked clips and voiceprints of enrolled voices (``--voices``), one file per clip and model."""
        return self._dir("voices")

    def media_dir(self, media_id: str) -> Path:
        return self._dir("media", media_id)

    def outputs_dir(self, media_id: str) -> Path:
        return self._dir("outputs", media_id)

    def audio_path(self, media_id: str) -> Path:
        return self.media_dir(media_id) / "audio.wav"

    def _dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def relative(self, path: os.PathLike | str) -> str:
        """PATH relative to the root when inside the workspace (as stored), else unchanged."""
        path = Path(path)
        for inside, root in ((path, self.root), (path.resolve(), self.root.resolve())):
            try:
                return inside.relative_to(root).as_posix()
            except ValueError:
                continue
        return str(path)

    def absolute(self, stored: os.PathLike | str) -> Path:
        """A path as stored by :meth:`relative`, made absolute again under this root."""
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    # -- artifacts -------------------------------------------------------------------------
    def artifact_path(self, media_id: str, stage: str, key: str) -> Path:
        return self.media_dir(media_id) / stage / f"{key}.json"

    def load_artifact(self, media_id: str, stage: str, key: str) -> Optional[dict]:
        artifact = self.read_artifact(media_id, stage, key)
        return artifact.data if artifact is not None else None

    def read_artifact(self, media_id: str, stage: str, key: str) -> Optional[Artifact]:
        """The artifact if it exists and its content still matches its record, else None."""
        path = self.artifact_path(media_id, stage, key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = data.pop(ARTIFACT_RECORD) if isinstance(data, dict) else None
            if not isinstance(record, dict):
                raise ArtifactMismatch("it has no integrity record")
            seconds = record.get("seconds")
            return Artifact(data=data, digest=self._verified_digest(path, data, record),
                            seconds=float(seconds) if isinstance(seconds, (int, float)) else None)
        except (OSError, json.JSONDecodeError, ArtifactMismatch, KeyError, TypeError, ValueError) as e:
            # Only atomic renames put files here, so this means outside damage: recompute.
            log.warning("ignoring artifact %s (%s); it will be recomputed", path, e)
            return None

    def save_artifact(self, media_id: str, stage: str, key: str, data: dict,
                      files: Iterable[Path] = (), seconds: Optional[float] = None) -> Artifact:
        """Write DATA with a record of its digest and of FILES (paths it refers to) for later checks,
        and of the SECONDS the stage took to compute it (reported again when it is reused)."""
        data = normalised(data)
        records = {self.relative(path): _file_record(Path(path)) for path in files}
        digest = content_digest(data, {name: rec["sha256"] for name, rec in records.items()})
        record = {"digest": digest, "files": records}
        if seconds is not None:
            record["seconds"] = round(float(seconds), 3)
        atomic_write_json(self.artifact_path(media_id, stage, key), {**data, ARTIFACT_RECORD: record})
        return Artifact(data=data, digest=digest, seconds=seconds)

    def _verified_digest(self, path: Path, data: dict, record: dict) -> str:
        files = record.get("files") or {}
        refreshed = False
        for name, expected in files.items():
            refreshed |= self._verify_file(name, expected)
        digest = content_digest(data, {name: rec["sha256"] for name, rec in files.items()})
        if digest != record["digest"]:
            raise ArtifactMismatch("its content changed after it was written")
        if refreshed:  # same content under a new mtime (a copied workspace): skip the hash next time
            atomic_write_json(path, {**data, ARTIFACT_RECORD: record})
        return digest

    def _verify_file(self, name: str, expected: dict) -> bool:
        """Raise ArtifactMismatch unless file NAME is as recorded; True when only its mtime moved."""
        path = self.absolute(name)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ArtifactMismatch(f"{name} is missing") from None
        if stat.st_size != expected["size"]:
            raise ArtifactMismatch(f"{name} has {stat.st_size} bytes, {expected['size']} were written")
        if stat.st_mtime_ns == expected["mtime_ns"]:
            return False
        if file_sha256(path) != expected["sha256"]:
            raise ArtifactMismatch(f"{name} was modified after it was written")
        expected["mtime_ns"] = stat.st_mtime_ns
        return True

    def file_checksum(self, path: Path) -> str:
        """SHA-256 of a (model) file, remembered by path, size and mtime so it is hashed once."""
        path = Path(path).resolve()
        stat = path.stat()
        with _checksum_lock:
            store = self.models_dir / CHECKSUMS_FILE
            try:
                known = json.loads(store.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                known = {}
            entry = known.get(str(path)) or {}
            if entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
                return entry["sha256"]
            known[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(path)}
            atomic_write_json(store, known)
            return known[str(path)]["sha256"]

    def latest_artifact(self, media_id: str, stage: str) -> Optional[dict]:
        """The most recently written artifact of a stage (notebooks read the previous stage so)."""
        folder = self.root / "media" / media_id / stage
        candidates = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        for path in reversed(candidates):
            data = self.load_artifact(media_id, stage, path.stem)
            if data is not None:
                return data
        return None

    # -- source lookup cache ---------------------------------------------------------------
    def source_record_path(self, source_key: str) -> Path:
        return self._dir("sources") / f"{hashlib.sha256(source_key.encode()).hexdigest()[:24]}.json"

    def configure_model_caches(self) -> None:
        """Point Hugging Face / NeMo / torch caches into the workspace so a model downloads once
        per workspace (once per Drive on Colab), not once per session. Existing settings win."""
        models = self.models_dir
        os.environ.setdefault("HF_HOME", str(models / "huggingface"))
        os.environ.setdefault("NEMO_CACHE_DIR", str(models / "nemo"))
        os.environ.setdefault("TORCH_HOME", str(models / "torch"))
