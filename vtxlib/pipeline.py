"""Run the stages through the workspace cache.

acquire -> audio -> speech -> language -> asr -> diarize -> align -> emotion -> enhance -> subtitles
-> translate (optional) -> upload (optional)

Each cached stage's artifact is stored under a key made of its backend, options, the versions of
its code, libraries and model files, and the content digests of its inputs; an existing artifact
whose content still matches its record is loaded instead of recomputed, so a rerun after a crash
redoes only the stage that was running. A stage that did not finish its work (enhancement with
requests that got no answer) is not cached and is reported in :attr:`RunResult.incomplete`.
Backends are created once per :class:`Pipeline` and reused across ``run`` calls (batch runs over
many videos load each model once).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import threading
import time
import typing
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Optional, Sequence

from pydantic import Field, ValidationInfo, field_validator

from . import versions
from .acquire import COOKIES_FILE, AcquireOptions, acquire
from .audio import AudioOptions, decode, ffmpeg_version
from .diarize.base import SpeakerCount
from .errors import BackendUnavailable, InputError, VtxError
from .language import AUTO, LanguageOptions, normalise_language
from .types import (
    AlignedTranscript,
    AudioFile,
    Diarization,
    Document,
    Emotion,
    LanguageDetection,
    MediaInfo,
    OptionsModel,
    StageRecord,
    Transcript,
    VoiceMatch,
    VtxModel,
)
from .vad import SpeechOptions, SpeechRegions, detect_speech
from .workspace import (
    Artifact,
    Workspace,
    atomic_folder,
    atomic_write_json,
    content_digest,
    normalised,
    remove_stale_temporaries,
    stage_key,
)

log = logging.getLogger("vtxlib.pipeline")

STAGES = ("acquire", "audio", "speech", "language", "asr", "diarize", "align", "emotion", "enhance", "subtitles",
          "translate", "upload")

GPU_BACKENDS = ("nemo", "pyannote", "sortformer", "speechbrain")
#: Per media: the backend, key and inputs of the last asr/diarize/emotion result (``auto`` reuses it).
BACKENDS_RECORD = "backends.json"
#: ``auto`` on a CPU-only runtime warns past this length; whisper-cpu's whole-pipeline speed measured on
#: a shared 2-core machine (README, "Memory against length") was 12-16x real time.
LONG_CPU_AUDIO_SECONDS = 20 * 60
CPU_REAL_TIME_FACTOR = 12.0

#: hook(stage, event, completed=None, total=None); event is "start", "progress", "done" or "cached"
Hook = Callable[..., None]


AsrChoice = Literal["auto", "whisper-cpu", "nemo", "assemblyai", "gemini"]  # vtxlib.asr.ASR_BACKENDS
DiarizerChoice = Literal["auto", "embedded", "pyannote", "sortformer", "assemblyai"]  # vtxlib.diarize.DIARIZERS
EmotionChoice = Literal["auto", "embedded", "speechbrain", "off"]
EnhanceChoice = Literal["off", "auto", "gemini"]
VisibleSpeakerChoice = Literal["auto", "off", "name", "chevrons"]
StageName = Literal["acquire", "audio", "speech", "language", "asr", "diarize", "align", "emotion", "enhance",
                    "subtitles", "translate", "upload"]
TranslatorChoice = Literal["auto", "gemini", "whisper", "canary"]  # vtxlib.translate.TRANSLATORS


class PipelineOptions(OptionsModel):
    """Every option of a run: the one list the CLI arguments, the batch runner's per-row options
    and the notebook parameters are made from (see :func:`option_names`)."""

    asr: AsrChoice = Field("auto", description="speech recognition backend (auto: nemo on a GPU, else whisper-cpu; "
                           "with --allow-cloud the hosted ones first, falling back in order: docs/asr_cloud.md)")
    allow_cloud: bool = Field(False, description="allow sending the audio to a hosted recognizer (AssemblyAI, "
                              "Gemini) when its key is set; without it nothing leaves the machine")
    cloud_dry_run: bool = Field(False, description="write and show the requests the hosted recognizers would "
                                "get (cloud-requests.json) and send nothing; needs no --allow-cloud")
    asr_model: Optional[str] = Field(None, description="ASR model name or local path (default or auto: chosen "
                                     "for the language: tiny.en/base on the CPU, Parakeet v2/v3 or Whisper "
                                     "large-v3-turbo on a GPU)")
    language: str = Field(AUTO, description="spoken language: auto (identified from the speech) or a Whisper "
                          "language code such as en, es, de, ja to force it")
    diarizer: DiarizerChoice = Field("auto", description="diarization backend (auto: pyannote on a GPU "
                                     "with an HF token, else embedded; with --asr assemblyai its speaker labels)")
    diarizer_model: Optional[str] = Field(None, description="diarization model name or local path")
    num_speakers: Optional[int] = Field(None, description="exact number of speakers, if known")
    min_speakers: Optional[int] = Field(None, description="at least this many speakers")
    max_speakers: Optional[int] = Field(None, description="at most this many speakers")
    emotion: EmotionChoice = Field("auto", description="emotion backend; off skips the stage")
    enhance: EnhanceChoice = Field("off", description="LLM cleanup/summary: off, auto (gemini when a key "
                                   "is set), gemini (needs a key)")
    enhance_model: Optional[str] = Field(None, description="Gemini model name (default: $VTX_GEMINI_MODEL, else "
                                         "gemini-flash-latest, Google's alias for its current Flash model)")
    report: bool = Field(True, description="write report.html next to the subtitles")
    translate: Optional[str] = Field(None, description="translated caption tracks: target language codes, "
                                     "comma-separated (e.g. en,fr); writes transcript.<lang>.vtt/.srt")
    translator: TranslatorChoice = Field("auto", description="translation backend: auto (gemini with a key, "
                                         "canary on a GPU for its pairs, else whisper for English), gemini, "
                                         "whisper (into English, offline), canary (GPU)")
    speaker_names: dict[str, str] = Field(default_factory=dict, description="SPEAKER_00 -> display name, "
                                          "shown in the outputs")
    voices: Optional[str] = Field(None, description="a folder of enrolled voices (Alice.wav, 'Bob Smith.mp3', "
                                  "Carol/*.wav): matching speakers get those names (docs/voices.md); names "
                                  "in speaker_names take precedence")
    # GPU-tier models are released after their stage (a 15 GB T4 holds ASR, diarization and emotion
    # models one after another); False keeps them loaded across runs, e.g. for a batch on a big GPU.
    free_gpu_between_stages: bool = Field(True, description="release each GPU model after its stage")
    upload_video: Optional[str] = Field(None, description="YouTube video id/URL to upload the captions to, "
                                        "or 'source' for the transcribed URL")
    upload_dry_run: bool = Field(False, description="write the upload request instead of sending it")
    upload_language: Optional[str] = Field(None, description="the original caption track's language (default: "
                                           "the transcript's); translated tracks carry their own")
    upload_client_secrets: Optional[str] = Field(None, description="OAuth client secrets file (default "
                                                 "<workspace>/secrets/client_secret.json)")
    visible_speaker: VisibleSpeakerChoice = Field("auto", description="speaker names as visible VTT text on "
                                                  "a speaker change (players do not show <v> names): name = "
                                                  "'Alice: ...', chevrons = '>> ALICE: ...' (YouTube's style), "
                                                  "auto = chevrons when uploading to YouTube, else off")
    cookies: Optional[str] = Field(None, description="a cookies.txt file (Netscape format, exported from a "
                                   "browser signed in to the site) for yt-dlp, for sites that ask to sign in "
                                   "(YouTube's \"confirm you're not a bot\"); default: <workspace>/secrets/"
                                   "cookies.txt when it exists")
    force: Optional[StageName] = Field(None, description="recompute this stage and every stage after it")

    @field_validator("language", mode="before")
    @classmethod
    def _language_code(cls, value: Any) -> str:
        return normalise_language(value)

    @field_validator("translate", mode="before")
    @classmethod
    def _language_list(cls, value: Any) -> Any:
        if value is None:
            return None
        from .translate import parse_languages

        codes = parse_languages(",".join(value) if isinstance(value, (list, tuple)) else str(value))
        return ",".join(codes) or None

    def translate_targets(self) -> list[str]:
        from .translate import parse_languages

        return parse_languages(self.translate)

    @field_validator("asr", "diarizer", "emotion", "enhance", "translator", "visible_speaker", "force", mode="before")
    @classmethod
    def _known_choice(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = typing.get_args(typing.get_args(cls.model_fields[info.field_name].annotation)[0]) \
            if info.field_name == "force" else typing.get_args(cls.model_fields[info.field_name].annotation)
        if value is not None and value not in allowed:
            what = "--force" if info.field_name == "force" else f"unknown {info.field_name} backend"
            raise InputError(f"{what} {value!r}: expected one of {', '.join(allowed)}")
        return value

    def model_post_init(self, _context: Any) -> None:
        self.speaker_count()  # validates the counts

    def subtitle_options(self):
        from .subtitles import SubtitleOptions

        visible = self.visible_speaker
        if visible == "auto":
            visible = "chevrons" if self.upload_video else "off"
        return SubtitleOptions(visible_speaker=visible)

    def speaker_count(self) -> SpeakerCount:
        return SpeakerCount(num_speakers=self.num_speakers, min_speakers=self.min_speakers,
                            max_speakers=self.max_speakers)

    def replace(self, **changes: Any) -> "PipelineOptions":
        """A validated copy with CHANGES (raises InputError for an unknown or bad option)."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise InputError(f"unknown option(s) {', '.join(unknown)}; expected one of {', '.join(option_names())}")
        return type(self)(**{**self.model_dump(), **changes})


