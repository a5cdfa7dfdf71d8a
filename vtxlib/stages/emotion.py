"""emotion: one emotion per aligned turn (vtxlib/emotion/); ``--emotion off`` passes the turns on."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from ..capabilities import LanguageSpecific
from ..types import AlignedTranscript, AudioFile, Emotion, MediaInfo, VtxModel
from .align import build_document
from .base import Ref, RunContext, RunState, Stage
from .cache import model_files_of


class EmotionList(VtxModel):
    """The emotion stage's artifact: one (optional) emotion per aligned turn."""

    items: list[Optional[Emotion]] = Field(alias="emotions")


class EmotionStage(Stage):
    name = "emotion"
    inputs = ("audio", "align")
    output = EmotionList

    def compute(self, ctx: RunContext, state: RunState) -> None:
        state.put(self.name, *self.classify(ctx, state.media, state.get("audio"), state.get("align"),
                                            state.refs["align"]))
        state.document = build_document(ctx, state, state.get(self.name))

    def classify(self, ctx: RunContext, media: MediaInfo, audio: AudioFile, aligned: AlignedTranscript,
                 align_ref: Ref) -> tuple[AlignedTranscript, Ref]:
        """The aligned turns with their emotions (and the artifact's ref)."""
        if ctx.options.emotion == "off":
            return aligned, align_ref
        from ..emotion.stage import apply_emotions

        inputs = [align_ref.digest]
        reused = ctx.cache.reuse_recorded(ctx, self.name, media.id, inputs, self.load)
        if reused is None:
            with ctx.backends.released_after(ctx, self.name):
                backend = ctx.backends.get(ctx, self.name)
                if isinstance(backend, LanguageSpecific):
                    backend = backend.for_language(aligned.language)  # the embedded lexicon is English only

                def compute() -> EmotionList:
                    return EmotionList(emotions=backend.classify_turns(audio, aligned.turns,
                                                                       ctx.progress(self.name)))

                options = backend.options_dict()
                reused = ctx.cached(media.id, self.name, backend.name, options, inputs, compute, self.load,
                                    model_files=model_files_of(backend, options))
                ctx.cache.record_backend(ctx, media.id, self.name, backend.name, reused[1], inputs)
        emotions, ref = reused
        return apply_emotions(aligned, emotions.items), ref
