"""Chromium for the browser tests: Debian's package driven by playwright (no browser download).

Without a browser the tests skip with the reason; under CI (``CI=true``, set by ``.ci/run``) they
fail instead, so a CI machine that lost its browser cannot pass silently.
"""

from __future__ import annotations

import os
import shutil

import pytest


def chromium_path() -> str:
    """The chromium executable, or skip (fail under CI) with what is missing and how to get it."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if reason is None and executable is None:
        reason = "no chromium on PATH (apt-get install chromium; scripts/install.sh all does it)"
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return executable


class Page:
    """A page that records every request and every console error or uncaught exception."""

    def __init__(self, browser, width: int = 1400, height: int = 900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def outside(self, *allowed_prefixes: str) -> list[str]:
        """Requested URLs that start with none of ALLOWED_PREFIXES (data: URIs are inline)."""
        return [u for u in self.requests if not u.startswith(("data:", *allowed_prefixes))]
