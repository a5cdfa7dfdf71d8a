"""Errors users are meant to read: one line, naming what was expected and what to do."""


class VtxError(Exception):
    """An expected failure (bad input, missing dependency, offline model). The CLI prints it as one
    line without a traceback and exits non-zero."""


class InputError(VtxError):
    """The source, file or option given by the user cannot be used."""


class BackendUnavailable(VtxError):
    """A backend's libraries, weights or credentials are missing here."""


class StageFailed(VtxError):
    """A stage ran and failed for a reason outside the user's input (network, service)."""


def missing_dependency(package: str, extra: str, purpose: str) -> BackendUnavailable:
    """The message for a heavy library that is not installed."""
    return BackendUnavailable(
        f"{purpose} requires the '{package}' package, which is not installed. "
        f"Install it with: pip install 'vtxlib[{extra}]' (or pip install -r requirements-colab.txt on Colab)."
    )
