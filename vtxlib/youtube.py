"""YouTube caption upload (Data API v3) with OAuth that works on Colab.

OAuth: a stored token (``token.json``, mode 0600, refreshed when expired) is used when present.
Otherwise, locally, ``InstalledAppFlow.run_local_server`` opens the browser. On Colab neither
out-of-band codes (blocked by Google since 2023) nor a local server (the browser cannot reach
the Colab VM) work, so the authorization URL is shown, the user signs in, the browser is
redirected to an unreachable ``http://localhost`` address, and the user pastes that address (or
just its ``code``) back; the code is exchanged with ``flow.fetch_token``.

Upload: ``captions.list`` first (50 quota units); a track with the same language and name is
updated with ``captions.update`` (450 units), otherwise ``captions.insert`` (400 units) creates
one — of a default 10,000 units per day. A dry run writes the exact request it would send.
:func:`upload_caption_tracks` puts several tracks on one video (the original and each translation,
each with its own language code) after one ``captions.list``; each is updated or inserted on its own.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Literal, Optional
from urllib.parse import parse_qs, urlparse

from .colab_install import in_colab
from .errors import BackendUnavailable, InputError, StageFailed, VtxError, missing_dependency
from .types import OptionsModel, VtxModel
from .workspace import atomic_write_json, atomic_write_text

log = logging.getLogger("vtxlib.youtube")

SCOPES = ["https://www.googleapis.com/auth/youtube.force-ssl"]
PASTE_REDIRECT_URI = "http://localhost"
DAILY_QUOTA = 10_000
QUOTA_UNITS = {"list": 50, "insert": 400, "update": 450}
MAX_CAPTION_BYTES = 104_857_600  # captions.insert/update maxSize in the API's discovery document
MIME_TYPES = {"vtt": "text/vtt", "srt": "application/x-subrip"}
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")


#: file names inside the workspace's secrets folder
CLIENT_SECRETS_FILE = "client_secret.json"
TOKEN_FILE = "youtube_token.json"


class UploadOptions(OptionsModel):
    video_id: str
    language: str = "en"
    name: str = "vtx"
    is_draft: bool = False
    format: str = "vtt"  # "vtt" | "srt"
    dry_run: bool = False
    client_secrets: Optional[Path] = None
    token_path: Optional[Path] = None
    interactive: bool = True  # may ask the user to sign in when no usable token exists
    request_path: Optional[Path] = None  # dry run output; default <subtitle>.youtube-request.json

    def model_post_init(self, _context: Any) -> None:
        self.video_id = video_id_from(self.video_id)
        if self.format not in MIME_TYPES:
            raise InputError(f"caption format must be one of {', '.join(MIME_TYPES)}, got {self.format!r}")
        if not self.language.strip() or not self.name.strip():
            raise InputError("caption language and name must not be empty")


class UploadResult(VtxModel):
    action: Literal["insert", "update"]
    video_id: str
    language: str
    name: str
    is_draft: bool
    dry_run: bool = False
    caption_id: Optional[str] = None
    quota_units: int = 0
    request_path: Optional[str] = None
    message: str = ""


def video_id_from(value: str) -> str:
    """The 11-character video id of an id or a youtube.com / youtu.be URL."""
    value = (value or "").strip()
    if VIDEO_ID.fullmatch(value):
        return value
    url = urlparse(value)
    host = (url.hostname or "").lower()
    candidates = []
    if host.endswith("youtu.be"):
        candidates.append(url.path.lstrip("/").split("/")[0])
    elif host.endswith("youtube.com") or host.endswith("youtube-nocookie.com"):
        candidates.extend(parse_qs(url.query).get("v", []))
        parts = [p for p in url.path.split("/") if p]
        if len(parts) >= 2 and parts[0] in ("shorts", "live", "embed", "v"):
            candidates.append(parts[1])
    for candidate in candidates:
        if VIDEO_ID.fullmatch(candidate):
            return candidate
    raise InputError(f"not a YouTube video id or URL: {value!r} (expected an 11-character id such as "
                     f"dQw4w9WgXcQ or a youtube.com/watch?v=... / youtu.be/... link)")


# -- OAuth -----------------------------------------------------------------------------------

class AuthorizationRequired(BackendUnavailable):
    """No usable token and signing in interactively is not allowed here."""


def get_credentials(client_secrets: Optional[Path], token_path: Optional[Path], interactive: bool = True,
                    input_fn: Callable[[str], str] = input,
                    display_fn: Optional[Callable[[str], None]] = None,
                    local_server: Optional[bool] = None):
    """OAuth credentials for the YouTube caption scope, from ``token_path`` or by signing in.

    ``local_server`` None means: paste flow on Colab, ``run_local_server`` elsewhere.
    ``display_fn`` shows the authorization URL (default: printed); ``input_fn`` reads the pasted
    redirect address or code. The token is stored at ``token_path`` with mode 0600.
    """
    try:
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials
    except ImportError as e:
        raise missing_dependency("google-auth-oauthlib", "upload", "YouTube upload") from e

    token_path = Path(token_path) if token_path else None
    creds = _load_token(Credentials, token_path)
    if creds is not None and not creds.valid and creds.refresh_token:
        try:
            creds.refresh(Request())
            _save_token(creds, token_path)
            log.info("YouTube token refreshed")
        except RefreshError as e:
            if not interactive:
                raise _token_error(token_path) from e
            log.warning("the stored YouTube token was expired or revoked; signing in again")
            creds = None
        except TransportError as e:
            raise StageFailed(f"could not reach Google to refresh the YouTube token ({e}); check the "
                              f"network connection") from e
    if creds is not None and creds.valid:
        return creds
    if not interactive:
        raise AuthorizationRequired(
            f"no usable YouTube token at {token_path or '(no token path given)'}; sign in once "
            f"interactively (notebook 09, or get_credentials(..., interactive=True)).")
    if local_server is None:
        local_server = not in_colab()
    creds = _sign_in(client_secrets, input_fn, display_fn or _print_auth_url, local_server)
    _save_token(creds, token_path)
    return creds


def _load_token(credentials_cls, token_path: Optional[Path]):
    if token_path is None or not token_path.is_file():
        return None
    try:
        creds = credentials_cls.from_authorized_user_file(str(token_path), SCOPES)
    except (ValueError, json.JSONDecodeError) as e:
        log.warning("ignoring unreadable YouTube token %s (%s)", token_path, e)
        return None
    if creds.scopes and not set(SCOPES) <= set(creds.scopes):
        log.warning("the stored YouTube token lacks the %s scope; signing in again", SCOPES[0])
        return None
    return creds


def _save_token(creds, token_path: Optional[Path]) -> None:
    if token_path is None:
        log.warning("no token_path given: the YouTube token is not stored and the next run signs in again")
        return
    atomic_write_text(token_path, creds.to_json(), mode=0o600)
    log.info("YouTube token saved to %s (mode 0600)", token_path)


def _token_error(token_path: Optional[Path]) -> VtxError:
    return AuthorizationRequired(
        f"the YouTube token at {token_path} is expired or revoked (invalid_grant); delete it and "
        f"sign in again. Tokens of apps in 'Testing' publishing status expire after 7 days.")


def _sign_in(client_secrets: Optional[Path], input_fn, display_fn, local_server: bool):
    from google_auth_oauthlib.flow import Flow, InstalledAppFlow

    client_secrets = Path(client_secrets) if client_secrets else None
    if client_secrets is None or not client_secrets.is_file():
        raise InputError(
            f"OAuth client secrets file not found: {client_secrets}. Create an OAuth client of type "
            f"'Desktop app' in Google Cloud console (APIs & Services > Credentials, with the YouTube "
            f"Data API v3 enabled), download its JSON and pass its path.")
    if local_server:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=SCOPES)
        return flow.run_local_server(port=0, open_browser=True)
    flow = Flow.from_client_secrets_file(str(client_secrets), scopes=SCOPES, redirect_uri=PASTE_REDIRECT_URI)
    auth_url, state = flow.authorization_url(access_type="offline", prompt="consent")
    display_fn(auth_url)
    pasted = input_fn("Paste the address of the page you were redirected to (or just the code): ")
    flow.fetch_token(code=code_from_paste(pasted, state))
    return flow.credentials


def code_from_paste(pasted: str, expected_state: Optional[str] = None) -> str:
    """The authorization code from a pasted redirect address (``http://localhost/?code=...``) or
    a bare code; the ``state`` must match the one sent, which guards against a stale link."""
    pasted = (pasted or "").strip()
    if not pasted:
        raise InputError("nothing was pasted; paste the address shown after signing in")
    if "code=" not in pasted and "error=" not in pasted:
        return pasted
    query = parse_qs(urlparse(pasted).query or pasted.split("?", 1)[-1])
    if "error" in query:
        raise InputError(f"Google sign-in failed: {query['error'][0]} (was access denied?)")
    if expected_state and query.get("state", [expected_state])[0] != expected_state:
        raise InputError("the pasted address belongs to another sign-in attempt (state mismatch); "
                         "open the newest link and paste its address")
    return query["code"][0]


def _print_auth_url(url: str) -> None:
    # The one place the library prints: the user must see and open this link.
    print("Open this link, sign in with the account that owns the video and allow access:\n"
          f"{url}\n"
          "Your browser then shows an unreachable http://localhost page; copy that page's full "
          "address from the address bar and paste it below.")


# -- service and upload ---------------------------------------------------------------------------

def build_service(credentials=None, http=None):
    """A YouTube Data API v3 client from the library's bundled discovery document (no fetch)."""
    try:
        from googleapiclient.discovery import build
    except ImportError as e:
        raise missing_dependency("google-api-python-client", "upload", "YouTube upload") from e
    if credentials is None and http is None:
        import httplib2  # offline placeholder: a dry run only builds requests, never sends them

        http = httplib2.Http()
    return build("youtube", "v3", credentials=credentials, http=http, static_discovery=True,
                 cache_discovery=False)


class TracksUploadResult(VtxModel):
    """The upload of several caption tracks to one video (one result per track, in order)."""

    results: list[UploadResult]

    @property
    def message(self) -> str:
        units = sum(r.quota_units for r in self.results)
        actions = ", ".join(f"{r.language} {r.action}" for r in self.results)
        if len(self.results) == 1:
            return self.results[0].message
        if self.results and self.results[0].dry_run:
            files = "; ".join(str(r.request_path) for r in self.results)
            return f"dry run: {len(self.results)} caption requests ({actions}) written to {files}. {units} quota units."
        return f"{len(self.results)} caption tracks on video {self.results[0].video_id} ({actions}); {units} quota units."

    @property
    def action(self) -> str:
        return self.results[0].action if self.results else ""


def upload_captions(subtitle_path: Path, options: UploadOptions, service: Any = None,
                    credentials: Any = None) -> UploadResult:
    """Upload a caption track, updating the track of the same language and name if one exists.

    With ``options.dry_run`` nothing is sent except, when credentials or a service are at hand,
    the read-only ``captions.list``; without them the request is built as an insert.
    """
    return upload_caption_tracks([(Path(subtitle_path), options.language)], options, service, credentials).results[0]


def upload_caption_tracks(tracks: list, options: UploadOptions, service: Any = None,
                          credentials: Any = None) -> TracksUploadResult:
    """Upload TRACKS (``[(path, language code)]``) to ``options.video_id``, each as its own caption
    track (``options.name`` in its language): the video's tracks are listed once, a track of the same
    language and name is updated, any other inserted; a dry run writes every request. Every file
    is checked before the first request."""
    tracks = [(Path(path), language) for path, language in tracks]
    languages = [language for _, language in tracks]
    if len(set(languages)) != len(languages):
        raise InputError(f"two caption tracks in the same language ({', '.join(languages)}): one track per language")
    sizes = [_check_subtitle_file(path, options.model_copy(update={"language": language}))
             for path, language in tracks]
    if options.dry_run and service is None and credentials is None:
        credentials = _stored_credentials(options)
    can_list = service is not None or credentials is not None or not options.dry_run
    if service is None:
        if credentials is None and can_list:
            credentials = get_credentials(options.client_secrets, options.token_path,
                                          interactive=options.interactive)
        service = build_service(credentials)
    results = []
    try:
        listed = _list_tracks(service, options) if can_list else None
    except Exception as e:
        raise _map_error(e, options) from e
    for k, ((subtitle_path, language), size) in enumerate(zip(tracks, sizes)):
        track_options = options.model_copy(update={"language": language})
        if k:  # one dry-run request file per track, beside its subtitle file
            track_options.request_path = None
        results.append(_upload_one(service, subtitle_path, size, track_options, listed,
                                   list_units=QUOTA_UNITS["list"] if can_list and k == 0 else 0))
    return TracksUploadResult(results=results)


def _upload_one(service, subtitle_path: Path, size: int, options: UploadOptions, listed: Optional[list],
                list_units: int) -> UploadResult:
    can_list = listed is not None
    try:
        existing = _matching_track(listed, options) if can_list else None
        request, body, action = _caption_request(service, subtitle_path, options, existing)
        units = list_units + QUOTA_UNITS[action]
        if options.dry_run:
            return _write_dry_run(request, body, action, subtitle_path, size, options, can_list, units)
        response = request.execute(num_retries=3)
    except Exception as e:
        raise _map_error(e, options) from e
    result = UploadResult(action=action, video_id=options.video_id, language=options.language,
                          name=options.name, is_draft=options.is_draft, caption_id=response.get("id"),
                          quota_units=units, message=_quota_message(action, units))
    log.info("caption track %s (%s) %sd on video %s. %s", result.caption_id, options.language, action,
             options.video_id, result.message)
    return result


def _stored_credentials(options: UploadOptions):
    """A dry run lists existing tracks when a stored token works; it never asks anyone to sign in."""
    if not options.token_path or not Path(options.token_path).is_file():
        return None
    try:
        return get_credentials(options.client_secrets, options.token_path, interactive=False)
    except VtxError as e:
        log.info("dry run without captions.list: %s", e)
        return None


def _check_subtitle_file(path: Path, options: UploadOptions) -> int:
    if not path.is_file():
        raise InputError(f"subtitle file not found: {path}")
    suffix = path.suffix.lower().lstrip(".")
    if suffix in MIME_TYPES and suffix != options.format:
        raise InputError(f"{path.name} looks like .{suffix} but format={options.format!r}; "
                         f"pass format={suffix!r}")
    size = path.stat().st_size
    if size > MAX_CAPTION_BYTES:
        raise InputError(f"{path.name} is {size / 1e6:.1f} MB; YouTube accepts caption files up to "
                         f"100 MB ({MAX_CAPTION_BYTES} bytes)")
    if size == 0:
        raise InputError(f"{path} is empty")
    return size


def _list_tracks(service, options: UploadOptions) -> list[dict]:
    """The video's caption tracks (one ``captions.list``)."""
    return service.captions().list(part="snippet", videoId=options.video_id).execute().get("items", [])


def _find_track(service, options: UploadOptions) -> Optional[dict]:
    """The uploaded (not auto-generated) track with the same language and name, if any."""
    return _matching_track(_list_tracks(service, options), options)


def _matching_track(items: list[dict], options: UploadOptions) -> Optional[dict]:
    matches = [item for item in items
               if item.get("snippet", {}).get("trackKind", "standard").lower() != "asr"
               and item["snippet"].get("language", "").lower() == options.language.lower()
               and item["snippet"].get("name", "") == options.name]
    if len(matches) > 1:
        log.warning("video %s has %d caption tracks named %r in %s; updating the first (%s)",
                    options.video_id, len(matches), options.name, options.language, matches[0]["id"])
    return matches[0] if matches else None


def _caption_request(service, subtitle_path: Path, options: UploadOptions, existing: Optional[dict]):
    from googleapiclient.http import MediaFileUpload

    media = MediaFileUpload(str(subtitle_path), mimetype=MIME_TYPES[options.format], resumable=False)
    if existing:
        body = {"id": existing["id"], "snippet": {"isDraft": options.is_draft}}
        return service.captions().update(part="snippet", body=body, media_body=media), body, "update"
    body = {"snippet": {"videoId": options.video_id, "language": options.language, "name": options.name,
                        "isDraft": options.is_draft}}
    return service.captions().insert(part="snippet", body=body, media_body=media), body, "insert"


def _write_dry_run(request, body: dict, action: str, subtitle_path: Path, size: int,
                   options: UploadOptions, listed: bool, units: int) -> UploadResult:
    path = Path(options.request_path or subtitle_path.with_name(subtitle_path.name + ".youtube-request.json"))
    record = {
        "action": action,
        "language": options.language,
        "method": request.method,
        "url": request.uri,
        "params": {k: v[0] if len(v) == 1 else v for k, v in parse_qs(urlparse(request.uri).query).items()},
        "headers": {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        "body": body,
        "media": {"path": str(subtitle_path), "mimetype": MIME_TYPES[options.format], "size_bytes": size,
                  "upload": "multipart"},
        "listed_existing_tracks": listed,
        "quota_units": units,
    }
    atomic_write_json(path, record)
    note = "" if listed else " (captions.list not called without credentials: an existing track would be updated instead)"
    message = f"dry run: the captions.{action} request was written to {path}{note}. {_quota_message(action, units)}"
    log.info(message)
    return UploadResult(action=action, video_id=options.video_id, language=options.language, name=options.name,
                        is_draft=options.is_draft, dry_run=True, quota_units=units, request_path=str(path),
                        message=message)


def _quota_message(action: str, units: int) -> str:
    listed = units > QUOTA_UNITS[action]
    return (f"captions.{action} costs {QUOTA_UNITS[action]} quota units of the default {DAILY_QUOTA:,} "
            f"per day" + (f"; with captions.list ({QUOTA_UNITS['list']}) this upload uses {units}." if listed else "."))


# -- errors ---------------------------------------------------------------------------------------

def _map_error(error: Exception, options: UploadOptions) -> Exception:
    """One-line VtxErrors for what users meet; anything else passes through unchanged."""
    from google.auth.exceptions import RefreshError
    from googleapiclient.errors import HttpError, MediaUploadSizeError

    if isinstance(error, VtxError):
        return error
    if isinstance(error, RefreshError):
        return _token_error(options.token_path)
    if isinstance(error, MediaUploadSizeError):
        return InputError(f"the caption file is larger than YouTube's 100 MB limit ({error})")
    if not isinstance(error, HttpError):
        return error
    status, reason, message = error.resp.status, _error_reason(error), error.reason
    video = options.video_id
    if status == 403 and reason in ("quotaExceeded", "dailyLimitExceeded"):
        mapped: VtxError = StageFailed(
            f"YouTube API quota exceeded ({reason}): the project's daily quota (default {DAILY_QUOTA:,} "
            f"units; captions.insert costs 400) is used up. It resets at midnight Pacific time; or "
            f"request more in Google Cloud console.")
    elif status == 403:
        mapped = InputError(
            f"YouTube refused access to captions of video {video} (403 {reason or 'forbidden'}): the "
            f"signed-in account must own the video (or manage its channel). Delete the token at "
            f"{options.token_path} to sign in with another account.")
    elif status == 401:
        mapped = _token_error(options.token_path)
    elif status == 404 and reason == "captionNotFound":
        mapped = StageFailed(f"the caption track to update disappeared from video {video} (404 captionNotFound); run again")
    elif status == 404:
        mapped = InputError(f"YouTube video {video} not found (404 {reason or 'notFound'}); check the id "
                            f"and that the signed-in account can see it")
    elif status == 413:
        mapped = InputError("the caption file is larger than YouTube's 100 MB limit (413)")
    elif 400 <= status < 500:
        mapped = InputError(f"YouTube rejected the caption upload ({status} {reason}): {message}")
    else:
        mapped = StageFailed(f"YouTube API error {status} {reason}: {message}")
    mapped.reason = reason  # type: ignore[attr-defined]
    return mapped


def _error_reason(error) -> str:
    """The API's machine-readable reason (``quotaExceeded``, ``forbidden``, ``videoNotFound``)."""
    try:
        data = json.loads(error.content.decode("utf-8"))
        errors = data["error"].get("errors") or []
        if errors and errors[0].get("reason"):
            return errors[0]["reason"]
        for detail in data["error"].get("details") or []:
            if detail.get("reason"):
                return detail["reason"]
        return str(data["error"].get("status", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
