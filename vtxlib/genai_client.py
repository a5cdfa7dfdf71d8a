"""What enhancement, translation and the Gemini ASR backend share about google-genai.

* **The client** (:func:`gemini_client`) for the Gemini Developer API.
* **One retry policy** (:func:`http_options`): the SDK itself (tenacity inside) asks again after a
  timeout, a refused connection or an HTTP status in :data:`RETRYABLE_HTTP_CODES`, with exponential
  backoff and jitter. Each caller puts it in every request's config, so it holds for any client
  passed in; what comes out after the last attempt is classified by :func:`is_transient`.
* **The model**: :func:`default_model` ($VTX_GEMINI_MODEL, else Google's current-Flash alias) and
  :func:`retired_model_line`, the one line for a model the API no longer knows.
* **Reading an answer** into its pydantic response schema (:func:`read_answer`).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import missing_dependency

#: request timeout, rate limit and the server's own failures: asked again by the SDK
RETRYABLE_HTTP_CODES = (408, 429, 500, 502, 503, 504)
#: Google's alias for its current Flash model: it follows Google's documented replacement when a
#: Flash version is retired (gemini-2.5-flash was shut down on 2026-12-01), so no code change is needed
DEFAULT_MODEL = "gemini-flash-latest"
#: the environment variable that sets the model of every Gemini stage when no option names one
MODEL_ENV = "VTX_GEMINI_MODEL"

Answer = TypeVar("Answer", bound=BaseModel)


def default_model() -> str:
    """$VTX_GEMINI_MODEL, else Google's current-Flash alias."""
    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL


def model_help(*options: str) -> str:
    """How to choose another model: the first of OPTIONS (e.g. ``--enhance-model NAME``), the others
    (e.g. a notebook field), the environment variable, and what the default is."""
    default = f"the default is {DEFAULT_MODEL}, Google's alias for its current Flash model"
    if not options:
        return f"{MODEL_ENV}=NAME in the environment ({default})"
    return f"{options[0]} ({'; '.join([*options[1:], f'environment: {MODEL_ENV}', default])})"


def genai_types(extra: str, what: str):
    """``google.genai.types``, or the one-line missing-dependency error."""
    try:
        from google.genai import types
    except ImportError as e:
        raise missing_dependency("google-genai", extra, what) from e
    return types


def http_options(timeout_s: float, attempts: int, backoff_s: float, max_backoff_s: float, *,
                 extra: str = "enhance", what: str = "Gemini", base_url: Optional[str] = None):
    """``HttpOptions``: a per-request time limit and the retry policy. ATTEMPTS in all (1: no retry);
    waits of BACKOFF_S, 2x, 4x ... each plus up to BACKOFF_S of jitter, at most MAX_BACKOFF_S."""
    types = genai_types(extra, what)
    retry = types.HttpRetryOptions(attempts=max(1, attempts), initial_delay=backoff_s, max_delay=max_backoff_s,
                                   exp_base=2.0, jitter=backoff_s, http_status_codes=list(RETRYABLE_HTTP_CODES))
    return types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000), retry_options=retry)


def gemini_client(api_key: str, timeout_s: float, *, extra: str, what: str, base_url: Optional[str] = None,
                  attempts: int = 1, backoff_s: float = 1.0, max_backoff_s: float = 60.0):
    """A ``google.genai.Client`` whose requests follow :func:`http_options`."""
    options = http_options(timeout_s, attempts, backoff_s, max_backoff_s, extra=extra, what=what, base_url=base_url)
    from google import genai

    return genai.Client(api_key=api_key, http_options=options)


# -- what comes out of a request --------------------------------------------------------------------

def _httpx_errors(names: tuple[str, ...]) -> tuple[type, ...]:
    """The named exception classes of httpx and of httpx2 (the fork google-genai may use)."""
    found: list[type] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found += [getattr(module, name) for name in names if hasattr(module, name)]
    return tuple(found)


def transport_errors() -> tuple[type, ...]:
    """Timeouts and network errors: the request got no HTTP answer."""
    return (TimeoutError, ConnectionError) + _httpx_errors(("TimeoutException", "NetworkError", "TransportError"))


def is_transient(error: BaseException) -> bool:
    """No answer, or one worth asking again later: what the retry policy retries (and network errors
    it leaves alone, such as a connection dropped mid-answer)."""
    code = api_error_code(error)
    if code is not None:
        return code in RETRYABLE_HTTP_CODES
    return isinstance(error, transport_errors())


