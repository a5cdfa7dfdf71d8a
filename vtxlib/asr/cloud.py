"""What the hosted ASR backends (``assemblyai``, ``gemini``) share.

* **Consent.** Nothing leaves the machine unless the run says so (``allow_cloud``): a hosted backend
  built without it refuses with :class:`ConsentRequired` before it opens a connection.
* **Saying what is sent where.** Before each upload one line names the backend, the destination host
  and what is sent (:func:`announce`); with ``dry_run`` the requests are written and logged instead
  (:class:`PlannedRequest`, :func:`write_dry_run`) and nothing is sent.
* **Failures as classes.** Every error of a hosted service ends as a :class:`CloudAsrError` of one
  :data:`FailureKind` with a one-line message saying what to do; the router falls back on all of
  them (:mod:`vtxlib.asr.router`).
* **Keys** come from :func:`vtxlib.secrets.get_secret` (environment, Colab secrets, the workspace's
  secrets folder) and are never logged.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Literal, Optional
from urllib.parse import urlsplit

from ..errors import InputError, StageFailed
from ..types import AudioFile, VtxModel

log = logging.getLogger("vtxlib.asr.cloud")

CLOUD_BACKENDS = ("assemblyai", "gemini")
#: The secret each hosted backend needs (see vtxlib.secrets for where it is looked up).
KEY_NAMES = {"assemblyai": "ASSEMBLYAI_API_KEY", "gemini": "GEMINI_API_KEY"}
#: Environment variables that point a backend at another endpoint (the EU region, a proxy, a test fake).
BASE_URL_VARIABLES = {"assemblyai": "VTX_ASSEMBLYAI_BASE_URL", "gemini": "VTX_GEMINI_BASE_URL"}
DEFAULT_BASE_URLS = {"assemblyai": "https://api.assemblyai.com",
                     "gemini": "https://generativelanguage.googleapis.com"}
DRY_RUN_FILE = "cloud-requests.json"

FailureKind = Literal["auth", "quota", "too_long", "unsupported", "service", "timeout", "malformed", "partial",
                      "network", "model", "dry_run"]

_ADVICE: dict[str, str] = {
    "auth": "the API key was refused: check {key} (docs/asr_cloud.md, 'Keys')",
    "quota": "quota or rate limit reached: wait, or check the account's balance and limits",
    "too_long": "the file is too long or too large for the service",
    "unsupported": "the service cannot read this audio or does not support the request",
    "service": "the service failed on its side: try again later",
    "timeout": "no answer in time",
    "malformed": "the service's answer could not be read",
    "partial": "the service returned an incomplete transcript",
    "network": "the service could not be reached",
    "model": "the model is not available",
    "dry_run": "dry run: nothing was sent",
}


class ConsentRequired(InputError):
    """A hosted backend was asked for without ``--allow-cloud``."""


class CloudAsrError(StageFailed):
    """A hosted recognizer failed; ``kind`` says how (the router falls back on every kind)."""

    def __init__(self, backend: str, kind: FailureKind, detail: str = "", retry_after: Optional[float] = None):
        self.backend, self.kind, self.retry_after = backend, kind, retry_after
        advice = _ADVICE[kind].format(key=KEY_NAMES.get(backend, "the API key"))
        detail = " ".join(str(detail).split())[:300]
        super().__init__(f"{backend}: {advice}" + (f" ({detail})" if detail else ""))


def kind_of_http_status(status: Optional[int]) -> FailureKind:
    """The failure class of an HTTP status a hosted API answered with."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "quota"
    if status == 413:
        return "too_long"
    if status in (400, 415, 422):
        return "unsupported"
    if status in (408, 504):
        return "timeout"
    return "service"


def require_consent(backend: str, allow_cloud: bool) -> None:
    if not allow_cloud:
        raise ConsentRequired(
            f"--asr {backend} sends the audio to {host_of(base_url(backend))}: nothing is uploaded without "
            f"consent; add --allow-cloud (notebook: ALLOW_CLOUD, service: --allow-cloud) to agree, or use a "
            f"local backend (whisper-cpu, nemo)")


def base_url(backend: str, given: Optional[str] = None) -> str:
    return (given or os.environ.get(BASE_URL_VARIABLES[backend], "") or DEFAULT_BASE_URLS[backend]).rstrip("/")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


class PlannedRequest(VtxModel):
    """One request a hosted backend would send (what a dry run shows)."""

    backend: str
    method: str
    url: str
    sends: str = ""
    bytes: int = 0


def describe_audio(audio: AudioFile, seconds: Optional[float] = None, size: Optional[int] = None) -> str:
    seconds = audio.duration if seconds is None else seconds
    size = Path(audio.path).stat().st_size if size is None else size
    return f"{seconds:.1f} s of audio ({size / 1e6:.1f} MB, 16 kHz mono)"


def announce(backend: str, url: str, what: str) -> None:
    """The one line said before anything is uploaded (shown without -v)."""
    log.warning("asr: sending %s to %s (%s), with --allow-cloud", what, host_of(url), backend)


def write_dry_run(requests: list[PlannedRequest], folder: Path) -> Path:
    """Add REQUESTS to FOLDER/cloud-requests.json and log each; returns the file."""
    from ..workspace import atomic_write_json

    path = Path(folder) / DRY_RUN_FILE
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except ValueError:
        earlier = []
    kept = [r for r in earlier if r.get("backend") not in {q.backend for q in requests}]
    atomic_write_json(path, kept + [r.model_dump() for r in requests])
    for request in requests:
        log.warning("asr: dry run, not sent: %s %s %s", request.method, request.url, request.sends)
    return path


def api_key(backend: str, secrets_dir: Optional[Path]) -> Optional[str]:
    from ..secrets import get_secret

    return get_secret(KEY_NAMES[backend], secrets_dir)


def key_present(backend: str, secrets_dir: Optional[Path]) -> bool:
    return bool(api_key(backend, secrets_dir))


def missing_key(backend: str) -> CloudAsrError:
    return CloudAsrError(backend, "auth", f"no {KEY_NAMES[backend]} in the environment, Colab secrets or "
                         f"<workspace>/secrets/{KEY_NAMES[backend]}")
