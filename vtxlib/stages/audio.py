"""audio: one ffmpeg decode to 16 kHz mono PCM wav, read by every later stage."""

from __future__ import annotations

from pathlib import Path

from ..audio import AudioOptions, decode, ffmpeg_version
from ..types import AudioFile, MediaInfo
from ..workspace import remove_stale_temporaries
from .base import Ref, RunContext, RunState, Stage


class AudioStage(Stage):
    name = "audio"
    options_model = AudioOptions
    output = AudioFile

    def compute(self, ctx: RunContext, state: RunState) -> None:
        state.put(self.name, *self.decode(ctx, state.media))

    def decode(self, ctx: RunContext, media: MediaInfo) -> tuple[AudioFile, Ref]:
        options = AudioOptions()
        target = ctx.workspace.audio_path(media.id)
        workspace = ctx.workspace
        remove_stale_temporaries(target.parent, ctx.started)  # a decode killed mid-write

        def store(audio: AudioFile) -> dict:
            return {**audio.model_dump(mode="json"), "path": workspace.relative(audio.path)}

        def load(data: dict) -> AudioFile:
            return AudioFile.model_validate({**data, "path": str(workspace.absolute(data["path"]))})

        return ctx.cached(media.id, self.name, "ffmpeg", options.model_dump(mode="json"), [media.id],
                          lambda: decode(Path(media.path), target, options), load,
                          extra_versions={"ffmpeg": ffmpeg_version()}, store=store,
                          files=lambda audio: [Path(audio.path)])
