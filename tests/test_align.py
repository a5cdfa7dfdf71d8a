"""Word-to-speaker alignment on constructed transcripts and diarizations with known answers."""

import random

import pytest

from vtxlib.align import AlignOptions, align
from vtxlib.types import UNKNOWN_SPEAKER, AlignedTranscript, Diarization, Segment, SpeakerTurn, Transcript, Word

PLAIN_MAX_OVERLAP = AlignOptions(smooth=False, boundary_tolerance=0.0)  # what peer tools do


def words_from(spec):
    """[(text, start, end), ...] -> list[Word] (whisper style: leading space)."""
    return [Word(text=f" {text}", start=start, end=end, prob=0.9) for text, start, end in spec]


def transcript(*segments):
    return Transcript(segments=[Segment(text="".join(w.text for w in ws), start=ws[0].start,
                                        end=ws[-1].end, words=ws) for ws in segments])


def diarization(*turns, overlaps=()):
    return Diarization(turns=[SpeakerTurn(s, a, b) for s, a, b in turns], overlaps=list(overlaps))


def labels(aligned: AlignedTranscript):
    return [(w.text.strip(), w.speaker) for w in aligned.words]


def assert_invariants(source: Transcript, aligned: AlignedTranscript, split_pause=1.5):
    src = sorted(source.words, key=lambda w: w.start)
    out = aligned.words
    assert [(w.text, w.start, w.end, w.prob) for w in out] == [(w.text, w.start, w.end, w.prob) for w in src]
    assert all(w.speaker for w in out)
    starts = [w.start for w in out]
    assert starts == sorted(starts)
    for turn in aligned.turns:
        assert turn.words and all(w.speaker == turn.speaker for w in turn.words)
        assert turn.start == turn.words[0].start and turn.end == max(w.end for w in turn.words)
        gaps = [b.start - a.end for a, b in zip(turn.words, turn.words[1:])]
        assert all(g <= split_pause for g in gaps)
    for a, b in zip(aligned.turns, aligned.turns[1:]):
        assert a.start <= b.start
        if a.speaker == b.speaker:  # same speaker only splits at a long pause
            assert b.start - a.words[-1].end > split_pause


def test_late_diarization_boundary_moves_to_sentence_end():
    # The diarizer switches to B 0.3 s after B's first word "Yeah" started.
    tr = transcript(words_from([("I", 0.5, 0.7), ("think", 0.7, 1.0), ("that's", 1.0, 1.4),
                                ("right.", 1.4, 2.0), ("Yeah", 2.2, 2.45), ("I", 2.5, 2.6),
                                ("agree.", 2.6, 3.0)]))
    di = diarization(("A", 0.4, 2.5), ("B", 2.5, 3.1))
    plain = labels(align(tr, di, PLAIN_MAX_OVERLAP))
    assert plain[4] == ("Yeah", "A")  # what plain max overlap does
    out = align(tr, di)
    assert labels(out) == [("I", "A"), ("think", "A"), ("that's", "A"), ("right.", "A"),
                           ("Yeah", "B"), ("I", "B"), ("agree.", "B")]
    assert [(t.speaker, t.text) for t in out.turns] == [("A", "I think that's right."),
                                                        ("B", "Yeah I agree.")]
    assert_invariants(tr, out)


def test_word_straddling_turn_change_goes_with_its_sentence():
    # "today." straddles the change (more of it in B's turn) but ends A's sentence.
    tr = transcript(words_from([("It", 0.0, 0.2), ("rained", 0.2, 0.5), ("today.", 0.5, 1.1),
                                ("Did", 1.1, 1.3), ("it?", 1.3, 1.6)]))
    di = diarization(("A", 0.0, 0.7), ("B", 0.7, 1.6))
    assert labels(align(tr, di, PLAIN_MAX_OVERLAP))[2] == ("today.", "B")
    out = align(tr, di)
    assert [w.speaker for w in out.words] == ["A", "A", "A", "B", "B"]
    assert_invariants(tr, out)


