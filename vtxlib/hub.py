"""Models from the Hugging Face hub (the GPU tier's NeMo, pyannote and SpeechBrain models): fail in
seconds when the hub cannot be reached, and turn the hub's errors into one actionable line.

One place for what the asr, diarize and emotion backends each wrote out before; each passes what to
call the model and which option to use instead (``--asr whisper-cpu``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterator, Optional

from .errors import BackendUnavailable, VtxError

#: why huggingface_hub refused to download, when it does not say more
OFFLINE = "HF_HUB_OFFLINE is set or huggingface.co is unreachable"


def offline_error(what: str, reason: str, cache_dir: Optional[Path], instead: str) -> BackendUnavailable:
    where = f" in {cache_dir}" if cache_dir else ""
    return BackendUnavailable(f"cannot download {what}: offline ({reason}) and it is not cached{where}. Run "
                              f"once with internet access (e.g. on Colab) so it is stored in the workspace, or "
                              f"use {instead}")


def fail_fast_when_offline(what: str, cached: bool, cache_dir: Optional[Path], instead: str) -> None:
    """Not ``cached`` and the hub unreachable: say so now, not after huggingface_hub's minute of retries."""
    if cached:
        return
    from . import gpu

    reason = gpu.hf_offline_reason()
    if reason:
        raise offline_error(what, reason, cache_dir, instead)


def refused_access(model: str) -> VtxError:
    return BackendUnavailable(f"{model} is gated: accept its conditions at https://huggingface.co/{model} "
                              f"and set HF_TOKEN")


@contextlib.contextmanager
def hub_errors(model: str, instead: str, what: Optional[str] = None, cache_dir: Optional[Path] = None,
               refused: Optional[Callable[[Optional[int]], VtxError]] = None,
               not_found: Optional[Callable[[], VtxError]] = None, network_errors: bool = True) -> Iterator[None]:
    """Hugging Face download failures inside the block as one line each.

    ``refused(status)`` builds the error for a gated model (status None) or a 401/403 answer (default:
    accept its conditions and set HF_TOKEN); ``not_found()`` for a repository that does not exist or
    is private. ``network_errors``: also map other OSErrors (a connection that failed outside
    huggingface_hub's own wrapping); leave it off where a local path may be missing.
    """
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    refused = refused or (lambda status: refused_access(model))
    try:
        yield
    except GatedRepoError as e:  # before RepositoryNotFoundError and HfHubHTTPError, its bases
        raise refused(None) from e
    except RepositoryNotFoundError as e:
        raise (not_found() if not_found else BackendUnavailable(
            f"no model named '{model}' on Hugging Face (or it is private)")) from e
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as e:
        raise offline_error(what or model, OFFLINE, cache_dir, instead) from e
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            raise refused(status) from e
        raise BackendUnavailable(f"downloading {model} from Hugging Face failed: {e}") from e
    except OSError as e:
        if not network_errors:
            raise
        raise BackendUnavailable(f"cannot reach huggingface.co to download {model} ({e}); check the "
                                 f"connection or use {instead}") from e
