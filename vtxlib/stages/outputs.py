"""subtitles: transcript.{json,vtt,srt,rttm,txt} and report.html, written into a temporary folder
that then replaces the media's output folder, so the files of one run appear together and no older
file stays. Stages registered ``within`` this one (translation) write into the same folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from ..types import AudioFile, Diarization, Document
from ..workspace import atomic_folder, remove_stale_temporaries
from .base import RunContext, RunState, Stage


class OutputsStage(Stage):
    name = "subtitles"
    inputs = ("enhance",)

    def compute(self, ctx: RunContext, state: RunState) -> None:
        if ctx.options.speaker_names:
            from ..enhance import apply_speaker_names

            state.document = apply_speaker_names(state.document, ctx.options.speaker_names)
        state.document.stages = ctx.stage_records()  # the files written carry every stage so far
        state.put(self.name, self.write(ctx, state))

    def write(self, ctx: RunContext, state: RunState) -> dict[str, Path]:
        """The files written, by kind (``vtt``, ``json``..., ``vtt.<lang>`` for translations)."""
        from ..subtitles import JSONWriter, write_outputs
        from ..workspace import atomic_write_text

        document, diarization, audio = state.document, state.get("diarize"), state.get("audio")
        options = ctx.options.subtitle_options()
        target = Path(ctx.out_dir) / document.media.id if ctx.out_dir else ctx.workspace.outputs_dir(document.media.id)
        remove_stale_temporaries(target.parent, ctx.started)
        with atomic_folder(target) as folder:
            with ctx.timed(self.name, "vtxlib", options.for_language(document.language).model_dump(mode="json")):
                state.written = write_outputs(document, folder, diarization=diarization, options=options)
            state.folder = folder
            try:
                ctx.run_within(self.name, state)
            finally:
                state.folder = None
            written = state.written
            # the report and transcript.json (rewritten) record the subtitles stage's own time too
            document.stages = ctx.stage_records()
            if ctx.options.report:
                written.update(write_report(ctx, document, diarization, audio, folder, options))
            atomic_write_text(written["json"], JSONWriter(options).render(document))
        return {name: target / Path(path).name for name, path in written.items() if path is not None}


def write_report(ctx: RunContext, document: Document, diarization: Optional[Diarization], audio: AudioFile,
                 target: Path, subtitle_options) -> dict[str, Path]:
    """report.html, and report-audio.mp3 beside it for a file too long to embed its audio."""
    from ..report import report_files, write_report

    ctx.report_wall = round(time.perf_counter() - ctx.clock_started, 2)
    write_report(document, target / "report.html", diarization=diarization, audio_path=audio.path,
                 subtitle_options=subtitle_options, parallel=ctx.parallel, wall_seconds=ctx.report_wall)
    return report_files(target)
