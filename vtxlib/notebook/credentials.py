"""Which secrets and credential files a notebook has (never their values), and the cookies file."""

from __future__ import annotations

import logging
from pathlib import Path

from ..acquire import COOKIES_FILE
from ..errors import InputError
from ..workspace import Workspace
from .display import show_markdown, show_table

log = logging.getLogger("vtxlib.notebook")

#: secrets the notebooks may use, with what each one enables
SECRETS = {
    "HF_TOKEN": "pyannote diarization on the GPU tier (accept the model's terms on Hugging Face first)",
    "GEMINI_API_KEY": "07_enhance: punctuation, summary, chapters, suggested speaker names",
}


def secret_status(workspace: Workspace, names: tuple[str, ...] = tuple(SECRETS)) -> dict[str, bool]:
    """Which secrets are set (True/False). Never returns or logs a value."""
    from ..secrets import get_secret

    return {name: get_secret(name, workspace.secrets_dir) is not None for name in names}


def youtube_files(workspace: Workspace) -> dict[str, Path]:
    from ..youtube import CLIENT_SECRETS_FILE, TOKEN_FILE

    return {"client_secrets": workspace.secrets_dir / CLIENT_SECRETS_FILE,
            "token": workspace.secrets_dir / TOKEN_FILE}


def show_secret_status(workspace: Workspace) -> dict[str, bool]:
    """A table of every secret and credential file (set / present / missing) and what uses it."""
    status = secret_status(workspace)
    rows = [(name, "set" if ok else "missing", purpose) for (name, purpose), ok
            in zip(SECRETS.items(), status.values())]
    for label, path in youtube_files(workspace).items():
        status[f"youtube_{label}"] = path.is_file()
        rows.append(_file_row(path, f"09_upload ({label.replace('_', ' ')})"))
    cookies = workspace.secrets_dir / COOKIES_FILE
    status["cookies"] = cookies.is_file()
    rows.append(_file_row(cookies, "01_acquire: sites that ask to sign in (YouTube's \"confirm you're not a bot\")"))
    show_table(["secret", "status", "used by"], rows)
    show_markdown("Set missing secrets in Colab's key panel (left sidebar) or as environment variables; "
                  f"files go in `{workspace.secrets_dir}`. Values are never shown.")
    return status


def _file_row(path: Path, used_by: str) -> tuple[str, str, str]:
    return path.name, "present" if path.is_file() else "missing", used_by


def store_cookies(workspace: Workspace, path: str) -> Path:
    """Keep a cookies file with the workspace's secrets (Drive on Colab, mode 0600), so later
    notebooks and runtimes use it without asking; returns where it is kept."""
    source = Path(str(path).strip()).expanduser()
    target = workspace.secrets_dir / COOKIES_FILE
    if source.resolve() == target.resolve():
        return target
    if not source.is_file():
        raise InputError(f"COOKIES: {source} not found; expected a cookies.txt exported from a browser "
                         f"signed in to the site (upload it to the Colab file panel or to Drive first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    target.chmod(0o600)
    log.info("cookies kept at %s for later runs", target)
    return target
