"""vtxlib: video -> speaker-attributed, emotion-tagged, precisely timed WebVTT transcripts."""

__version__ = "0.1.0"

__all__ = ["__version__"]
