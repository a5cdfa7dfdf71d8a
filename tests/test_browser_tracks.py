"""report.html with translated tracks in Chromium: one <track> per language, a selector that
switches the caption shown under the player, right-to-left captions running right to left."""

from __future__ import annotations

from browser import Page
from test_browser import browser, open_report, tone  # noqa: F401 (browser is a fixture)
from test_subtitles import realistic_document

from vtxlib.report import write_report
from vtxlib.subtitles import cue_digest, cue_id, translation_cues
from vtxlib.testing.static_server import StaticServer
from vtxlib.types import LanguageDetection, LanguageSpan, Translation


def translated(document, language: str, text) -> Translation:
    cues = translation_cues(document)
    return Translation(language=language, backend="test", cue_digest=cue_digest(cues),
                       cues={cue_id(k): text(k) for k in range(len(cues))})


def caption_after_seek(page, seconds: float) -> str:
    page.evaluate(f"document.getElementById('player').currentTime = {seconds}")
    page.wait_for_function("document.getElementById('caption').textContent.length > 0")
    return page.evaluate("document.getElementById('caption').textContent")


def test_report_switches_between_the_original_and_its_translations(browser, tmp_path):  # noqa: F811
    document = realistic_document(n_turns=6)
    document.language = "es"
    document.translations = [translated(document, "fr", lambda k: f"Réplique numéro {k + 1}"),
                             translated(document, "ar", lambda k: f"السطر رقم {k + 1}")]
    cues = translation_cues(document)
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    report = write_report(document, tmp_path / "site" / "report.html", audio_path=wav)
    page = Page(browser)
    middle = (cues[3].start + cues[3].end) / 2
    with StaticServer(report.parent) as server:
        open_report(page, server.url + report.name)
        p = page.page
        assert p.evaluate("document.querySelectorAll('audio track').length") == 3
        labels = p.evaluate("Array.from(document.querySelectorAll('#tracks option')).map(o => o.textContent)")
        assert labels == ["es (original)", "fr (translation, test)", "ar (translation, test)"]
        assert p.evaluate("document.querySelector('.meta .language').textContent") == "es"

        original = caption_after_seek(p, middle)
        assert cues[3].text.split()[0] in original

        p.select_option("#tracks", "1")
        p.wait_for_function("document.getElementById('caption').textContent.includes('Réplique numéro 4')")
        assert p.evaluate("document.getElementById('caption').lang") == "fr"
        modes = p.evaluate("Array.from(document.getElementById('player').textTracks).map(t => t.mode)")
        assert modes == ["disabled", "hidden", "disabled"]

        p.select_option("#tracks", "2")
        p.wait_for_function("document.getElementById('caption').textContent.includes('السطر رقم 4')")
        assert p.evaluate("document.getElementById('caption').matches(':dir(rtl)')")
        assert caption_after_seek(p, (cues[1].start + cues[1].end) / 2).endswith("السطر رقم 2")

        p.select_option("#tracks", "0")
        p.wait_for_function(f"document.getElementById('caption').textContent.includes({cues[1].text.split()[0]!r})")
    assert page.errors == []
    assert page.outside(server.url) == []


def test_arabic_transcript_runs_right_to_left(browser, tmp_path):  # noqa: F811
    document = realistic_document(n_turns=3)
    document.language = "ar"
    for turn in document.transcript.turns:
        for k, word in enumerate(turn.words):
            word.text = ("مرحبا", "بكم", "في", "البرنامج")[k % 4]
    report = write_report(document, tmp_path / "report.html")
    page = Page(browser)
    with StaticServer(tmp_path) as server:
        page.page.goto(server.url + report.name)
        assert page.page.evaluate("Array.from(document.querySelectorAll('.turn > span:last-child'))"
                                  ".every(s => s.matches(':dir(rtl)'))")
    assert page.errors == []


def test_a_click_on_a_language_plays_from_where_it_starts(browser, tmp_path):  # noqa: F811
    document = realistic_document(n_turns=6)
    duration = document.media.duration
    change = round(duration * 0.6, 3)
    document.language = "es"
    document.language_detection = LanguageDetection(
        language="es", probability=0.6, shares={"es": 0.6, "de": 0.4},
        spans=[LanguageSpan(language="es", start=0.0, end=change), LanguageSpan(language="de", start=change,
                                                                                end=duration)])
    wav = tone(tmp_path / "audio.wav", duration)
    report = write_report(document, tmp_path / "site" / "report.html", audio_path=wav)
    page = Page(browser)
    with StaticServer(report.parent) as server:
        open_report(page, server.url + report.name)
        p = page.page
        p.click(".langbar .lang >> nth=1")
        p.wait_for_function(f"document.getElementById('player').currentTime >= {change}")
        assert p.evaluate("document.getElementById('player').currentTime") < change + 1.0
    assert page.errors == []
