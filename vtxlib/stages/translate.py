"""translate: one caption track per target language (``--translate en,fr``), the original's cues
and timings exactly, each with its translated text (vtxlib/translate/). It runs within the subtitles
stage, whatever stage the run stops at: its ``transcript.<lang>.vtt/.srt`` are written into the same
output folder, which is always written whole."""

from __future__ import annotations

import logging
from typing import Optional

from ..types import AudioFile, Document, StageRecord, Translation
from ..workspace import content_digest
from .base import Ref, RunContext, RunState, Stage
from .cache import model_files_of

log = logging.getLogger("vtxlib.pipeline")


class TranslateStage(Stage):
    name = "translate"
    inputs = ("audio", "enhance")
    within = "subtitles"
    output = Translation

    def check(self, ctx: RunContext) -> None:
        """A backend for every target language before any work (else one line naming what would serve)."""
        for target in ctx.options.translate_targets():
            ctx.backends.translator_name(ctx, ctx.options.language, target)

    def compute(self, ctx: RunContext, state: RunState) -> None:
        if not ctx.options.translate_targets():
            return
        from ..subtitles import write_translations

        options = ctx.options.subtitle_options()
        document = state.document
        document.translations = self.translate(ctx, document, state.get("audio"), state.refs.get("audio"), options)
        state.put(self.name, document.translations)
        state.written.update(write_translations(document, state.folder, options))

    def translate(self, ctx: RunContext, document: Document, audio: Optional[AudioFile], audio_ref: Optional[Ref],
                  subtitle_options) -> list[Translation]:
        """One :class:`~vtxlib.types.Translation` per target language (cached per language): the
        cues of the original VTT, each with its translated text."""
        from ..subtitles import cue_digest, cue_id, translation_cues
        from ..translate import CueSource, TranslationRequest

        cues = translation_cues(document, subtitle_options)
        digest = cue_digest(cues)
        source = document.language or ctx.options.language
        sources = [CueSource(id=cue_id(k), speaker=document.display_name(c.speaker), text=c.text, start=c.start,
                             end=c.end, overlap=not c.words) for k, c in enumerate(cues)]
        cues_digest = content_digest([[c.id, c.speaker, c.text, c.start, c.end, c.overlap] for c in sources])
        translations, records = [], []
        for target in ctx.options.translate_targets():
            if source and target == source.lower():
                log.warning("translate: %s is the original's language; no %s track is made", target, target)
                continue
            backend = ctx.backends.translator(ctx.backends.translator_name(ctx, source, target))
            inputs = [digest, cues_digest] + ([audio_ref.digest] if backend.uses_audio and audio_ref else [])
            options = {**backend.options_dict(), "source": source, "target": target}

            def compute(backend=backend, target=target, options=options) -> Translation:
                request = TranslationRequest(cues=sources, source=source, target=target,
                                             audio_path=audio.path if audio else None,
                                             progress=ctx.progress(self.name))
                texts = backend.translate(request)
                return Translation(language=target, backend=backend.name, model=str(options.get("model", "")),
                                   source_language=source, cue_digest=digest,
                                   cues={c.id: texts[c.id] for c in sources})

            translation, _ = ctx.cached(document.media.id, self.name, backend.name, options, inputs, compute,
                                        self.load,
                                        model_files=model_files_of(backend, options) if backend.uses_audio else ())
            translations.append(translation)
            records.append(ctx.records[self.name])
            ctx.backends.release_translator(ctx, backend)  # the GPU holds one model at a time
        if records:
            ctx.records[self.name] = StageRecord(
                backend=",".join(dict.fromkeys(r.backend for r in records)),
                options={"languages": [t.language for t in translations], "source": source},
                seconds=round(sum(r.seconds for r in records), 3), cached=all(r.cached for r in records))
        return translations
