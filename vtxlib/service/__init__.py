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

Modules: :mod:`.models` (options, answers, :class:`JobRecord`), :mod:`.jobs` (queue, job files,
crash recovery, retention, the pipeline runner), :mod:`.security` (API key, middleware, uploads,
``url`` rules), :mod:`.app` (the FastAPI app and its routes), :mod:`.cli` (the ``serve`` command).
"""

from .app import create_app, docs_description, media_duration, package_versions, parse_overrides
from .cli import EXIT_ADDRESS_IN_USE, AddressInUse, check_can_listen, check_port
from .jobs import (
    ActiveJob,
    JobManager,
    JobRequest,
    PipelineRunner,
    error_record,
    http_status_for,
    sweep_expired,
)
from .models import (
    ErrorAnswer,
    JobAccepted,
    JobError,
    JobRecord,
    JobStatus,
    PublicMedia,
    RequestSummary,
    ServiceError,
    ServiceOptions,
    ServiceStatus,
    StageSummary,
    TranscriptResponse,
    TurnSummary,
    public_media,
    transcript_response,
)
from .security import (
    API_KEY_ENV,
    ApiKeyAuth,
    BodySizeLimit,
    CrossSiteGuard,
    bearer_token,
    is_loopback_host,
    load_api_key,
    safe_filename,
    store_upload,
    store_voices,
)

__all__ = [
    "create_app", "docs_description", "media_duration", "package_versions", "parse_overrides",
    "EXIT_ADDRESS_IN_USE", "AddressInUse", "check_can_listen", "check_port",
    "ActiveJob", "JobManager", "JobRequest", "PipelineRunner", "error_record", "http_status_for", "sweep_expired",
    "ErrorAnswer", "JobAccepted", "JobError", "JobRecord", "JobStatus", "PublicMedia", "RequestSummary",
    "ServiceError", "ServiceOptions", "ServiceStatus", "StageSummary", "TranscriptResponse", "TurnSummary",
    "public_media", "transcript_response",
    "API_KEY_ENV", "ApiKeyAuth", "BodySizeLimit", "CrossSiteGuard", "bearer_token", "is_loopback_host",
    "load_api_key", "safe_filename", "store_upload", "store_voices",
]
