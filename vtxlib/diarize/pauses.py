"""Short pauses inside a speaker's turn, bridged for the turns written to ``transcript.rttm``.

A diarizer's speech stops at every breath and comma; reference annotations (and pyannote's
``min_duration_off``) count a short pause inside someone's turn as part of it. ``bridge_pauses``
joins two turns of the same speaker when the gap between them is shorter than ``fill`` seconds and
nobody else speaks in it. Turns of different speakers are never joined, and the word-level turns
(who said each word) are not touched: only the RTTM and the DER measured on it change.

``RTTM_PAUSE_FILL`` was chosen on the dev half of the synthetic corpus (split by voice) with
``python bench/diarization.py --fills``; docs/diarization.md has the figures on the test half.
"""

from __future__ import annotations

from bisect import bisect_right

from ..types import SpeakerTurn

RTTM_PAUSE_FILL = 0.3  # s: lowest mean DER on the dev half against annotated references


def bridge_pauses(turns: list[SpeakerTurn], fill: float = RTTM_PAUSE_FILL) -> list[SpeakerTurn]:
    """TURNS with each speaker's pauses shorter than FILL seconds bridged, unless another speaker
    talks inside the pause; sorted by (start, end, speaker)."""
    ordered = sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
    if fill <= 0.0:
        return ordered
    by_speaker: dict[str, list[SpeakerTurn]] = {}
    for turn in ordered:
        by_speaker.setdefault(turn.speaker, []).append(turn)
    bridged = []
    for speaker, own in by_speaker.items():
        others = _union([t for t in ordered if t.speaker != speaker])
        current = own[0]
        for turn in own[1:]:
            gap_start, gap_end = current.end, turn.start
            if round(gap_end - gap_start, 6) < fill and not _anyone_in(others, gap_start, gap_end):
                current = SpeakerTurn(speaker=speaker, start=current.start, end=max(current.end, turn.end))
            else:
                bridged.append(current)
                current = turn
        bridged.append(current)
    return sorted(bridged, key=lambda t: (t.start, t.end, t.speaker))


def _union(turns: list[SpeakerTurn]) -> tuple[list[float], list[float]]:
    """The speech of TURNS as disjoint sorted intervals: (starts, ends)."""
    starts: list[float] = []
    ends: list[float] = []
    for turn in sorted(turns, key=lambda t: t.start):
        if ends and turn.start <= ends[-1]:
            ends[-1] = max(ends[-1], turn.end)
        else:
            starts.append(turn.start)
            ends.append(turn.end)
    return starts, ends


def _anyone_in(speech: tuple[list[float], list[float]], start: float, end: float) -> bool:
    """Whether SPEECH (from ``_union``) has some inside (START, END); a gap of zero or less never."""
    starts, ends = speech
    if end <= start:
        return False
    first = bisect_right(ends, start)  # the first interval that ends after START
    return first < len(starts) and starts[first] < end
