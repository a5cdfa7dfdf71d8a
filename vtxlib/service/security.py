"""What guards the service: the API key, the ASGI middleware (body size, authentication, Host and
cross-site checks), upload limits, and which addresses a ``url`` request may download from."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Optional

from .. import netguard
from ..errors import InputError
from .models import ServiceError, ServiceOptions

log = logging.getLogger("vtxlib.service")

TRUSTED_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # Host headers accepted without an API key
API_KEY_ENV = "VTX_API_KEY"
OPEN_PATHS = ("/status", "/docs", "/openapi.json")  # answered without the API key (/status minimally)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


# -- the API key -----------------------------------------------------------------------------

def bearer_token(authorization: Optional[str]) -> Optional[str]:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_loopback_host(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_api_key(key_file: Optional[Path] = None) -> Optional[str]:
    """The API key from ``key_file`` (first line) or ``$VTX_API_KEY``; None when neither is set."""
    if key_file is not None:
        try:
            lines = Path(key_file).expanduser().read_text(encoding="utf-8").strip().splitlines()
        except OSError as e:
            raise InputError(f"cannot read the API key file {key_file}: {e.strerror or e}") from e
        if not lines or not lines[0].strip():
            raise InputError(f"the API key file {key_file} is empty")
        _warn_if_readable_by_others(Path(key_file).expanduser())
        return lines[0].strip()
    return os.environ.get(API_KEY_ENV, "").strip() or None


def _warn_if_readable_by_others(key_file: Path) -> None:
    """The key is accepted, but a file other users can read gives it to them too."""
    mode = key_file.stat().st_mode
    if os.name != "nt" and mode & 0o044:
        who = "every user" if mode & 0o004 else "its group"
        log.warning("the API key file %s is readable by %s (mode %o); restrict it with: chmod 600 %s",
                    key_file, who, mode & 0o777, key_file)


# -- middleware ------------------------------------------------------------------------------

class BodySizeLimit:
    """ASGI middleware: refuse an oversized /transcribe body before it is parsed or spooled.

    A Content-Length over the limit is answered 413 at once; a chunked body is counted while it
    is read and stopped with 413 as soon as it passes the limit.
    """

    def __init__(self, app, max_bytes: int, paths: tuple[str, ...] = ("/transcribe",)):
        self.app, self.max_bytes, self.paths = app, max_bytes, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        # multipart framing adds a little to the file itself
        limit = self.max_bytes + 64 * 1024
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._too_large(send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    from fastapi import HTTPException

                    raise HTTPException(413, detail=self._message())
            return message

        return await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"upload larger than the limit of {self.max_bytes / 1048576:.0f} MB"

    async def _too_large(self, send) -> None:
        body = json.dumps({"error": self._message(), "status": 413}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def _json_answer(send, status: int, message: str, headers: Optional[dict] = None) -> None:
    """Send ``{"error": message, "status": status}`` from an ASGI middleware."""
    body = json.dumps({"error": message, "status": status}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())] + extra})
    await send({"type": "http.response.body", "body": body})


class ApiKeyAuth:
    """ASGI middleware: every request needs ``Authorization: Bearer <key>`` (compared in constant
    time), except ``open_paths``, which are let through marked as unauthenticated."""

    def __init__(self, app, key: str, open_paths: tuple[str, ...] = OPEN_PATHS):
        self.app, self._key, self.open_paths = app, key.encode(), open_paths

    def authorized(self, headers) -> bool:
        token = bearer_token(headers.get("authorization"))
        return token is not None and hmac.compare_digest(token.encode(), self._key)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        ok = self.authorized(Headers(scope=scope))
        scope.setdefault("state", {})["authenticated"] = ok
        if ok or scope["path"] in self.open_paths or scope["path"].startswith("/docs/"):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await _json_answer(send, 401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})


class CrossSiteGuard:
    """ASGI middleware: refuse state-changing requests a browser sends from another site (a page
    elsewhere posting a form to this loopback service): ``Sec-Fetch-Site`` cross-site/same-site,
    or an ``Origin`` that is not this server's own."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        site = headers.get("sec-fetch-site", "").lower()
        origin = headers.get("origin")
        if site in ("cross-site", "same-site") or (origin is not None and not self._same_origin(origin, headers)):
            return await _json_answer(send, 403, "cross-site request refused: post from this server's own "
                                                 "pages or a non-browser client, or start the server with an API key")
        return await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(origin: str, headers) -> bool:
        from urllib.parse import urlsplit

        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        return bool(netloc) and netloc == headers.get("host", "").lower()


