"""ASR backend ``gemini``: Gemini's audio understanding through google-genai (opt-in).

The recording is cut into chunks of at most ``chunk_max_s`` at silences (:func:`plan_chunks`: the
longest pause in the last half of each window; the speech stage's regions when given, else a
frame-energy detector). A chunk whose wav fits in ``inline_max_bytes`` is sent inline; a larger one
goes through the Files API (uploaded, used, deleted). Each request asks for structured output with a
pydantic response schema (:class:`GeminiTranscriptAnswer`: segments with text and times relative to
the chunk). Because every cut lies in a pause, each word belongs to exactly one chunk: the chunks'
segments are shifted to absolute time and concatenated, with no word lost or doubled.

Gemini's own times are too coarse for subtitles, so the words get their times from the local CPU
recognizer (:mod:`vtxlib.asr.word_times`): faster-whisper runs on the same audio and Gemini's words
are matched to its words by text. The Gemini backend therefore also costs the CPU tier's time.

Timeouts, 408, 429 and 5xx are retried by google-genai itself (``retries`` times, the policy of
:func:`vtxlib.genai_client.http_options`). Errors then end as :class:`~vtxlib.asr.cloud.CloudAsrError`
(refused key, quota, too large, service error, timeout, malformed answer, an answer cut short by the
output limit, a model that is retired or unknown).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from pydantic import BaseModel, Field

from ..audio import SAMPLE_RATE, load_audio, write_wav
from ..genai_client import AnswerRejected, default_model, model_help
from ..types import AsrExtras, AudioFile, GeminiAsrExtras, OptionsModel, Transcript
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
from .word_times import TextSegment, align_text_to_words

log = logging.getLogger("vtxlib.asr.gemini")

NAME = "gemini"
PROMPT_VERSION = 1
#: The Gemini API refuses a request over 20 MB; base64 adds a third, so inline audio stays below 14 MB.
INLINE_LIMIT_BYTES = 14_000_000
SILENCE_FRAME_S = 0.03
SILENCE_BELOW_DB = 35.0  # a frame this far below the loudest 5 % of frames counts as silence

INSTRUCTIONS = """\
Transcribe the speech in this audio verbatim, in the language spoken (do not translate).
Return JSON: "language": the ISO 639-1 code of the main language; "segments": one entry per sentence
or short phrase, in order, each with "start" and "end" in seconds from the beginning of THIS audio
and "text": the words exactly as spoken, with punctuation. Leave out music, noises and silence.
Do not summarise, do not skip repeated words, do not add words that were not said.
"""


class GeminiSegment(BaseModel):
    start: float = Field(description="seconds from the start of this audio")
    end: float = Field(description="seconds from the start of this audio")
    text: str


class GeminiTranscriptAnswer(BaseModel):
    """The response schema Gemini is asked to fill."""

    language: str = Field(description="ISO 639-1 code of the main language")
    segments: list[GeminiSegment]


class GeminiAsrOptions(OptionsModel):
    model: str = Field(default_factory=default_model)
    language: Optional[str] = Field(None, description="a hint; None: Gemini says which language it heard")
    chunk_max_s: float = Field(600.0, description="at most this much audio per request (the answer must fit "
                               "the model's output limit: 10 minutes of speech is about 2,000 words)")
    inline_max_bytes: int = INLINE_LIMIT_BYTES
    temperature: float = 0.0
    thinking_budget: Optional[int] = Field(0, description="tokens Gemini 2.5 may think before answering; "
                                           "0: none (transcription needs none, and thinking is billed); None for models that must think (2.5 Pro)")
    timeout_s: float = 300.0
    retries: int = Field(2, description="HTTP retries of a request (timeouts, 408, 429, 5xx), made by google-genai")
    retry_backoff_s: float = Field(1.0, description="the first wait before a retry; then 2x, 4x ... plus jitter")
    max_retry_wait_s: float = 30.0
    aligner_model: Optional[str] = Field(None, description="whisper-cpu model whose word times are used "
                                         "(default tiny.en for English, base for other languages)")
    base_url: Optional[str] = None

    def cache_dict(self) -> dict:
        keep = ("model", "language", "chunk_max_s", "temperature", "thinking_budget", "aligner_model")
        return {**{k: v for k, v in self.model_dump(mode="json").items() if k in keep},
                "prompt_version": PROMPT_VERSION}


@dataclass(frozen=True)
class Chunk:
    start: float
    end: float


class GeminiAsr:
    name = NAME
    takes_speech = True  # the speech stage's regions place the chunk boundaries in pauses

    def __init__(self, options: Optional[GeminiAsrOptions] = None, api_key: Optional[str] = None,
                 allow_cloud: bool = False, dry_run: bool = False, aligner: Any = None, client: Any = None):
        self.options = options or GeminiAsrOptions()
        self.api_key, self.allow_cloud, self.dry_run = api_key, allow_cloud, dry_run
        self._aligner, self._client = aligner, client
        self._aligners: dict[tuple, Any] = {}  # whisper-cpu by model name, made when first needed

    def options_dict(self) -> dict:
        return self.options.cache_dict()

    @property
    def url(self) -> str:
        return base_url(NAME, self.options.base_url)

    def close(self) -> None:
        for aligner in [self._aligner, *self._aligners.values()]:
            if aligner is not None and hasattr(aligner, "close"):
                aligner.close()

    # -- plan -----------------------------------------------------------------------------
    def chunks(self, audio: AudioFile, speech: Any = None) -> list[Chunk]:
        regions = list(speech.regions) if speech is not None else silence_free_regions(audio)
        return plan_chunks(audio.duration, regions, self.options.chunk_max_s)

    def planned_requests(self, audio: AudioFile, speech: Any = None) -> list[PlannedRequest]:
        planned = []
        for chunk in self.chunks(audio, speech):
            size = _wav_bytes(chunk.end - chunk.start)
            target = f"{self.url}/v1beta/models/{self.options.model}:generateContent"
            if size > self.options.inline_max_bytes:
                planned.append(PlannedRequest(backend=NAME, method="POST", url=f"{self.url}/upload/v1beta/files",
                                              sends=f"{chunk.end - chunk.start:.1f} s of audio "
                                              f"({size / 1e6:.1f} MB wav, {chunk.start:.1f}-{chunk.end:.1f} s)",
                                              bytes=size))
                what = "the prompt and the uploaded file's URI"
            else:
                what = f"the prompt and {chunk.end - chunk.start:.1f} s of audio inline ({chunk.start:.1f}-{chunk.end:.1f} s)"
            planned.append(PlannedRequest(backend=NAME, method="POST", url=target, sends=what,
                                          bytes=size if size <= self.options.inline_max_bytes else 0))
        return planned

    # -- transcribe -------------------------------------------------------------------------
    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None, speech: Any = None,
                   **_: Any) -> Transcript:
        require_consent(NAME, self.allow_cloud)
        if self.dry_run:
            path = write_dry_run(self.planned_requests(audio, speech), Path(audio.path).parent)
            raise CloudAsrError(NAME, "dry_run", f"the requests are in {path}")
        client = self._make_client()
        chunks = self.chunks(audio, speech)
        announce(NAME, self.url, f"{describe_audio(audio)} in {len(chunks)} request(s)")
        segments: list[TextSegment] = []
        languages: list[str] = []
        for index, chunk in enumerate(chunks):
            answer = self._transcribe_chunk(client, audio, chunk, index, len(chunks))
            languages.append(answer.language)
            segments += [TextSegment(s.text.strip(), chunk.start + max(s.start, 0.0),
                                     min(chunk.start + max(s.end, s.start), chunk.end))
                         for s in answer.segments if s.text.strip()]
            if progress:
                progress(chunk.end, audio.duration)
        language = self.options.language or _most_common(languages)
        local = self._local_words(audio, speech, language)
        aligned = align_text_to_words(segments, local)
        words = sum(len(s.words) for s in aligned.segments)
        log.info("asr: Gemini's %d words timed by the local recognizer: %d same words, %d re-heard, %d interpolated",
                 words, aligned.anchored, aligned.spread, aligned.interpolated)
        extras = GeminiAsrExtras(model=self.options.model, chunks=len(chunks), language=language,
                                 aligner=f"whisper-cpu {self._aligner_model(language)}", words=words,
                                 words_anchored=aligned.anchored)
        return Transcript(aligned.segments, language=language, backend=NAME, model=self.options.model,
                          extras=AsrExtras(gemini_asr=extras))

    def _make_client(self):
        if self._client is not None:
            return self._client
        if not self.api_key:
            from .cloud import missing_key

            raise missing_key(NAME)
        from ..genai_client import gemini_client

        options = self.options
        return gemini_client(self.api_key, options.timeout_s, extra="cloud", what="The gemini ASR backend",
                             base_url=self.url, attempts=options.retries + 1, backoff_s=options.retry_backoff_s,
                             max_backoff_s=options.max_retry_wait_s)

    def _http_options(self):
        """Every request's time limit and retry policy (whichever client was given)."""
        from ..genai_client import http_options

        options = self.options
        return http_options(options.timeout_s, options.retries + 1, options.retry_backoff_s, options.max_retry_wait_s,
                            extra="cloud", what="The gemini ASR backend")

    def _transcribe_chunk(self, client, audio: AudioFile, chunk: Chunk, index: int, total: int) -> GeminiTranscriptAnswer:
        from google.genai import types

        data = _wav_slice(audio, chunk)
        prompt = (f"This audio is part {index + 1} of {total} of a recording, from {chunk.start:.2f} to "
                  f"{chunk.end:.2f} seconds of it; give times from the start of this part."
                  + (f" The language is probably {self.options.language}." if self.options.language else ""))
        uploaded = None
        if len(data) > self.options.inline_max_bytes:
            uploaded = self._call("upload", lambda: client.files.upload(
                file=io.BytesIO(data), config=types.UploadFileConfig(mime_type="audio/wav",
                                                                     http_options=self._http_options())))
            audio_part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="audio/wav")
        else:
            audio_part = types.Part.from_bytes(data=data, mime_type="audio/wav")
        thinking = {} if self.options.thinking_budget is None else {
            "thinking_config": types.ThinkingConfig(thinking_budget=self.options.thinking_budget)}
        config = types.GenerateContentConfig(
            system_instruction=INSTRUCTIONS, temperature=self.options.temperature,
            response_mime_type="application/json", response_schema=GeminiTranscriptAnswer,
            http_options=self._http_options(), **thinking)
        try:
            response = self._call("generate", lambda: client.models.generate_content(
                model=self.options.model, contents=[prompt, audio_part], config=config))
        finally:
            if uploaded is not None:
                self._delete(client, uploaded)
        return parse_answer(response)

    def _delete(self, client, uploaded) -> None:
        try:
            client.files.delete(name=uploaded.name)
        except Exception as e:  # the file expires after 48 hours anyway
            log.info("asr: could not delete the uploaded Gemini file %s (%s); it expires in 48 h",
                     uploaded.name, type(e).__name__)

    def _call(self, what: str, send: Callable[[], Any]) -> Any:
        """SEND's result; what google-genai raises once its retries are spent, as a CloudAsrError."""
        from google.genai import errors as genai_errors

        from ..genai_client import key_refused, retired_model_line, transport_errors

        try:
            return send()
        except genai_errors.APIError as e:
            line = retired_model_line(e, self.options.model, MODEL_HELP) if what == "generate" else None
            if line:
                raise CloudAsrError(NAME, "model", line) from e
            kind = "auth" if key_refused(e) or e.status in ("UNAUTHENTICATED", "PERMISSION_DENIED") \
                else kind_of_http_status(e.code)
            raise CloudAsrError(NAME, kind, f"{what}: {e.code} {e.status or ''} {e.message or ''}") from e
        except transport_errors() as e:
            timeout = "Timeout" in type(e).__name__
            raise CloudAsrError(NAME, "timeout" if timeout else "network", f"{what}: {type(e).__name__}") from e
        except ValueError as e:  # a body that is not JSON
            raise CloudAsrError(NAME, "malformed", f"{what}: {type(e).__name__}: {str(e)[:120]}") from e

    # -- word times -------------------------------------------------------------------------
    def _aligner_model(self, language: Optional[str]) -> str:
        return self.options.aligner_model or ("tiny.en" if (language or "en").startswith("en") else "base")

    def _local_words(self, audio: AudioFile, speech: Any, language: Optional[str]):
        aligner = self._aligner
        if aligner is None:
            from .whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

            model = self._aligner_model(language)
            lang = None if model != "tiny.en" and not language else (language or "en")
            if (model, lang) not in self._aligners:
                self._aligners[(model, lang)] = WhisperCpuAsr(WhisperCpuOptions(model=model, language=lang))
            aligner = self._aligners[(model, lang)]
        extra = {"speech": speech} if speech is not None and getattr(aligner, "takes_speech", False) else {}
        return aligner.transcribe(audio, None, **extra).words


