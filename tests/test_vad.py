"""One speech-detection pass: the speech stage's regions (segmentation-3.0's when the embedded
diarizer runs, else Silero's), decoded by whisper-cpu and used as the diarizer's speech, on the real
two-speaker call shipped in pyannote.audio's wheel."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vtxlib.asr.whisper_cpu import WhisperCpuAsr, speech_windows, split_long
from vtxlib.audio import load_audio, write_wav
from vtxlib.diarize.base import SpeakerCount
from vtxlib.diarize.embedded import EmbeddedDiarizer, EmbeddedDiarizerOptions
from vtxlib.testing.samples import pyannote_sample
from vtxlib.types import AudioFile
from vtxlib.vad import SpeechOptions, SpeechRegions, detect_speech, speech_in_samples


@pytest.fixture(scope="module")
def sample():
    return pyannote_sample()


@pytest.fixture(scope="module")
def audio(sample):
    return AudioFile(path=str(sample.wav), sample_rate=16000, duration=sf.info(str(sample.wav)).duration)


@pytest.fixture(scope="module")
def speech(sample):
    return detect_speech(str(sample.wav))


def inside(t: float, regions, slack: float = 0.0) -> bool:
    return any(s - slack <= t <= e + slack for s, e in regions)


def test_regions_are_sorted_disjoint_and_cover_the_reference_speech(sample, speech):
    regions = speech.regions
    assert regions and all(s < e for s, e in regions)
    assert all(a[1] < b[0] for a, b in zip(regions, regions[1:]))
    reference = sample.reference_turns()
    spoken = [(t.start + t.end) / 2 for t in reference if t.end - t.start > 0.5]
    covered = sum(inside(t, regions) for t in spoken) / len(spoken)
    assert covered > 0.9, covered  # the middle of nearly every reference turn is speech
    assert speech.speech_seconds < 0.95 * speech.duration  # and not everything is


def test_silence_has_no_speech(tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 5, dtype=np.float32))
    assert detect_speech(str(path)).regions == []


def test_blocks_are_joined_where_they_cut_speech(sample, speech):
    """Scoring 7 s blocks finds the same speech, and no region ends on a block edge where the
    whole-file regions run on."""
    blocked = detect_speech(str(sample.wav), SpeechOptions(block_s=7.0))
    whole = SpeechRegions(regions=speech_in_samples(load_audio(sample.wav)), duration=speech.duration)
    assert speech.regions == [(round(s, 3), round(e, 3)) for s, e in whole.regions]
    times = np.arange(0.0, speech.duration, 0.05)
    agree = (blocked.mask(times) == speech.mask(times)).mean()
    assert agree > 0.95, agree
    edges = [7.0 * i for i in range(1, int(speech.duration // 7) + 1)]
    for edge in edges:
        if speech.mask(np.array([edge - 0.1, edge + 0.1])).all():
            assert blocked.mask(np.array([edge])).all(), edge


def test_padded_regions_join_and_stay_in_the_file():
    speech = SpeechRegions(regions=[(0.1, 1.0), (1.5, 2.0), (5.0, 9.9)], duration=10.0)
    assert speech.padded(0.4) == [(0.0, 2.4), (4.6, 10.0)]
    assert speech.padded(0.0, min_gap_s=0.6) == [(0.1, 2.0), (5.0, 9.9)]
    assert list(speech.mask(np.array([0.05, 0.5, 1.2, 1.7, 4.0, 9.95]))) == [False, True, False, True, False, False]


def test_round_trip(speech):
    assert SpeechRegions.model_validate(speech.model_dump(mode="json")) == speech


def test_asr_decodes_only_the_given_regions_with_absolute_times(audio):
    """Only the second half of the call is speech here: every word lies in it (within the pad),
    with its time in the file, not in the decoded audio."""
    asr = WhisperCpuAsr()
    late = SpeechRegions(regions=[(16.0, 29.0)], duration=audio.duration)
    transcript = asr.transcribe(audio, speech=late)
    words = transcript.words
    assert len(words) >= 10
    pad = asr.pad_for(late)
    assert all(16.0 - pad <= w.start and w.end <= 29.0 + pad + 0.05 for w in words), \
        [(w.text, w.start, w.end) for w in words[:5]]
    everything = asr.transcribe(audio)
    expected = [w for w in everything.words if 16.5 <= (w.start + w.end) / 2 <= 28.5]
    found = [w for w in words if 16.5 <= (w.start + w.end) / 2 <= 28.5]
    # the same speech decoded either way: most words agree in text and time
    matches = sum(any(f.text == e.text and abs(f.start - e.start) < 0.3 for f in found) for e in expected)
    assert matches >= 0.8 * len(expected), (matches, len(expected))


def test_asr_with_no_speech_regions_gives_an_empty_transcript(audio):
    assert WhisperCpuAsr().transcribe(audio, speech=SpeechRegions(regions=[], duration=audio.duration)).words == []


def test_speech_windows_end_between_regions_and_cut_long_ones(tmp_path):
    path = write_wav(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.1, 16000 * 40).astype(np.float32))
    chunks = [(0.0, 4.0), (5.0, 9.0), (11.0, 12.0), (13.0, 38.0)]
    windows = list(speech_windows(chunks, 10.0, str(path)))
    assert windows[0] == (0.0, [(0.0, 4.0), (5.0, 9.0)])
    assert windows[1] == (11.0, [(11.0, 12.0)])
    pieces = [c for _, group in windows[2:] for c in group]
    assert pieces[0][0] == 13.0 and pieces[-1][1] == 38.0
    assert all(b[0] == a[1] for a, b in zip(pieces, pieces[1:]))  # contiguous: nothing decoded twice or lost
    assert all(e - s <= 10.0 for s, e in pieces)
    assert split_long([(0.0, 65.0)], 30.0) == [(0.0, 30.0), (30.0, 60.0), (60.0, 65.0)]


@pytest.fixture(scope="module")
def one_pass(audio):
    """The speech stage as the pipeline runs it with the embedded diarizer: segmentation-3.0's regions."""
    return EmbeddedDiarizer().detect_speech(audio)


