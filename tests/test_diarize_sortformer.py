"""The optional ``sortformer`` diarizer through NeMo's ``SortformerEncLabelModel`` with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import require  # noqa: E402

require("nemo.collections.asr", extra="gpu")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from gpu_models import build_sortformer_model  # noqa: E402

from vtxlib.diarize.base import SpeakerCount  # noqa: E402
from vtxlib.diarize.sortformer import SortformerDiarizer, SortformerOptions, exclusive_turns, parse_segments  # noqa: E402
from vtxlib.errors import BackendUnavailable, InputError  # noqa: E402
from vtxlib.types import AudioFile, Diarization, SpeakerTurn  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.gpu_tier


@pytest.fixture(scope="module")
def sample_wav() -> AudioFile:
    pyannote_audio = require("pyannote.audio", extra="gpu")
    path = Path(pyannote_audio.__file__).parent / "sample" / "sample.wav"
    return AudioFile(path=str(path), sample_rate=16000, duration=sf.info(str(path)).duration)


def test_random_sortformer_gives_exclusive_turns(sample_wav):
    diarizer = SortformerDiarizer(model=build_sortformer_model())
    calls = []
    result = diarizer.diarize(sample_wav, SpeakerCount(), progress=lambda d, t: calls.append((d, t)))
    assert isinstance(result, Diarization) and result.turns and result.backend == "sortformer"
    assert result.model_version.startswith("nemo ")
    for turn in result.turns:
        assert turn.speaker.startswith("SPEAKER_") and 0.0 <= turn.start < turn.end <= sample_wav.duration
    for left, right in zip(result.turns, result.turns[1:]):
        assert left.end <= right.start
    assert 1 <= result.num_speakers_estimated <= 4
    assert calls[-1] == (sample_wav.duration, sample_wav.duration)
    assert Diarization.model_validate(result.model_dump(mode="json")) == result
    diarizer.close()
    assert diarizer._model is None


def test_overlapping_segments_become_exclusive_turns_and_overlaps():
    raw = parse_segments(["0.000 4.000 speaker_0", "3.000 6.000 speaker_1", "5.500 7.000 speaker_0",
                          "9.000 12.500 speaker_1"], duration=12.0)
    turns, overlaps = exclusive_turns(raw)
    assert [(t.speaker, t.start, t.end) for t in turns] == [
        ("SPEAKER_00", 0.0, 4.0), ("SPEAKER_01", 4.0, 6.0), ("SPEAKER_00", 6.0, 7.0),
        ("SPEAKER_01", 9.0, 12.0)]
    assert overlaps == [(3.0, 4.0), (5.5, 6.0)]
    assert exclusive_turns([SpeakerTurn("A", 0.0, 1.0)]) == ([SpeakerTurn("A", 0.0, 1.0)], [])


def test_more_than_four_speakers_is_refused():
    diarizer = SortformerDiarizer(model=object())
    with pytest.raises(InputError, match="at most 4"):
        diarizer.diarize(AudioFile("unused.wav", 16000, 1.0), SpeakerCount(num_speakers=5))


def test_offline_model_name_gives_actionable_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackendUnavailable, match="offline"):
        SortformerDiarizer(SortformerOptions(), cache_dir=tmp_path).model


def test_audio_longer_than_one_pass_holds_is_refused_before_loading(monkeypatch):
    from vtxlib import gpu
    from vtxlib.diarize.sortformer import longest_audio_seconds

    assert longest_audio_seconds(48e9) == 720 and 380 < longest_audio_seconds(15_835_660_288) < 440
    assert longest_audio_seconds(None) == 720
    monkeypatch.setattr(gpu, "resolve_device", lambda device: "cuda")
    monkeypatch.setattr(gpu, "total_gpu_memory_bytes", lambda device: 15_835_660_288)  # a T4
    diarizer = SortformerDiarizer(model=object())  # never reached: the length is checked first
    with pytest.raises(InputError, match="at most 6.9 min") as info:
        diarizer.diarize(AudioFile(path="unused.wav", sample_rate=16000, duration=20 * 60.0), SpeakerCount())
    assert "--diarizer pyannote" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="at most 2.0 min"):
        SortformerDiarizer(SortformerOptions(max_seconds=120), model=object()).diarize(
            AudioFile(path="unused.wav", sample_rate=16000, duration=121.0), SpeakerCount())
