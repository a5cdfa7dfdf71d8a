"""upload: the caption tracks onto the YouTube video named by ``upload_video`` (update, never
duplicate): the original and each translated track."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ..types import MediaInfo
from .base import RunContext, RunState, Stage

log = logging.getLogger("vtxlib.pipeline")


class UploadStage(Stage):
    name = "upload"
    inputs = ("subtitles",)

    def compute(self, ctx: RunContext, state: RunState) -> None:
        if not ctx.options.upload_video:
            return
        document, outputs = state.document, state.get("subtitles")
        original = ctx.options.upload_language or document.language or "en"
        tracks = [(Path(outputs["vtt"]), original)] + [
            (Path(outputs[f"vtt.{t.language}"]), t.language) for t in document.translations]
        state.put(self.name, self.upload(ctx, state.media, tracks))

    def upload(self, ctx: RunContext, media: MediaInfo, subtitles):
        """SUBTITLES: a path, or ``[(path, language or None for upload_language)]``."""
        from ..youtube import CLIENT_SECRETS_FILE, TOKEN_FILE, UploadOptions, upload_caption_tracks

        opts = ctx.options
        video = media.source if opts.upload_video == "source" else opts.upload_video
        secrets = ctx.workspace.secrets_dir
        options = UploadOptions(
            video_id=video, language=opts.upload_language or "en", dry_run=opts.upload_dry_run,
            client_secrets=Path(opts.upload_client_secrets) if opts.upload_client_secrets
            else secrets / CLIENT_SECRETS_FILE,
            token_path=secrets / TOKEN_FILE,
            interactive=bool(sys.stdin and sys.stdin.isatty()) and not opts.upload_dry_run)
        record = {k: v for k, v in options.model_dump(mode="json").items() if k not in ("client_secrets", "token_path")}
        tracks = [(Path(subtitles), None)] if isinstance(subtitles, (str, Path)) else list(subtitles)
        with ctx.timed(self.name, "youtube", record):
            result = upload_caption_tracks([(path, language or opts.upload_language) for path, language in tracks],
                                           options)
        log.info("upload: %s", result.message)
        return result