def test_segmentation_regions_hold_the_whole_voice_count(sample, audio, one_pass):
    """The regions and overlaps give back segmentation-3.0's frame count exactly, so the diarizer
    loses nothing by taking them instead of running the model again."""
    from vtxlib.diarize.embedded import WavReader, count_of, segment, speaker_count

    reader = WavReader(audio.path)
    try:
        count = speaker_count(segment(reader, EmbeddedDiarizerOptions()), reader.duration)
    finally:
        reader.close()
    assert one_pass.backend == "segmentation-3.0"
    assert np.array_equal(count_of(one_pass, audio.duration).data, count.data)
    assert np.array_equal(count_of(SpeechRegions.model_validate(one_pass.model_dump(mode="json")),
                                   audio.duration).data, count.data)  # through the cached JSON too
    assert one_pass.overlaps and all(inside((s + e) / 2, one_pass.regions) for s, e in one_pass.overlaps)
    middles = [(t.start + t.end) / 2 for t in sample.reference_turns()]
    assert sum(inside(m, one_pass.regions) for m in middles) >= 0.9 * len(middles)


def test_diarizer_takes_its_own_regions_without_segmenting_again(audio, one_pass, monkeypatch):
    from vtxlib.diarize import embedded

    alone = EmbeddedDiarizer().diarize(audio, SpeakerCount())

    def no_second_pass(*args, **kwargs):
        raise AssertionError("segmentation-3.0 ran a second time")
    monkeypatch.setattr(embedded, "segment", no_second_pass)
    given = EmbeddedDiarizer().diarize(audio, SpeakerCount(), speech=one_pass)
    assert given.turns == alone.turns and given.overlaps == alone.overlaps
    frame = 0.02
    for turn in given.speech_turns:
        assert inside(turn.start, one_pass.regions, frame) and inside(turn.end, one_pass.regions, frame), turn


