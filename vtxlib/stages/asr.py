"""asr: words with their times (vtxlib/asr/), in the language stage's language."""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..capabilities import takes_language, takes_speech
from ..types import AudioFile, LanguageDetection, MediaInfo, Transcript
from ..vad import SpeechRegions
from .base import Ref, RunContext, RunState, Stage
from .cache import GPU_BACKENDS, model_files_of

log = logging.getLogger("vtxlib.pipeline")

#: ``auto`` on a CPU-only runtime warns past this length; whisper-cpu's whole-pipeline speed measured on
#: a shared 2-core machine (README, "Memory against length") was 12-16x real time.
LONG_CPU_AUDIO_SECONDS = 20 * 60
CPU_REAL_TIME_FACTOR = 12.0


class AsrStage(Stage):
    name = "asr"
    inputs = ("audio", "speech", "language")
    output = Transcript

    def compute(self, ctx: RunContext, state: RunState) -> None:
        state.put(self.name, *self.transcribe(ctx, state.media, state.get("audio"), state.refs["audio"],
                                              state.get("speech"), state.refs.get("speech")))

    def transcribe(self, ctx: RunContext, media: MediaInfo, audio: AudioFile, audio_ref: Ref,
                   speech: Optional[SpeechRegions] = None,
                   speech_ref: Optional[Ref] = None) -> tuple[Transcript, Ref]:
        inputs = [audio_ref.digest]
        reused = ctx.cache.reuse_recorded(ctx, self.name, media.id, inputs, Transcript.model_validate)
        if reused is None:
            with ctx.backends.released_after(ctx, self.name):
                backend = ctx.backends.get(ctx, self.name)
                options = backend.options_dict()
                extra, speech_inputs = speech_input(backend, speech, speech_ref)
                options, extra = language_input(backend, options, extra, ctx.language)

                def compute() -> Transcript:
                    warn_if_slow_on_cpu(ctx, backend.name, audio)
                    return backend.transcribe(audio, ctx.progress(self.name), **extra)

                reused = ctx.cached(media.id, self.name, backend.name, options, inputs + speech_inputs, compute,
                                    Transcript.model_validate, model_files=model_files_of(backend, options))
                ctx.cache.record_backend(ctx, media.id, self.name,
                                         (backend.name == "auto" and reused[0].backend) or backend.name,
                                         reused[1], inputs + speech_inputs, routed=backend.name == "auto")
        result, ref = reused
        if result.routing is not None and self.name in ctx.records:  # auto with --allow-cloud: name the one used
            ctx.records[self.name].backend = f"{result.backend} (auto)"
        ctx.note_model(self.name, result.model, result.model_version)
        return with_language(result, ctx.language), ref


def warn_if_slow_on_cpu(ctx: RunContext, backend: str, audio: AudioFile) -> None:
    if ctx.options.asr == "auto" and backend not in GPU_BACKENDS and audio.duration > LONG_CPU_AUDIO_SECONDS:
        log.warning("asr: auto chose %s (no CUDA GPU) for %.1f h of audio: about %.0f min on a 2-core CPU; "
                    "a GPU runtime takes minutes", backend, audio.duration / 3600,
                    audio.duration / CPU_REAL_TIME_FACTOR / 60)


def speech_input(backend: Any, speech: Optional[SpeechRegions], ref: Optional[Ref]) -> tuple[dict, list[str]]:
    """(keyword arguments, input digests) that hand the speech stage's regions to a backend that takes them."""
    if speech is None or ref is None or not takes_speech(backend):
        return {}, []
    return {"speech": speech}, [ref.digest]


def language_input(backend: Any, options: dict, extra: dict,
                   detection: Optional[LanguageDetection]) -> tuple[dict, dict]:
    """(options, keyword arguments) that hand the language stage's result to a backend that takes it
    (``takes_language``): the language decoded (and, when the speech mixes languages, the stretch of
    each) are part of the ASR's cache key."""
    if detection is None or detection.language is None or not takes_language(backend):
        return options, extra
    from ..language import mixed

    options = {**options, "language": detection.language}
    if mixed(detection):
        options["language_spans"] = [[s.language, s.start, s.end] for s in detection.spans]
    return options, {**extra, "language": detection}


def with_language(transcript: Transcript, detection: Optional[LanguageDetection]) -> Transcript:
    """The transcript labelled with how its language was found."""
    if detection is None or detection.language is None:
        return transcript
    return transcript.model_copy(update={
        "language": detection.language, "language_probability": detection.probability,
        "language_source": detection.source, "language_detection": detection})
