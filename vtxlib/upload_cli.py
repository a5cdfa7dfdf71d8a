"""``python -m vtxlib upload SUBTITLES --video ID``: put a caption track on a YouTube video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("upload", help="upload a .vtt/.srt as a YouTube caption track (update, never duplicate)")
    p.add_argument("subtitles", type=Path, help="transcript.vtt or transcript.srt")
    p.add_argument("--video", required=True, help="YouTube video id or URL (you must own the video)")
    p.add_argument("--language", default="en", help="caption language (default en)")
    p.add_argument("--name", default="vtx", help="caption track name (default vtx)")
    p.add_argument("--draft", action="store_true", help="upload as a draft (not shown to viewers)")
    p.add_argument("--dry-run", action="store_true", help="write the request that would be sent; send nothing")
    p.add_argument("--client-secrets", type=Path, default=None, help="OAuth client JSON (Desktop app)")
    p.add_argument("--workspace", type=Path, default=None, help="workspace whose secrets/ holds the token")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(handler=cmd_upload)


def cmd_upload(args: argparse.Namespace) -> int:
    from .workspace import Workspace
    from .youtube import UploadOptions, upload_captions

    workspace = Workspace(args.workspace)
    fmt = "srt" if args.subtitles.suffix.lower() == ".srt" else "vtt"
    options = UploadOptions(video_id=args.video, language=args.language, name=args.name, is_draft=args.draft,
                            format=fmt, dry_run=args.dry_run, client_secrets=args.client_secrets,
                            token_path=workspace.secrets_dir / "youtube_token.json",
                            interactive=sys.stdin is not None and sys.stdin.isatty())
    result = upload_captions(args.subtitles, options)
    sys.stdout.write(f"{result.message}\n")
    if result.request_path:
        sys.stdout.write(f"dry run: request written to {result.request_path}\n")
    return 0
