"""Run the stages through the workspace cache.

acquire -> audio -> speech -> language -> asr -> diarize -> align -> emotion -> enhance -> subtitles
-> translate (optional) -> upload (optional)

The stages are :mod:`vtxlib.stages` (one module each, registered in :mod:`vtxlib.stages.graph`);
:class:`Pipeline` runs the graph up to a stage with a :class:`~vtxlib.stages.RunContext` of its own
per run. Each cached stage's artifact is stored under a key made of its backend, options, the
versions of its code, libraries and model files, and the content digests of its inputs; an existing
artifact whose content still matches its record is loaded instead of recomputed, so a rerun after a
crash redoes only the stage that was running (:class:`~vtxlib.stages.StageCache`). A stage that did
not finish its work (enhancement with requests that got no answer) is not cached and is reported in
:attr:`RunResult.incomplete`. Backends are created once per :class:`Pipeline` and reused across
``run`` calls (batch runs over many videos load each model once).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .acquire import COOKIES_FILE, AcquireOptions, acquire
from .capabilities import load_now
from .errors import BackendUnavailable
from .language import label as language_label
from .options import (  # noqa: F401  (re-exported: callers import them from here)
    CODE_OPTIONS,
    STAGES,
    UPLOAD_OPTIONS,
    AsrChoice,
    DiarizerChoice,
    EmotionChoice,
    EnhanceChoice,
    PipelineOptions,
    StageName,
    TranslatorChoice,
    VisibleSpeakerChoice,
    option_names,
)
from .stages import Hook, Ref, RunContext, RunState, StageCache, StageGraph
from .stages.asr import CPU_REAL_TIME_FACTOR, LONG_CPU_AUDIO_SECONDS, warn_if_slow_on_cpu  # noqa: F401
from .stages.backends import BackendRegistry
from .stages.cache import BACKENDS_RECORD, GPU_BACKENDS  # noqa: F401
from .stages.diarize import language_beside_diarization
from .stages.graph import GRAPH
from .stages.speech import detects_language
from .types import (
    AlignedTranscript,
    AudioFile,
    Diarization,
    Document,
    LanguageDetection,
    MediaInfo,
    Transcript,
    VoiceMatch,
)
from .vad import SpeechRegions
from .workspace import Workspace, remove_stale_temporaries

log = logging.getLogger("vtxlib.pipeline")


@dataclass
class RunResult:
    """What a run produced; stages after ``until`` leave their fields None."""

    media: MediaInfo
    audio: Optional[AudioFile] = None
    speech: Optional[SpeechRegions] = None  # None when neither ASR nor diarizer takes the speech stage's regions
    language: Optional[LanguageDetection] = None  # the language stage's result (forced or detected)
    language_deferred: bool = False  # the language stage may run beside diarization (stages.diarize)
    transcript: Optional[Transcript] = None
    diarization: Optional[Diarization] = None
    aligned: Optional[AlignedTranscript] = None
    document: Optional[Document] = None
    outputs: dict[str, Path] = field(default_factory=dict)
    upload: Any = None  # vtxlib.youtube.UploadResult when an upload was asked for
    wall_seconds: float = 0.0
    report_wall_seconds: Optional[float] = None  # the wall clock up to the subtitles, as report.html shows it
    refs: dict[str, Ref] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)  # stage -> why it did not finish its work
    options: Optional[PipelineOptions] = None  # the options this run used
    voice_matches: list[VoiceMatch] = field(default_factory=list)  # with --voices: one per diarized speaker
    results: dict[str, Any] = field(default_factory=dict)  # every stage's output by stage name (a new stage's too)

    @property
    def keys(self) -> dict[str, str]:
        """The artifact key of each stage run so far."""
        return {stage: ref.key for stage, ref in self.refs.items()}

    @property
    def real_time_factor(self) -> float:
        """Audio seconds processed per wall-clock second (higher is faster)."""
        if self.audio is None or self.wall_seconds <= 0:
            return float("nan")
        return self.audio.duration / self.wall_seconds

    def summary(self) -> str:
        doc = self.document
        if doc is None or self.audio is None:
            return f"{self.media.title} [{self.media.id}]: stopped before the transcript was assembled"
        stages = ", ".join(f"{name} {rec.seconds:.2f}s{' (cached)' if rec.cached else ''}"
                           for name, rec in doc.stages.items())
        lines = [
            f"{doc.media.title} [{doc.media.id}] {self.audio.duration:.1f} s of audio",
            f"speakers: {len(doc.speakers)} ({', '.join(doc.display_name(s) for s in doc.speakers) or 'none'})",
            f"words: {len(doc.transcript.words)}  turns: {len(doc.transcript.turns)}",
            *([f"language: {language_label(doc.language_detection, doc.language)}"] if doc.language else []),
            f"stages: {stages}",
            f"total {self.wall_seconds:.2f} s, {self.real_time_factor:.1f}x real time" + (
                f" ({self.report_wall_seconds:.2f} s to the subtitles, the total report.html shows)"
                if self.report_wall_seconds is not None else ""),
            f"outputs: {Path(self.outputs['vtt']).parent}" if "vtt" in self.outputs else "outputs: none",
        ]
        if self.upload is not None:
            lines.append(f"upload: {self.upload.message}")
        lines += [f"incomplete: {stage} ({reason}); not cached, rerun to retry"
                  for stage, reason in self.incomplete.items()]
        return "\n".join(lines)



class Pipeline:
    """Runs sources through the stage graph. ``options`` and ``hook`` are the defaults of each run;
    ``backends`` (stage -> backend object) replaces the backends the options would create, e.g. a
    service's preloaded models or a test's stand-ins; ``graph`` replaces the stage graph
    (:data:`vtxlib.stages.graph.GRAPH`)."""

    def __init__(self, workspace: Optional[Workspace] = None, options: Optional[PipelineOptions] = None,
                 hook: Optional[Hook] = None, backends: Optional[dict[str, Any]] = None,
                 graph: Optional[StageGraph] = None):
        self.workspace = workspace or Workspace()
        self.default_options = options or PipelineOptions()
        self.default_hook = hook or (lambda *a, **k: None)
        self.workspace.configure_model_caches()
        self.graph = graph or GRAPH
        self.cache = StageCache(self.workspace)
        self.registry = BackendRegistry(self.workspace, backends)
        self._loose = self._context(self.default_options, self.default_hook)

    def _context(self, options: PipelineOptions, hook: Hook, out_dir: Optional[Path] = None) -> RunContext:
        ctx = RunContext(options=options, hook=hook, workspace=self.workspace, cache=self.cache,
                         backends=self.registry, out_dir=out_dir, order=self.graph.names)
        ctx.run_within = lambda parent, state: [stage.compute(ctx, state) for stage in self.graph
                                                if stage.within == parent]
        return ctx

    def _outside_run(self) -> RunContext:
        """A stage method called outside run(): the defaults, and records kept until the next call."""
        loose = self._loose
        loose.options, loose.hook = self.default_options, self.default_hook
        return loose

    @property
    def options(self) -> PipelineOptions:
        """The default options (each run may have its own: ``run(options=...)``)."""
        return self.default_options

    @property
    def hook(self) -> Hook:
        return self.default_hook

    # -- public ----------------------------------------------------------------------------
    def run(self, source: str, out_dir: Optional[Path] = None, until: str = "upload",
            options: Optional[PipelineOptions] = None, hook: Optional[Hook] = None) -> RunResult:
        """Run (or load from cache) every stage up to and including UNTIL, with OPTIONS (default:
        the pipeline's) and HOOK for this run only.

        Notebooks call this with ``until=<their stage>``: earlier stages come from the cache, later
        ones are not started. Fields of the result past UNTIL are None.
        """
        selected = self.graph.select(until)
        ctx = self._context(options or self.default_options, hook or self.default_hook, out_dir)
        for stage in selected:
            stage.check(ctx)
        state = RunState(media=self._acquire(ctx, source))
        ctx.media = state.media
        self.graph.run(ctx, state, until)
        result = self._result(ctx, state, {stage.name for stage in selected})
        result.options = ctx.options
        return result

    def _result(self, ctx: RunContext, state: RunState, selected: set[str]) -> RunResult:
        values = state.values
        result = RunResult(
            media=state.media, audio=values.get("audio"), speech=values.get("speech"),
            language=values.get("language"),
            language_deferred="diarize" in selected and language_beside_diarization(ctx.options),
            transcript=values.get("asr"), diarization=values.get("diarize"),
            aligned=values["emotion"] if "emotion" in values else values.get("align"),
            document=state.document, outputs=values.get("subtitles") or {}, upload=values.get("upload"),
            refs=dict(state.refs), voice_matches=list(state.voice_matches), results=dict(values))
        result.wall_seconds = time.perf_counter() - ctx.clock_started
        result.report_wall_seconds = ctx.report_wall
        result.incomplete = {stage: rec.incomplete for stage, rec in ctx.stage_records().items() if rec.incomplete}
        if result.document is not None:
            result.document.stages = ctx.stage_records()
            if not result.document.transcript.words:
                log.warning("no speech was recognised in %s (silence or music only?): the transcript is empty",
                            state.media.title)
        return result

    def warm_up(self) -> None:
        """Create (load) every backend now, e.g. when a service starts, not on the first request."""
        ctx = self._outside_run()
        stages = ("language",) if detects_language(ctx) else ()
        for stage in stages + ("asr", "diarize") + (("emotion",) if ctx.options.emotion != "off" else ()):
            backend = self.registry.get(ctx, stage)
            if backend is None:
                continue
            try:
                load_now(backend)
            except BackendUnavailable as e:
                if stage != "language":
                    raise
                self._warm_up_fallback(backend, e)

    @staticmethod
    def _warm_up_fallback(detector: Any, error: BackendUnavailable) -> None:
        """The language detector that the stage falls back to (base on the CPU for the GPU tier's), loaded;
        without one, runs go on unidentified (docs/languages.md)."""
        from .stages.language import fall_back

        fallback = fall_back(detector, error)
        if fallback is None:
            log.warning("language identification will not run: %s", error)
            return
        try:
            load_now(fallback)
        except BackendUnavailable as e:
            log.warning("language identification will not run: %s", e)

    def backends(self) -> dict[str, Any]:
        """The backends given or created so far, by stage."""
        return self.registry.all()

    def recorded_backends(self, media_id: str) -> dict:
        """``{stage: {"backend", "key", "inputs", "request"}}`` of the last results made for MEDIA_ID."""
        return self.cache.backends_record(media_id).as_json()

    def close(self) -> None:
        self.registry.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one stage at a time, outside run() (the default options) --------------------------
    def acquire(self, source: str) -> MediaInfo:
        return self._acquire(self._outside_run(), source)

    def _acquire(self, ctx: RunContext, source: str) -> MediaInfo:
        remove_stale_temporaries(self.workspace.root / "sources", ctx.started)
        options = AcquireOptions(cookies=self._cookies_file(ctx.options))
        with ctx.timed("acquire", "yt-dlp" if "://" in str(source) else "local",
                       options.model_dump(mode="json", exclude={"cookies"})):
            return acquire(source, self.workspace, options, force=ctx.forced("acquire"))

    def _cookies_file(self, options: Optional[PipelineOptions] = None) -> Optional[str]:
        """--cookies, else the cookies.txt kept with the workspace's secrets (on Drive on Colab)."""
        options = options or self.default_options
        if options.cookies:
            return options.cookies
        stored = self.workspace.secrets_dir / COOKIES_FILE
        return str(stored) if stored.is_file() else None

    def _warn_if_slow_on_cpu(self, backend: str, audio: AudioFile) -> None:
        warn_if_slow_on_cpu(self._outside_run(), backend, audio)

    def audio(self, media: MediaInfo) -> tuple[AudioFile, Ref]:
        return self.graph["audio"].decode(self._outside_run(), media)

    def speech(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref,
               diarizer: Any = None) -> tuple[SpeechRegions, Ref]:
        return self.graph["speech"].detect(self._outside_run(), media, audio, audio_ref, diarizer)

    def language(self, media: MediaInfo, audio: AudioFile, speech: SpeechRegions,
                 speech_ref: Ref) -> tuple[LanguageDetection, Optional[Ref]]:
        return self.graph["language"].identify(self._outside_run(), media, audio, speech, speech_ref)

    def asr(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
            speech_ref: Optional[Ref] = None) -> tuple[Transcript, Ref]:
        return self.graph["asr"].transcribe(self._outside_run(), media, audio, audio_ref, speech, speech_ref)

    def diarize(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
                speech_ref: Optional[Ref] = None,
                transcript: Optional[tuple[Transcript, Ref]] = None) -> tuple[Diarization, Ref]:
        return self.graph["diarize"].diarize(self._outside_run(), media, audio, audio_ref, speech, speech_ref,
                                             transcript)

    def align(self, media: MediaInfo, transcript: Transcript, diarization: Diarization,
              input_refs: list[Ref]) -> tuple[AlignedTranscript, Ref]:
        return self.graph["align"].align(self._outside_run(), media, transcript, diarization, input_refs)

    def emotion(self, media: MediaInfo, audio: AudioFile, aligned: AlignedTranscript,
                align_ref: Ref) -> tuple[AlignedTranscript, Ref]:
        return self.graph["emotion"].classify(self._outside_run(), media, audio, aligned, align_ref)

    def enhance(self, document: Document, input_ref: Ref) -> tuple[Document, Ref]:
        return self.graph["enhance"].enhance(self._outside_run(), document, input_ref)

    def write_outputs(self, document: Document, diarization: Diarization, audio: AudioFile,
                      out_dir: Optional[Path], audio_ref: Optional[Ref] = None) -> dict[str, Path]:
        """Write transcript.* (and report.html, and with ``translate`` set the translated tracks)
        into a temporary folder that then replaces the media's output folder."""
        ctx = self._outside_run()
        ctx.out_dir = out_dir
        state = RunState(media=document.media, values={"diarize": diarization, "audio": audio},
                         refs={"audio": audio_ref} if audio_ref else {}, document=document)
        return self.graph["subtitles"].write(ctx, state)

    def translate(self, document: Document, audio: Optional[AudioFile], audio_ref: Optional[Ref],
                  subtitle_options) -> list:
        return self.graph["translate"].translate(self._outside_run(), document, audio, audio_ref, subtitle_options)

    def upload(self, media: MediaInfo, subtitles):
        """Put SUBTITLES on the YouTube video named by ``upload_video`` (update, never duplicate):
        a path, or ``[(path, language or None for upload_language)]`` for the original and each
        translated track."""
        return self.graph["upload"].upload(self._outside_run(), media, subtitles)
