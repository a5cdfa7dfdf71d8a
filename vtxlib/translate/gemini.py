"""Translator ``gemini``: the cues' texts translated by Gemini (google-genai), cue ids in, cue texts out.

The cues are sent in chunks as ``{"id", "speaker", "text"}``; the answer must be structured JSON
(a pydantic ``response_schema``) holding exactly the ids that were sent, in order, each with a
non-empty text. An answer that drops, merges, adds, reorders or renames cues is rejected and the
chunk asked again (tenacity, with backoff); when every attempt is rejected the stage fails and
nothing is written: a translated track never has other cues than the original. Timeouts, 408, 429
and 5xx are retried by google-genai itself, with the policy of :func:`vtxlib.genai_client.http_options`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

from pydantic import BaseModel, Field

from ..errors import BackendUnavailable, StageFailed
from ..genai_client import AnswerRejected, default_model, model_help
from ..types import OptionsModel
from .base import CueSource, TranslationRequest

log = logging.getLogger("vtxlib.translate")

PROMPT_VERSION = 1  # part of the cache key: change it when the prompt or schema changes

INSTRUCTIONS = """\
You translate subtitles. The input is JSON: the source and target languages and a list of cues,
each {"id", "speaker", "text"}. Translate each cue's text into the target language.
Return {"cues": [{"id", "text"}]} with every id exactly once, in the same order, and nothing else.
Rules:
- One output cue per input cue: never merge, split, drop, add or reorder cues, never change an id.
- A sentence may run over several cues: translate each cue's part so that it reads naturally at
  that place; keep each cue's text about as long as the original.
- Keep names; keep a cue that is only a sound description in parentheses as such, translated.
"""


class CueText(BaseModel):
    id: str
    text: str


class CueTexts(BaseModel):
    """The answer's schema (given to Gemini as ``response_schema``)."""

    cues: list[CueText]


class CueMismatch(Exception):
    """An answer whose cues are not exactly the ones sent (or that cannot be read)."""


class GeminiTranslateOptions(OptionsModel):
    model: str = Field(default_factory=default_model)
    chunk_cues: int = 60
    max_attempts: int = 4        # per chunk, for rejected answers (tenacity) and for each request's HTTP retries (SDK)
    backoff_s: float = 2.0
    max_backoff_s: float = 30.0
    timeout_s: float = 120.0
    temperature: float = 0.0

    def cache_options(self) -> dict:
        return {"model": self.model, "temperature": self.temperature, "prompt_version": PROMPT_VERSION,
                "chunk_cues": self.chunk_cues}


