"""Installed package versions, recorded in transcript.json and reported by the service."""

from __future__ import annotations

from importlib import metadata
from typing import Optional


def package_version(name: str) -> Optional[str]:
    """The installed version of distribution NAME, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
