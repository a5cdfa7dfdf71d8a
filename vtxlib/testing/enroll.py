"""Enrollment clips for the synthetic voices: the same espeak-ng voices as the corpus
(:func:`vtxlib.testing.corpus.voices_for`), saying sentences that no corpus conversation contains, so
that matching is measured on different utterances than the conversation audio."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .synth import HARVARD_SENTENCES, SAMPLE_RATE, Voice, _speak

ENROLL_VERSION = 1  # bump when the generated clips change
# Harvard sentences (IEEE 1969, public domain) that vtxlib.testing.synth's conversations never use.
ENROLLMENT_SENTENCES = (
    "Open the crate but don't break the glass.",
    "The small red neon lamp went out.",
    "Clams are small, round, soft and tasty.",
    "A wisp of cloud hung in the blue air.",
    "Paste can cleanse the most dirty brass.",
    "The pipe began to rust while new.",
    "The tiny girl took off her hat.",
    "Cut the pie into large parts.",
    "Men strive but seldom get rich.",
    "Always close the barn door tight.",
    "He ran half way to the hardware store.",
    "The clock struck to mark the third period.",
    "A small creek cut across the field.",
    "Cars and busses stalled in snow drifts.",
    "The set of china hit the floor with a crash.",
    "This is a grand season for hikes on the road.",
)
assert not set(ENROLLMENT_SENTENCES) & set(HARVARD_SENTENCES)


def enrollment_audio(voice: Voice, take: int, sentences: int = 4) -> np.ndarray:
    """``sentences`` sentences (a different set per ``take``) in VOICE, with short pauses, 16 kHz."""
    pause = np.zeros(int(0.35 * SAMPLE_RATE), dtype=np.float32)
    pieces = []
    with tempfile.TemporaryDirectory(prefix="vtx-enroll-") as tmp:
        for i in range(sentences):
            text = ENROLLMENT_SENTENCES[(take * sentences + i) % len(ENROLLMENT_SENTENCES)]
            pieces += [_speak(voice, text, Path(tmp) / f"{i}.wav"), pause]
    return np.concatenate([pause] + pieces)


def enrollment_clip(folder: Path, voice: Voice, take: int = 0, sentences: int = 4, name: str = "") -> Path:
    """A wav of :func:`enrollment_audio` under FOLDER (reused when present)."""
    from ..audio import write_wav

    path = Path(folder) / (name or f"{voice.name}-p{voice.pitch}-s{voice.speed}-t{take}-n{sentences}-v{ENROLL_VERSION}.wav")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        write_wav(partial, enrollment_audio(voice, take, sentences))
        partial.replace(path)
    return path