class GeminiTranslator:
    name = "gemini"
    uses_audio = False

    def __init__(self, options: Optional[GeminiTranslateOptions] = None, api_key: Optional[str] = None,
                 client: Any = None):
        self.options = options or GeminiTranslateOptions()
        self._api_key, self._client = api_key, client
        self.attempts = 0
        self.rejected: list[str] = []  # why answers were rejected, in order

    def options_dict(self) -> dict:
        return self.options.cache_options()

    def supports(self, source: Optional[str], target: str) -> bool:
        return True

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self._api_key, self.options)
        return self._client

    def translate(self, request: TranslationRequest) -> dict[str, str]:
        texts: dict[str, str] = {}
        size = max(1, self.options.chunk_cues)
        for first in range(0, len(request.cues), size):
            chunk = request.cues[first:first + size]
            texts.update(self._translate_chunk(chunk, request))
            if request.progress:
                request.progress(len(texts), len(request.cues))
        return texts

    def _translate_chunk(self, chunk: list[CueSource], request: TranslationRequest) -> dict[str, str]:
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        payload = {"source_language": request.source or "unknown (detect it)", "target_language": request.target,
                   "cues": [{"id": c.id, "speaker": c.speaker, "text": c.text} for c in chunk]}
        retrying = Retrying(stop=stop_after_attempt(self.options.max_attempts),
                            wait=wait_exponential(multiplier=self.options.backoff_s, max=self.options.max_backoff_s),
                            retry=retry_if_exception_type(CueMismatch), before_sleep=self._log_retry, reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._ask(payload, [c.id for c in chunk])
        except CueMismatch as e:
            raise StageFailed(f"Gemini's {request.target} translation was rejected {self.options.max_attempts} "
                              f"times (last: {e}); no {request.target} track was written") from e
        except Exception as e:
            from ..genai_client import is_transient, no_answer_line

            if is_transient(e):
                raise StageFailed(no_answer_line(e, self.options.max_attempts, f"the {request.target} translation")) from e
            mapped = _permanent(e, self.options.model)
            if mapped is e:
                raise
            raise mapped from e
        raise AssertionError("unreachable")

    def _ask(self, payload: dict, ids: list[str]) -> dict[str, str]:
        self.attempts += 1
        response = self.client.models.generate_content(model=self.options.model,
                                                       contents=json.dumps(payload, ensure_ascii=False),
                                                       config=self._config())
        try:
            return checked_texts(response, ids)
        except CueMismatch as e:
            self.rejected.append(str(e))
            log.warning("translate: Gemini's answer rejected (%s); asking again", e)
            raise

    def _config(self):
        from ..genai_client import genai_types, http_options

        types = genai_types("enhance", "Gemini translation")
        return types.GenerateContentConfig(
            system_instruction=INSTRUCTIONS, temperature=self.options.temperature,
            response_mime_type="application/json", response_schema=CueTexts,
            http_options=http_options(self.options.timeout_s, self.options.max_attempts, self.options.backoff_s,
                                      self.options.max_backoff_s, what="Gemini translation"))

    @staticmethod
    def _log_retry(state) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.info("translate: attempt %d failed (%s: %s)", state.attempt_number, type(error).__name__, error)

    def close(self) -> None:
        self._client = None


def make_client(api_key: Optional[str], options: GeminiTranslateOptions):
    """A ``google.genai.Client`` with the shared retry policy."""
    if not api_key:
        raise BackendUnavailable("Gemini translation needs an API key: set GEMINI_API_KEY (environment, Colab "
                                 "secrets or <workspace>/secrets/GEMINI_API_KEY)")
    from ..genai_client import gemini_client

    return gemini_client(api_key, options.timeout_s, extra="enhance", what="Gemini translation",
                         attempts=options.max_attempts, backoff_s=options.backoff_s,
                         max_backoff_s=options.max_backoff_s)


def checked_texts(response: Any, ids: list[str]) -> dict[str, str]:
    """id -> text of an answer holding exactly IDS in order, each with text; else CueMismatch."""
    from ..genai_client import read_answer

    try:
        answer = read_answer(response, CueTexts)  # blocked, stopped early, not JSON of the schema
    except AnswerRejected as e:
        raise CueMismatch(str(e)) from e
    got = [c.id for c in answer.cues]
    if got != ids:
        raise CueMismatch(describe_mismatch(ids, got))
    empty = [c.id for c in answer.cues if not c.text.strip()]
    if empty:
        raise CueMismatch(f"cue(s) {', '.join(empty[:5])} came back empty (merged into a neighbour?)")
    return {c.id: " ".join(c.text.split()) for c in answer.cues}


def describe_mismatch(sent: list[str], got: list[str]) -> str:
    missing = [i for i in sent if i not in got]
    extra = [i for i in got if i not in sent]
    repeated = sorted({i for i in got if got.count(i) > 1})
    parts = [f"sent {len(sent)} cues, got {len(got)}"]
    if missing:
        parts.append(f"missing {', '.join(missing[:5])}")
    if extra:
        parts.append(f"unknown ids {', '.join(extra[:5])}")
    if repeated:
        parts.append(f"repeated {', '.join(repeated[:5])}")
    if not (missing or extra or repeated):
        parts.append("ids out of order")
    return "; ".join(parts)


#: how to choose another model for the translation (it has no option of its own)
MODEL_HELP = model_help()


def _permanent(error: Exception, model: str) -> Exception:
    """A refused key or a retired model: one line, no translation; another refusal fails the stage."""
    from ..genai_client import permanent_error

    return permanent_error(error, model, MODEL_HELP,
                           lambda why: BackendUnavailable(f"{why} No translation was made."))
