"""The service's typed boundaries: its options, the API's answers (``/docs`` shows their schemas)
and :class:`JobRecord`, the one type a job is answered and stored as."""

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, SerializationInfo, model_serializer
from pydantic.json_schema import SkipJsonSchema

from .. import netguard
from ..types import Document, Emotion, LanguageDetection, MediaInfo, OptionsModel, VoiceMatch, VtxModel, Word


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
    language_detection: Optional[LanguageDetection] = Field(
        default=None, description="the language stage's result: low_confidence, shares of speech, spans, and its "
                                  "one-line note (the warning when it was unsure or heard a second language)")
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


STORED = "stored"  # serialization context key: the file form of a JobRecord


class JobRecord(VtxModel):
    """A job as answered by ``GET /jobs/{id}`` (and stored in ``<workspace>/service/jobs``)."""

    # (the docstring is the schema's description.) The stored form (stored_json) also names the
    # job's upload folder, so that a server starting after a crash can remove it; answers never
    # name it and the schema does not list it.

    job_id: str
    status: JobStatus
    created: float
    started: Optional[float] = None
    finished: Optional[float] = None
    stage: Optional[str] = None
    request: RequestSummary
    result: Optional[TranscriptResponse] = None
    error: Optional[JobError] = None
    upload_folder: SkipJsonSchema[Optional[str]] = Field(default=None, exclude=True, repr=False)

    @model_serializer(mode="wrap")
    def _upload_folder_when_stored(self, handler, info: SerializationInfo):
        data = handler(self)
        if self.upload_folder and (info.context or {}).get(STORED):
            data["upload_folder"] = self.upload_folder
        return data

    def stored_json(self) -> str:
        """The job file's text (the format of every earlier version: no nulls, one-space indent)."""
        return self.model_dump_json(exclude_none=True, indent=1, context={STORED: True})

    @classmethod
    def from_file(cls, path: Path) -> "JobRecord":
        """Read a job file; OSError or ValueError (pydantic's ValidationError) when it is damaged."""
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


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
        language_detection=document.language_detection, speakers=document.speakers,
        speaker_names=dict(document.speaker_names), voice_matches=document.voice_matches, turns=turns,
        words=document.transcript.words,
        outputs={name: Path(path).name for name, path in (outputs or {}).items() if path},
        stages={name: StageSummary(backend=rec.backend, seconds=rec.seconds, cached=rec.cached)
                for name, rec in document.stages.items()})
