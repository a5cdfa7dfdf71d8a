"""Speaker counts are checked by one function, whoever asks: the CLI, the service, PipelineOptions
and the diarizers' SpeakerCount give the same answer to the same counts."""

import pytest

from vtxlib.diarize.base import SpeakerCount
from vtxlib.errors import InputError
from vtxlib.pipeline import PipelineOptions
from vtxlib.validate import MAX_SPEAKERS, check_speaker_counts

BAD = [
    ({"num_speakers": 0}, "positive integer"),
    ({"max_speakers": MAX_SPEAKERS + 1}, f"between 1 and {MAX_SPEAKERS}"),
    ({"num_speakers": 2, "max_speakers": 3}, "not both"),
    ({"num_speakers": 2, "min_speakers": 1}, "not both"),
    ({"min_speakers": 4, "max_speakers": 2}, "larger than"),
]
GOOD = [{}, {"num_speakers": 1}, {"num_speakers": MAX_SPEAKERS}, {"min_speakers": 2, "max_speakers": 2},
        {"max_speakers": 3}]


@pytest.mark.parametrize("build", [lambda c: check_speaker_counts(**c), lambda c: SpeakerCount(**c),
                                   lambda c: PipelineOptions(**c)], ids=["check", "SpeakerCount", "PipelineOptions"])
@pytest.mark.parametrize("counts,message", BAD)
def test_every_entry_point_refuses_the_same_counts(build, counts, message):
    with pytest.raises(InputError, match=message):
        build(counts)


@pytest.mark.parametrize("counts", GOOD)
def test_every_entry_point_accepts_the_same_counts(counts):
    check_speaker_counts(**counts)
    assert SpeakerCount(**counts).model_dump(exclude_none=True) == counts
    PipelineOptions(**counts)
