"""acquire: turn a SOURCE (http(s) URL or local media path) into :class:`MediaInfo` + a local file.

URLs go through yt-dlp's Python API, audio only (``bestaudio``), one video (no playlist expansion
here; ``vtxlib.batch`` expands playlists). Local files get a content-hash id, so the same file
under another name or on Drive hits the same cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Optional

from . import netguard
from .errors import InputError, StageFailed, missing_dependency
from .types import MediaInfo, OptionsModel
from .workspace import Workspace, atomic_write_json, file_sha256

log = logging.getLogger("vtxlib.acquire")

URL_RE = re.compile(r"^https?://", re.IGNORECASE)
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# extractors whose "id" is only the file's base name: the id must come from the whole URL
GENERIC_EXTRACTORS = ("Generic",)


#: a cookies file kept with the workspace's secrets is used when no --cookies is given
COOKIES_FILE = "cookies.txt"
COOKIES_ADVICE = ("export your browser's cookies for the site (signed in) to a cookies.txt file and pass it "
                  "with --cookies FILE (notebooks: the COOKIES field; or save it as <workspace>/secrets/"
                  f"{COOKIES_FILE}, on Drive on Colab)")


class AcquireOptions(OptionsModel):
    format: str = "bestaudio/best"
    socket_timeout: float = 20.0
    retries: int = 3
    cookies: Optional[str] = None  # a Netscape cookies.txt for yt-dlp


def is_url(source: str) -> bool:
    return bool(URL_RE.match(source.strip()))


def acquire(source: str, workspace: Workspace, options: Optional[AcquireOptions] = None,
            force: bool = False) -> MediaInfo:
    """Resolve SOURCE to a local media file in (or referenced by) the workspace.

    ``force`` downloads a URL again even when it is cached. When the current thread has a URL
    policy (:func:`vtxlib.netguard.url_policy`, set by the service), the link and every host the
    download resolves (redirects included) must be allowed by it."""
    source = str(source).strip()
    if not source:
        raise InputError("no source given: expected an http(s) URL or a path to a media file")
    if SCHEME_RE.match(source):
        netguard.split_url(source)  # scheme, credentials, host and port, before anything else
        policy = netguard.current_policy()
        if policy is not None:
            netguard.check_url(source, policy)
        return acquire_url(source, workspace, options or AcquireOptions(), force=force)
    return acquire_file(Path(source), workspace, force=force)


# -- local files --------------------------------------------------------------------------------
def acquire_file(path: Path, workspace: Workspace, force: bool = False) -> MediaInfo:
    """A local file's MediaInfo; its id is a hash of its whole content, looked up by the file's
    path and :func:`source_fingerprint` (``force`` hashes it again in any case)."""
    path = path.expanduser()
    if not path.exists():
        raise InputError(f"file not found: {path} (expected an http(s) URL or a path to a video/audio file)")
    if path.is_dir():
        raise InputError(f"{path} is a folder; expected a single video/audio file "
                         f"(use `python -m vtxlib batch` for many files)")
    stat = path.stat()
    if stat.st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); expected a video/audio file")
    path = path.resolve()
    record = workspace.source_record_path(f"file:{path}:{source_fingerprint(path)}")
    info = None if force else read_source_record(record)
    if info is not None and info.path and Path(info.path).exists():
        return info
    digest = file_sha256(path)
    info = MediaInfo(id=f"f-{digest[:16]}", title=path.stem, source=str(path), kind="file", path=str(path))
    atomic_write_json(record, info.model_dump(mode="json"))
    log.info("local file %s -> media id %s", path.name, info.id)
    return info


# Files up to this size are hashed whole for their fingerprint; larger ones by sampled blocks.
FINGERPRINT_WHOLE_BYTES = 8 << 20
FINGERPRINT_BLOCK = 64 << 10
FINGERPRINT_BLOCKS = 64


def source_fingerprint(path: Path) -> str:
    """What identifies a local file's content cheaply, for the source record's key: its size, its
    mtime and a SHA-256 of its content (the whole file up to 8 MiB; beyond that 64 blocks of 64 KiB
    spread evenly from the first byte to the last, 4 MiB read whatever the file's size). Tools that
    keep mtimes (tar, rsync -a, cp -p) can change a file without changing its size or mtime; the
    content sample sees such an edit unless it falls entirely between the sampled blocks of a large
    file (``--force acquire`` hashes the file again in any case)."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        if stat.st_size <= FINGERPRINT_WHOLE_BYTES:
            while block := fh.read(1 << 20):
                digest.update(block)
        else:
            last = stat.st_size - FINGERPRINT_BLOCK
            for index in range(FINGERPRINT_BLOCKS):
                fh.seek(last * index // (FINGERPRINT_BLOCKS - 1))
                digest.update(fh.read(FINGERPRINT_BLOCK))
    return f"{stat.st_size}:{stat.st_mtime_ns}:{digest.hexdigest()[:32]}"


def read_source_record(record: Path) -> Optional[MediaInfo]:
    """The MediaInfo stored at RECORD; None when there is none, or, with a warning, when it is
    damaged (truncated, emptied, edited): the source is then looked up again and the record rewritten."""
    try:
        text = record.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        log.warning("source record %s is unreadable (%s); it will be recomputed", record, e)
        return None
    try:
        return MediaInfo.model_validate_json(text)
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        reason = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        log.warning("source record %s is damaged (%s); it will be recomputed", record, reason[:200])
        return None


# -- URLs -------------------------------------------------------------------------------------
def acquire_url(url: str, workspace: Workspace, options: AcquireOptions, force: bool = False) -> MediaInfo:
    record = workspace.source_record_path(f"url:{url}")
    info = None if force else read_source_record(record)
    if info is not None:
        if info.path and workspace.absolute(info.path).exists():
            log.info("%s already downloaded as %s", netguard.redact(url), info.id)
            return info.model_copy(update={"path": str(workspace.absolute(info.path))})
    with netguard.guard_connections():
        info = _download(url, workspace, options, force)
    # stored relative to the workspace, so a moved workspace still finds its download
    atomic_write_json(record, {**info.model_dump(mode="json"), "path": workspace.relative(info.path)})
    return info


def url_media_id(url: str, probe: dict) -> str:
    """A platform's own video id (``Youtube-<id>``); for a plain file link (no platform id), a
    hash of the whole URL plus its readable base name, so ``/a/talk.wav`` and ``/b/talk.wav`` differ."""
    extractor = probe.get("extractor_key") or "web"
    if probe.get("id") and extractor not in GENERIC_EXTRACTORS:
        return _safe_id(f"{extractor}-{probe['id']}")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    name = Path(url.split("?", 1)[0].split("#", 1)[0].rstrip("/")).stem or "media"
    return _safe_id(f"url-{digest}-{name[:60]}")


def _download(url: str, workspace: Workspace, options: AcquireOptions, force: bool = False) -> MediaInfo:
    try:
        import yt_dlp
    except ImportError as e:
        raise missing_dependency("yt-dlp", "cpu", "Downloading from a URL") from e

    probe = _extract_info(yt_dlp, url, options, download=False)
    if probe.get("_type") == "playlist" or probe.get("entries") is not None:
        raise InputError(f"{url} is a playlist; `run` takes one video. Use "
                         f"`python -m vtxlib batch {url}` to process every video in it.")
    media_id = url_media_id(url, probe)
    target_dir = workspace.media_dir(media_id)
    existing = sorted(target_dir.glob("original.*"))
    if existing and not force:
        path = existing[0]
    else:
        path = _download_to(yt_dlp, url, target_dir, options)
        for stale in existing:
            if stale != path:
                stale.unlink(missing_ok=True)
    # the source as stored and shown: a pre-signed link's query (a secret) is not kept
    return MediaInfo(id=media_id, title=probe.get("title") or media_id, source=netguard.redact(url),
                     duration=probe.get("duration"), kind="url",
                     extractor=probe.get("extractor_key"), path=str(path))


def _ydl_params(options: AcquireOptions) -> dict:
    return {
        "format": options.format,
        "noplaylist": True,
        "quiet": True,  # yt-dlp's own screen output; its warnings still reach the logger below
        "noprogress": True,
        **({"cookiefile": _cookies_path(options.cookies)} if options.cookies else {}),
        "socket_timeout": options.socket_timeout,
        "retries": options.retries,
        "logger": _YdlLogger(),
        # under a URL policy every request must go through this process's sockets (checked per
        # hop); an external downloader (ffmpeg, aria2c) would connect on its own
        **({"external_downloader": {"default": "native"}, "hls_prefer_native": True}
           if netguard.current_policy() is not None else {}),
    }


def _cookies_path(cookies: str) -> str:
    path = Path(cookies).expanduser()
    if not path.is_file():
        raise InputError(f"cookies file {path} not found: expected a cookies.txt exported from a browser "
                         f"(Netscape format)")
    return str(path)


def _extract_info(yt_dlp, url: str, options: AcquireOptions, download: bool, extra: Optional[dict] = None) -> dict:
    params = {**_ydl_params(options), **(extra or {})}
    try:
        with yt_dlp.YoutubeDL(params) as ydl:
            return ydl.sanitize_info(ydl.extract_info(url, download=download))
    except yt_dlp.utils.DownloadError as e:
        # a link (or redirect) into a refused network is the request's fault, not the network's
        error = InputError if netguard.POLICY_REFUSAL in str(e) else StageFailed
        message = explain_download_error(str(e)).replace(url, netguard.redact(url))
        raise error(f"could not download {netguard.redact(url)}: {message}") from e


def _download_to(yt_dlp, url: str, target_dir: Path, options: AcquireOptions) -> Path:
    partial_dir = target_dir / ".download"
    partial_dir.mkdir(parents=True, exist_ok=True)
    try:
        info = _extract_info(yt_dlp, url, options, download=True,
                             extra={"outtmpl": str(partial_dir / "original.%(ext)s")})
        files = [p for p in partial_dir.glob("original.*") if not p.name.endswith((".part", ".ytdl"))]
        if not files:
            raise StageFailed(f"yt-dlp reported success for {netguard.redact(url)} but wrote no file")
        final = target_dir / files[0].name
        os.replace(files[0], final)  # yt-dlp downloads to .part itself; this is the commit point
    finally:
        _remove_if_empty(partial_dir)  # a failed download's .part stays, for yt-dlp to resume
    log.info("downloaded %s (%s) to %s", netguard.redact(url), info.get("title"), final)
    return final


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (a partial download to resume) or already gone
        pass


_ERROR_HINTS = [
    (r"Sign in to confirm you.?re not a bot|confirm you are not a bot",
     "the site asks this address to sign in to prove it is not a bot (common from Colab and cloud "
     f"machines): {COOKIES_ADVICE}"),
    (netguard.POLICY_REFUSAL, "the link (or a redirect) points to a loopback, private, link-local or reserved "
     "address, which this server does not download from"),
    (r"Connection refused|ECONNREFUSED|Errno 111\b",
     "the server refused the connection (nothing is listening at that address and port). Check the "
     "link's host and port"),
    (r"timed out", "the server did not answer in time (the connection timed out). Retry later, or "
     "download the file yourself and pass its path"),
    (r"Failed to resolve|Name or service not known|Temporary failure in name resolution|getaddrinfo|"
     r"Network is unreachable",
     "no network connection (the host could not be reached). Check the connection, or download the "
     "file yourself and pass its path"),
    (r"Private video|This video is private", "the video is private; only its owner can download it"),
    (r"Video unavailable|has been removed|does not exist|account .* terminated",
     "the video is unavailable (removed or never existed)"),
    (r"available in your country|geo.?restrict|blocked it in your country", "the video is geo-blocked from this location"),
    (r"Sign in to confirm your age|age.?restrict", "the video is age-restricted and needs a signed-in account"),
    (r"Unsupported URL", "unsupported URL: expected a YouTube (or other yt-dlp supported) video link"),
    (r"Requested format is not available", "no audio format is available for this video"),
    (r"HTTP Error 404", "the page was not found (HTTP 404): check the URL"),
    (r"HTTP Error 403", "access denied (HTTP 403)"),
]


def explain_download_error(message: str) -> str:
    """Map yt-dlp's message to one line naming the cause."""
    for pattern, explanation in _ERROR_HINTS:
        if re.search(pattern, message, re.IGNORECASE):
            return explanation
    first = message.replace("ERROR: ", "").strip().splitlines()[0] if message.strip() else "unknown error"
    return first[:300]


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:100]


class _YdlLogger:
    """Route yt-dlp's output to logging: chatter at debug, its warnings as warnings (a missing
    JavaScript runtime or a format fallback is worth seeing), errors at debug (they are raised)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.warning("yt-dlp: %s", msg.replace("WARNING: ", "", 1))

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)
