"""``python -m vtxlib upload SUBTITLES --video ID``: put a caption track on a YouTube video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("upload", help="upload a .vtt/.srt as a YouTube caption track (update, never duplicate)")
    p.add_argument("subtitles", type=Path, help="transcript.vtt or transcript.srt")
    p.add_argument("--video", required=True, help="YouTube video id or URL (you must own the video)")
    p.add_argument("--language", default=None,
                   help="caption language (default: the language of the transcript.json beside SUBTITLES, "
                        "else en)")
    p.add_argument("--with-translations", action="store_true",
                   help="also upload every translated track beside SUBTITLES (transcript.<lang>.vtt), each "
                        "in its own language")
    p.add_argument("--name", default="vtx", help="caption track name (default vtx)")
    p.add_argument("--draft", action="store_true", help="upload as a draft (not shown to viewers)")
    p.add_argument("--dry-run", action="store_true", help="write the request that would be sent; send nothing")
    p.add_argument("--client-secrets", type=Path, default=None, help="OAuth client JSON (Desktop app)")
    p.add_argument("--workspace", type=Path, default=None, help="workspace whose secrets/ holds the token")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=cmd_upload)


def cmd_upload(args: argparse.Namespace) -> int:
    from .workspace import Workspace
    from .youtube import UploadOptions, upload_caption_tracks

    workspace = Workspace(args.workspace)
    fmt = "srt" if args.subtitles.suffix.lower() == ".srt" else "vtt"
    language, whence = caption_language(args.subtitles, args.language)
    sys.stdout.write(f"caption language: {language} ({whence})\n")
    options = UploadOptions(video_id=args.video, language=language, name=args.name, is_draft=args.draft,
                            format=fmt, dry_run=args.dry_run, client_secrets=args.client_secrets,
                            token_path=workspace.secrets_dir / "youtube_token.json",
                            interactive=sys.stdin is not None and sys.stdin.isatty())
    tracks = [(args.subtitles, language)] + (translated_tracks(args.subtitles) if args.with_translations else [])
    result = upload_caption_tracks(tracks, options)
    sys.stdout.write(f"{result.message}\n")
    for track in result.results:
        if track.request_path:
            sys.stdout.write(f"dry run: {track.language} request written to {track.request_path}\n")
    return 0


def translated_tracks(subtitles: Path) -> list[tuple[Path, str]]:
    """``transcript.<lang>.<ext>`` files beside SUBTITLES (``transcript.<ext>``), with their language."""
    stem, ext = subtitles.name.split(".", 1)[0], subtitles.suffix
    found = []
    for path in sorted(subtitles.parent.glob(f"{stem}.*{ext}")):
        language = path.name[len(stem) + 1:-len(ext)]
        if path != subtitles and language and "." not in language:
            found.append((path, language))
    return found


def caption_language(subtitles: Path, given: str | None) -> tuple[str, str]:
    """The original track's language and where it came from: --language, else the transcript.json that vtx
    wrote beside SUBTITLES (so a Spanish transcript is not uploaded as English), else en."""
    from .types import Document, DocumentError

    if given:
        return given, "--language"
    beside = subtitles.parent / "transcript.json"
    if not beside.is_file():
        return "en", f"default: no transcript.json beside {subtitles.name}; --language xx to choose"
    try:
        language = Document.load(beside).language
    except DocumentError as e:
        return "en", f"default: {e}; --language xx to choose"
    if not language:
        return "en", f"default: {beside.name} names no language; --language xx to choose"
    return language, f"from {beside.name}; --language xx to choose another"
