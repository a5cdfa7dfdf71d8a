"""YouTube caption upload against the real client built from its bundled discovery document,
driven by googleapiclient's HttpMockSequence; OAuth against a fake token endpoint plugged in at
the requests transport."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from needs import require  # noqa: E402

require("googleapiclient", extra="upload")
require("google_auth_oauthlib", extra="upload")
import requests  # noqa: E402
from googleapiclient.http import HttpMockSequence  # noqa: E402

from vtxlib import youtube as yt  # noqa: E402
from vtxlib.errors import InputError, StageFailed  # noqa: E402
from vtxlib.youtube import AuthorizationRequired, UploadOptions, UploadResult  # noqa: E402

VIDEO = "dQw4w9WgXcQ"
VTT = "WEBVTT\n\n00:00.500 --> 00:02.000\n<v Diane>Hi, this is Diane.\n"
TOKEN_URI = "https://oauth2.googleapis.com/token"


@pytest.fixture
def vtt(tmp_path) -> Path:
    path = tmp_path / "call.vtt"
    path.write_text(VTT, encoding="utf-8")
    return path


def ok(body: dict):
    return ({"status": "200", "content-type": "application/json"}, json.dumps(body))


def api_error(status: int, reason: str, message: str, domain: str = "youtube.caption"):
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}
    return ({"status": str(status), "content-type": "application/json"}, json.dumps(body))


def track(caption_id: str, language: str, name: str, kind: str = "standard") -> dict:
    return {"kind": "youtube#caption", "id": caption_id,
            "snippet": {"videoId": VIDEO, "language": language, "name": name, "trackKind": kind}}


def service_with(*responses):
    http = HttpMockSequence(list(responses))
    return yt.build_service(http=http), http


# -- upload ------------------------------------------------------------------------------------

def test_list_then_insert_when_no_matching_track(vtt, caplog):
    existing = [track("ASR1", "en", "", kind="asr"), track("FR1", "fr", "vtx"), track("EN2", "en", "other")]
    service, http = service_with(ok({"items": existing}),
                                 ok({"kind": "youtube#caption", "id": "NEW1", "snippet": {}}))
    with caplog.at_level(logging.INFO, logger="vtxlib.youtube"):
        result = yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, is_draft=True), service=service)

    assert (result.action, result.caption_id, result.dry_run) == ("insert", "NEW1", False)
    assert result.quota_units == 450 and "400 quota units" in result.message and "10,000" in result.message
    assert any("400 quota units" in r.getMessage() for r in caplog.records)

    (list_uri, list_method, _, _), (uri, method, body, headers) = http.request_sequence
    assert list_method == "GET" and urlparse(list_uri).path == "/youtube/v3/captions"
    assert parse_qs(urlparse(list_uri).query)["videoId"] == [VIDEO]
    assert method == "POST" and urlparse(uri).path == "/upload/youtube/v3/captions"
    assert parse_qs(urlparse(uri).query)["uploadType"] == ["multipart"]
    assert headers["content-type"].startswith("multipart/related")
    text = body.decode() if isinstance(body, bytes) else body
    metadata = json.loads(text.split("\n\n", 2)[1].split("\n--", 1)[0])
    assert metadata == {"snippet": {"videoId": VIDEO, "language": "en", "name": "vtx", "isDraft": True}}
    assert "Content-Type: text/vtt" in text and "Hi, this is Diane." in text


def test_list_then_update_the_track_of_same_language_and_name(tmp_path):
    srt = tmp_path / "call.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nHi\n", encoding="utf-8")
    service, http = service_with(ok({"items": [track("EN1", "en", "vtx")]}), ok(track("EN1", "en", "vtx")))
    result = yt.upload_captions(srt, UploadOptions(video_id=VIDEO, format="srt"), service=service)

    assert (result.action, result.caption_id, result.quota_units) == ("update", "EN1", 500)
    assert "450 quota units" in result.message
    uri, method, body, _ = http.request_sequence[1]
    body = body.decode()
    assert method == "PUT" and urlparse(uri).path == "/upload/youtube/v3/captions"
    assert '"id": "EN1"' in body and '"isDraft": false' in body
    assert "Content-Type: application/x-subrip" in body


@pytest.mark.parametrize("response, error_type, words", [
    (api_error(403, "forbidden", "The permissions associated with the request are not sufficient"),
     InputError, ["403 forbidden", "own the video"]),
    (api_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.",
               domain="youtube.quota"), StageFailed, ["quota exceeded", "10,000", "midnight Pacific"]),
    (api_error(404, "videoNotFound", "The video identified by the videoId parameter could not be found."),
     InputError, [f"video {VIDEO} not found"]),
    (api_error(401, "authError", "Invalid Credentials", domain="global"),
     AuthorizationRequired, ["expired or revoked"]),
])
def test_api_errors_become_one_line_messages(vtt, response, error_type, words):
    service, http = service_with(ok({"items": []}), response)
    with pytest.raises(error_type) as info:
        yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, token_path=Path("/tok.json")), service=service)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert len(http.request_sequence) == 2, "errors that cannot succeed on retry are not retried"


def test_forbidden_on_list_is_reported_before_any_upload(vtt):
    service, http = service_with(api_error(403, "forbidden", "forbidden"))
    with pytest.raises(InputError, match="own the video") as info:
        yt.upload_captions(vtt, UploadOptions(video_id=VIDEO), service=service)
    assert info.value.reason == "forbidden"
    assert len(http.request_sequence) == 1


def test_file_checks_happen_before_any_request(tmp_path, vtt):
    service, http = service_with()
    big = tmp_path / "big.vtt"
    with open(big, "wb") as fh:
        fh.truncate(yt.MAX_CAPTION_BYTES + 1)  # sparse: instant, no disk used
    with pytest.raises(InputError, match="100 MB"):
        yt.upload_captions(big, UploadOptions(video_id=VIDEO), service=service)
    with pytest.raises(InputError, match="format='vtt'"):
        yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, format="srt"), service=service)
    with pytest.raises(InputError, match="not found"):
        yt.upload_captions(tmp_path / "missing.vtt", UploadOptions(video_id=VIDEO), service=service)
    assert http.request_sequence == []


def test_dry_run_without_credentials_writes_the_insert_request(vtt):
    result = yt.upload_captions(vtt, UploadOptions(video_id=f"https://www.youtube.com/watch?v={VIDEO}&t=5",
                                                   dry_run=True, language="de", name="vtx de"))
    record = json.loads(Path(result.request_path).read_text())
    assert result.dry_run and result.action == "insert" and result.caption_id is None
    assert record["method"] == "POST"
    assert record["url"].startswith("https://youtube.googleapis.com/upload/youtube/v3/captions?")
    assert record["params"] == {"part": "snippet", "alt": "json", "uploadType": "multipart"}
    assert record["body"] == {"snippet": {"videoId": VIDEO, "language": "de", "name": "vtx de", "isDraft": False}}
    assert record["media"] == {"path": str(vtt), "mimetype": "text/vtt", "size_bytes": len(VTT.encode()),
                               "upload": "multipart"}
    assert record["listed_existing_tracks"] is False and "authorization" not in record["headers"]
    assert "captions.list not called" in result.message


def test_dry_run_with_a_service_lists_but_sends_nothing_else(vtt, tmp_path):
    service, http = service_with(ok({"items": [track("EN1", "en", "vtx")]}))
    out = tmp_path / "request.json"
    result = yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, dry_run=True, request_path=out), service=service)
    record = json.loads(out.read_text())
    assert len(http.request_sequence) == 1 and http.request_sequence[0][1] == "GET"
    assert (result.action, record["method"], record["body"]) == ("update", "PUT", {"id": "EN1", "snippet": {"isDraft": False}})
    assert record["quota_units"] == result.quota_units == 500


def test_options_and_result_round_trip(tmp_path):
    options = UploadOptions(video_id=VIDEO, token_path=tmp_path / "t.json", format="srt")
    assert UploadOptions.model_validate_json(options.model_dump_json()) == options
    result = UploadResult(action="insert", video_id=VIDEO, language="en", name="vtx", is_draft=False,
                          caption_id="X", quota_units=450)
    assert UploadResult.model_validate_json(result.model_dump_json()) == result
    with pytest.raises(InputError, match="format"):
        UploadOptions(video_id=VIDEO, format="ass")


@pytest.mark.parametrize("value", [VIDEO, f"https://youtu.be/{VIDEO}?t=1", f"https://m.youtube.com/watch?v={VIDEO}",
                                   f"https://www.youtube.com/shorts/{VIDEO}", f"https://www.youtube.com/live/{VIDEO}"])
def test_video_id_from_ids_and_urls(value):
    assert yt.video_id_from(value) == VIDEO


@pytest.mark.parametrize("value", ["", "short", "https://example.com/watch?v=dQw4w9WgXcQ", "https://youtu.be/"])
def test_video_id_rejects_other_input(value):
    with pytest.raises(InputError):
        yt.video_id_from(value)


def test_build_service_with_credentials_needs_no_network():
    from google.oauth2.credentials import Credentials

    service = yt.build_service(Credentials(token="t"))
    request = service.captions().list(part="snippet", videoId=VIDEO)
    assert request.method == "GET" and "videoId=" + VIDEO in request.uri


# -- OAuth -------------------------------------------------------------------------------------

class FakeTokenEndpoint:
    """Answers requests sent through any requests.Session, recording what was posted."""

    def __init__(self, *answers: tuple[int, dict]):
        self.answers = list(answers)
        self.posted: list[requests.PreparedRequest] = []

    def send(self, adapter, request, **kwargs):
        assert request.url == TOKEN_URI, f"unexpected request to {request.url}"
        self.posted.append(request)
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def form(self, index: int) -> dict:
        body = self.posted[index].body
        return {k: v[0] for k, v in parse_qs(body.decode() if isinstance(body, bytes) else body).items()}


@pytest.fixture
def token_endpoint(monkeypatch):
    def install(*answers):
        endpoint = FakeTokenEndpoint(*answers)
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                            lambda adapter, request, **kw: endpoint.send(adapter, request, **kw))
        return endpoint
    return install


@pytest.fixture
def client_secrets(tmp_path) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps({"installed": {
        "client_id": "123.apps.googleusercontent.com", "client_secret": "shh", "project_id": "vtx-test",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": TOKEN_URI,
        "redirect_uris": ["http://localhost"]}}))
    return path


def write_token(path: Path, expiry: str = "2020-01-01T00:00:00Z") -> None:
    path.write_text(json.dumps({"token": "old-access", "refresh_token": "refresh-1", "token_uri": TOKEN_URI,
                                "client_id": "123.apps.googleusercontent.com", "client_secret": "shh",
                                "scopes": yt.SCOPES, "expiry": expiry}))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_paste_flow_builds_the_url_and_exchanges_the_pasted_code(tmp_path, client_secrets, token_endpoint):
    endpoint = token_endpoint((200, {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 3599,
                                     "scope": yt.SCOPES[0], "token_type": "Bearer"}))
    shown: list[str] = []

    def paste(prompt):
        state = parse_qs(urlparse(shown[0]).query)["state"][0]
        return f"http://localhost/?state={state}&code=4/0Ab-code&scope={yt.SCOPES[0]}"

    token = tmp_path / "secrets" / "youtube-token.json"
    creds = yt.get_credentials(client_secrets, token, input_fn=paste, display_fn=shown.append, local_server=False)

    query = parse_qs(urlparse(shown[0]).query)
    assert shown[0].startswith("https://accounts.google.com/o/oauth2/auth?")
    assert query["scope"] == ["https://www.googleapis.com/auth/youtube.force-ssl"]
    assert query["redirect_uri"] == ["http://localhost"]
    assert query["access_type"] == ["offline"] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]

    form = endpoint.form(0)
    assert form["grant_type"] == "authorization_code" and form["code"] == "4/0Ab-code"
    assert form["redirect_uri"] == "http://localhost" and form["code_verifier"]

    assert creds.valid and creds.token == "access-1" and creds.refresh_token == "refresh-1"
    assert mode(token) == 0o600
    assert json.loads(token.read_text())["refresh_token"] == "refresh-1"


def test_stored_expired_token_is_refreshed_and_saved_0600(tmp_path, token_endpoint):
    endpoint = token_endpoint((200, {"access_token": "new-access", "expires_in": 3600, "scope": yt.SCOPES[0],
                                     "token_type": "Bearer"}))
    token = tmp_path / "token.json"
    write_token(token)
    os.chmod(token, 0o644)
    creds = yt.get_credentials(None, token, interactive=False)
    assert creds.valid and creds.token == "new-access"
    form = endpoint.form(0)
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "refresh-1"
    assert json.loads(token.read_text())["token"] == "new-access" and mode(token) == 0o600


def test_revoked_token_gives_a_clear_message(tmp_path, token_endpoint):
    token_endpoint((400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    token = tmp_path / "token.json"
    write_token(token)
    with pytest.raises(AuthorizationRequired, match="expired or revoked"):
        yt.get_credentials(None, token, interactive=False)


def test_valid_token_is_used_without_any_request(tmp_path, token_endpoint):
    endpoint = token_endpoint()
    token = tmp_path / "token.json"
    write_token(token, expiry="2999-01-01T00:00:00Z")
    assert yt.get_credentials(None, token, interactive=False).token == "old-access"
    assert endpoint.posted == []


def test_no_token_and_not_interactive_or_no_client_secrets(tmp_path):
    with pytest.raises(AuthorizationRequired, match="sign in once"):
        yt.get_credentials(None, tmp_path / "none.json", interactive=False)
    with pytest.raises(InputError, match="Desktop app"):
        yt.get_credentials(tmp_path / "missing.json", tmp_path / "none.json", input_fn=lambda p: "x",
                           display_fn=lambda url: None, local_server=False)


def test_code_from_paste_variants():
    assert yt.code_from_paste("  4/0Ab-bare  ", "s1") == "4/0Ab-bare"
    assert yt.code_from_paste("http://localhost/?state=s1&code=4/xyz&scope=a", "s1") == "4/xyz"
    with pytest.raises(InputError, match="state mismatch"):
        yt.code_from_paste("http://localhost/?state=old&code=4/xyz", "s1")
    with pytest.raises(InputError, match="access_denied"):
        yt.code_from_paste("http://localhost/?error=access_denied&state=s1", "s1")
    with pytest.raises(InputError, match="nothing was pasted"):
        yt.code_from_paste("   ", "s1")


def authorized_service(*responses):
    """The service as built from credentials, with the HTTP layer (token refresh included) mocked."""
    import datetime

    from google.oauth2.credentials import Credentials
    from google_auth_httplib2 import AuthorizedHttp

    creds = Credentials(token="old-access", refresh_token="refresh-1", token_uri=TOKEN_URI,
                        client_id="123.apps.googleusercontent.com", client_secret="shh", scopes=yt.SCOPES,
                        expiry=datetime.datetime(2020, 1, 1))
    http = HttpMockSequence(list(responses))
    return yt.build_service(http=AuthorizedHttp(creds, http=http)), http


def test_upload_refreshes_an_expired_token_before_calling_the_api(vtt):
    service, http = authorized_service(ok({"access_token": "new-access", "expires_in": 3600}),
                                       ok({"items": []}), ok({"id": "NEW1"}))
    result = yt.upload_captions(vtt, UploadOptions(video_id=VIDEO), service=service)
    assert result.caption_id == "NEW1"
    (token_uri, _, token_body, _), (_, _, _, list_headers), _ = http.request_sequence
    assert token_uri == TOKEN_URI and b"grant_type=refresh_token" in token_body
    assert list_headers["authorization"] == "Bearer new-access"


def test_upload_with_a_revoked_token_gives_a_clear_message(vtt, tmp_path):
    revoked = ({"status": "400", "content-type": "application/json"},
               json.dumps({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    service, http = authorized_service(revoked)
    with pytest.raises(AuthorizationRequired, match="expired or revoked"):
        yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, token_path=tmp_path / "t.json"), service=service)


def test_dry_run_uses_a_working_stored_token_to_list(vtt, tmp_path, monkeypatch, token_endpoint):
    token_endpoint()  # a valid token needs no refresh: any token request would fail this test
    token = tmp_path / "token.json"
    write_token(token, expiry="2999-01-01T00:00:00Z")
    service, http = service_with(ok({"items": [track("EN1", "en", "vtx")]}))
    built = []
    monkeypatch.setattr(yt, "build_service", lambda credentials=None, http=None: built.append(credentials) or service)
    result = yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, dry_run=True, token_path=token, interactive=False))
    assert built[0].token == "old-access"
    assert result.action == "update" and len(http.request_sequence) == 1


def test_dry_run_with_a_revoked_token_still_writes_the_request(vtt, tmp_path, token_endpoint):
    token_endpoint((400, {"error": "invalid_grant"}))
    token = tmp_path / "token.json"
    write_token(token)
    result = yt.upload_captions(vtt, UploadOptions(video_id=VIDEO, dry_run=True, token_path=token, interactive=False))
    assert result.dry_run and result.action == "insert" and Path(result.request_path).is_file()
    assert "captions.list not called" in result.message


# -- several tracks: the original and its translations -------------------------------------------

@pytest.fixture
def tracks(tmp_path) -> list:
    made = []
    for language, text in (("es", "Hola, soy Diane."), ("en", "Hi, this is Diane."), ("fr", "Bonjour, c'est Diane.")):
        path = tmp_path / ("transcript.vtt" if language == "es" else f"transcript.{language}.vtt")
        path.write_text(f"WEBVTT\n\n00:00.500 --> 00:02.000\n<v Diane>{text}\n", encoding="utf-8")
        made.append((path, language))
    return made


def test_each_track_is_updated_or_inserted_in_its_language_after_one_list(tracks):
    existing = [track("ES1", "es", "vtx"), track("EN1", "en", "vtx"), track("FR0", "fr", "other"),
                track("ASRFR", "fr", "", kind="asr")]
    service, http = service_with(ok({"items": existing}), ok(track("ES1", "es", "vtx")), ok(track("EN1", "en", "vtx")),
                                 ok({"id": "FR1"}))
    result = yt.upload_caption_tracks(tracks, UploadOptions(video_id=VIDEO), service=service)

    assert [(r.language, r.action, r.caption_id) for r in result.results] == [
        ("es", "update", "ES1"), ("en", "update", "EN1"), ("fr", "insert", "FR1")]
    methods = [m for _, m, _, _ in http.request_sequence]
    assert methods == ["GET", "PUT", "PUT", "POST"], "one captions.list, then one request per track"
    bodies = [b.decode() if isinstance(b, bytes) else b for _, _, b, _ in http.request_sequence[1:]]
    assert '"id": "ES1"' in bodies[0] and "Hola" in bodies[0]
    assert '"id": "EN1"' in bodies[1] and "Hi, this is Diane." in bodies[1]
    metadata = json.loads(bodies[2].split("\n\n", 2)[1].split("\n--", 1)[0])
    assert metadata["snippet"]["language"] == "fr" and metadata["snippet"]["name"] == "vtx"
    assert "Bonjour" in bodies[2]
    assert sum(r.quota_units for r in result.results) == 50 + 450 + 450 + 400
    assert "3 caption tracks" in result.message and "1350 quota units" in result.message


def test_uploading_again_updates_every_track_and_never_duplicates(tracks):
    first, http1 = service_with(ok({"items": []}), ok({"id": "ES1"}), ok({"id": "EN1"}), ok({"id": "FR1"}))
    yt.upload_caption_tracks(tracks, UploadOptions(video_id=VIDEO), service=first)
    now = [track("ES1", "es", "vtx"), track("EN1", "en", "vtx"), track("FR1", "fr", "vtx")]
    again, http2 = service_with(ok({"items": now}), ok(now[0]), ok(now[1]), ok(now[2]))
    result = yt.upload_caption_tracks(tracks, UploadOptions(video_id=VIDEO), service=again)
    assert [m for _, m, _, _ in http1.request_sequence] == ["GET", "POST", "POST", "POST"]
    assert [m for _, m, _, _ in http2.request_sequence] == ["GET", "PUT", "PUT", "PUT"]
    assert [r.action for r in result.results] == ["update"] * 3


def test_dry_run_writes_every_tracks_request(tracks):
    result = yt.upload_caption_tracks(tracks, UploadOptions(video_id=VIDEO, dry_run=True))
    records = [json.loads(Path(r.request_path).read_text()) for r in result.results]
    assert len({r.request_path for r in result.results}) == 3
    assert [r["language"] for r in records] == ["es", "en", "fr"]
    assert [r["body"]["snippet"]["language"] for r in records] == ["es", "en", "fr"]
    assert [r["media"]["path"] for r in records] == [str(p) for p, _ in tracks]
    assert all(str(Path(r.request_path).name) in result.message for r in result.results)


def test_two_tracks_in_one_language_or_a_missing_file_are_refused_before_any_request(tracks, tmp_path):
    service, http = service_with()
    with pytest.raises(InputError, match="same language"):
        yt.upload_caption_tracks([tracks[0], (tracks[1][0], "es")], UploadOptions(video_id=VIDEO), service=service)
    with pytest.raises(InputError, match="not found"):
        yt.upload_caption_tracks([tracks[0], (tmp_path / "transcript.de.vtt", "de")], UploadOptions(video_id=VIDEO),
                                 service=service)
    assert http.request_sequence == []


def test_upload_command_sends_the_translations_beside_the_subtitles(tracks, tmp_path, capsys):
    from vtxlib import cli

    original = tracks[0][0]
    (original.parent / "transcript.vtt.youtube-request.json").unlink(missing_ok=True)
    status = cli.main(["upload", str(original), "--video", VIDEO, "--language", "es", "--with-translations",
                       "--dry-run", "--workspace", str(tmp_path / "ws")])
    out = capsys.readouterr().out
    assert status == 0
    assert [line.split(" request")[0] for line in out.splitlines() if line.startswith("dry run: ")
            and "request written" in line] == ["dry run: es", "dry run: en", "dry run: fr"]
    languages = sorted(json.loads(p.read_text())["language"] for p in original.parent.glob("*.youtube-request.json"))
    assert languages == ["en", "es", "fr"]


def test_upload_command_takes_the_language_of_the_transcript_beside_the_subtitles(tracks, tmp_path, capsys):
    from vtxlib import cli
    from vtxlib.types import AlignedTranscript, Document, MediaInfo

    original = tracks[0][0]  # Spanish text, no --language: it was uploaded as English
    document = Document(media=MediaInfo(id="m", title="talk", source="talk.mp4"), transcript=AlignedTranscript(turns=[]))
    document.language = "es"
    (original.parent / "transcript.json").write_text(document.model_dump_json(), encoding="utf-8")
    assert cli.main(["upload", str(original), "--video", VIDEO, "--dry-run", "--workspace", str(tmp_path / "ws")]) == 0
    assert "caption language: es (from transcript.json" in capsys.readouterr().out
    request = json.loads((original.parent / "transcript.vtt.youtube-request.json").read_text())
    assert request["body"]["snippet"]["language"] == "es"

    (original.parent / "transcript.json").unlink()  # a VTT alone: English, and the line says why and how to choose
    assert cli.main(["upload", str(original), "--video", VIDEO, "--dry-run", "--workspace", str(tmp_path / "ws")]) == 0
    assert "caption language: en (default: no transcript.json beside transcript.vtt; --language xx to choose)" \
        in capsys.readouterr().out
