"""diarize: who spoke when (vtxlib/diarize/), beside ASR when both can run at once; with --voices,
names from enrolled clips matched in the diarizer's own embedding space."""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..capabilities import VoiceEmbedding, takes_transcript
from ..errors import InputError
from ..language import AUTO
from ..options import PipelineOptions
from ..types import AudioFile, Diarization, MediaInfo, Transcript, VoiceMatch
from ..vad import SpeechRegions
from .asr import speech_input
from .base import Ref, RunContext, RunState, Stage
from .cache import model_files_of

log = logging.getLogger("vtxlib.pipeline")


class DiarizeStage(Stage):
    name = "diarize"
    inputs = ("audio", "speech")
    output = Diarization
    beside = "asr"

    def check(self, ctx: RunContext) -> None:
        """With --voices, check every clip before any other work (a bad clip must not cost a run)."""
        if not ctx.options.voices:
            return
        from ..voices import check_clips

        backend = ctx.backends.get(ctx, self.name)
        if not isinstance(backend, VoiceEmbedding):
            raise InputError(f"--voices needs speaker embeddings from the diarizer: use --diarizer embedded or "
                             f"pyannote (not {backend.name})")
        ctx.voice_clips = check_clips(ctx.options.voices, ctx.workspace.voices_dir)

    def requires(self, ctx: RunContext) -> tuple[str, ...]:
        """After ASR when its turns come with the transcript; after the language stage unless that
        may run while diarization does (:func:`language_beside_diarization`)."""
        language = () if language_beside_diarization(ctx.options) else ("language",)
        transcript = ("asr",) if ctx.backends.diarizer_takes_transcript(ctx) else ()
        return self.inputs + language + transcript

    def may_run_beside(self, ctx: RunContext, state: RunState) -> bool:
        """ASR and diarization both read only the audio: they run side by side.

        The CPU ASR decodes on one thread (faster than two on a 2-core machine), which leaves a core
        for diarization (or the GPU ASR leaves the CPU to the embedded diarizer). Two GPU models are
        not run together: they would share one device's memory. A result ``auto`` reuses needs no
        second core.
        """
        audio = [state.refs["audio"].digest]
        return not (any(ctx.cache.recorded_hit(ctx, stage, state.media.id, audio) for stage in ("asr", "diarize"))
                    or ctx.backends.diarizer_takes_transcript(ctx) or ctx.backends.both_on_gpu(ctx))

    def compute(self, ctx: RunContext, state: RunState) -> None:
        from_asr = ctx.backends.diarizer_takes_transcript(ctx)
        result, ref = self.diarize(ctx, state.media, state.get("audio"), state.refs["audio"], state.get("speech"),
                                   state.refs.get("speech"),
                                   (state.get("asr"), state.refs["asr"]) if from_asr else None)
        state.put(self.name, result, ref)
        state.voice_matches = match_voices(ctx, result)

    def diarize(self, ctx: RunContext, media: MediaInfo, audio: AudioFile, audio_ref: Ref,
                speech: Optional[SpeechRegions] = None, speech_ref: Optional[Ref] = None,
                transcript: Optional[tuple[Transcript, Ref]] = None) -> tuple[Diarization, Ref]:
        """TRANSCRIPT (with its ref): for a diarizer whose turns came with the transcript (AssemblyAI's)."""
        inputs = [audio_ref.digest] + ([transcript[1].digest] if transcript else [])
        # enrolled voices are matched in the diarizer's own embedding space: no reuse across backends
        reused = None if ctx.voice_clips else \
            ctx.cache.reuse_recorded(ctx, self.name, media.id, inputs, Diarization.model_validate)
        if reused is None:
            with ctx.backends.released_after(ctx, self.name):
                backend = ctx.backends.get(ctx, self.name)
                count = ctx.options.speaker_count()
                options = {**backend.options_dict(), **count.model_dump()}
                extra, speech_inputs = speech_input(backend, speech, speech_ref)
                if transcript is not None and takes_transcript(backend):
                    extra["transcript"] = transcript[0]
                reused = ctx.cached(media.id, self.name, backend.name, options, inputs + speech_inputs,
                                    lambda: backend.diarize(audio, count, ctx.progress(self.name), **extra),
                                    Diarization.model_validate, model_files=model_files_of(backend, options))
                ctx.cache.record_backend(ctx, media.id, self.name, backend.name, reused[1], inputs + speech_inputs)
                enroll_voices(ctx, backend)
        result, ref = reused
        ctx.note_model(self.name, result.model, result.model_version)
        return result, ref


def language_beside_diarization(options: PipelineOptions) -> bool:
    """Whether the language stage may run while diarization does (it then costs no time on a
    two-core machine): only when nothing it finds can stop the run, i.e. the ASR model is chosen
    for the language (``asr_model`` auto) and the backend is not fixed to NeMo. Otherwise it runs
    first, so that a model that cannot transcribe the language stops the run before any long work."""
    return options.language == AUTO and options.asr_model in (None, "", "auto") and options.asr != "nemo"


def enroll_voices(ctx: RunContext, backend: Any) -> None:
    """Voiceprints in the diarizer's own space, while its model is loaded (cached per clip)."""
    if ctx.voice_clips is not None and ctx.enrollment is None:
        from ..voices import enroll

        ctx.enrollment = enroll(ctx.voice_clips, backend.voice_embedder())


def match_voices(ctx: RunContext, diarization: Diarization) -> list[VoiceMatch]:
    if ctx.enrollment is None:
        return []
    from ..voices import match_speakers

    if not diarization.speaker_embeddings and diarization.speakers:
        raise InputError("--voices: this diarization has no speaker embeddings; rerun with --force diarize")
    matches = match_speakers(diarization.speaker_embeddings, ctx.enrollment)
    log.info("voices: %s", ", ".join(f"{m.speaker}={m.name or '-'} ({m.candidate} {m.score})" for m in matches))
    return matches