def test_one_word_flicker_inside_a_sentence_follows_neighbours():
    spec = [("we", 0.0, 0.2), ("went", 0.2, 0.5), ("to", 0.5, 0.6), ("the", 0.6, 0.75),
            ("market", 0.75, 1.2), ("on", 1.2, 1.35), ("Monday.", 1.35, 1.9)]
    tr = transcript(words_from(spec))
    # a spurious 0.25 s turn of B exactly over "the"
    di = diarization(("A", 0.0, 0.6), ("B", 0.6, 0.85), ("A", 0.85, 2.0))
    assert labels(align(tr, di, PLAIN_MAX_OVERLAP))[3] == ("the", "B")
    out = align(tr, di)
    assert {w.speaker for w in out.words} == {"A"}
    assert len(out.turns) == 1
    assert_invariants(tr, out)


def test_clear_interjection_between_sentences_is_kept():
    tr = transcript(words_from([("You", 0.0, 0.3), ("know?", 0.3, 0.8)]),
                    words_from([("Yes.", 1.2, 1.6)]),
                    words_from([("So", 2.0, 2.2), ("anyway.", 2.2, 2.8)]))
    di = diarization(("A", 0.0, 0.9), ("B", 1.1, 1.7), ("A", 1.9, 3.0))
    out = align(tr, di)
    assert [t.speaker for t in out.turns] == ["A", "B", "A"]
    assert out.turns[1].text == "Yes."
    assert_invariants(tr, out)


def test_word_slightly_outside_any_turn_joins_nearest():
    tr = transcript(words_from([("Hello", 1.0, 1.4), ("there.", 1.4, 1.9)]),
                    words_from([("Bye.", 5.0, 5.4)]))
    # "there." ends 0.3 s after A's turn; "Bye." starts 0.7 s after B's turn ends
    di = diarization(("A", 0.9, 1.6), ("B", 3.0, 4.3))
    out = align(tr, di)
    assert labels(out) == [("Hello", "A"), ("there.", "A"), ("Bye.", "B")]
    assert_invariants(tr, out)


def test_word_far_from_any_turn_is_unknown():
    tr = transcript(words_from([("Hello.", 1.0, 1.4)]), words_from([("Echo.", 9.0, 9.5)]))
    di = diarization(("A", 0.9, 1.5))
    out = align(tr, di, AlignOptions(max_distance=1.0))
    assert labels(out) == [("Hello.", "A"), ("Echo.", UNKNOWN_SPEAKER)]
    assert [t.speaker for t in out.turns] == ["A", UNKNOWN_SPEAKER]
    assert_invariants(tr, out)


def test_unknown_word_splits_chains_without_losing_words():
    tr = transcript(words_from([("one", 0.0, 0.3), ("two", 0.3, 0.6)]),
                    words_from([("three", 4.0, 4.3)]),
                    words_from([("four", 8.0, 8.3), ("five", 8.3, 8.6)]))
    di = diarization(("A", 0.0, 0.7), ("B", 7.9, 8.7))
    out = align(tr, di)
    assert [w.speaker for w in out.words] == ["A", "A", UNKNOWN_SPEAKER, "B", "B"]
    assert_invariants(tr, out)


def test_overlap_region_flags_turn_and_keeps_words():
    tr = transcript(words_from([("I", 0.0, 0.2), ("said", 0.2, 0.5), ("no.", 0.5, 1.0)]),
                    words_from([("Wait", 1.6, 1.9), ("what?", 1.9, 2.3)]),
                    words_from([("Never", 3.5, 3.8), ("mind.", 3.8, 4.2)]))
    di = diarization(("A", 0.0, 1.1), ("B", 1.5, 2.4), ("A", 3.4, 4.3), overlaps=[(1.7, 2.0)])
    out = align(tr, di)
    assert [(t.speaker, t.overlap) for t in out.turns] == [("A", False), ("B", True), ("A", False)]
    assert out.turns[1].text == "Wait what?"
    assert_invariants(tr, out)


