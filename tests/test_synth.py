"""Synthetic conversations: deterministic, cached, with consistent ground truth."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vtxlib.testing.samples import read_rttm
from vtxlib.testing.synth import make_conversation

FIXTURES = Path(__file__).parent / ".fixtures" / "synth"

pytestmark = pytest.mark.tools("espeak-ng")


def test_conversation_has_requested_speakers_and_exact_reference(tmp_path):
    conv = make_conversation(tmp_path, num_speakers=3, target_seconds=20, seed=1)
    audio, rate = sf.read(conv.wav, dtype="float32")
    assert rate == 16000 and audio.ndim == 1
    assert conv.duration == pytest.approx(audio.size / 16000)
    assert {t.speaker for t in conv.turns} == {"spk0", "spk1", "spk2"}
    starts = [t.start for t in conv.turns]
    assert starts == sorted(starts)
    for turn in conv.turns:  # speech inside each reference turn, silence in the gaps
        inside = audio[int(turn.start * 16000):int(turn.end * 16000)]
        assert np.abs(inside).max() > 0.1
    gaps = [(a.end, b.start) for a, b in zip(conv.turns, conv.turns[1:])]
    for end, start in gaps:
        assert start > end
        assert np.abs(audio[int(end * 16000) + 2:int(start * 16000) - 2]).max() == 0.0
    assert [(t.speaker, t.start, t.end) for t in read_rttm(conv.rttm)] == \
        [(t.speaker, pytest.approx(t.start, abs=1e-3), pytest.approx(t.end, abs=1e-3)) for t in conv.turns]
    assert conv.text_path.read_text().count("\n") == len(conv.turns)


def test_conversation_is_deterministic_and_cached(tmp_path):
    a = make_conversation(tmp_path / "a", 2, 15, seed=3)
    b = make_conversation(tmp_path / "b", 2, 15, seed=3)
    assert a.turns == b.turns
    assert a.wav.read_bytes() == b.wav.read_bytes()
    mtime = a.wav.stat().st_mtime_ns
    again = make_conversation(tmp_path / "a", 2, 15, seed=3)
    assert again.wav.stat().st_mtime_ns == mtime  # read from the cache, not regenerated
    other = make_conversation(tmp_path / "a", 2, 15, seed=4)
    assert other.turns != a.turns


def test_rejects_unsupported_speaker_count(tmp_path):
    with pytest.raises(ValueError, match="num_speakers must be between 1 and"):
        make_conversation(tmp_path, num_speakers=0, target_seconds=10)


# -- the corpus's long conversations (vtxlib/testing/corpus.py) -----------------------------------

def test_fresh_sentences_never_repeat_and_are_seeded():
    import itertools
    import random

    from vtxlib.testing.corpus import fresh_sentences

    drawn = list(itertools.islice(fresh_sentences(random.Random(5)), 5000))  # > 3 h of talk
    assert len(set(drawn)) == len(drawn)
    assert drawn[:20] == list(itertools.islice(fresh_sentences(random.Random(5)), 20))
    assert all(s[0].isupper() and s[-1] in ".?" for s in drawn)


def test_long_conversations_use_only_their_halfs_voices():
    from vtxlib.testing.corpus import DEV_VARIANTS, TEST_VARIANTS, long_specs

    for half, variants in (("dev", DEV_VARIANTS), ("test", TEST_VARIANTS)):
        specs = long_specs(half)
        assert [s.target_seconds / 60 for s in specs] == [15, 30, 45, 60]
        assert all(2 <= len(s.voices) <= 6 and s.text == "fresh" and s.half == half for s in specs)
        assert {v.name.split("+")[1] for s in specs for v in s.voices} <= set(variants)


@pytest.mark.tools("espeak-ng", "sox")
def test_a_fresh_text_conversation_says_no_sentence_twice(tmp_path):
    import dataclasses
    import json

    from vtxlib.testing.corpus import INTERJECTIONS, long_spec
    from vtxlib.testing.corpus import make_conversation as make_corpus_conversation

    spec = dataclasses.replace(long_spec("dev", 15, 3), target_seconds=40.0)  # the long recipe, shorter
    file = make_corpus_conversation(tmp_path / spec.name, spec)
    said = [text for text in json.loads((tmp_path / spec.name / "reference.json").read_text())["text"]
            if text not in INTERJECTIONS]
    assert len(said) >= 8 and len(set(said)) == len(said)
    assert file.num_speakers == 3 and file.duration >= 40.0
    assert {t.speaker for t in file.reference_turns()} == {"spk0", "spk1", "spk2"}
