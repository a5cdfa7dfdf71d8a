"""Secrets (HF token, Gemini key, OAuth files) from the environment, Colab secrets or a file.

Values are returned to the caller and never logged; only the *source* of a secret is ever logged.
Lookup order for a name such as ``HF_TOKEN``:

1. the environment variable of that name (or one of its aliases);
2. Colab's secret store (``google.colab.userdata``), when running on Colab with access granted;
3. ``<workspace>/secrets/<NAME>`` — a one-line file, e.g. on Drive, readable only by its owner;
4. for ``HF_TOKEN`` only: ``huggingface_hub.get_token()``, i.e. a ``huggingface-cli login`` token.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger("vtxlib.secrets")

ALIASES = {
    "HF_TOKEN": ("HF_TOKEN", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    "GEMINI_API_KEY": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


def get_secret(name: str, secrets_dir: Optional[Path] = None) -> Optional[str]:
    """Return the secret's value, or None if it is set nowhere."""
    for alias in ALIASES.get(name, (name,)):
        value = os.environ.get(alias, "").strip()
        if value:
            log.debug("%s taken from the environment variable %s", name, alias)
            return value
    value = _from_colab(ALIASES.get(name, (name,)))
    if value:
        log.debug("%s taken from Colab secrets", name)
        return value
    if secrets_dir is not None:
        path = Path(secrets_dir) / name
        if path.is_file():
            value = path.read_text(encoding="utf-8").strip()
            if value:
                log.debug("%s taken from %s", name, path)
                return value
    if name == "HF_TOKEN":
        return _hub_login_token()
    return None


def _hub_login_token() -> Optional[str]:
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    value = get_token()
    if value:
        log.debug("HF_TOKEN taken from the huggingface-cli login")
    return value or None


def describe_secret(name: str, secrets_dir: Optional[Path] = None) -> str:
    """'set (...)' or 'missing' — safe to print: never contains the value."""
    return "set" if get_secret(name, secrets_dir) else "missing"


def _from_colab(names: tuple[str, ...]) -> Optional[str]:
    try:
        from google.colab import userdata  # type: ignore
    except ImportError:
        return None
    for alias in names:
        try:
            value = userdata.get(alias)
        except Exception:  # SecretNotFoundError / NotebookAccessError: not set or not granted
            continue
        if value:
            return value.strip()
    return None
