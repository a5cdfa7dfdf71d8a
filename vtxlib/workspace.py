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
      secrets/                        OAuth token (0600); never inside outputs
      batch/                          batch runs: executed notebooks, status tables

Every write goes to a temporary file in the same directory and is renamed into place, so a
crash or a Colab disconnect never leaves a partial artifact where a later run would read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

from .errors import InputError

log = logging.getLogger("vtxlib.workspace")

COLAB_DRIVE_ROOT = Path("/content/drive/MyDrive/vtx")
ENV_ROOT = "VTX_WORKSPACE"


def default_root() -> Path:
    """``$VTX_WORKSPACE``, else the Drive folder when Drive is mounted on Colab, else ./vtx-workspace."""
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT]).expanduser()
    if COLAB_DRIVE_ROOT.parent.is_dir():
        return COLAB_DRIVE_ROOT
    return Path("vtx-workspace").resolve()


def stage_key(stage: str, backend: str, options: dict, inputs: list[str]) -> str:
    """A short stable hash of everything that determines a stage's output."""
    payload = json.dumps({"stage": stage, "backend": backend, "options": options, "inputs": inputs},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: Path, text: str, mode: Optional[int] = None) -> Path:
    with atomic_path(Path(target)) as tmp:
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

    # -- artifacts -------------------------------------------------------------------------
    def artifact_path(self, media_id: str, stage: str, key: str) -> Path:
        return self.media_dir(media_id) / stage / f"{key}.json"

    def load_artifact(self, media_id: str, stage: str, key: str) -> Optional[dict]:
        path = self.artifact_path(media_id, stage, key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            # Only atomic renames put files here, so this means outside damage: recompute.
            log.warning("ignoring unreadable artifact %s (%s); it will be recomputed", path, e)
            return None

    def save_artifact(self, media_id: str, stage: str, key: str, data: dict) -> Path:
        return atomic_write_json(self.artifact_path(media_id, stage, key), data)

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
