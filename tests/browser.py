"""Chromium for the browser tests: Debian's package driven by playwright (no browser download).

Without a browser the tests skip with the reason; under CI (``CI=true``, set by ``.ci/run``) they
fail instead, so a CI machine that lost its browser cannot pass silently.
"""

from __future__ import annotations

import shutil

from needs import require, require_tools


def chromium_path() -> str:
    """The chromium executable, or skip (fail under CI) with what is missing and how to get it."""
    require("playwright.sync_api", extra="dev")
    if shutil.which("chromium-browser") is None:  # some distributions name it so
        require_tools("chromium")
    return shutil.which("chromium") or shutil.which("chromium-browser")


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
