"""Stand-in ASR and diarization backends, for tests of what runs around those stages, and a tone file."""

import math
import wave
from pathlib import Path

import numpy as np

from vtxlib.types import Diarization, Segment, SpeakerTurn, Transcript, Word


class FakeBackend:
    name = "fake"
    options: dict = {}

    def options_dict(self):
        return dict(self.options)

    def close(self):
        pass


class HelloAsr(FakeBackend):
    """Two English words, "hello there", between 0.2 and 0.9 s."""

    name = "fake-asr"

    def transcribe(self, audio, progress=None):
        words = [Word("hello", 0.2, 0.5, 0.9), Word("there", 0.6, 0.9, 0.9)]
        return Transcript([Segment("hello there", 0.2, 0.9, words)], language="en", backend=self.name)


class OneTurnDiarizer(FakeBackend):
    """One speaker from 0.1 to 1.0 s."""

    name = "fake-diarizer"

    def diarize(self, audio, count, progress=None):
        return Diarization([SpeakerTurn("SPEAKER_00", 0.1, 1.0)], backend=self.name)


def tone_wav(path: Path, seconds: float = 2.2, freq: float = 200.0, amplitude: float = 0.2) -> Path:
    """A 16 kHz mono 16-bit sine tone at PATH: media to push through the stages around stand-in backends."""
    t = np.arange(int(seconds * 16000)) / 16000
    data = (amplitude * np.sin(2 * math.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(data.tobytes())
    return path
