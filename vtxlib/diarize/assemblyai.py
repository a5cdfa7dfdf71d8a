"""Diarizer ``assemblyai``: AssemblyAI's speaker labels, which came with its transcript, as the diarization.

It runs no model: the ASR stage (``--asr assemblyai``, asked for speaker labels) already holds the
speaker turns (``Transcript.extras.assemblyai.speaker_turns``); this adapter hands them to the align
stage like any diarizer's turns. Without ``--diarizer assemblyai`` (or ``auto`` with ``--asr
assemblyai``) vtx's own diarizer runs as usual and AssemblyAI is not asked for labels.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import InputError
from ..types import AudioFile, Diarization, SpeakerTurn, Transcript
from .base import ProgressFn, SpeakerCount

NAME = "assemblyai"


class AssemblyAISpeakers:
    name = NAME
    takes_transcript = True  # the pipeline runs it after ASR and hands it the transcript

    def options_dict(self) -> dict:
        return {"source": "assemblyai speaker labels"}

    def diarize(self, audio: AudioFile, count: SpeakerCount, progress: Optional[ProgressFn] = None,
                transcript: Optional[Transcript] = None, **_: Any) -> Diarization:
        extras = transcript.extras.assemblyai if transcript is not None else None
        if extras is None:
            made_by = transcript.backend if transcript is not None else "no ASR"
            raise InputError(f"--diarizer assemblyai uses AssemblyAI's speaker labels, but the transcript was made "
                             f"by {made_by or 'another backend'}: use --asr assemblyai, or another diarizer")
        if not extras.speaker_turns and transcript.words:
            raise InputError("--diarizer assemblyai: this AssemblyAI transcript was made without speaker labels; "
                             "rerun with --force asr")
        turns = exclusive_turns(extras.speaker_turns)
        if progress:
            progress(audio.duration, audio.duration)
        return Diarization(turns, backend=NAME, model=extras.speech_model or "",
                           num_speakers_estimated=len({t.speaker for t in turns}))

    def close(self) -> None:
        pass


def exclusive_turns(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """Sorted turns with any overlap cut at the later turn's start (align wants at most one speaker)."""
    out: list[SpeakerTurn] = []
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        if out and turn.start < out[-1].end:
            previous = out[-1]
            out[-1] = SpeakerTurn(previous.speaker, previous.start, max(previous.start, turn.start))
            if out[-1].end <= out[-1].start:
                out.pop()
        if turn.end > turn.start:
            out.append(turn)
    return out