def retried_by_the_sdk(error: BaseException) -> bool:
    """Whether the SDK's retry policy asks again after ERROR (so it has used up its attempts)."""
    code = api_error_code(error)
    if code is not None:
        return code in RETRYABLE_HTTP_CODES
    return isinstance(error, _httpx_errors(("TimeoutException", "ConnectError")))


def no_answer_line(error: BaseException, attempts: int, what: str = "") -> str:
    """'Gemini did not answer [WHAT] ...' for a transient ERROR that ended a request of ATTEMPTS attempts."""
    tries = f" after {attempts} attempts" if retried_by_the_sdk(error) and attempts > 1 else ""
    return f"Gemini did not answer{' ' + what if what else ''}{tries}: {describe(error)}"


def describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    if code is not None:
        return f"{code} {getattr(error, 'status', '') or ''} {getattr(error, 'message', '') or ''}".strip()
    return f"{type(error).__name__}: {error}"


def key_refused(error: BaseException) -> bool:
    """Gemini refused the API key (400 API_KEY_INVALID, 401, 403)."""
    code = api_error_code(error)
    return code in (401, 403) or (code is not None and "API_KEY_INVALID" in str(getattr(error, "details", "")))


def retired_model_line(error: BaseException, model: str, choose: str) -> Optional[str]:
    """For a 404 NOT_FOUND answer to a request naming MODEL, the one line saying so and how to choose
    another (CHOOSE, e.g. :func:`model_help`'s); None for any other error."""
    if api_error_code(error) != 404:
        return None
    answer = " ".join(filter(None, ["404", getattr(error, "status", None)]))
    return f"Gemini model {model!r} was not found or is retired ({answer}); choose a current model with {choose}"


def permanent_error(error: Exception, model: str, choose: str,
                    unavailable: Callable[[str], Exception]) -> Exception:
    """What a stage raises for an error the SDK did not retry: a refused key or a retired model gives
    UNAVAILABLE(one line), another refusal fails the stage, anything else is raised as it is."""
    from .errors import StageFailed

    if key_refused(error):
        return unavailable(f"Gemini rejected the API key ({error.code} {error.status}); check GEMINI_API_KEY.")
    line = retired_model_line(error, model, choose)
    if line:
        return unavailable(f"{line}.")
    if api_error_code(error) is not None:
        return StageFailed(f"Gemini refused the request: {describe(error)}")
    return error


def api_error_code(error: BaseException) -> Optional[int]:
    try:
        from google.genai import errors as genai_errors
    except ImportError:
        return None
    return error.code if isinstance(error, genai_errors.APIError) else None


# -- reading an answer --------------------------------------------------------------------------------

class AnswerRejected(Exception):
    """A response that holds no usable answer. ``kind``: blocked (the prompt), stopped (a finish reason
    other than STOP; ``finish_reason`` says which), empty, or malformed (see :class:`MalformedAnswer`)."""

    def __init__(self, message: str, kind: str = "rejected", finish_reason: str = ""):
        super().__init__(message)
        self.kind, self.finish_reason = kind, finish_reason


class MalformedAnswer(AnswerRejected):
    """An answer that is not JSON of the response schema (worth asking again: the next sample may be)."""

    def __init__(self, message: str):
        super().__init__(message, "malformed")


def read_answer(response: Any, schema: type[Answer]) -> Answer:
    """The answer of a structured-output RESPONSE as SCHEMA (``model_validate_json`` of its text), or
    :class:`AnswerRejected` saying why there is none."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and getattr(feedback, "block_reason", None):
        raise AnswerRejected(f"request blocked ({enum_name(feedback.block_reason)})", "blocked")
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise AnswerRejected("the response has no candidates", "empty")
    reason = enum_name(getattr(candidates[0], "finish_reason", None))
    if reason not in ("STOP", "FINISH_REASON_UNSPECIFIED", "None"):
        raise AnswerRejected(f"the answer stopped early (finish_reason {reason})", "stopped", reason)
    text = response.text
    if not text:
        raise AnswerRejected("the response has no text", "empty")
    try:
        return schema.model_validate_json(text)
    except ValidationError as e:
        raise MalformedAnswer(schema_error(e)) from e


def schema_error(error: ValidationError) -> str:
    """One line for the first problem of a ``model_validate_json`` failure."""
    first = error.errors()[0]
    if first.get("type") == "json_invalid":
        return f"the answer is not valid JSON ({str(first.get('msg', '')).removeprefix('Invalid JSON: ')})"
    where = ".".join(str(part) for part in first.get("loc", ())) or "the answer"
    return f"the answer does not match the schema ({where}: {first.get('msg')})"


def enum_name(value: Any) -> str:
    return str(getattr(value, "name", value))
