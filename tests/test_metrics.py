"""Metrics against values computed by hand."""

import math

import pytest

from vtxlib.metrics import cpwer, cpwer_details, der, der_collar_025, der_details, normalize_text, wer
from vtxlib.types import SpeakerTurn


def test_normalize_text_strips_punctuation_and_case_keeps_inner_apostrophes():
    assert normalize_text("Hello, World!  I didn't  know—really?") == "hello world i didn't know really"
    assert normalize_text("'Quoted' state-of-the-art") == "quoted state of the art"


def test_wer_counts_substitution_deletion_insertion():
    # ref 4 words; hyp: "the" ok, "cat"->"hat" (S), "sat" deleted (D), "down" ok, "now" inserted (I)
    assert wer("The cat sat down.", "the hat down now") == pytest.approx(3 / 4)
    assert wer("Hello, world!", "hello world") == 0.0


def test_wer_with_empty_reference_counts_insertions():
    assert wer("", "") == 0.0
    assert wer("", "two words") == 2.0


def test_cpwer_finds_best_speaker_mapping():
    ref = {"A": "one two three", "B": "four five"}
    hyp = {"x": "four five", "y": "one two three"}
    details = cpwer_details(ref, hyp)
    assert details.errors == 0 and details.mapping == {"A": "y", "B": "x"}
    # y->A with one substitution; B unmatched: 2 deletions; total 3 errors / 5 words
    assert cpwer(ref, {"y": "one two four"}) == pytest.approx(3 / 5)


def test_cpwer_counts_extra_hypothesis_speaker_as_insertions():
    ref = {"A": "a b c d"}
    hyp = {"s1": "a b c d", "s2": "e f"}
    assert cpwer(ref, hyp) == pytest.approx(2 / 4)


def test_der_by_hand():
    ref = [SpeakerTurn("A", 0.0, 10.0), SpeakerTurn("B", 10.0, 20.0)]
    assert der(ref, [("x", 0.0, 10.0), ("y", 10.0, 20.0)]) == 0.0
    # 2 s of B given to A's label (confusion), 1 s missed at the end, 1 s false alarm before 0
    hyp = [("x", 0.0, 12.0), ("y", 12.0, 19.0)]
    details = der_details(ref, hyp)
    assert details.confusion == pytest.approx(2.0)
    assert details.missed == pytest.approx(1.0)
    assert details.der == pytest.approx(3.0 / 20.0)


def test_der_collar_025_forgives_quarter_second_each_side():
    ref = [SpeakerTurn("A", 0.0, 10.0), SpeakerTurn("B", 10.0, 20.0)]
    hyp = [("x", 0.0, 10.2), ("y", 10.2, 20.0)]
    assert der(ref, hyp) == pytest.approx(0.2 / 20.0)
    assert der_collar_025(ref, hyp) == 0.0
    # a 0.4 s shift leaves 0.15 s of confusion outside the +-0.25 s collar
    shifted = [("x", 0.0, 10.4), ("y", 10.4, 20.0)]
    # scored reference: 20 s minus [0, 0.25], [9.75, 10.25], [19.75, 20] = 19 s
    assert der_collar_025(ref, shifted) == pytest.approx(0.15 / 19.0)
    assert not math.isnan(der([], []))
