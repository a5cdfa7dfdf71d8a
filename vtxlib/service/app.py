"""The FastAPI application: its routes, error answers, ``/docs`` and start-up (see
:mod:`vtxlib.service` for the endpoints)."""

import json
import logging
import os
import platform
import shutil
import uuid
from pathlib import Path
from typing import Any, Optional

from .. import netguard
from ..errors import InputError, missing_dependency
from ..validate import MAX_SPEAKERS, check_speaker_counts, is_disk_full
from ..versions import package_version
from .jobs import ActiveJob, JobManager, JobRequest, PipelineRunner, sweep_expired
from .models import (
    ErrorAnswer,
    JobAccepted,
    JobRecord,
    ServiceError,
    ServiceOptions,
    ServiceStatus,
    TranscriptResponse,
    public_media,
)
from .security import BodySizeLimit, add_safety_middleware, checked_url, store_upload, store_voices

log = logging.getLogger("vtxlib.service")

DOCS_ASSETS = "/docs/assets"  # Swagger UI's files, served from the swagger-ui-bundle package (no CDN)
DOCS_SCHEMA = "/docs/openapi.json"  # the schema as that Swagger UI (4.15, OpenAPI 3.0) reads it
OUTPUT_FORMATS = ("vtt", "styled.vtt", "srt", "json", "txt", "rttm", "report", "report_audio")
# report.html links its audio (long files) as a sibling file: /jobs/{id}/report-audio.mp3
FORMAT_ALIASES = {"report-audio.mp3": "report_audio", "report.html": "report"}
INLINE_MEDIA_TYPES = {"report": "text/html; charset=utf-8", "report_audio": "audio/mpeg"}
REPORTED_PACKAGES = ("vtxlib", "fastapi", "uvicorn", "faster-whisper", "ctranslate2", "onnxruntime",
                     "silero-vad", "senko", "torch", "pyannote.audio", "nemo_toolkit",
                     "speechbrain", "yt-dlp")


def package_versions() -> dict[str, Optional[str]]:
    versions: dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        versions[name] = package_version(name)
    return versions


# -- what a request brings ------------------------------------------------------------------

def media_duration(path: Path) -> float:
    """Seconds of audio in an uploaded file; 415 when ffmpeg cannot read it or it has no sound."""
    from ..audio import probe

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
        from ..translate import parse_languages

        try:
            overrides["translate"] = ",".join(parse_languages(translate))
        except InputError as e:
            raise ServiceError(400, str(e)) from e
    return overrides


# -- the app ---------------------------------------------------------------------------------

class ServiceContext:
    """What the endpoints share: options, the runner, the job manager (made at start-up) and folders."""

    def __init__(self, workspace, options: ServiceOptions, runner: PipelineRunner, pipeline):
        self.workspace, self.options, self.runner, self.pipeline = workspace, options, runner, pipeline
        self.policy = options.url_policy()
        self.service_dir = workspace.root / "service"
        self.uploads_dir = self.service_dir / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.job_manager: Optional[JobManager] = None

    def clean(self, job: Optional[ActiveJob], text: str) -> str:
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
    from .. import __version__

    options = options or ServiceOptions()
    if pipeline is None:
        from ..pipeline import Pipeline, PipelineOptions

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
    """The endpoints, answering with the models of :mod:`.models` (so /docs shows their schemas)."""
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
    from .. import __version__

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
    record = job.record
    if background or not job.done.wait(ctx.options.sync_timeout_s):
        accepted = JobAccepted(job_id=job.id, status=record.status, status_url=f"/jobs/{job.id}")
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202,
                            headers={"Location": accepted.status_url})
    if record.status == "failed":
        code = record.error.http_status if record.error else 500
        answer = ErrorAnswer(error=record.error.message if record.error else "failed", status=code, job_id=job.id)
        return JSONResponse(answer.model_dump(mode="json"), status_code=code)
    return record.result.model_copy(update={"job_id": job.id})


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
        return JobRequest(source=checked_url(url, ctx.options, ctx.policy), name=netguard.share_safe_source(url), overrides=overrides)
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
