"""Jobs: a bounded queue and one worker thread, job files (one :class:`JobRecord` each, written
atomically), recovery of the jobs a dead server left unfinished, the retention sweep, and the
runner that puts a job through the shared pipeline."""

from __future__ import annotations

import logging
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .. import netguard
from ..errors import BackendUnavailable, InputError, StageFailed, VtxError
from ..validate import describe_os_error, is_disk_full
from ..workspace import atomic_write_text
from .models import JobError, JobRecord, RequestSummary, ServiceError, TranscriptResponse, transcript_response

log = logging.getLogger("vtxlib.service")

JOB_ID = re.compile(r"[0-9a-f]{16}")
UPLOAD_FOLDER = re.compile(r"[0-9a-f]{32}")


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

    def summary(self) -> RequestSummary:
        return RequestSummary(name=self.name, overrides=self.public_overrides())


@dataclass
class ActiveJob:
    """A job of this server run: its record (its whole state, as stored), the request it runs and
    the event set when it ends. Jobs of earlier runs are their records alone."""

    record: JobRecord
    request: JobRequest
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def create(cls, request: JobRequest) -> "ActiveJob":
        upload_folder = Path(request.upload_dir).name if request.upload_dir else None
        record = JobRecord(job_id=uuid.uuid4().hex[:16], status="queued", created=time.time(),
                           request=request.summary(), upload_folder=upload_folder)
        return cls(record, request)

    @property
    def id(self) -> str:
        return self.record.job_id


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


def interrupted(record: JobRecord) -> JobRecord:
    """RECORD, which a dead server left queued or running, as failed (its upload is gone)."""
    return record.model_copy(update={
        "status": "failed", "finished": time.time(), "upload_folder": None,
        "error": JobError(type="Interrupted", http_status=503,
                          message=f"the server stopped while this job was {record.status}; submit it again")})


class JobManager:
    """A bounded queue and one worker thread: jobs run one at a time, in order."""

    keep_in_memory = 100

    def __init__(self, runner: Callable[[ActiveJob], TranscriptResponse], jobs_dir: Path, max_pending: int = 4,
                 uploads_dir: Optional[Path] = None,
                 clean: Callable[[ActiveJob, str], str] = lambda job, text: text,
                 sweep: Optional[Callable[[], Any]] = None, sweep_every_s: float = 3600.0):
        self.runner = runner
        self.jobs_dir = Path(jobs_dir)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir = Path(uploads_dir) if uploads_dir else None
        self.clean = clean
        self.max_pending = max(1, max_pending)
        self._jobs: dict[str, ActiveJob] = {}
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self.current: Optional[ActiveJob] = None
        self.handled = 0
        self.recovered = self._recover_interrupted()
        self._sweep_uploads()
        self.sweep, self.sweep_every_s = sweep, sweep_every_s
        self._run_sweep()
        self._worker = threading.Thread(target=self._work, name="vtx-service-worker", daemon=True)
        self._worker.start()

    def submit(self, request: JobRequest) -> ActiveJob:
        with self._lock:
            if self._pending >= self.max_pending:
                raise ServiceError(503, f"server busy: {self._pending} job(s) queued or running "
                                        f"(limit {self.max_pending}); retry later", {"Retry-After": "10"})
            self._pending += 1
            job = ActiveJob.create(request)
            self._jobs[job.id] = job
        self._save(job.record)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Optional[JobRecord]:
        """A job's record: in memory, else from the workspace (jobs of an earlier server run)."""
        if not JOB_ID.fullmatch(job_id):
            return None
        job = self._jobs.get(job_id)
        if job is not None:
            return job.record.model_copy()
        path = self._path(job_id)
        if not path.exists():
            return None
        try:
            return JobRecord.from_file(path)
        except (OSError, ValueError) as e:  # pydantic's ValidationError is a ValueError
            log.warning("the record of job %s (%s) is damaged: %s", job_id, path, str(e).splitlines()[0])
            raise ServiceError(500, f"the record of job {job_id} is damaged; the server log has the details") from e

    def _path(self, job_id: str) -> Path:
        return self.jobs_dir / f"{job_id}.json"

    def _recover_interrupted(self) -> int:
        """Mark jobs that a dead server left queued or running as failed, and remove their uploads."""
        count = 0
        for path in sorted(self.jobs_dir.glob("*.json")):
            try:
                record = JobRecord.from_file(path)
            except (OSError, ValueError):
                log.warning("skipping the damaged job record %s", path)
                continue
            if record.status not in ("queued", "running"):
                continue
            self._remove_upload(record.upload_folder)
            atomic_write_text(path, interrupted(record).stored_json())
            count += 1
        if count:
            log.warning("%d job(s) left unfinished by an earlier server run were marked failed", count)
        return count

    def _sweep_uploads(self) -> None:
        """At start no job is queued or running, so every upload folder is an orphan (a killed
        server's, or a partial upload's): left there, it would keep a full disk full."""
        if self.uploads_dir is None or not self.uploads_dir.is_dir():
            return
        orphans = [entry for entry in self.uploads_dir.iterdir() if UPLOAD_FOLDER.fullmatch(entry.name)]
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
            for job_id in [j.id for j in self._jobs.values() if j.done.is_set()]:
                if not self._path(job_id).exists():
                    del self._jobs[job_id]

    def _remove_upload(self, folder: Optional[str]) -> None:
        if self.uploads_dir is None or not folder or not UPLOAD_FOLDER.fullmatch(folder):
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

    def _run(self, job: ActiveJob) -> None:
        record = job.record
        record.status, record.started, self.current = "running", time.time(), job
        self._save(record)
        try:
            record.result = self.runner(job)
            record.status = "done"
        except Exception as e:  # recorded in the job; the worker must survive any one job
            record.error = error_record(e, lambda text: self.clean(job, text))
            record.status = "failed"
            if record.error.http_status == 500:
                log.exception("job %s failed", job.id)
            else:
                log.warning("job %s failed: %s", job.id, e)
        finally:
            record.finished = time.time()
            self._save(record)
            self._cleanup(job)
            with self._lock:
                self._pending -= 1
                self.handled += 1
                self.current = None
                self._forget_old_jobs()
            job.done.set()

    def _forget_old_jobs(self) -> None:
        """Keep the newest finished jobs in memory; older ones are read back from their files."""
        finished = [j for j in self._jobs.values() if j.done.is_set()]
        for job in finished[:max(0, len(finished) - self.keep_in_memory)]:
            del self._jobs[job.id]

    def _save(self, record: JobRecord) -> None:
        try:
            atomic_write_text(self._path(record.job_id), record.stored_json())
        except OSError as e:  # the in-memory record still answers; the worker must go on
            log.error("could not store job %s: %s", record.job_id, describe_os_error(e) or e)

    @staticmethod
    def _cleanup(job: ActiveJob) -> None:
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
    if _mtime(path) >= cutoff:
        return False
    try:
        return JobRecord.from_file(path).status in ("done", "failed")
    except (OSError, ValueError):  # damaged: judged by its file's age
        return True


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

    def __call__(self, job: ActiveJob) -> TranscriptResponse:
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
    def _hook(job: ActiveJob, stage: str, event: str) -> None:
        if event in ("start", "cached"):
            job.record.stage = stage