#: how to choose another model for the gemini backend
MODEL_HELP = model_help("--asr-model NAME with --asr gemini", "notebooks: ASR_MODEL")


def parse_answer(response: Any) -> GeminiTranscriptAnswer:
    """The structured answer, or CloudAsrError: blocked, cut short (partial), not JSON of the schema."""
    from ..genai_client import MalformedAnswer, read_answer

    try:
        return read_answer(response, GeminiTranscriptAnswer)
    except MalformedAnswer as e:
        raise CloudAsrError(NAME, "malformed", str(e)) from e
    except AnswerRejected as e:
        if e.finish_reason == "MAX_TOKENS":
            raise CloudAsrError(NAME, "partial", "the answer was cut at the output limit; lower chunk_max_s") from e
        raise CloudAsrError(NAME, "malformed" if e.kind == "empty" else "unsupported", str(e)) from e


def _most_common(values: list[str]) -> Optional[str]:
    values = [v.strip().lower() for v in values if v and v.strip()]
    return max(set(values), key=values.count) if values else None


# -- chunks at silences --------------------------------------------------------------------------

def plan_chunks(duration: float, speech: list[tuple[float, float]], max_s: float) -> list[Chunk]:
    """Chunks of at most MAX_S covering ``[0, duration]``, cut in the middle of the longest pause
    between SPEECH regions in the second half of each window (a hard cut only when that half has no
    pause at all, which a warning names)."""
    if duration <= max_s:
        return [Chunk(0.0, duration)]
    gaps = _pauses(speech, duration)
    chunks, start = [], 0.0
    while duration - start > max_s:
        limit = start + max_s
        inside = [(b - a, (a + b) / 2) for a, b in gaps if start + max_s / 2 <= (a + b) / 2 < limit]
        if inside:
            cut = max(inside)[1]
        else:
            cut = limit
            log.warning("asr: no pause between %.1f s and %.1f s: Gemini's chunk is cut inside speech", start + max_s / 2, limit)
        chunks.append(Chunk(start, cut))
        start = cut
    chunks.append(Chunk(start, duration))
    return chunks


