"""speech: detected once, for ASR and diarization. A diarizer that detects speech itself (the
embedded one: segmentation-3.0, which also finds overlap) detects it here, and its regions are
what ASR decodes; without one, Silero's regions."""

from __future__ import annotations

from typing import Any

from ..capabilities import SpeechDetector, takes_speech
from ..language import AUTO, forced
from ..types import AudioFile, MediaInfo
from ..vad import SpeechOptions, SpeechRegions, detect_speech
from .base import Ref, RunContext, RunState, Stage


class SpeechStage(Stage):
    name = "speech"
    inputs = ("audio",)
    options_model = SpeechOptions
    output = SpeechRegions

    def compute(self, ctx: RunContext, state: RunState) -> None:
        """Only when a stage that follows reads the regions (an ASR or diarizer that takes them, or
        the language stage); a result ``auto`` reuses needs none."""
        audio = [state.refs["audio"].digest]
        computed = [s for s in ("asr", "diarize") if not ctx.cache.recorded_hit(ctx, s, state.media.id, audio)]
        if ctx.options.language != AUTO:
            ctx.language = forced(ctx.options.language)
        detecting = "asr" in computed and detects_language(ctx)
        if detecting or any(takes_speech(ctx.backends.get(ctx, stage)) for stage in computed):
            detector = ctx.backends.get(ctx, "diarize") if "diarize" in computed else None
            state.put(self.name, *self.detect(ctx, state.media, state.get("audio"), state.refs["audio"], detector))

    def detect(self, ctx: RunContext, media: MediaInfo, audio: AudioFile, audio_ref: Ref,
               diarizer: Any = None) -> tuple[SpeechRegions, Ref]:
        if isinstance(diarizer, SpeechDetector):
            options = diarizer.speech_options()
            return ctx.cached(media.id, self.name, diarizer.speech_backend, options, [audio_ref.digest],
                              lambda: diarizer.detect_speech(audio, ctx.progress(self.name)),
                              SpeechRegions.model_validate)
        options = SpeechOptions()
        return ctx.cached(media.id, self.name, "silero", options.cache_dict(), [audio_ref.digest],
                          lambda: detect_speech(audio.path, options), SpeechRegions.model_validate)


def detects_language(ctx: RunContext) -> bool:
    """Whether the language stage identifies the language: --language auto, and an ASR backend that
    is chosen for the language (not a given one) or takes it (``takes_language``)."""
    from ..capabilities import takes_language

    if ctx.options.language != AUTO:
        return False
    return "asr" not in ctx.backends.given or takes_language(ctx.backends.given["asr"])