def add_safety_middleware(app, options: ServiceOptions) -> None:
    """Authentication, or (without a key) Host and cross-site checks; added last = run first."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if not options.api_key:
        app.add_middleware(CrossSiteGuard)
    if not options.api_key or options.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*TRUSTED_HOSTS, *options.trusted_hosts])
    if options.api_key:
        app.add_middleware(ApiKeyAuth, key=options.api_key)


# -- uploads ---------------------------------------------------------------------------------

def safe_filename(name: Optional[str]) -> str:
    stem = Path(name or "upload").name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return cleaned[:120] or "upload"


def store_upload(upload, uploads_dir: Path, max_bytes: int) -> Path:
    """Copy an UploadFile into ``uploads_dir/<random>/<name>`` (413 past ``max_bytes``)."""
    folder = uploads_dir / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        return _copy_upload(upload, folder / safe_filename(upload.filename), max_bytes)
    except BaseException:  # too large, empty, a full disk, a dropped connection: nothing may stay
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _copy_upload(upload, target: Path, max_bytes: int) -> Path:
    written = 0
    with open(target, "wb") as out:
        while block := upload.file.read(1 << 20):
            written += len(block)
            if written > max_bytes:
                raise ServiceError(413, f"upload larger than the limit of {max_bytes / 1048576:.0f} MB")
            out.write(block)
    if written == 0:
        raise ServiceError(400, f"the uploaded file {target.name} is empty (0 bytes)")
    return target


def store_voices(uploads: list, configured: Optional[str], folder: Path, max_bytes: int) -> Path:
    """A request's voices folder at FOLDER: the people of the server's configured ``--voices`` folder
    (linked, not copied) and the uploaded clips, one person per file named after them
    (``Alice.wav``); an uploaded person replaces a configured one of the same name."""
    from ..voices import AUDIO_EXTENSIONS

    folder.mkdir(parents=True)
    uploaded = {}
    for upload in uploads:
        target = folder / safe_filename(upload.filename)
        if target.suffix.lower() not in AUDIO_EXTENSIONS:
            raise ServiceError(400, f"voice clip {target.name!r}: expected an audio file named after the person "
                                    f"(Alice.wav, Bob_Smith.mp3)")
        uploaded[target.stem.lower()] = _copy_upload(upload, target, max_bytes)
    if configured:
        for entry in sorted(Path(configured).expanduser().iterdir()):
            name = entry.stem if entry.is_file() else entry.name
            if not entry.name.startswith(".") and safe_filename(name).lower() not in uploaded:
                (folder / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return folder


# -- url requests ----------------------------------------------------------------------------

def checked_url(url: str, options: ServiceOptions, policy: netguard.UrlPolicy) -> str:
    """URL when this server downloads URLs and it is an http(s) link to an address POLICY allows
    (the worker checks every redirect again); 400 otherwise."""
    from ..acquire import is_url

    if not options.allow_urls:
        raise ServiceError(400, "this server does not download URLs (started with --no-urls); upload the file")
    if not is_url(url):
        raise ServiceError(400, f"url {netguard.redact(url)!r} is not an http(s) link")
    try:
        return netguard.check_url(url, policy)
    except InputError as e:
        raise ServiceError(400, str(e)) from e