UPLOAD_OPTIONS = ("upload_video", "upload_dry_run", "upload_language", "upload_client_secrets")
CODE_OPTIONS = ("speaker_names", "free_gpu_between_stages")  # set in code, not in a form or on the CLI


def option_names(kind: Literal["all", "cli", "notebook"] = "all") -> list[str]:
    """The pipeline options, in PipelineOptions order: "all"; "cli", those every command takes
    (``run`` adds the upload options), which the batch runner passes on as notebook parameters
    (the name in capitals); "notebook", those a notebook form may set (the CLI's but ``force``,
    which a notebook takes as its own parameter)."""
    names = list(PipelineOptions.model_fields)
    if kind == "all":
        return names
    names = [n for n in names if n not in UPLOAD_OPTIONS + CODE_OPTIONS]
    return names if kind == "cli" else [n for n in names if n != "force"]


@dataclass(frozen=True)
class Ref:
    """Where a stage's result lives (its key) and what it contains (the digest later keys use)."""

    key: str
    digest: str


@dataclass
class RunResult:
    """What a run produced; stages after ``until`` leave their fields None."""

    media: MediaInfo
    audio: Optional[AudioFile] = None
    speech: Optional[SpeechRegions] = None  # None when neither ASR nor diarizer takes the speech stage's regions
    language: Optional[LanguageDetection] = None  # the language stage's result (forced or detected)
    language_deferred: bool = False  # the language stage runs beside diarization (Pipeline._step_asr_and_diarize)
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


@dataclass
class Run:
    """The state of one run, never shared with another: its options, hook, stage records and start.

    :meth:`Pipeline.run` makes one per call and makes it current for the calling thread (and the
    threads it starts), so one Pipeline can run jobs with different options at the same time.
    """

    pipeline: "Pipeline"
    options: PipelineOptions
    hook: Hook
    records: dict[str, StageRecord] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    clock_started: float = field(default_factory=time.perf_counter)  # the run's wall clock starts here
    parallel: tuple[str, ...] = ()  # stages that ran side by side (their seconds overlap)
    report_wall: Optional[float] = None  # the wall clock report.html shows (up to the subtitles)
    voice_clips: Any = None  # vtxlib.voices.CheckedClips of this run's --voices
    enrollment: Any = None  # vtxlib.voices.Enrollment in the diarizer's space
    language: Optional[LanguageDetection] = None  # what the language stage concluded (None: not run)


_CURRENT_RUN: contextvars.ContextVar[Optional[Run]] = contextvars.ContextVar("vtx_run", default=None)


