"""One way to build a google-genai client for the Gemini Developer API (enhance, translate, hosted ASR)."""

from __future__ import annotations

from typing import Optional

from .errors import missing_dependency


def gemini_client(api_key: str, timeout_s: float, *, extra: str, what: str, base_url: Optional[str] = None):
    """A ``google.genai.Client`` with the SDK's own retries off: every caller retries (and logs) itself."""
    try:
        from google import genai
        from google.genai import types
    except ImportError as e:
        raise missing_dependency("google-genai", extra, what) from e
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(
        base_url=base_url, timeout=int(timeout_s * 1000), retry_options=types.HttpRetryOptions(attempts=1)))
