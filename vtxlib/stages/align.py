"""align: the transcript's words into the diarization's turns (vtxlib/align.py); the run's document
is assembled from here on."""

from __future__ import annotations

from ..types import AlignedTranscript, Diarization, Document, MediaInfo, Transcript
from .base import Ref, RunContext, RunState, Stage


class AlignStage(Stage):
    name = "align"
    inputs = ("asr", "diarize")
    output = AlignedTranscript

    def compute(self, ctx: RunContext, state: RunState) -> None:
        state.put(self.name, *self.align(ctx, state.media, state.get("asr"), state.get("diarize"),
                                         [state.refs[stage] for stage in self.inputs]))
        state.document = build_document(ctx, state, state.get(self.name))

    def align(self, ctx: RunContext, media: MediaInfo, transcript: Transcript, diarization: Diarization,
              input_refs: list[Ref]) -> tuple[AlignedTranscript, Ref]:
        from ..align import AlignOptions, align

        options = AlignOptions()
        return ctx.cached(media.id, self.name, "vtxlib", options.model_dump(mode="json"),
                          [r.digest for r in input_refs], lambda: align(transcript, diarization, options),
                          AlignedTranscript.model_validate)


def build_document(ctx: RunContext, state: RunState, aligned: AlignedTranscript) -> Document:
    """The document of the run so far: the aligned turns, the transcript's language and extras, the
    voices matched."""
    media = state.media.model_copy(update={"duration": round(state.get("audio").duration, 3)})
    document = Document(media=media, transcript=aligned, stages=ctx.stage_records())
    transcript = state.get("asr")
    if transcript is not None:
        document.language_probability = transcript.language_probability
        document.language_source = transcript.language_source
        document.language_detection = transcript.language_detection
        # what a hosted recognizer returned besides the words
        asr_extras = transcript.extras
        document.extras.assemblyai, document.extras.gemini_asr = asr_extras.assemblyai, asr_extras.gemini_asr
        document.extras.asr_routing = transcript.routing
    if ctx.enrollment is not None:
        from ..voices import names_of

        document.voice_matches = list(state.voice_matches)
        document.speaker_names = names_of(state.voice_matches, document.speakers)
    return document