def test_long_pause_splits_same_speaker_turn():
    tr = transcript(words_from([("First", 0.0, 0.4), ("part.", 0.4, 0.9)]),
                    words_from([("Second", 3.0, 3.4), ("part.", 3.4, 3.9)]))
    di = diarization(("A", 0.0, 4.0))
    out = align(tr, di, AlignOptions(split_pause=1.5))
    assert [(t.speaker, t.text) for t in out.turns] == [("A", "First part."), ("A", "Second part.")]
    assert len(align(tr, di, AlignOptions(split_pause=3.0)).turns) == 1
    assert_invariants(tr, out)


def test_empty_inputs():
    empty = align(Transcript(segments=[]), diarization(("A", 0.0, 1.0)))
    assert empty.turns == [] and empty.words == []
    tr = transcript(words_from([("alone", 0.0, 0.5)]))
    out = align(tr, Diarization(turns=[]))
    assert labels(out) == [("alone", UNKNOWN_SPEAKER)]


def test_inputs_are_not_modified():
    tr = transcript(words_from([("hi", 0.0, 0.3)]))
    align(tr, diarization(("A", 0.0, 0.5)))
    assert tr.words[0].speaker is None


def test_out_of_order_segments_come_out_in_time_order():
    tr = transcript(words_from([("later", 2.0, 2.4)]), words_from([("earlier", 0.0, 0.4)]))
    out = align(tr, diarization(("A", 0.0, 0.5), ("B", 1.9, 2.5)))
    assert labels(out) == [("earlier", "A"), ("later", "B")]


def simulated_conversation(seed: int, n_turns: int = 60, jitter: float = 0.35):
    """True speaker turns of sentences, and a diarization whose boundaries are off by up to ``jitter``."""
    rng = random.Random(seed)
    speakers = ["S0", "S1", "S2"]
    t, truth, true_turns = 0.0, [], []
    segments = []
    speaker = speakers[0]
    for _ in range(n_turns):
        speaker = rng.choice([s for s in speakers if s != speaker])
        turn_start = t
        for _sentence in range(rng.randint(1, 3)):
            seg_words = []
            n = rng.randint(3, 12)
            for k in range(n):
                dur = rng.uniform(0.12, 0.5)
                text = "word" + ("." if k == n - 1 else ("," if rng.random() < 0.1 else ""))
                seg_words.append(Word(text=" " + text, start=round(t, 3), end=round(t + dur, 3), prob=0.9))
                truth.append(speaker)
                t += dur + rng.choice([0.0, 0.0, 0.05, 0.1])
            segments.append(seg_words)
            t += rng.uniform(0.1, 0.5)
        true_turns.append((speaker, turn_start, t - 0.05))
        t += rng.uniform(0.0, 0.25)
    noisy = []
    for i, (spk, a, b) in enumerate(true_turns):
        a = a + rng.uniform(-jitter, jitter) if i else a
        b = b + rng.uniform(-jitter, jitter)
        noisy.append((spk, max(0.0, a), b))
    # keep the noisy turns exclusive: later turn wins the shared part
    exclusive = []
    for i, (spk, a, b) in enumerate(noisy):
        nxt = noisy[i + 1][1] if i + 1 < len(noisy) else b
        exclusive.append((spk, a, min(b, nxt)))
    tr = Transcript(segments=[Segment("", ws[0].start, ws[-1].end, ws) for ws in segments])
    return tr, diarization(*exclusive), truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_smoothing_beats_max_overlap_on_jittered_boundaries(seed):
    tr, di, truth = simulated_conversation(seed)
    plain = align(tr, di, PLAIN_MAX_OVERLAP)
    smoothed = align(tr, di)
    plain_errors = sum(w.speaker != s for w, s in zip(plain.words, truth))
    smooth_errors = sum(w.speaker != s for w, s in zip(smoothed.words, truth))
    assert smooth_errors < plain_errors
    assert smooth_errors <= 0.01 * len(truth)
    assert_invariants(tr, smoothed)
