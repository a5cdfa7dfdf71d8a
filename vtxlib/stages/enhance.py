"""enhance: Gemini's punctuation/casing and summary (vtxlib/enhance.py); timings never change.
``--enhance off`` (or no key with ``auto``) passes the document on."""

from __future__ import annotations

import logging

from ..types import Document, StageRecord
from ..workspace import remove_stale_temporaries
from .base import Ref, RunContext, RunState, Stage

log = logging.getLogger("vtxlib.pipeline")


class EnhanceStage(Stage):
    name = "enhance"
    inputs = ("emotion",)

    def compute(self, ctx: RunContext, state: RunState) -> None:
        previous = state.refs.get("emotion", state.refs.get("align"))
        state.document, ref = self.enhance(ctx, state.document, previous)
        state.put(self.name, state.document, ref)

    def load(self, data: dict):
        from ..enhance import EnhanceResult

        return EnhanceResult.model_validate(data)

    def enhance(self, ctx: RunContext, document: Document, input_ref: Ref) -> tuple[Document, Ref]:
        mode = ctx.options.enhance
        if mode == "off":
            return document, input_ref
        from .. import enhance as enh
        from ..secrets import get_secret

        api_key = get_secret("GEMINI_API_KEY", ctx.workspace.secrets_dir)
        if not api_key:
            skipped(ctx, "no GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment, Colab secrets "
                         "or the workspace secrets folder")
            return document, input_ref
        options = enh.EnhanceOptions()
        if ctx.options.enhance_model:
            options.model = ctx.options.enhance_model
        cache_dir = ctx.workspace.media_dir(document.media.id) / "enhance-chunks"
        remove_stale_temporaries(cache_dir, ctx.started)

        def compute():
            return enh.enhance(document, options, cache_dir=cache_dir, api_key=api_key)

        try:
            result, ref = ctx.cached(document.media.id, self.name, "gemini", options.model_dump(mode="json"),
                                     [input_ref.digest], compute, self.load,
                                     unfinished=lambda result: result.unfinished())
        except enh.EnhanceSkipped as e:
            skipped(ctx, str(e))
            return document, input_ref
        return enh.document_with_enhancements(result, document), ref


def skipped(ctx: RunContext, reason: str) -> None:
    """Asked for by name (--enhance gemini), a skipped enhancement leaves the run incomplete."""
    if ctx.options.enhance != "gemini":
        log.info("Gemini enhancement skipped: %s", reason)
        return
    log.warning("Gemini enhancement skipped: %s", reason)
    ctx.records["enhance"] = StageRecord(backend="gemini", options={}, seconds=0.0,
                                         incomplete=f"skipped: {reason}")