class Pipeline:
    """Runs sources through the stages. ``options`` and ``hook`` are the defaults of each run;
    ``backends`` (stage -> backend object) replaces the backends the options would create, e.g. a
    service's preloaded models or a test's stand-ins."""

    def __init__(self, workspace: Optional[Workspace] = None, options: Optional[PipelineOptions] = None,
                 hook: Optional[Hook] = None, backends: Optional[dict[str, Any]] = None):
        self.workspace = workspace or Workspace()
        self.default_options = options or PipelineOptions()
        self.default_hook = hook or (lambda *a, **k: None)
        self.workspace.configure_model_caches()
        self._injected: dict[str, Any] = dict(backends or {})
        self._released: set[str] = set()  # given backends closed after their stage (GPU memory)
        self._backends: dict[tuple, Any] = {}
        self._backends_lock = threading.Lock()
        self._record_lock = threading.Lock()
        self._loose_run = Run(pipeline=self, options=self.default_options, hook=self.default_hook)

    # -- the current run ---------------------------------------------------------------------
    def _current(self) -> Run:
        run = _CURRENT_RUN.get()
        if run is not None and run.pipeline is self:
            return run
        # a stage method called outside run(): the defaults, and records kept until the next call
        loose = self._loose_run
        loose.options, loose.hook = self.default_options, self.default_hook
        return loose

    @property
    def options(self) -> PipelineOptions:
        """The options of the run in progress on this thread (outside a run: the defaults)."""
        return self._current().options

    @property
    def hook(self) -> Hook:
        return self._current().hook

    @property
    def _records(self) -> dict[str, StageRecord]:
        return self._current().records

    @property
    def _run_started(self) -> float:
        return self._current().started

    # -- public ----------------------------------------------------------------------------
    def run(self, source: str, out_dir: Optional[Path] = None, until: str = "upload",
            options: Optional[PipelineOptions] = None, hook: Optional[Hook] = None) -> RunResult:
        """Run (or load from cache) every stage up to and including UNTIL, with OPTIONS (default:
        the pipeline's) and HOOK for this run only.

        Notebooks call this with ``until=<their stage>``: earlier stages come from the cache, later
        ones are not started. Fields of the result past UNTIL are None.
        """
        if until not in STAGES:
            raise InputError(f"until={until!r}: expected one of {', '.join(STAGES)}")
        run = Run(pipeline=self, options=options or self.default_options, hook=hook or self.default_hook)
        token = _CURRENT_RUN.set(run)
        try:
            result = self._run(source, out_dir, STAGES.index(until))
        finally:
            _CURRENT_RUN.reset(token)
        result.options = run.options
        return result

    def _run(self, source: str, out_dir: Optional[Path], last: int) -> RunResult:
        started = self._current().clock_started
        self._check_voices(last)
        self._check_translation(last)
        state = RunResult(media=self.acquire(source))
        self._current().language = None
        steps = [self._step_audio, self._step_speech, self._step_language, self._step_asr, self._step_diarize,
                 self._step_align, self._step_emotion, self._step_enhance, lambda st: self._step_outputs(st, out_dir),
                 lambda st: None, self._step_upload]  # translate: written with the outputs
        if last >= STAGES.index("diarize"):
            steps[2:5] = [self._step_language_unless_beside_diarization, self._step_asr_and_diarize, lambda st: None]
        for stage, step in zip(STAGES[1:], steps):
            if STAGES.index(stage) > last:
                break
            step(state)
        state.wall_seconds = time.perf_counter() - started
        state.report_wall_seconds = self._current().report_wall
        state.incomplete = {stage: rec.incomplete for stage, rec in self._stage_records().items() if rec.incomplete}
        if state.document is not None:
            state.document.stages = self._stage_records()
            if not state.document.transcript.words:
                log.warning("no speech was recognised in %s (silence or music only?): the transcript is empty",
                            state.media.title)
        return state

    def _stage_records(self) -> dict[str, StageRecord]:
        """Stage records in pipeline order (ASR and diarization finish in either order)."""
        return dict(sorted(self._records.items(), key=lambda item: STAGES.index(item[0])))

    def _both_on_gpu(self) -> bool:
        return all(self._backend(stage).name in GPU_BACKENDS for stage in ("asr", "diarize"))

    def _step_audio(self, st: "RunResult") -> None:
        st.audio, st.refs["audio"] = self.audio(st.media)

    def _step_speech(self, st: "RunResult") -> None:
        audio = [st.refs["audio"].digest]
        computed = [s for s in ("asr", "diarize") if not self._recorded_hit(s, st.media.id, audio)]
        if self.options.language != AUTO:
            self._current().language = self._forced_language()
        detecting = "asr" in computed and self._detects_language()
        if detecting or any(getattr(self._backend(stage), "takes_speech", False) for stage in computed):
            detector = self._backend("diarize") if "diarize" in computed else None
            st.speech, st.refs["speech"] = self.speech(st.media, st.audio, st.refs["audio"], detector)

    def _detects_language(self) -> bool:
        """Whether the language stage identifies the language: --language auto, and an ASR backend that
        is chosen for the language (not a given one) or takes it (``takes_language``)."""
        if self.options.language != AUTO:
            return False
        return "asr" not in self._injected or getattr(self._injected["asr"], "takes_language", False)

    def _forced_language(self) -> LanguageDetection:
        from .language import forced

        return forced(self.options.language)

    def _language_beside_diarization(self) -> bool:
        """Whether the language stage may run while diarization does (it then costs no time on a
        two-core machine): only when nothing it finds can stop the run, i.e. the ASR model is chosen
        for the language (``asr_model`` auto) and the backend is not fixed to NeMo. Otherwise it runs
        first, so that a model that cannot transcribe the language stops the run before any long work."""
        return self.options.language == AUTO and self.options.asr_model in (None, "", "auto") \
            and self.options.asr != "nemo"

    def _step_language_unless_beside_diarization(self, st: "RunResult") -> None:
        st.language_deferred = self._language_beside_diarization()
        if not st.language_deferred:
            self._step_language(st)

    def _step_language(self, st: "RunResult") -> None:
        """The language stage, then the ASR model for that language checked before any long work."""
        run = self._current()
        if self.options.language != AUTO:
            run.language = st.language = self._forced_language()
            self._records["language"] = StageRecord(backend="forced", options={"language": self.options.language},
                                                    seconds=0.0)
        elif st.speech is not None and self._detects_language() and \
                not self._recorded_hit("asr", st.media.id, [st.refs["audio"].digest]):
            run.language, ref = self.language(st.media, st.audio, st.speech, st.refs["speech"])
            if ref is not None:
                st.refs["language"] = ref
            st.language = run.language
        detection = run.language
        if detection is None:
            return
        from .language import log_note

        log_note(detection)
        if not self._recorded_hit("asr", st.media.id, [st.refs["audio"].digest]):
            self._check_asr_language(self._backend("asr"), detection)

    def _check_asr_language(self, backend: Any, detection: LanguageDetection) -> None:
        """An ASR model that does not handle the language: one line, before ASR and diarization start."""
        from .asr import check_model_languages
        from .language import mixed

        if detection.language is None:
            return
        needed = [detection.language, *mixed(detection)]
        check_model_languages(getattr(backend, "languages", None), getattr(backend, "model_label", backend.name),
                              detection, needed)
        if callable(getattr(backend, "check_available", None)):
            from .errors import BackendUnavailable

            try:
                backend.check_available()
            except BackendUnavailable as e:
                raise BackendUnavailable(f"language {', '.join(needed)} needs the ASR model "
                                         f"{getattr(backend, 'model_label', backend.name)}: {e}") from e

    def language(self, media: MediaInfo, audio: AudioFile, speech: SpeechRegions,
                 speech_ref: Ref) -> tuple[LanguageDetection, Optional[Ref]]:
        """The language stage: Whisper's language identification over windows of the speech. Without
        the detector's model (not installed) the language is not identified: one warning line, the
        default (English) model, nothing cached."""
        from .errors import BackendUnavailable
        from .language import unidentified

        detector = self._backend("language")
        options = LanguageOptions()
        try:
            return self._cached(media.id, "language", detector.name, options.model_dump(mode="json"),
                                [speech_ref.digest], lambda: detector.identify(audio.path, speech.regions, options),
                                LanguageDetection.model_validate, model_files=detector.model_files())
        except BackendUnavailable as e:
            return unidentified(str(e)), None

    def _step_asr(self, st: "RunResult") -> None:
        st.transcript, st.refs["asr"] = self.asr(st.media, st.audio, st.refs["audio"], st.speech, st.refs.get("speech"))

    def _step_asr_and_diarize(self, st: "RunResult") -> None:
        """ASR and diarization both read only the audio: run them side by side.

        The CPU ASR decodes on one thread (faster than two on a 2-core machine), which leaves a core
        for diarization (or the GPU ASR leaves the CPU to the embedded diarizer). Two GPU models are
        not run together: they would share one device's memory. If ASR fails, diarization still
        finishes and is cached before the error propagates, so the rerun has less to do.
        """
        if any(self._recorded_hit(stage, st.media.id, [st.refs["audio"].digest]) for stage in ("asr", "diarize")) \
                or self._diarizer_takes_transcript() or self._both_on_gpu():
            if st.language_deferred:
                self._step_language(st)
            self._step_asr(st)
            self._step_diarize(st)
            return
        self._current().parallel = ("asr", "diarize")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vtx-diarize") as pool:
            diarizing = pool.submit(contextvars.copy_context().run, self.diarize, st.media, st.audio,
                                    st.refs["audio"], st.speech, st.refs.get("speech"))
            try:
                if st.language_deferred:  # identified while diarization runs (see _language_beside_diarization)
                    self._step_language(st)
                st.transcript, st.refs["asr"] = self.asr(st.media, st.audio, st.refs["audio"], st.speech,
                                                         st.refs.get("speech"))
            except BaseException:
                wait([diarizing])  # let it finish and cache; the ASR error is the one to report
                raise
            st.diarization, st.refs["diarize"] = diarizing.result()
        st.voice_matches = self._match_voices(st.diarization)

    def _step_diarize(self, st: "RunResult") -> None:
        from_asr = self._diarizer_takes_transcript()
        st.diarization, st.refs["diarize"] = self.diarize(st.media, st.audio, st.refs["audio"], st.speech,
                                                          st.refs.get("speech"),
                                                          (st.transcript, st.refs["asr"]) if from_asr else None)
        st.voice_matches = self._match_voices(st.diarization)

    def _check_voices(self, last: int) -> None:
        """With --voices, check every clip before any other work (a bad clip must not cost a run)."""
        run = self._current()
        run.voice_clips = run.enrollment = None
        if not self.options.voices or last < STAGES.index("diarize"):
            return
        from .voices import check_clips

        if not callable(getattr(self._backend("diarize"), "voice_embedder", None)):
            raise InputError(f"--voices needs speaker embeddings from the diarizer: use --diarizer embedded or "
                             f"pyannote (not {self._backend('diarize').name})")
        run.voice_clips = check_clips(self.options.voices, self.workspace.voices_dir)

    def _enroll_voices(self, backend) -> None:
        """Voiceprints in the diarizer's own space, while its model is loaded (cached per clip)."""
        run = self._current()
        if run.voice_clips is not None and run.enrollment is None:
            from .voices import enroll

            run.enrollment = enroll(run.voice_clips, backend.voice_embedder())

    def _match_voices(self, diarization: Diarization) -> list[VoiceMatch]:
        enrollment = self._current().enrollment
        if enrollment is None:
            return []
        from .voices import match_speakers

        if not diarization.speaker_embeddings and diarization.speakers:
            raise InputError("--voices: this diarization has no speaker embeddings; rerun with --force diarize")
        matches = match_speakers(diarization.speaker_embeddings, enrollment)
        log.info("voices: %s", ", ".join(f"{m.speaker}={m.name or '-'} ({m.candidate} {m.score})" for m in matches))
        return matches

    def _step_align(self, st: "RunResult") -> None:
        st.aligned, st.refs["align"] = self.align(st.media, st.transcript, st.diarization,
                                                  [st.refs["asr"], st.refs["diarize"]])
        st.document = self._document(st)

    def _step_emotion(self, st: "RunResult") -> None:
        st.aligned, st.refs["emotion"] = self.emotion(st.media, st.audio, st.aligned, st.refs["align"])
        st.document = self._document(st)

    def _step_enhance(self, st: "RunResult") -> None:
        st.document, st.refs["enhance"] = self.enhance(st.document, st.refs.get("emotion", st.refs["align"]))

    def _step_outputs(self, st: "RunResult", out_dir: Optional[Path]) -> None:
        if self.options.speaker_names:
            from .enhance import apply_speaker_names

            st.document = apply_speaker_names(st.document, self.options.speaker_names)
        st.document.stages = self._stage_records()  # the files written carry every stage so far
        st.outputs = self.write_outputs(st.document, st.diarization, st.audio, out_dir, st.refs.get("audio"))

    def _step_upload(self, st: "RunResult") -> None:
        if self.options.upload_video:
            original = self.options.upload_language or st.document.language or "en"
            tracks = [(Path(st.outputs["vtt"]), original)] + [
                (Path(st.outputs[f"vtt.{t.language}"]), t.language) for t in st.document.translations]
            st.upload = self.upload(st.media, tracks)

    def _document(self, st: "RunResult") -> Document:
        media = st.media.model_copy(update={"duration": round(st.audio.duration, 3)})
        document = Document(media=media, transcript=st.aligned, stages=self._stage_records())
        transcript = st.transcript
        if transcript is not None:
            document.language_probability = transcript.language_probability
            document.language_source = transcript.language_source
            document.language_detection = transcript.language_detection
        if st.transcript is not None:  # what a hosted recognizer returned besides the words
            asr_extras = st.transcript.extras
            document.extras.assemblyai, document.extras.gemini_asr = asr_extras.assemblyai, asr_extras.gemini_asr
            document.extras.asr_routing = st.transcript.routing
        if self._current().enrollment is not None:
            from .voices import names_of

            document.voice_matches = list(st.voice_matches)
            document.speaker_names = names_of(st.voice_matches, document.speakers)
        return document

    def warm_up(self) -> None:
        """Create (load) every backend now, e.g. when a service starts, not on the first request."""
        stages = ("language",) if self._detects_language() else ()
        for stage in stages + ("asr", "diarize") + (("emotion",) if self.options.emotion != "off" else ()):
            backend = self._backend(stage)
            if backend is None:
                continue
            try:
                if callable(getattr(backend, "load", None)):
                    backend.load()
                elif hasattr(type(backend), "model"):
                    getattr(backend, "model")  # whisper-cpu and NeMo load lazily on first access
            except BackendUnavailable as e:
                if stage != "language":
                    raise
                log.warning("language identification will not run: %s", e)  # runs go on (docs/languages.md)

    def backends(self) -> dict[str, Any]:
        """The backends given or created so far, by stage."""
        with self._backends_lock:
            given = {stage: backend for stage, backend in self._injected.items() if stage not in self._released}
            return {**{key[0]: backend for key, backend in self._backends.items()}, **given}

    def close(self) -> None:
        with self._backends_lock:
            created, self._backends = list(self._backends.values()), {}
        for backend in created + list(self._injected.values()):
            closer = getattr(backend, "close", None)
            if closer:
                closer()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- stages ----------------------------------------------------------------------------
    def acquire(self, source: str) -> MediaInfo:
        remove_stale_temporaries(self.workspace.root / "sources", self._run_started)
        options = AcquireOptions(cookies=self._cookies_file())
        with self._timed("acquire", "yt-dlp" if "://" in str(source) else "local",
                         options.model_dump(mode="json", exclude={"cookies"})):
            return acquire(source, self.workspace, options, force=self._forced("acquire"))

    def _cookies_file(self) -> Optional[str]:
        """--cookies, else the cookies.txt kept with the workspace's secrets (on Drive on Colab)."""
        if self.options.cookies:
            return self.options.cookies
        stored = self.workspace.secrets_dir / COOKIES_FILE
        return str(stored) if stored.is_file() else None

    def audio(self, media: MediaInfo) -> tuple[AudioFile, Ref]:
        options = AudioOptions()
        target = self.workspace.audio_path(media.id)
        workspace = self.workspace
        remove_stale_temporaries(target.parent, self._run_started)  # a decode killed mid-write

        def store(audio: AudioFile) -> dict:
            return {**audio.model_dump(mode="json"), "path": workspace.relative(audio.path)}

        def load(data: dict) -> AudioFile:
            return AudioFile.model_validate({**data, "path": str(workspace.absolute(data["path"]))})

        return self._cached(media.id, "audio", "ffmpeg", options.model_dump(mode="json"), [media.id],
                            lambda: decode(Path(media.path), target, options), load,
                            extra_versions={"ffmpeg": ffmpeg_version()}, store=store,
                            files=lambda audio: [Path(audio.path)])

    def speech(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref,
               diarizer: Any = None) -> tuple[SpeechRegions, Ref]:
        """The speech stage: detected once, for ASR and diarization. A DIARIZER that detects speech
        itself (the embedded one: segmentation-3.0, which also finds overlap) detects it here, and
        its regions are what ASR decodes; without one, Silero's regions."""
        if diarizer is not None and hasattr(diarizer, "detect_speech"):
            options = diarizer.speech_options()
            return self._cached(media.id, "speech", diarizer.speech_backend, options, [audio_ref.digest],
                                lambda: diarizer.detect_speech(audio, self._progress("speech")),
                                SpeechRegions.model_validate)
        options = SpeechOptions()
        return self._cached(media.id, "speech", "silero", options.cache_dict(), [audio_ref.digest],
                            lambda: detect_speech(audio.path, options), SpeechRegions.model_validate)

    def asr(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
            speech_ref: Optional[Ref] = None) -> tuple[Transcript, Ref]:
        inputs = [audio_ref.digest]
        reused = self._reuse_recorded("asr", media.id, inputs, Transcript.model_validate)
        if reused is None:
            with self._released_after("asr"):
                backend = self._backend("asr")
                options = backend.options_dict()
                extra, speech_inputs = _speech_input(backend, speech, speech_ref)
                detection = self._current().language
                options, extra = _language_input(backend, options, extra, detection)

                def compute() -> Transcript:
                    self._warn_if_slow_on_cpu(backend.name, audio)
                    return backend.transcribe(audio, self._progress("asr"), **extra)

                reused = self._cached(media.id, "asr", backend.name, options, inputs + speech_inputs, compute,
                                      Transcript.model_validate, model_files=_model_files(backend, options))
                self._record_backend(media.id, "asr", (backend.name == "auto" and reused[0].backend) or backend.name, reused[1],
                                     inputs + speech_inputs, routed=backend.name == "auto")
        result, ref = reused
        if result.routing is not None and "asr" in self._records:  # auto with --allow-cloud: name the one used
            self._records["asr"].backend = f"{result.backend} (auto)"
        self._note_model("asr", result.model, result.model_version)
        return _with_language(result, self._current().language), ref

    def diarize(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
                speech_ref: Optional[Ref] = None,
                transcript: Optional[tuple[Transcript, Ref]] = None) -> tuple[Diarization, Ref]:
        """TRANSCRIPT (with its ref): for a diarizer whose turns came with the transcript (AssemblyAI's)."""
        inputs = [audio_ref.digest] + ([transcript[1].digest] if transcript else [])
        # enrolled voices are matched in the diarizer's own embedding space: no reuse across backends
        reused = None if self._current().voice_clips else \
            self._reuse_recorded("diarize", media.id, inputs, Diarization.model_validate)
        if reused is None:
            with self._released_after("diarize"):
                backend = self._backend("diarize")
                count = self.options.speaker_count()
                options = {**backend.options_dict(), **count.model_dump()}
                extra, speech_inputs = _speech_input(backend, speech, speech_ref)
                if transcript is not None and getattr(backend, "takes_transcript", False):
                    extra["transcript"] = transcript[0]
                reused = self._cached(media.id, "diarize", backend.name, options, inputs + speech_inputs,
                                      lambda: backend.diarize(audio, count, self._progress("diarize"), **extra),
                                      Diarization.model_validate, model_files=_model_files(backend, options))
                self._record_backend(media.id, "diarize", backend.name, reused[1], inputs + speech_inputs)
                self._enroll_voices(backend)
        result, ref = reused
        self._note_model("diarize", result.model, result.model_version)
        return result, ref

    def align(self, media: MediaInfo, transcript: Transcript, diarization: Diarization,
              input_refs: list[Ref]) -> tuple[AlignedTranscript, Ref]:
        from .align import AlignOptions, align

        options = AlignOptions()
        return self._cached(media.id, "align", "vtxlib", options.model_dump(mode="json"), [r.digest for r in input_refs],
                            lambda: align(transcript, diarization, options), AlignedTranscript.model_validate)

    def emotion(self, media: MediaInfo, audio: AudioFile, aligned: AlignedTranscript,
                align_ref: Ref) -> tuple[AlignedTranscript, Ref]:
        if self.options.emotion == "off":
            return aligned, align_ref
        from .emotion.stage import apply_emotions

        inputs = [align_ref.digest]
        reused = self._reuse_recorded("emotion", media.id, inputs, _EmotionList.model_validate)
        if reused is None:
            with self._released_after("emotion"):
                backend = self._backend("emotion")
                if callable(getattr(backend, "for_language", None)):
                    backend = backend.for_language(aligned.language)  # the embedded lexicon is English only

                def compute() -> _EmotionList:
                    return _EmotionList(emotions=backend.classify_turns(audio, aligned.turns, self._progress("emotion")))

                options = backend.options_dict()
                reused = self._cached(media.id, "emotion", backend.name, options, inputs, compute,
                                      _EmotionList.model_validate, model_files=_model_files(backend, options))
                self._record_backend(media.id, "emotion", backend.name, reused[1], inputs)
        emotions, ref = reused
        return apply_emotions(aligned, emotions.items), ref

    def enhance(self, document: Document, input_ref: Ref) -> tuple[Document, Ref]:
        mode = self.options.enhance
        if mode == "off":
            return document, input_ref
        from . import enhance as enh
        from .secrets import get_secret

        api_key = get_secret("GEMINI_API_KEY", self.workspace.secrets_dir)
        if not api_key:
            self._enhance_skipped("no GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment, Colab secrets "
                                  "or the workspace secrets folder")
            return document, input_ref
        options = enh.EnhanceOptions()
        if self.options.enhance_model:
            options.model = self.options.enhance_model
        cache_dir = self.workspace.media_dir(document.media.id) / "enhance-chunks"
        remove_stale_temporaries(cache_dir, self._run_started)

        def compute():
            return enh.enhance(document, options, cache_dir=cache_dir, api_key=api_key)

        try:
            result, ref = self._cached(document.media.id, "enhance", "gemini", options.model_dump(mode="json"), [input_ref.digest],
                                       compute, enh.EnhanceResult.model_validate,
                                       unfinished=lambda result: result.unfinished())
        except enh.EnhanceSkipped as e:
            self._enhance_skipped(str(e))
            return document, input_ref
        return enh.document_with_enhancements(result, document), ref

    def _enhance_skipped(self, reason: str) -> None:
        """Asked for by name (--enhance gemini), a skipped enhancement leaves the run incomplete."""
        if self.options.enhance != "gemini":
            log.info("Gemini enhancement skipped: %s", reason)
            return
        log.warning("Gemini enhancement skipped: %s", reason)
        self._records["enhance"] = StageRecord(backend="gemini", options={}, seconds=0.0,
                                               incomplete=f"skipped: {reason}")

    def write_outputs(self, document: Document, diarization: Diarization, audio: AudioFile,
                      out_dir: Optional[Path], audio_ref: Optional[Ref] = None) -> dict[str, Path]:
        """Write transcript.* (and report.html) into a temporary folder that then replaces the
        media's output folder, so the files of one run appear together and no older file stays.

        With ``translate`` set, the translate stage runs after the subtitles and its tracks
        (``transcript.<lang>.vtt/.srt``) are written beside them, whatever stage the run stops at:
        the output folder is always written whole."""
        from .subtitles import JSONWriter, write_outputs, write_translations
        from .workspace import atomic_write_text

        options = self.options.subtitle_options()
        target = Path(out_dir) / document.media.id if out_dir else self.workspace.outputs_dir(document.media.id)
        remove_stale_temporaries(target.parent, self._run_started)
        translating = bool(self.options.translate_targets())
        with atomic_folder(target) as folder:
            with self._timed("subtitles", "vtxlib", options.for_language(document.language).model_dump(mode="json")):
                written = write_outputs(document, folder, diarization=diarization, options=options)
            if translating:
                document.translations = self.translate(document, audio, audio_ref, options)
                written.update(write_translations(document, folder, options))
            # the report and transcript.json (rewritten) record the subtitles stage's own time too
            document.stages = self._stage_records()
            if self.options.report:
                written.update(self._write_report(document, diarization, audio, folder, options))
            atomic_write_text(written["json"], JSONWriter(options).render(document))
        return {name: target / Path(path).name for name, path in written.items() if path is not None}

    # -- translate -------------------------------------------------------------------------
    def _check_translation(self, last: int) -> None:
        """With --translate, a backend for every target language before any work (else one line
        naming what would serve)."""
        targets = self.options.translate_targets()
        if not targets or last < STAGES.index("subtitles"):
            return
        for target in targets:
            self._translator_name(self.options.language, target)

    def _translator_name(self, source: Optional[str], target: str) -> str:
        from .secrets import get_secret
        from .translate import choose_translator

        if "translate" in self._injected:
            return self._injected["translate"].name
        return choose_translator(self.options.translator, source, target,
                                 gemini_key=bool(get_secret("GEMINI_API_KEY", self.workspace.secrets_dir)),
                                 gpu_tier=_gpu_tier_available())

    def _translator(self, name: str):
        if "translate" in self._injected:
            return self._injected["translate"]
        key = ("translate", name)
        with self._backends_lock:
            if key not in self._backends:
                from .secrets import get_secret
                from .translate import create_translator

                self._backends[key] = create_translator(
                    name, api_key=get_secret("GEMINI_API_KEY", self.workspace.secrets_dir),
                    cache_dir=self.workspace.models_dir)
            return self._backends[key]

    def translate(self, document: Document, audio: Optional[AudioFile], audio_ref: Optional[Ref],
                  subtitle_options) -> list:
        """One :class:`~vtxlib.types.Translation` per target language (cached per language): the
        cues of the original VTT, each with its translated text."""
        from .subtitles import cue_digest, cue_id, translation_cues
        from .translate import CueSource, TranslationRequest
        from .types import Translation

        cues = translation_cues(document, subtitle_options)
        digest = cue_digest(cues)
        source = document.language or self.options.language
        sources = [CueSource(id=cue_id(k), speaker=document.display_name(c.speaker), text=c.text, start=c.start,
                             end=c.end, overlap=not c.words) for k, c in enumerate(cues)]
        cues_digest = content_digest([[c.id, c.speaker, c.text, c.start, c.end, c.overlap] for c in sources])
        translations, records = [], []
        for target in self.options.translate_targets():
            if source and target == source.lower():
                log.warning("translate: %s is the original's language; no %s track is made", target, target)
                continue
            backend = self._translator(self._translator_name(source, target))
            inputs = [digest, cues_digest] + ([audio_ref.digest] if backend.uses_audio and audio_ref else [])
            options = {**backend.options_dict(), "source": source, "target": target}

            def compute(backend=backend, target=target) -> Translation:
                request = TranslationRequest(cues=sources, source=source, target=target,
                                             audio_path=audio.path if audio else None,
                                             progress=self._progress("translate"))
                texts = backend.translate(request)
                return Translation(language=target, backend=backend.name, model=str(options.get("model", "")),
                                   source_language=source, cue_digest=digest,
                                   cues={c.id: texts[c.id] for c in sources})

            translation, _ = self._cached(document.media.id, "translate", backend.name, options, inputs, compute,
                                          Translation.model_validate,
                                          model_files=_model_files(backend, options) if backend.uses_audio else ())
            translations.append(translation)
            records.append(self._records["translate"])
            if backend.name == "canary" and self.options.free_gpu_between_stages and "translate" not in self._injected:
                with self._backends_lock:
                    self._backends.pop(("translate", backend.name), None)
                backend.close()  # the GPU holds one model at a time
        if records:
            self._records["translate"] = StageRecord(
                backend=",".join(dict.fromkeys(r.backend for r in records)),
                options={"languages": [t.language for t in translations], "source": source},
                seconds=round(sum(r.seconds for r in records), 3), cached=all(r.cached for r in records))
        return translations

    def upload(self, media: MediaInfo, subtitles):
        """Put SUBTITLES on the YouTube video named by ``upload_video`` (update, never duplicate):
        a path, or ``[(path, language or None for upload_language)]`` for the original and each
        translated track."""
        import sys

        from .youtube import CLIENT_SECRETS_FILE, TOKEN_FILE, UploadOptions, upload_caption_tracks

        opts = self.options
        video = media.source if opts.upload_video == "source" else opts.upload_video
        secrets = self.workspace.secrets_dir
        options = UploadOptions(
            video_id=video, language=opts.upload_language or "en", dry_run=opts.upload_dry_run,
            client_secrets=Path(opts.upload_client_secrets) if opts.upload_client_secrets
            else secrets / CLIENT_SECRETS_FILE,
            token_path=secrets / TOKEN_FILE,
            interactive=bool(sys.stdin and sys.stdin.isatty()) and not opts.upload_dry_run)
        record = {k: v for k, v in options.model_dump(mode="json").items() if k not in ("client_secrets", "token_path")}
        tracks = [(Path(subtitles), None)] if isinstance(subtitles, (str, Path)) else list(subtitles)
        with self._timed("upload", "youtube", record):
            result = upload_caption_tracks([(path, language or opts.upload_language) for path, language in tracks],
                                           options)
        log.info("upload: %s", result.message)
        return result

    def _write_report(self, document: Document, diarization: Diarization, audio: AudioFile,
                      target: Path, subtitle_options) -> dict[str, Path]:
        """report.html, and report-audio.mp3 beside it for a file too long to embed its audio."""
        from .report import report_files, write_report

        run = self._current()
        run.report_wall = round(time.perf_counter() - run.clock_started, 2)
        write_report(document, target / "report.html", diarization=diarization, audio_path=audio.path,
                     subtitle_options=subtitle_options, parallel=run.parallel, wall_seconds=run.report_wall)
        return report_files(target)

    # -- machinery -------------------------------------------------------------------------
    def _backend(self, stage: str):
        if stage in self._injected:
            self._released.discard(stage)
            return self._injected[stage]
        key = self._backend_key(stage)
        with self._backends_lock:  # two runs asking at once create one backend
            if key not in self._backends:
                self._backends[key] = self._create_backend(stage)
            return self._backends[key]

    def _backend_key(self, stage: str) -> tuple:
        """A backend is shared by runs whose options would create the same one."""
        opts = self.options
        if stage == "asr":
            backend, model, language = self._asr_plan()
            # the speaker count reaches ASR only as AssemblyAI's speaker labels: a local model is shared across counts
            labels = (tuple(opts.speaker_count().model_dump().values()),) \
                if self._diarizer_name() == "assemblyai" else ()
            # whisper-cpu takes the language with each call (takes_language): one backend for every language
            return (stage, backend, model, None if backend == "whisper-cpu" else language, opts.allow_cloud,
                    opts.cloud_dry_run, *labels)
        chosen = {"emotion": (opts.emotion,), "diarize": (self._diarizer_name(), opts.diarizer_model), "language": ()}
        return (stage, *chosen[stage])

    def _asr_plan(self) -> tuple[str, Optional[str], Optional[str]]:
        """(backend, model, language) of the ASR: the model chosen for the language found (or forced)
        when ``asr_model`` is auto or unset; before the language is known, the English default."""
        from .asr import plan_asr

        detection = self._current().language
        return plan_asr(self.options.asr, self.options.asr_model, detection)

    def _create_backend(self, stage: str):
        opts = self.options
        if stage == "asr":
            from .asr import CloudSettings, create_asr

            _, backend, model, language = self._backend_key("asr")[:4]
            cloud = CloudSettings(allow_cloud=opts.allow_cloud, dry_run=opts.cloud_dry_run,
                                  secrets_dir=self.workspace.secrets_dir,
                                  speaker_labels=self._diarizer_name() == "assemblyai",
                                  **opts.speaker_count().model_dump())
            name = "auto" if opts.asr == "auto" and (opts.allow_cloud or opts.cloud_dry_run) else backend
            created = create_asr(name, model=model, language=language, cache_dir=self.workspace.models_dir,
                                 cloud=cloud)
            _share_detector_model(created, self._backends.get(("language",)))
            return created
        if stage == "language":
            from .asr.language_id import WhisperLanguageDetector

            return WhisperLanguageDetector()
        if stage == "diarize":
            from .diarize import create_diarizer

            if self._diarizer_name() == "assemblyai" and opts.asr != "assemblyai" \
                    and not (opts.asr == "auto" and opts.allow_cloud):
                raise InputError("--diarizer assemblyai takes AssemblyAI's speaker labels from its transcript: use it "
                                 "with --asr assemblyai --allow-cloud")
            return create_diarizer(self._diarizer_name(), model=opts.diarizer_model,
                                   secrets_dir=self.workspace.secrets_dir, models_dir=self.workspace.models_dir)
        if stage == "emotion":
            from .emotion import create_emotion_backend

            return create_emotion_backend(opts.emotion, cache_dir=self.workspace.models_dir)
        raise ValueError(stage)

    def _diarizer_takes_transcript(self) -> bool:
        """Whether the diarizer's turns come with the transcript (AssemblyAI's speaker labels), asked
        without creating a backend: a cached diarization needs none."""
        if "diarize" in self._injected:
            return getattr(self._injected["diarize"], "takes_transcript", False)
        return self._diarizer_name() == "assemblyai"

    def _diarizer_name(self) -> str:
        """The diarizer asked for; ``auto`` with ``--asr assemblyai`` is AssemblyAI's speaker labels."""
        opts = self.options
        return "assemblyai" if opts.diarizer == "auto" and opts.asr == "assemblyai" else opts.diarizer

    def _forced(self, stage: str) -> bool:
        force = self.options.force
        return force is not None and STAGES.index(stage) >= STAGES.index(force)

    def _release_if_gpu(self, stage: str, failed: bool = False) -> None:
        with self._backends_lock:
            key = self._backend_key(stage)
            backend = self._injected.get(stage, self._backends.get(key))
            if backend is None or (backend.name not in GPU_BACKENDS and not getattr(backend, "uses_gpu", False)):
                return
            if not (self.options.free_gpu_between_stages or failed):
                return
            if stage in self._injected:  # a given backend stays: it loads its model again when used
                self._released.add(stage)
            else:
                del self._backends[key]
        backend.close()
        log.info("%s: released the %s model (%s)", stage, backend.name,
                 "the stage failed" if failed else "free_gpu_between_stages")

    @contextlib.contextmanager
    def _released_after(self, stage: str):
        """Release the stage's GPU model afterwards, on failure too: a traceback kept by the notebook
        would otherwise keep the model on the GPU and the retry would run out of memory."""
        try:
            yield
        except BaseException as e:
            self._release_if_gpu(stage, failed=True)
            from .gpu import drop_traceback_locals, free_gpu_memory

            drop_traceback_locals(e)
            free_gpu_memory()
            raise
        self._release_if_gpu(stage)

    # -- which backend made a stage's result (auto reuses a GPU result on a CPU-only runtime) ---
    def _choice(self, stage: str) -> str:
        return {"asr": self.options.asr, "diarize": self.options.diarizer, "emotion": self.options.emotion}[stage]

    def _request(self, stage: str) -> dict:
        """What the user asked of the stage besides the backend; a recorded result must match it."""
        opts = self.options
        if stage == "asr":
            return {"model": opts.asr_model, "language": opts.language}
        if stage == "diarize":
            return {"model": opts.diarizer_model, **opts.speaker_count().model_dump()}
        return {}

    def _backends_record_path(self, media_id: str) -> Path:
        return self.workspace.media_dir(media_id) / BACKENDS_RECORD

    def recorded_backends(self, media_id: str) -> dict:
        """``{stage: {"backend", "key", "inputs", "request"}}`` of the last results made for MEDIA_ID."""
        try:
            data = json.loads(self._backends_record_path(media_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _record_backend(self, media_id: str, stage: str, backend: str, ref: Ref, inputs: list[str],
                        routed: bool = False) -> None:
        if self._records.get(stage) is not None and self._records[stage].incomplete:
            return
        with self._record_lock:
            record = self.recorded_backends(media_id)
            record[stage] = {"backend": backend, "key": ref.key, "inputs": inputs, "request": self._request(stage)}
            if routed:  # asr auto with --allow-cloud: the router chose BACKEND
                record[stage]["chosen_by"] = "auto"
            atomic_write_json(self._backends_record_path(media_id), record)

    def _recorded_hit(self, stage: str, media_id: str, inputs: list[str]) -> Optional[dict]:
        """The recorded GPU-tier result ``auto`` should reuse for these inputs, if any."""
        if self._choice(stage) != "auto" or self._forced(stage):
            return None
        entry = self.recorded_backends(media_id).get(stage)
        if not isinstance(entry, dict) or entry.get("backend") not in GPU_BACKENDS:
            return None  # an embedded-tier result is found by the normal cache when auto resolves to it
        if entry.get("inputs") != inputs or entry.get("request") != self._request(stage):
            return None
        return entry if self.workspace.artifact_path(media_id, stage, entry["key"]).exists() else None

    def _reuse_recorded(self, stage: str, media_id: str, inputs: list[str],
                        load: Callable[[dict], Any]) -> Optional[tuple[Any, Ref]]:
        """``auto``: the GPU-tier result already made from these inputs, before resolving a backend
        (a CPU-only runtime must not start a CPU transcription when the GPU transcript exists)."""
        entry = self._recorded_hit(stage, media_id, inputs)
        hit = self._load_cached(media_id, stage, entry["key"], load) if entry else None
        if hit is None:
            return None
        result, artifact = hit
        log.info("%s: auto reuses the cached %s result (%s)", stage, entry["backend"], entry["key"])
        self._records[stage] = StageRecord(backend=entry["backend"], options={}, seconds=artifact.seconds or 0.0,
                                           cached=True)
        self.hook(stage, "cached")
        return result, Ref(entry["key"], artifact.digest)

    def _warn_if_slow_on_cpu(self, backend: str, audio: AudioFile) -> None:
        if self.options.asr == "auto" and backend not in GPU_BACKENDS and audio.duration > LONG_CPU_AUDIO_SECONDS:
            log.warning("asr: auto chose %s (no CUDA GPU) for %.1f h of audio: about %.0f min on a 2-core CPU; "
                        "a GPU runtime takes minutes", backend, audio.duration / 3600,
                        audio.duration / CPU_REAL_TIME_FACTOR / 60)

    def _cached(self, media_id: str, stage: str, backend: str, options: dict, inputs: list[str],
                compute: Callable[[], Any], load: Callable[[dict], Any], *,
                model_files: Sequence[Path] = (), extra_versions: Optional[dict] = None,
                store: Callable[[Any], dict] = lambda result: result.model_dump(mode="json", by_alias=True),
                files: Callable[[Any], Sequence[Path]] = lambda result: (),
                unfinished: Callable[[Any], Optional[str]] = lambda result: None) -> tuple[Any, Ref]:
        """Load STAGE's artifact, or compute and store it; INPUTS are the digests of its inputs.

        ``store``/``load`` convert the result to and from the artifact's JSON, ``files`` names files
        the artifact refers to (checked before reuse), and ``unfinished`` says why a result is not
        final (then it is returned but not cached).
        """
        versions_used = {**self._versions(stage, backend, model_files), **(extra_versions or {})}
        key = stage_key(stage, backend, options, inputs, versions_used)
        remove_stale_temporaries(self.workspace.media_dir(media_id) / stage, self._run_started)
        if not self._forced(stage):
            loading = time.perf_counter()
            hit = self._load_cached(media_id, stage, key, load)
            if hit is not None:
                result, artifact = hit
                log.info("%s: cached (%s)", stage, key)
                self._records[stage] = StageRecord(backend=backend, options=options, seconds=artifact.seconds or 0.0,
                                                   cached=True, load_seconds=round(time.perf_counter() - loading, 3))
                self.hook(stage, "cached")
                return result, Ref(key, artifact.digest)
        with self._timed(stage, backend, options) as timer:
            result = compute()
            data, reason = store(result), unfinished(result)
            seconds = timer.elapsed()
            if reason is None:
                digest = self.workspace.save_artifact(media_id, stage, key, data, files(result),
                                                      seconds=seconds).digest
            else:
                digest = content_digest(normalised(data))
        self._records[stage].seconds = seconds  # the figure a later cached run reports again
        if reason is not None:
            self._records[stage].incomplete = reason
            log.warning("%s did not finish its work (%s): not cached, the next run tries again", stage, reason)
        return result, Ref(key, digest)

    def _load_cached(self, media_id: str, stage: str, key: str,
                     load: Callable[[dict], Any]) -> Optional[tuple[Any, Artifact]]:
        """(result, artifact) of a valid cached artifact, else None (a recompute follows)."""
        artifact = self.workspace.read_artifact(media_id, stage, key)
        if artifact is None:
            return None
        try:
            result = load(artifact.data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            log.warning("%s: the cached artifact %s has an unexpected shape (%s: %s); it will be recomputed",
                        stage, key, type(e).__name__, e)
            return None
        return (result, artifact) if result is not None else None

    def _versions(self, stage: str, backend: str, model_files: Sequence[Path]) -> dict:
        """What besides options and inputs determines the output: code, libraries, model files."""
        return {"code": versions.STAGE_VERSIONS.get(stage), "libraries": versions.library_versions(stage, backend),
                "model": self._model_checksum(model_files)}

    def _model_checksum(self, paths: Sequence[Path]) -> Optional[str]:
        named = sorted(_expand_files(paths))
        if not named:
            return None
        sums = [[name, self.workspace.file_checksum(path)] for name, path in named]
        return hashlib.sha256(json.dumps(sums).encode()).hexdigest()[:16]

    def _timed(self, stage: str, backend: str, options: dict):
        return _StageTimer(self, stage, backend, options)

    def _progress(self, stage: str):
        def report(completed: float, total: float) -> None:
            self.hook(stage, "progress", completed=completed, total=total)

        return report

    def _note_model(self, stage: str, model: Optional[str], version: Optional[str]) -> None:
        record = self._records.get(stage)
        if record is not None:
            record.model, record.model_version = model, version


class _StageTimer:
    def __init__(self, pipeline: Pipeline, stage: str, backend: str, options: dict):
        self.run, self.stage, self.backend, self.options = pipeline._current(), stage, backend, options

    def __enter__(self):
        self.started = time.perf_counter()
        self.run.hook(self.stage, "start")
        log.info("%s: running (%s)", self.stage, self.backend)
        return self

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def __exit__(self, exc_type, exc, tb) -> None:
        seconds = time.perf_counter() - self.started
        if exc_type is None:
            self.run.records[self.stage] = StageRecord(backend=self.backend, options=self.options,
                                                       seconds=round(seconds, 3))
            self.run.hook(self.stage, "done")
        elif not issubclass(exc_type, VtxError):
            log.debug("%s failed after %.1f s", self.stage, seconds)


def _gpu_tier_available() -> bool:
    """NeMo installed and a CUDA GPU present (what Canary translation needs)."""
    import importlib.util

    from .gpu import cuda_available

    return importlib.util.find_spec("nemo") is not None and cuda_available()


def _speech_input(backend: Any, speech: Optional[SpeechRegions], ref: Optional[Ref]) -> tuple[dict, list[str]]:
    """(keyword arguments, input digests) that hand the speech stage's regions to a backend that takes them."""
    if speech is None or ref is None or not getattr(backend, "takes_speech", False):
        return {}, []
    return {"speech": speech}, [ref.digest]


def _share_detector_model(asr: Any, detector: Any) -> None:
    """An ASR backend that decodes with the language detector's model (multilingual base, same
    settings) takes the model already loaded instead of loading it again."""
    from .asr.language_id import WhisperLanguageDetector
    from .asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions
    from .language import DETECTOR_MODEL

    if not isinstance(asr, WhisperCpuAsr) or not isinstance(detector, WhisperLanguageDetector):
        return
    loaded = detector._model
    settings = ("model", "compute_type", "cpu_threads", "device")
    same = all(getattr(asr.options, k) == getattr(WhisperCpuOptions(model=DETECTOR_MODEL,
                                                                     cpu_threads=detector.cpu_threads), k)
               for k in settings)
    if loaded is not None and same and asr._model is None:
        asr._model = loaded


def _language_input(backend: Any, options: dict, extra: dict,
                    detection: Optional[LanguageDetection]) -> tuple[dict, dict]:
    """(options, keyword arguments) that hand the language stage's result to a backend that takes it
    (``takes_language``): the language decoded (and, when the speech mixes languages, the stretch of
    each) are part of the ASR's cache key."""
    if detection is None or detection.language is None or not getattr(backend, "takes_language", False):
        return options, extra
    from .language import mixed

    options = {**options, "language": detection.language}
    if mixed(detection):
        options["language_spans"] = [[s.language, s.start, s.end] for s in detection.spans]
    return options, {**extra, "language": detection}


def _with_language(transcript: Transcript, detection: Optional[LanguageDetection]) -> Transcript:
    """The transcript labelled with how its language was found."""
    if detection is None or detection.language is None:
        return transcript
    return transcript.model_copy(update={
        "language": detection.language, "language_probability": detection.probability, "language_source": detection.source,
        "language_detection": detection})


def _model_files(backend: Any, options: dict) -> list[Path]:
    """The local model files a backend reads: those it names (``model_files()``) and any option
    that is a path to an existing file or folder (a local model given instead of a hub name)."""
    model_files = getattr(backend, "model_files", None)
    named = [Path(p) for p in model_files()] if callable(model_files) else []
    given = [Path(v).expanduser() for v in options.values() if _looks_like_path(v)]
    return sorted({p for p in named + given if p.exists()})


def _looks_like_path(value: Any) -> bool:
    # hub names ("org/model") contain a slash too; they are dropped for not existing on disk
    return isinstance(value, str) and (os.sep in value or value.startswith("~"))


def _expand_files(paths: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    """(name, path) of each file, folders expanded to their files (named relative to the folder)."""
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(path)
                if file.is_file() and not any(part.startswith(".") for part in relative.parts):
                    yield relative.as_posix(), file
        elif path.is_file():
            yield path.name, path


class _EmotionList(VtxModel):
    """The emotion stage's artifact: one (optional) emotion per aligned turn."""

    items: list[Optional[Emotion]] = Field(alias="emotions")
