"""The two ways vtx writes a time: cue timestamps (``00:01:02.345``, WebVTT/SRT) and a clock for
people (``1:02``, ``1:02:03``; chapters, the report, prompts)."""

from __future__ import annotations


def cue_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` (webvtt-py writes SRT's ``,`` itself)."""
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def clock(seconds: float, decimals: int = 0) -> str:
    """``mm:ss`` below an hour, ``h:mm:ss`` from then on (both forms YouTube reads as chapter times),
    with DECIMALS digits after the seconds."""
    seconds = max(0.0, float(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    width = 3 + decimals if decimals else 2
    secs_text = f"{secs:0{width}.{decimals}f}" if decimals else f"{int(secs):02d}"
    return f"{hours}:{minutes:02d}:{secs_text}" if hours else f"{minutes:02d}:{secs_text}"
