"""Captions to YouTube from a notebook: the original track and each translation."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .credentials import youtube_files
from .drive import open_workspace


def upload_captions(result, video_id: str = "", language: str = "", name: str = "vtx",
                    fmt: str = "vtt", is_draft: bool = False, dry_run: bool = True, workspace: str = "",
                    visible_speaker: str = "chevrons"):
    """Upload the subtitles of RESULT (a ``stage_run("translate")`` result) to YouTube: the original
    in LANGUAGE (empty: the transcript's language) and each translated track in its own language,
    each as its own caption track (a :class:`~vtxlib.youtube.TracksUploadResult`).

    VIDEO_ID may be empty when the source was a YouTube URL. OAuth files live in the workspace's
    secrets folder (``client_secret.json``; the token is stored there with mode 0600). A VTT is
    uploaded with the speaker's name as visible text where the speaker changes (YouTube shows no
    voice tag): ``visible_speaker`` "chevrons" (``>> NAME:``, YouTube's convention), "name" or "off";
    that copy is written as ``youtube.transcript.vtt`` beside ``transcript.vtt`` (translated tracks
    go as written: their cues are the original's as the run cut them).
    """
    from ..youtube import UploadOptions, upload_caption_tracks

    ws = open_workspace(workspace)
    video = (video_id or "").strip() or _youtube_source(result.media.source)
    if not video:
        raise InputError("set VIDEO_ID: the source is not a YouTube video, so the video to caption "
                         "must be given (its 11-character id or URL)")
    if fmt not in result.outputs:
        raise InputError(f"no .{fmt} subtitles were written; run 06_subtitles first")
    files = youtube_files(ws)
    original = (language or "").strip() or result.document.language or "en"
    options = UploadOptions(video_id=video, language=original, name=name, is_draft=is_draft, format=fmt,
                            dry_run=dry_run, client_secrets=files["client_secrets"], token_path=files["token"],
                            interactive=not dry_run)
    tracks = [(_youtube_copy(result, fmt, visible_speaker), original)] + _translated_tracks(result, fmt)
    return upload_caption_tracks(tracks, options)


def _translated_tracks(result, fmt: str) -> list[tuple[Path, str]]:
    return [(Path(result.outputs[f"{fmt}.{t.language}"]), t.language) for t in result.document.translations
            if f"{fmt}.{t.language}" in result.outputs]


def _youtube_copy(result, fmt: str, visible_speaker: str) -> Path:
    path = Path(result.outputs[fmt])
    if fmt != "vtt" or visible_speaker == "off":
        return path
    from ..subtitles import SubtitleOptions, VTTWriter
    from ..workspace import atomic_write_text

    text = VTTWriter(SubtitleOptions(visible_speaker=visible_speaker)).render(result.document)
    return atomic_write_text(path.with_name(f"youtube.{path.name}"), text)


def _youtube_source(source: str) -> str:
    from ..youtube import video_id_from

    try:
        return video_id_from(source)
    except InputError:
        return ""