def test_diarizer_turns_stay_inside_another_detectors_regions(audio, speech):
    """Silero's regions (another detector) are the speech of the turns; the voices stay segmentation-3.0's."""
    diarizer = EmbeddedDiarizer()
    result = diarizer.diarize(audio, SpeakerCount(), speech=speech)
    assert result.num_speakers_estimated == 2
    frame = 0.02
    for turn in result.speech_turns:
        assert inside(turn.start, speech.regions, frame) and inside(turn.end, speech.regions, frame), turn
    said = sum(t.end - t.start for t in result.turns)
    assert said == pytest.approx(speech.speech_seconds, abs=0.5)
    cut = SpeechRegions(regions=[r for r in speech.regions if r[1] <= 15.0], duration=audio.duration)
    assert all(t.end <= 15.0 + frame for t in diarizer.diarize(audio, SpeakerCount(), speech=cut).turns)


class SpeechTakingAsr:
    """Records the regions it is given; one word per region."""

    name = "fake-speech-asr"
    takes_speech = True

    def __init__(self):
        self.given = []

    def options_dict(self):
        return {}

    def transcribe(self, audio, progress=None, speech=None):
        from vtxlib.types import Segment, Transcript, Word
        self.given.append(speech)
        words = [Word(text=f"w{i}", start=s, end=e, prob=0.9) for i, (s, e) in enumerate(speech.regions)]
        return Transcript(segments=[Segment(text=w.text, start=w.start, end=w.end, words=[w]) for w in words],
                          language="en", backend=self.name)

    def close(self):
        pass


def test_pipeline_detects_speech_once_and_hands_the_regions_to_asr_and_diarizer(tmp_path, sample):
    import shutil

    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.types import UNKNOWN_SPEAKER
    from vtxlib.workspace import Workspace

    src = shutil.copy(sample.wav, tmp_path / "call.wav")
    ws = Workspace(tmp_path / "ws")

    def run():
        asr = SpeechTakingAsr()
        p = Pipeline(ws, PipelineOptions(emotion="off", report=False),
                     backends={"asr": asr, "diarize": EmbeddedDiarizer()})
        return p.run(str(src), until="align"), asr

    first, asr = run()
    assert first.speech is not None and first.speech.regions
    assert first.document.stages["speech"].backend == "segmentation-3.0"
    assert asr.given == [first.speech]
    assert "speech" in first.document.stages and not first.document.stages["speech"].cached
    for turn in first.diarization.speech_turns:
        assert inside(turn.start, first.speech.regions, 0.02) and inside(turn.end, first.speech.regions, 0.02)
    assert [w.speaker for w in first.document.transcript.words if w.speaker == UNKNOWN_SPEAKER] == []
    again, _ = run()
    assert again.document.stages["speech"].cached and again.document.stages["asr"].cached
    assert again.refs["speech"].digest == first.refs["speech"].digest


class RegionsOnlyDiarizer:
    """A diarizer that does not detect speech itself: one speaker over the regions it is given."""

    name = "fake-regions-diarizer"
    takes_speech = True

    def options_dict(self):
        return {}

    def diarize(self, audio, count, progress=None, speech=None):
        from vtxlib.types import Diarization, SpeakerTurn
        turns = [SpeakerTurn("SPEAKER_00", s, e) for s, e in speech.regions]
        return Diarization(turns=turns, speech_turns=turns, backend=self.name, num_speakers_estimated=1)

    def close(self):
        pass


def test_without_a_detecting_diarizer_silero_regions_go_to_both(tmp_path, sample):
    import shutil

    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.workspace import Workspace

    src = shutil.copy(sample.wav, tmp_path / "call.wav")
    asr = SpeechTakingAsr()
    p = Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", report=False),
                 backends={"asr": asr, "diarize": RegionsOnlyDiarizer()})
    result = p.run(str(src), until="align")
    assert result.document.stages["speech"].backend == "silero"
    assert asr.given == [result.speech]
    assert [(t.start, t.end) for t in result.diarization.turns] == result.speech.regions
