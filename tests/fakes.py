"""Stand-in ASR and diarization backends, for tests of what runs around those stages."""

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
