"""Run the stages through the workspace cache.

acquire -> audio -> speech -> asr -> diarize -> align -> emotion -> enhance -> subtitles -> upload (optional)

Each cached stage's artifact is stored under a key made of its backend, options, the versions of
its code, libraries and model files, and the content digests of its inputs; an existing artifact
whose content still matches its record is loaded instead of recomputed, so a rerun after a crash
redoes only the stage that was running. A stage that did not finish its work (enhancement with
requests that got no answer) is not cached and is reported in :attr:`RunResult.incomplete`.
Backends are created once per :class:`Pipeline` and reused across ``run`` calls (batch runs over
many videos load each model once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from . import versions
from .acquire import AcquireOptions, acquire
from .audio import AudioOptions, decode, ffmpeg_version
from .diarize.base import SpeakerCount
from .errors import InputError, VtxError
from .types import (AlignedTranscript, AudioFile, Diarization, Document, Emotion, MediaInfo,
                    StageRecord, Transcript)
from .vad import SpeechOptions, SpeechRegions, detect_speech
from .workspace import (Workspace, atomic_folder, content_digest, normalised, remove_stale_temporaries,
                        stage_key)

log = logging.getLogger("vtxlib.pipeline")

STAGES = ("acquire", "audio", "speech", "asr", "diarize", "align", "emotion", "enhance", "subtitles", "upload")

EMOTION_CHOICES = ("auto", "embedded", "speechbrain", "off")
GPU_BACKENDS = ("nemo", "pyannote", "sortformer", "speechbrain")
ENHANCE_CHOICES = ("off", "auto", "gemini")

#: hook(stage, event, completed=None, total=None); event is "start", "progress", "done" or "cached"
Hook = Callable[..., None]


@dataclass
class PipelineOptions:
    asr: str = "auto"
    asr_model: Optional[str] = None
    language: Optional[str] = None
    diarizer: str = "auto"
    diarizer_model: Optional[str] = None
    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None
    emotion: str = "auto"  # "off" skips the stage
    enhance: str = "off"  # "gemini" (needs a key) | "auto" (gemini when a key is set) | "off"
    enhance_model: Optional[str] = None
    report: bool = True  # write report.html next to the subtitles
    speaker_names: dict[str, str] = field(default_factory=dict)  # SPEAKER_00 -> "Diane", shown in outputs
    # GPU-tier models are released after their stage (a 15 GB T4 holds ASR, diarization and emotion
    # models one after another); False keeps them loaded across runs, e.g. for a batch on a big GPU.
    free_gpu_between_stages: bool = True
    # YouTube caption upload after the subtitles: a video id/URL, or "source" for the transcribed URL
    upload_video: Optional[str] = None
    upload_dry_run: bool = False
    upload_language: str = "en"
    upload_client_secrets: Optional[str] = None  # default <workspace>/secrets/client_secret.json
    force: Optional[str] = None  # recompute this stage and every stage after it

    def __post_init__(self) -> None:
        from .asr import ASR_BACKENDS
        from .diarize import DIARIZERS

        for option, value, allowed in (("--asr", self.asr, ASR_BACKENDS), ("--diarizer", self.diarizer, DIARIZERS),
                                       ("--emotion", self.emotion, EMOTION_CHOICES),
                                       ("--enhance", self.enhance, ENHANCE_CHOICES)):
            if value not in allowed:
                raise InputError(f"unknown {option.lstrip('-')} backend {value!r}; expected one of: "
                                 f"{', '.join(allowed)}")
        if self.force is not None and self.force not in STAGES:
            raise InputError(f"--force {self.force!r}: expected one of {', '.join(STAGES)}")
        self.speaker_count()  # validates the counts

    def speaker_count(self) -> SpeakerCount:
        return SpeakerCount(self.num_speakers, self.min_speakers, self.max_speakers)

    def to_dict(self) -> dict:
        return asdict(self)


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
    transcript: Optional[Transcript] = None
    diarization: Optional[Diarization] = None
    aligned: Optional[AlignedTranscript] = None
    document: Optional[Document] = None
    outputs: dict[str, Path] = field(default_factory=dict)
    upload: Any = None  # vtxlib.youtube.UploadResult when an upload was asked for
    wall_seconds: float = 0.0
    refs: dict[str, Ref] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)  # stage -> why it did not finish its work

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
            f"total {self.wall_seconds:.2f} s, {self.real_time_factor:.1f}x real time",
            f"outputs: {Path(self.outputs['vtt']).parent}" if "vtt" in self.outputs else "outputs: none",
        ]
        if self.upload is not None:
            lines.append(f"upload: {self.upload.message}")
        lines += [f"incomplete: {stage} ({reason}); not cached, rerun to retry"
                  for stage, reason in self.incomplete.items()]
        return "\n".join(lines)


class Pipeline:
    def __init__(self, workspace: Optional[Workspace] = None, options: Optional[PipelineOptions] = None,
                 hook: Optional[Hook] = None):
        self.workspace = workspace or Workspace()
        self.options = options or PipelineOptions()
        self.hook = hook or (lambda *a, **k: None)
        self.workspace.configure_model_caches()
        self._backends: dict[str, Any] = {}
        self._records: dict[str, StageRecord] = {}
        self._run_started = time.time()

    # -- public ----------------------------------------------------------------------------
    def run(self, source: str, out_dir: Optional[Path] = None, until: str = "upload") -> RunResult:
        """Run (or load from cache) every stage up to and including UNTIL.

        Notebooks call this with ``until=<their stage>``: earlier stages come from the cache, later
        ones are not started. Fields of the result past UNTIL are None.
        """
        if until not in STAGES:
            raise InputError(f"until={until!r}: expected one of {', '.join(STAGES)}")
        last = STAGES.index(until)
        started = time.perf_counter()
        self._run_started = time.time()
        self._records = {}
        state = RunResult(media=self.acquire(source))
        steps = [self._step_audio, self._step_speech, self._step_asr, self._step_diarize, self._step_align,
                 self._step_emotion, self._step_enhance, lambda st: self._step_outputs(st, out_dir),
                 self._step_upload]
        if last >= STAGES.index("diarize") and not self._both_on_gpu():
            steps[2:4] = [self._step_asr_and_diarize, lambda st: None]
        for stage, step in zip(STAGES[1:], steps):
            if STAGES.index(stage) > last:
                break
            step(state)
        state.wall_seconds = time.perf_counter() - started
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
        if any(getattr(self._backend(stage), "takes_speech", False) for stage in ("asr", "diarize")):
            st.speech, st.refs["speech"] = self.speech(st.media, st.audio, st.refs["audio"])

    def _step_asr(self, st: "RunResult") -> None:
        st.transcript, st.refs["asr"] = self.asr(st.media, st.audio, st.refs["audio"], st.speech, st.refs.get("speech"))

    def _step_asr_and_diarize(self, st: "RunResult") -> None:
        """ASR and diarization both read only the audio: run them side by side.

        The CPU ASR decodes on one thread (faster than two on a 2-core machine), which leaves a core
        for diarization (or the GPU ASR leaves the CPU to the embedded diarizer). Two GPU models are
        not run together: they would share one device's memory. If ASR fails, diarization still
        finishes and is cached before the error propagates, so the rerun has less to do.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vtx-diarize") as pool:
            diarizing = pool.submit(self.diarize, st.media, st.audio, st.refs["audio"], st.speech,
                                    st.refs.get("speech"))
            try:
                st.transcript, st.refs["asr"] = self.asr(st.media, st.audio, st.refs["audio"], st.speech,
                                                         st.refs.get("speech"))
            except BaseException:
                wait([diarizing])  # let it finish and cache; the ASR error is the one to report
                raise
            st.diarization, st.refs["diarize"] = diarizing.result()

    def _step_diarize(self, st: "RunResult") -> None:
        st.diarization, st.refs["diarize"] = self.diarize(st.media, st.audio, st.refs["audio"], st.speech,
                                                          st.refs.get("speech"))

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
        st.outputs = self.write_outputs(st.document, st.diarization, st.audio, out_dir)

    def _step_upload(self, st: "RunResult") -> None:
        if self.options.upload_video:
            st.upload = self.upload(st.media, Path(st.outputs["vtt"]))

    def _document(self, st: "RunResult") -> Document:
        media = MediaInfo(**{**st.media.to_dict(), "duration": round(st.audio.duration, 3)})
        return Document(media=media, transcript=st.aligned, stages=self._stage_records())

    def warm_up(self) -> None:
        """Create (load) every backend now, e.g. when a service starts, not on the first request."""
        for stage in ("asr", "diarize") + (("emotion",) if self.options.emotion != "off" else ()):
            backend = self._backend(stage)
            if backend is None:
                continue
            if callable(getattr(backend, "load", None)):
                backend.load()
            elif hasattr(type(backend), "model"):
                getattr(backend, "model")  # whisper-cpu and NeMo load lazily on first access

    def backends(self) -> dict[str, Any]:
        """The backends created so far, by stage."""
        return dict(self._backends)

    def close(self) -> None:
        for backend in self._backends.values():
            closer = getattr(backend, "close", None)
            if closer:
                closer()
        self._backends.clear()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- stages ----------------------------------------------------------------------------
    def acquire(self, source: str) -> MediaInfo:
        remove_stale_temporaries(self.workspace.root / "sources", self._run_started)
        with self._timed("acquire", "yt-dlp" if "://" in str(source) else "local", AcquireOptions().to_dict()):
            return acquire(source, self.workspace, AcquireOptions(), force=self._forced("acquire"))

    def audio(self, media: MediaInfo) -> tuple[AudioFile, Ref]:
        options = AudioOptions()
        target = self.workspace.audio_path(media.id)
        workspace = self.workspace
        remove_stale_temporaries(target.parent, self._run_started)  # a decode killed mid-write

        def store(audio: AudioFile) -> dict:
            return {**audio.to_dict(), "path": workspace.relative(audio.path)}

        def load(data: dict) -> AudioFile:
            return AudioFile.from_dict({**data, "path": str(workspace.absolute(data["path"]))})

        return self._cached(media.id, "audio", "ffmpeg", options.to_dict(), [media.id],
                            lambda: decode(Path(media.path), target, options), load,
                            extra_versions={"ffmpeg": ffmpeg_version()}, store=store,
                            files=lambda audio: [Path(audio.path)])

    def speech(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref) -> tuple[SpeechRegions, Ref]:
        """The speech stage: Silero regions, detected once for ASR and diarization."""
        options = SpeechOptions()
        return self._cached(media.id, "speech", "silero", options.cache_dict(), [audio_ref.digest],
                            lambda: detect_speech(audio.path, options), SpeechRegions.from_dict)

    def asr(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
            speech_ref: Optional[Ref] = None) -> tuple[Transcript, Ref]:
        backend = self._backend("asr")
        options = backend.options_dict()
        extra, inputs = _speech_input(backend, speech, speech_ref)
        result, ref = self._cached(media.id, "asr", backend.name, options, [audio_ref.digest] + inputs,
                                   lambda: backend.transcribe(audio, self._progress("asr"), **extra),
                                   Transcript.from_dict, model_files=_model_files(backend, options))
        self._note_model("asr", result.model, result.model_version)
        self._release_if_gpu("asr")
        return result, ref

    def diarize(self, media: MediaInfo, audio: AudioFile, audio_ref: Ref, speech: Optional[SpeechRegions] = None,
                speech_ref: Optional[Ref] = None) -> tuple[Diarization, Ref]:
        backend = self._backend("diarize")
        count = self.options.speaker_count()
        options = {**backend.options_dict(), **count.to_dict()}
        extra, inputs = _speech_input(backend, speech, speech_ref)
        result, ref = self._cached(media.id, "diarize", backend.name, options, [audio_ref.digest] + inputs,
                                   lambda: backend.diarize(audio, count, self._progress("diarize"), **extra),
                                   Diarization.from_dict, model_files=_model_files(backend, options))
        self._note_model("diarize", result.model, result.model_version)
        self._release_if_gpu("diarize")
        return result, ref

    def align(self, media: MediaInfo, transcript: Transcript, diarization: Diarization,
              input_refs: list[Ref]) -> tuple[AlignedTranscript, Ref]:
        from .align import AlignOptions, align

        options = AlignOptions()
        return self._cached(media.id, "align", "vtxlib", asdict(options), [r.digest for r in input_refs],
                            lambda: align(transcript, diarization, options), AlignedTranscript.from_dict)

    def emotion(self, media: MediaInfo, audio: AudioFile, aligned: AlignedTranscript,
                align_ref: Ref) -> tuple[AlignedTranscript, Ref]:
        if self.options.emotion == "off":
            return aligned, align_ref
        from .emotion.stage import apply_emotions

        backend = self._backend("emotion")

        def compute() -> _EmotionList:
            return _EmotionList(backend.classify_turns(audio, aligned.turns, self._progress("emotion")))

        options = backend.options_dict()
        emotions, ref = self._cached(media.id, "emotion", backend.name, options, [align_ref.digest],
                                     compute, _EmotionList.from_dict, model_files=_model_files(backend, options))
        self._release_if_gpu("emotion")
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
            result, ref = self._cached(document.media.id, "enhance", "gemini", asdict(options), [input_ref.digest],
                                       compute, enh.EnhanceResult.from_dict,
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
                      out_dir: Optional[Path]) -> dict[str, Path]:
        """Write transcript.* (and report.html) into a temporary folder that then replaces the
        media's output folder, so the files of one run appear together and no older file stays."""
        from .subtitles import JSONWriter, SubtitleOptions, write_outputs
        from .workspace import atomic_write_text

        options = SubtitleOptions()
        target = Path(out_dir) / document.media.id if out_dir else self.workspace.outputs_dir(document.media.id)
        remove_stale_temporaries(target.parent, self._run_started)
        with atomic_folder(target) as folder:
            with self._timed("subtitles", "vtxlib", options.to_dict()):
                written = write_outputs(document, folder, diarization=diarization, options=options)
                if self.options.report:
                    written["report"] = self._write_report(document, diarization, audio, folder)
            # transcript.json is rewritten once more so that it records the subtitles stage's own time
            document.stages = self._stage_records()
            atomic_write_text(written["json"], JSONWriter(options).render(document))
        return {name: target / Path(path).name for name, path in written.items() if path is not None}

    def upload(self, media: MediaInfo, subtitles: Path):
        """Put SUBTITLES on the YouTube video named by ``upload_video`` (update, never duplicate)."""
        import sys

        from .youtube import CLIENT_SECRETS_FILE, TOKEN_FILE, UploadOptions, upload_captions

        opts = self.options
        video = media.source if opts.upload_video == "source" else opts.upload_video
        secrets = self.workspace.secrets_dir
        options = UploadOptions(
            video_id=video, language=opts.upload_language, dry_run=opts.upload_dry_run,
            client_secrets=Path(opts.upload_client_secrets) if opts.upload_client_secrets
            else secrets / CLIENT_SECRETS_FILE,
            token_path=secrets / TOKEN_FILE,
            interactive=bool(sys.stdin and sys.stdin.isatty()) and not opts.upload_dry_run)
        record = {k: v for k, v in options.to_dict().items() if k not in ("client_secrets", "token_path")}
        with self._timed("upload", "youtube", record):
            result = upload_captions(subtitles, options)
        log.info("upload: %s", result.message)
        return result

    def _write_report(self, document: Document, diarization: Diarization, audio: AudioFile,
                      target: Path) -> Optional[Path]:
        from .report import write_report

        return write_report(document, target / "report.html", diarization=diarization, audio_path=audio.path)

    # -- machinery -------------------------------------------------------------------------
    def _backend(self, stage: str):
        if stage not in self._backends:
            self._backends[stage] = self._create_backend(stage)
        return self._backends[stage]

    def _create_backend(self, stage: str):
        opts = self.options
        if stage == "asr":
            from .asr import create_asr

            return create_asr(opts.asr, model=opts.asr_model, language=opts.language,
                              cache_dir=self.workspace.models_dir)
        if stage == "diarize":
            from .diarize import create_diarizer

            return create_diarizer(opts.diarizer, model=opts.diarizer_model,
                                   secrets_dir=self.workspace.secrets_dir, models_dir=self.workspace.models_dir)
        if stage == "emotion":
            from .emotion import create_emotion_backend

            return create_emotion_backend(opts.emotion, cache_dir=self.workspace.models_dir)
        raise ValueError(stage)

    def _forced(self, stage: str) -> bool:
        force = self.options.force
        return force is not None and STAGES.index(stage) >= STAGES.index(force)

    def _release_if_gpu(self, stage: str) -> None:
        backend = self._backends.get(stage)
        if backend is not None and backend.name in GPU_BACKENDS and self.options.free_gpu_between_stages:
            backend.close()
            del self._backends[stage]
            log.info("%s: released the %s model (free_gpu_between_stages)", stage, backend.name)

    def _cached(self, media_id: str, stage: str, backend: str, options: dict, inputs: list[str],
                compute: Callable[[], Any], load: Callable[[dict], Any], *,
                model_files: Sequence[Path] = (), extra_versions: Optional[dict] = None,
                store: Callable[[Any], dict] = lambda result: result.to_dict(),
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
            hit = self._load_cached(media_id, stage, key, load)
            if hit is not None:
                log.info("%s: cached (%s)", stage, key)
                self._records[stage] = StageRecord(backend=backend, options=options, seconds=0.0, cached=True)
                self.hook(stage, "cached")
                return hit[0], Ref(key, hit[1])
        with self._timed(stage, backend, options):
            result = compute()
            data, reason = store(result), unfinished(result)
            if reason is None:
                digest = self.workspace.save_artifact(media_id, stage, key, data, files(result)).digest
            else:
                digest = content_digest(normalised(data))
        if reason is not None:
            self._records[stage].incomplete = reason
            log.warning("%s did not finish its work (%s): not cached, the next run tries again", stage, reason)
        return result, Ref(key, digest)

    def _load_cached(self, media_id: str, stage: str, key: str,
                     load: Callable[[dict], Any]) -> Optional[tuple[Any, str]]:
        """(result, digest) of a valid cached artifact, else None (a recompute follows)."""
        artifact = self.workspace.read_artifact(media_id, stage, key)
        if artifact is None:
            return None
        try:
            result = load(artifact.data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            log.warning("%s: the cached artifact %s has an unexpected shape (%s: %s); it will be recomputed",
                        stage, key, type(e).__name__, e)
            return None
        return (result, artifact.digest) if result is not None else None

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
        self.pipeline, self.stage, self.backend, self.options = pipeline, stage, backend, options

    def __enter__(self):
        self.started = time.perf_counter()
        self.pipeline.hook(self.stage, "start")
        log.info("%s: running (%s)", self.stage, self.backend)

    def __exit__(self, exc_type, exc, tb) -> None:
        seconds = time.perf_counter() - self.started
        if exc_type is None:
            self.pipeline._records[self.stage] = StageRecord(backend=self.backend, options=self.options,
                                                             seconds=round(seconds, 3))
            self.pipeline.hook(self.stage, "done")
        elif not issubclass(exc_type, VtxError):
            log.debug("%s failed after %.1f s", self.stage, seconds)


def _speech_input(backend: Any, speech: Optional[SpeechRegions], ref: Optional[Ref]) -> tuple[dict, list[str]]:
    """(keyword arguments, input digests) that hand the speech stage's regions to a backend that takes them."""
    if speech is None or ref is None or not getattr(backend, "takes_speech", False):
        return {}, []
    return {"speech": speech}, [ref.digest]


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


@dataclass
class _EmotionList:
    """The emotion stage's artifact: one (optional) emotion per aligned turn."""

    items: list[Optional[Emotion]]

    def to_dict(self) -> dict:
        return {"emotions": [e.to_dict() if e else None for e in self.items]}

    @classmethod
    def from_dict(cls, data: dict) -> "_EmotionList":
        return cls([Emotion.from_dict(e) if e else None for e in data["emotions"]])