def _pauses(speech: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    regions = sorted(speech)
    edges = [0.0] + [x for region in regions for x in region] + [duration]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2) if edges[i + 1] > edges[i]]


def silence_free_regions(audio: AudioFile) -> list[tuple[float, float]]:
    """Sounding regions by frame energy (no speech stage given): frames more than SILENCE_BELOW_DB under
    the loud frames are pauses."""
    samples = load_audio(audio.path)
    frame = int(SILENCE_FRAME_S * SAMPLE_RATE)
    count = len(samples) // frame
    if count == 0:
        return []
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1)) + 1e-9
    db = 20 * np.log10(rms)
    loud = np.percentile(db, 95)
    sounding = db > loud - SILENCE_BELOW_DB
    regions, begin = [], None
    for i, on in enumerate(sounding):
        if on and begin is None:
            begin = i
        elif not on and begin is not None:
            regions.append((begin * SILENCE_FRAME_S, i * SILENCE_FRAME_S))
            begin = None
    if begin is not None:
        regions.append((begin * SILENCE_FRAME_S, count * SILENCE_FRAME_S))
    return regions


def _wav_bytes(seconds: float) -> int:
    return 44 + int(round(seconds * SAMPLE_RATE)) * 2


def _wav_slice(audio: AudioFile, chunk: Chunk) -> bytes:
    return write_wav(io.BytesIO(), load_audio(audio.path, chunk.start, chunk.end)).getvalue()
