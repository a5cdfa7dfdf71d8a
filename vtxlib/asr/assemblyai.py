"""ASR backend ``assemblyai``: AssemblyAI's hosted recognizer through its official SDK (opt-in).

The 16 kHz wav is uploaded (``/v2/upload``), a transcript job is created with word timestamps and
confidences (always), language detection (unless a language is given), speaker labels (when its
labels are to be the diarization: ``--diarizer assemblyai``), sentiment per sentence and auto
chapters; the job is then polled with a growing interval until it completes, fails or
``timeout_s`` passes. AssemblyAI's sentiment and chapters go into the transcript's extras
(:class:`~vtxlib.types.AssemblyAIExtras`), apart from vtx's own emotion scores.

Failures end as :class:`~vtxlib.asr.cloud.CloudAsrError` with one line each: a refused key (401/403),
quota or rate limit (429; a short ``Retry-After`` is waited out ``retries`` times first), a file the
service cannot take (413, 400, a job error about the audio), a service error (5xx, retried like 429),
no answer in time, an answer that cannot be read, a transcript that came back incomplete.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import Field

from ..errors import missing_dependency
from ..types import (
    AsrExtras,
    AssemblyAIChapter,
    AssemblyAIExtras,
    AssemblyAISentiment,
    AudioFile,
    OptionsModel,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)
from .base import ProgressFn
from .cloud import (
    CloudAsrError,
    PlannedRequest,
    announce,
    base_url,
    describe_audio,
    kind_of_http_status,
    require_consent,
    write_dry_run,
)

log = logging.getLogger("vtxlib.asr.assemblyai")

NAME = "assemblyai"
#: AssemblyAI's documented limits on one file (upload size; audio length for the async API).
MAX_FILE_BYTES = 2_200_000_000
MAX_DURATION_S = 10 * 3600
SEGMENT_GAP_S = 1.0  # without speaker labels, a new segment after a sentence end or a pause this long
SEGMENT_MAX_WORDS = 40


class AssemblyAIOptions(OptionsModel):
    speech_model: str = Field("universal", description="AssemblyAI speech model (universal, slam-1, ...)")
    language: Optional[str] = Field(None, description="language code; None: AssemblyAI detects it")
    speaker_labels: bool = Field(False, description="ask for speaker labels (the diarization with "
                                 "--diarizer assemblyai)")
    speakers_expected: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None
    sentiment: bool = True
    chapters: bool = True
    poll_first_s: float = 1.0  # the first wait between status checks; it doubles up to poll_max_s
    poll_max_s: float = 15.0
    timeout_s: float = 3600.0  # give up on a job that has not finished in this time
    http_timeout_s: float = 60.0
    retries: int = 2  # 429/5xx answers waited out (Retry-After, at most max_retry_wait_s) before failing
    max_retry_wait_s: float = 30.0
    base_url: Optional[str] = Field(None, description="API endpoint (default $VTX_ASSEMBLYAI_BASE_URL or "
                                    "https://api.assemblyai.com; the EU region is https://api.eu.assemblyai.com)")

    def cache_dict(self) -> dict:
        """The options that change the transcript (not how patiently it is waited for)."""
        skip = {"poll_first_s", "poll_max_s", "timeout_s", "http_timeout_s", "retries", "max_retry_wait_s", "base_url"}
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in skip}


class AssemblyAIAsr:
    """Upload, transcribe, poll; one instance per options (the SDK client is made per call)."""

    name = NAME

    def __init__(self, options: Optional[AssemblyAIOptions] = None, api_key: Optional[str] = None,
                 allow_cloud: bool = False, dry_run: bool = False,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.options = options or AssemblyAIOptions()
        self.api_key, self.allow_cloud, self.dry_run = api_key, allow_cloud, dry_run
        self._sleep, self._clock = sleep, clock

    def options_dict(self) -> dict:
        return self.options.cache_dict()

    @property
    def url(self) -> str:
        return base_url(NAME, self.options.base_url)

    def close(self) -> None:
        pass

    # -- the request -------------------------------------------------------------------------
    def request_config(self) -> dict:
        """The transcript request's options (besides the audio URL), as JSON."""
        o = self.options
        config: dict[str, Any] = {"speech_models": [o.speech_model], "punctuate": True, "format_text": True}
        if o.language:
            config["language_code"] = o.language
        else:
            config["language_detection"] = True
        if o.speaker_labels:
            config["speaker_labels"] = True
            if o.speakers_expected:
                config["speakers_expected"] = o.speakers_expected
            elif o.min_speakers or o.max_speakers:
                config["speaker_options"] = {k: v for k, v in (("min_speakers_expected", o.min_speakers),
                                                               ("max_speakers_expected", o.max_speakers)) if v}
        if o.sentiment:
            config["sentiment_analysis"] = True
        if o.chapters:
            config["auto_chapters"] = True
        return config

    def planned_requests(self, audio: AudioFile) -> list[PlannedRequest]:
        size = Path(audio.path).stat().st_size
        return [PlannedRequest(backend=NAME, method="POST", url=f"{self.url}/v2/upload",
                               sends=describe_audio(audio, size=size), bytes=size),
                PlannedRequest(backend=NAME, method="POST", url=f"{self.url}/v2/transcript",
                               sends=f"JSON {self.request_config()} + the upload URL"),
                PlannedRequest(backend=NAME, method="GET", url=f"{self.url}/v2/transcript/<id>",
                               sends="nothing (status polls until the job completes)")]

    # -- transcribe --------------------------------------------------------------------------
    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None, **_: Any) -> Transcript:
        require_consent(NAME, self.allow_cloud)
        if self.dry_run:
            path = write_dry_run(self.planned_requests(audio), Path(audio.path).parent)
            raise CloudAsrError(NAME, "dry_run", f"the requests are in {path}")
        self._check_limits(audio)
        if not self.api_key:
            from .cloud import missing_key

            raise missing_key(NAME)
        aai = _import_sdk()
        client = aai.Client(settings=aai.Settings(api_key=self.api_key, base_url=self.url,
                                                  http_timeout=self.options.http_timeout_s))
        try:
            announce(NAME, self.url, describe_audio(audio))
            upload_url = self._call(client, "upload", lambda: _upload(aai, client, Path(audio.path)))
            request = aai.types.TranscriptRequest(audio_url=upload_url, **self.request_config())
            job = self._call(client, "create", lambda: aai.api.create_transcript(client.http_client, request))
            log.info("asr: AssemblyAI job %s queued", job.id)
            response = self._poll(aai, client, job.id, audio.duration, progress)
        finally:
            client.http_client.close()
        return transcript_from_response(response, audio.duration, self.options)

    def _check_limits(self, audio: AudioFile) -> None:
        size = Path(audio.path).stat().st_size
        if audio.duration > MAX_DURATION_S or size > MAX_FILE_BYTES:
            raise CloudAsrError(NAME, "too_long", f"{audio.duration / 3600:.1f} h, {size / 1e9:.2f} GB; AssemblyAI "
                                f"takes at most {MAX_DURATION_S / 3600:.0f} h and {MAX_FILE_BYTES / 1e9:.1f} GB per file")

    def _poll(self, aai, client, transcript_id: str, duration: float, progress: Optional[ProgressFn]):
        started, wait = self._clock(), self.options.poll_first_s
        while True:
            response = self._call(client, "poll", lambda: aai.api.get_transcript(client.http_client, transcript_id))
            status = getattr(response.status, "value", response.status)
            if status == "completed":
                if progress:
                    progress(duration, duration)
                return response
            if status == "error":
                raise CloudAsrError(NAME, _kind_of_job_error(response.error or ""), response.error or "job failed")
            if self._clock() - started + wait > self.options.timeout_s:
                raise CloudAsrError(NAME, "timeout", f"job {transcript_id} still {status} after "
                                    f"{self._clock() - started:.0f} s (timeout_s={self.options.timeout_s:g})")
            self._sleep(wait)
            wait = min(wait * 2, self.options.poll_max_s)

    def _call(self, client, what: str, send: Callable[[], Any]) -> Any:
        """SEND, with 429/5xx answers waited out ``retries`` times; any failure as a CloudAsrError."""
        aai = _import_sdk()
        import httpx

        for attempt in range(self.options.retries + 1):
            try:
                return send()
            except aai.types.AssemblyAIError as e:
                status = getattr(e, "status_code", None)
                error = CloudAsrError(NAME, kind_of_http_status(status), f"{what}: HTTP {status}: {e}",
                                      retry_after=_retry_after(client))
            except httpx.TimeoutException as e:
                raise CloudAsrError(NAME, "timeout", f"{what}: {type(e).__name__} after "
                                    f"{self.options.http_timeout_s:g} s") from e
            except httpx.TransportError as e:
                raise CloudAsrError(NAME, "network", f"{what}: {type(e).__name__}: {e}") from e
            except ValueError as e:  # a body that is not JSON, or JSON of another shape
                raise CloudAsrError(NAME, "malformed", f"{what}: {type(e).__name__}: {str(e)[:120]}") from e
            wait = error.retry_after if error.retry_after is not None else self.options.poll_first_s * 2 ** attempt
            if error.kind not in ("quota", "service") or attempt == self.options.retries \
                    or wait > self.options.max_retry_wait_s:
                raise error
            log.info("asr: AssemblyAI %s answered %s; retrying in %.1f s", what, error.kind, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")


def _upload(aai, client, path: Path) -> str:
    """The file streamed from disk (a fresh handle per attempt: a retry sends it from the start)."""
    with path.open("rb") as handle:
        return aai.api.upload_file(client.http_client, handle)


def _import_sdk():
    try:
        import assemblyai as aai
        import assemblyai.api  # noqa: F401
    except ImportError as e:
        raise missing_dependency("assemblyai", "cloud", "The assemblyai ASR backend") from e
    return aai


def _retry_after(client) -> Optional[float]:
    response = getattr(client, "last_response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _kind_of_job_error(message: str) -> str:
    text = message.lower()
    if any(s in text for s in ("too long", "duration", "too large", "exceeds")):
        return "too_long"
    if any(s in text for s in ("format", "decode", "unsupported", "no audio", "does not appear to contain audio",
                               "not supported", "language")):
        return "unsupported"
    return "service"


# -- the response as vtx types -----------------------------------------------------------------

def transcript_from_response(response: Any, duration: float, options: AssemblyAIOptions) -> Transcript:
    """A completed TranscriptResponse as a Transcript (extras: sentiment, chapters, speaker turns)."""
    words = [Word(w.text, w.start / 1000, w.end / 1000, round(float(w.confidence), 4)) for w in (response.words or [])]
    _check_complete(response, words)
    utterances = response.utterances or []
    labels = _speaker_names([u.speaker for u in utterances])
    turns = [SpeakerTurn(labels[u.speaker], u.start / 1000, u.end / 1000) for u in utterances]
    segments = _segments_by_turn(words, turns) if turns else _segments_by_sentence(words)
    code = str(getattr(response.language_code, "value", response.language_code) or options.language or "") or None
    extras = AssemblyAIExtras(
        transcript_id=response.id or "", speech_model=response.speech_model_used, language_code=code,
        language_confidence=response.language_confidence, speaker_turns=turns,
        sentiments=[AssemblyAISentiment(start=s.start / 1000, end=s.end / 1000, text=s.text,
                                        sentiment=getattr(s.sentiment, "value", s.sentiment),
                                        confidence=round(float(s.confidence), 4),
                                        speaker=labels.get(s.speaker) if s.speaker else None)
                    for s in (response.sentiment_analysis_results or [])],
        chapters=[AssemblyAIChapter(start=c.start / 1000, end=c.end / 1000, headline=c.headline, gist=c.gist or "",
                                    summary=c.summary) for c in (response.chapters or [])])
    language = code.split("_")[0] if code else None
    return Transcript(segments, language=language, backend=NAME, model=response.speech_model_used or options.speech_model,
                      extras=AsrExtras(assemblyai=extras))


def _check_complete(response: Any, words: list[Word]) -> None:
    """A 'completed' job whose words do not cover its text came back partial."""
    text_words = len((response.text or "").split())
    if text_words and (not words or len(words) < 0.9 * text_words):
        raise CloudAsrError(NAME, "partial", f"job {response.id}: {len(words)} timed words for {text_words} words "
                            f"of text")


def _speaker_names(labels: list[str]) -> dict[str, str]:
    """AssemblyAI's A, B, ... as SPEAKER_00, SPEAKER_01, ... in order of first appearance."""
    names: dict[str, str] = {}
    for label in labels:
        names.setdefault(label, f"SPEAKER_{len(names):02d}")
    return names


def _segments_by_turn(words: list[Word], turns: list[SpeakerTurn]) -> list[Segment]:
    segments = []
    for turn in turns:
        inside = [w for w in words if turn.start <= (w.start + w.end) / 2 <= turn.end]
        if inside:
            segments.append(Segment(" ".join(w.text for w in inside), inside[0].start, inside[-1].end, inside))
    placed = {id(w) for s in segments for w in s.words}
    stray = [w for w in words if id(w) not in placed]
    return sorted(segments + _segments_by_sentence(stray), key=lambda s: s.start)


def _segments_by_sentence(words: list[Word]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[Word] = []
    for word in words:
        if current and (word.start - current[-1].end >= SEGMENT_GAP_S or len(current) >= SEGMENT_MAX_WORDS
                        or re.search(r"[.?!]$", current[-1].text)):
            segments.append(Segment(" ".join(w.text for w in current), current[0].start, current[-1].end, current))
            current = []
        current.append(word)
    if current:
        segments.append(Segment(" ".join(w.text for w in current), current[0].start, current[-1].end, current))
    return segments
