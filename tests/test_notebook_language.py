"""The transcribe notebook's view of the language stage: how the language was found, the most probable
ones, shares and spans, and the stage's warning line where it warned."""

from __future__ import annotations

import pytest

from vtxlib.notebook import views
from vtxlib.types import LanguageDetection, LanguageSpan

UNSURE_NOTE = ("language identification is unsure (p=0.15: music, noise, or a voice or language the model cannot "
               "place): transcribing as hu; choose another with --language xx")


@pytest.fixture
def shown(monkeypatch):
    out = {"tables": [], "markdown": []}
    monkeypatch.setattr(views, "show_table", lambda columns, rows, caption="": out["tables"].append(rows))
    monkeypatch.setattr(views, "show_markdown", lambda text: out["markdown"].append(text))
    return out


def test_an_unsure_language_shows_its_probabilities_and_the_warning(shown):
    detection = LanguageDetection(language="hu", probability=0.1454, low_confidence=True, shares={"hu": 1.0},
                                  probabilities={"hu": 0.1454, "en": 0.1126, "la": 0.0736, "pl": 0.0732,
                                                 "cs": 0.0431, "lv": 0.0363},
                                  note=UNSURE_NOTE, acoustic_language="hu")
    views.show_language(detection)
    rows = dict(shown["tables"][0])
    assert rows["language"] == "hu (unsure, p 0.15)"
    assert rows["most probable"] == "hu 0.15, en 0.11, la 0.07, pl 0.07, cs 0.04"  # five, by probability
    assert rows["share of the speech"] == "hu 100%" and "spans" not in rows
    assert shown["markdown"] == [f"**{UNSURE_NOTE}** (the `LANGUAGE` field above forces one)"]


def test_a_second_language_shows_where_it_is_spoken(shown):
    detection = LanguageDetection(language="es", probability=0.5, shares={"es": 0.58, "de": 0.42},
                                  spans=[LanguageSpan(language="es", start=0.02, end=21.0),
                                         LanguageSpan(language="de", start=21.0, end=36.9)],
                                  note="more than one language in the speech (es 58%, de 42%): each stretch is "
                                       "transcribed in its own language")
    views.show_language(detection)
    rows = dict(shown["tables"][0])
    assert rows["spans"] == "es 0.0-21.0 s, de 21.0-36.9 s"
    assert rows["share of the speech"] == "es 58%, de 42%"
    assert shown["markdown"] and "more than one language" in shown["markdown"][0]


def test_a_confident_forced_or_missing_language_shows_no_warning(shown):
    views.show_language(LanguageDetection(language="es", probability=0.8975, shares={"es": 1.0},
                                          acoustic_language="it", note="language es detected (p=0.90)"))
    views.show_language(LanguageDetection(language="de", source="forced"))
    views.show_language(None)
    confident, forced, missing = (dict(rows) for rows in shown["tables"])
    assert confident["language"] == "es (detected, p 0.90)"
    assert confident["chosen by decoding"] == "the sound alone said it"
    assert forced == {"language": "de (forced)"}
    assert missing["language"].startswith("not identified")
    assert shown["markdown"] == []
