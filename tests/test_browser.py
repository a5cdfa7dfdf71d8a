"""transcript.vtt and report.html in a real browser (Debian's chromium through playwright).

Files are served from a loopback server that answers byte ranges (a media element cannot seek
without them); every request the page makes is recorded, and console errors fail the test.
"""

from __future__ import annotations

import html
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import webvtt
from browser import Page, chromium_path
from test_subtitles import realistic_document

from vtxlib.emotion.base import LABELS
from vtxlib.report import REPORT_AUDIO_NAME, write_report
from vtxlib.subtitles import StyledVTTWriter, SubtitleOptions, VTTWriter
from vtxlib.testing.static_server import StaticServer
from vtxlib.types import Diarization, Emotion, SpeakerTurn

TRACK_LOADED = "document.querySelector('track').readyState === 2"


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


def tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.2 * np.sin(2 * np.pi * 200 * t) * (0.5 + 0.5 * np.sin(t)) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate), out.writeframes(pcm.tobytes())
    return path


def conversation():
    """Four minutes of three speakers with names that need escaping, emotions and an overlap."""
    document = realistic_document(n_turns=24)
    document.speaker_names["SPEAKER_01"] = "Tom & <Jerry>"
    for k, turn in enumerate(document.transcript.turns):
        label = LABELS[k % len(LABELS)]
        turn.emotion = Emotion(label=label, scores={x: (0.7 if x == label else 0.1) for x in LABELS},
                               confidence=0.7, backend="test", low_confidence=k % 5 == 4)
        turn.overlap = k % 6 == 3
    diarization = Diarization(
        turns=[SpeakerTurn(speaker=t.speaker, start=t.start, end=t.end) for t in document.transcript.turns],
        overlaps=[(t.start, t.start + 0.8) for t in document.transcript.turns if t.overlap])
    return document, diarization


def cue_voices(page) -> list:
    return page.evaluate("""Array.from(document.querySelector('track').track.cues).map(c => {
        const first = c.getCueAsHTML().firstChild;
        return first && first.nodeName === 'SPAN' ? first.title : null; })""")


@pytest.mark.parametrize("visible", ["off", "chevrons"])
def test_every_vtt_cue_parses_in_chromium_with_its_voice(browser, tmp_path, visible):
    document, _ = conversation()
    vtt = StyledVTTWriter(SubtitleOptions(visible_speaker=visible)).render(document)  # browsers read it whole
    (tmp_path / "transcript.vtt").write_text(vtt, encoding="utf-8")
    tone(tmp_path / "audio.wav", 2.0)
    (tmp_path / "player.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>'
        '<video controls src="audio.wav"><track kind="captions" src="transcript.vtt" default></video>'
        "</body></html>", encoding="utf-8")
    expected = webvtt.from_string(vtt, strict=True).captions
    assert "STYLE" in vtt and len(expected) > 40
    page = Page(browser)
    with StaticServer(tmp_path) as server:
        page.page.goto(server.url + "player.html")
        page.page.wait_for_function(TRACK_LOADED)
        count = page.page.evaluate("document.querySelector('track').track.cues.length")
        voices = cue_voices(page.page)
        texts = page.page.evaluate("Array.from(document.querySelector('track').track.cues).map(c => c.text)")
    assert count == len(expected)
    assert voices == [html.unescape(c.voice) for c in expected]  # "Tom & <Jerry>" read back whole
    assert texts == [c.raw_text for c in expected]
    if visible == "chevrons":
        shown = page.page.evaluate("Array.from(document.querySelector('track').track.cues).map("
                                   "c => c.getCueAsHTML().textContent)")
        assert sum(text.startswith(">> ") for text in shown) > 10
    assert page.errors == []
    assert page.outside(server.url) == []


def open_report(page: Page, url: str) -> None:
    page.page.goto(url)
    page.page.wait_for_function("document.getElementById('timeline') && document.getElementById('timeline').vtx")
    page.page.wait_for_function(TRACK_LOADED)
    page.page.wait_for_function("document.getElementById('player').readyState >= 1")
    # where each seek went (playback moves currentTime on before the test can read it)
    page.page.evaluate("""window.seeks = []; const a = document.getElementById('player');
        a.addEventListener('seeking', () => window.seeks.push(a.currentTime));""")


def last_seek(page: Page) -> float:
    page.page.wait_for_function("window.seeks.length > 0")
    return page.page.evaluate("(() => { document.getElementById('player').pause(); return window.seeks.pop(); })()")


def click_word_and_read_time(page: Page, index: int) -> tuple[float, str]:
    page.page.evaluate("window.seeks = []")
    page.page.locator(".w").nth(index).click()
    now = page.page.evaluate("(() => { const w = document.querySelector('.w.now'); return w && w.textContent; })()")
    return last_seek(page), now


@pytest.mark.parametrize("embedded", [True, False])
def test_report_plays_seeks_and_highlights_offline(browser, tmp_path, embedded):
    document, diarization = conversation()
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    site = tmp_path / "site"
    report = write_report(document, site / "report.html", diarization=diarization, audio_path=wav,
                          embed_audio_max_seconds=3600 if embedded else 0)
    assert (site / REPORT_AUDIO_NAME).exists() != embedded
    words = document.transcript.words
    expected_cues = webvtt.from_string(VTTWriter().render(document)).captions
    page = Page(browser)
    with StaticServer(site) as server:
        open_report(page, server.url + report.name)
        assert page.page.evaluate("document.querySelector('track').track.cues.length") == len(expected_cues)
        assert cue_voices(page.page) == [html.unescape(c.voice) for c in expected_cues]
        for index in (len(words) // 2, len(words) - 3, 5):  # forwards, further, then back
            at, highlighted = click_word_and_read_time(page, index)
            assert math.isclose(at, words[index].start, abs_tol=0.01), (index, at, words[index].start)
            assert highlighted == words[index].text.strip()
        turn = document.transcript.turns[7]
        page.page.locator(".turn .time").nth(7).click()
        assert math.isclose(last_seek(page), turn.start, abs_tol=0.01)
        if not embedded:
            assert server.ranges, "the linked audio was never asked for by byte range"
    assert page.errors == []
    assert page.outside(server.url) == [], "the report asked the network for something"


def test_timeline_hover_zoom_and_click_to_seek(browser, tmp_path):
    document, diarization = conversation()
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    report = write_report(document, tmp_path / "site" / "report.html", diarization=diarization, audio_path=wav)
    page = Page(browser)
    with StaticServer(report.parent) as server:
        open_report(page, server.url + "report.html")
        plot = page.page.locator("#timeline .vtx-plot").bounding_box()
        words = document.transcript.words
        turn = document.transcript.turns[2]
        word = turn.words[len(turn.words) // 2]
        lane = document.speakers.index(turn.speaker)
        duration = page.page.evaluate("JSON.parse(document.querySelector('.vtx-data').textContent).duration")
        x = plot["x"] + (word.start + word.end) / 2 / duration * plot["width"]
        y = plot["y"] + 40 + lane * (34 + 10 + 8) + 23  # waveform row, then lane LANE: word bars at 15-31
        page.page.mouse.move(x, y)
        tip = page.page.locator("#timeline .vtx-tip").inner_text()
        assert word.text.strip() in tip and "probability 0.90" in tip
        assert document.display_name(turn.speaker) in tip and f"emotion: {turn.emotion.label}" in tip
        page.page.evaluate("window.seeks = []")
        page.page.mouse.click(x, y)
        assert math.isclose(last_seek(page), word.start, abs_tol=0.01)
        whole_file = page.page.locator("#timeline .vtx-labels text").count()
        before = page.page.locator("#timeline .vtx-range").inner_text()
        for _ in range(7):
            page.page.locator("#timeline .vtx-in").click()
        assert page.page.locator("#timeline .vtx-range").inner_text() != before
        v0, span = map(float, page.page.locator("#timeline .vtx-svg").get_attribute("viewBox").split()[:3:2])
        in_view = [w.text.strip() for w in words if w.end >= v0 and w.start <= v0 + span]
        labels = page.page.evaluate("Array.from(document.querySelectorAll('#timeline .vtx-labels text'))"
                                    ".map(t => t.textContent)")
        assert span < 5 and in_view and sorted(labels) == sorted(in_view)  # zoomed in, every word in view is labelled
        assert whole_file < len(words) / 4
        boxes = page.page.evaluate("""Array.from(document.querySelectorAll('#timeline .vtx-labels text'))
            .map(t => { const b = t.getBBox(); return [b.x, b.x + b.width, b.y]; })""")
        rows: dict = {}
        for left, right, top in sorted(boxes):
            assert left >= rows.get(top, -1e9), "two word labels overlap"
            rows[top] = right
    assert page.errors == []
    assert page.outside(server.url) == []


def test_notebook_review_figure_renders_without_network(browser, tmp_path):
    from vtxlib.plots import review_figure

    document, diarization = conversation()
    path = review_figure(document, diarization).save_html(tmp_path / "figure.html")
    page = Page(browser)
    with StaticServer(tmp_path) as server:
        page.page.goto(server.url + path.name)
        page.page.wait_for_function("document.querySelector('.vtx-tl').vtx !== undefined")
        assert page.page.locator("img.vtx-fallback").count() == 0  # swapped for the interactive figure
        lanes = page.page.locator(".vtx-tl .vtx-name").all_inner_texts()
        page.page.locator(".vtx-tl .vtx-fit").click()
    assert lanes == [document.display_name(s) for s in document.speakers]
    assert page.errors == [] and page.outside(server.url) == []
    page = Page(browser)
    page.page.set_content(path.read_text(encoding="utf-8").replace("<script>", "<script type='text/plain'>"))
    assert page.page.locator("img.vtx-fallback").is_visible()  # scripts stripped: the picture stays
    assert not page.page.locator(".vtx-tl").is_visible()


def test_report_opened_from_disk_seeks_its_linked_audio(browser, tmp_path):
    document, diarization = conversation()
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    report = write_report(document, tmp_path / "site" / "report.html", diarization=diarization, audio_path=wav,
                          embed_audio_max_seconds=0)
    page = Page(browser)
    open_report(page, report.as_uri())  # file://: the data: track and the relative MP3 both load
    words = document.transcript.words
    at, highlighted = click_word_and_read_time(page, len(words) - 10)
    assert math.isclose(at, words[-10].start, abs_tol=0.01) and highlighted == words[-10].text.strip()
    assert page.errors == []
    assert page.outside("file://") == []


@pytest.mark.parametrize("api_key", [None, "browser-test-key"])
def test_service_docs_render_their_operations_offline(browser, tmp_path, api_key):
    """/docs draws every operation from files the server itself serves (no CDN), and with an API key
    says how to authorize and offers the Authorize button."""
    import threading
    import time

    import uvicorn
    from test_service import FakePipeline, free_port

    from vtxlib.service import ServiceOptions, create_app
    from vtxlib.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    app = create_app(workspace, ServiceOptions(api_key=api_key), pipeline=FakePipeline(workspace))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    page = Page(browser)
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        page.page.goto(base + "/docs")
        page.page.wait_for_selector(".opblock", timeout=15000)
        operations = page.page.locator(".opblock-summary-path").all_inner_texts()
        description = page.page.locator(".information-container").inner_text()
        authorize = page.page.locator("button.authorize").count()
    finally:
        server.should_exit = True
        thread.join(10)
    assert {"/transcribe", "/jobs/{job_id}", "/jobs/{job_id}/{fmt}", "/status"} <= {o.replace("\u200b", "")
                                                                                  for o in operations}
    assert page.outside(base) == [], "the docs page asked the network for something"
    assert page.errors == []
    if api_key:
        assert authorize == 1 and "Authorize" in description and "Bearer" in description
        assert api_key not in description


def six_speakers():
    document = realistic_document(n_turns=30, speakers=tuple(f"SPEAKER_{k:02d}" for k in range(6)))
    diarization = Diarization(
        turns=[SpeakerTurn(speaker=t.speaker, start=t.start, end=t.end) for t in document.transcript.turns])
    return document, diarization


@pytest.mark.parametrize("waveform", [True, False])
def test_speaker_names_sit_on_their_lanes_and_durations_read_like_the_player(browser, tmp_path, waveform):
    from vtxlib.timeline import EMOTION_H, GAP, LANE_H, WAVE_H

    document, diarization = six_speakers()
    assert len(document.speakers) == 6
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    report = write_report(document, tmp_path / "site" / "report.html", diarization=diarization,
                          audio_path=wav if waveform else None)
    page = Page(browser)
    with StaticServer(report.parent) as server:
        page.page.goto(server.url + "report.html")
        page.page.wait_for_function("document.getElementById('timeline').vtx")
        plot = page.page.locator("#timeline .vtx-svg").bounding_box()
        names = page.page.evaluate("""Array.from(document.querySelectorAll('#timeline .vtx-name[title]')).map(n => {
            const r = n.getBoundingClientRect(); return [n.textContent, r.top + window.scrollY, r.height]; })""")
        shown = page.page.locator("#timeline .vtx-range").inner_text()
        meta = page.page.locator("p.meta").first.inner_text()
        if waveform:
            page.page.wait_for_function("document.getElementById('player').readyState >= 1")
            player = page.page.evaluate("document.getElementById('player').duration")
    wave_h = WAVE_H if waveform else 0
    assert [n for n, _, _ in names] == [document.display_name(s) for s in document.speakers]
    for k, (name, top, height) in enumerate(names):
        lane_top = plot["y"] + wave_h + k * (LANE_H + EMOTION_H + GAP)
        assert abs(top - lane_top) <= 1, (name, top, lane_top)  # each name row starts where its lane starts
        assert abs(height - (LANE_H + EMOTION_H + GAP)) <= 1
    total = document.media.duration  # the whole file (not the last word), whole seconds cut like a player's
    expected = f"{int(total) // 60:02d}:{int(total) % 60:02d}"
    assert shown.endswith(f"of {expected}") and f" {expected} " in meta, (shown, meta)
    if waveform:  # the player's own duration (of the report's MP3) is the file's
        assert abs(player - total) < 0.1, (player, total)
    assert page.errors == []


def test_notebook_figure_plays_from_a_click_with_its_own_player(browser, tmp_path):
    """Notebook 08's figure: with the audio it has a player and a click plays from there; without
    it, the hint does not promise playback."""
    from vtxlib.plots import review_figure

    document, diarization = conversation()
    wav = tone(tmp_path / "audio.wav", document.media.duration)
    path = review_figure(document, diarization, audio=wav).save_html(tmp_path / "figure.html")
    silent = review_figure(document, diarization, png=False).html
    bar = silent[silent.index('<div class="vtx-bar">'):silent.index('<div class="vtx-body">')]
    assert "click to play" not in bar and "report.html plays" in bar and "<audio" not in silent
    page = Page(browser)
    with StaticServer(tmp_path) as server:
        page.page.goto(server.url + path.name)
        page.page.wait_for_function("document.querySelector('.vtx-tl').vtx !== undefined && "
                                    "document.querySelector('audio.vtx-audio').readyState >= 1")
        assert "click to play from there" in page.page.locator(".vtx-bar").inner_text()
        page.page.evaluate("""window.seeks = []; const a = document.querySelector('audio.vtx-audio');
            a.addEventListener('seeking', () => window.seeks.push(a.currentTime));""")
        turn = document.transcript.turns[2]
        word = turn.words[len(turn.words) // 2]
        plot = page.page.locator(".vtx-plot").bounding_box()
        duration = page.page.evaluate("JSON.parse(document.querySelector('.vtx-data').textContent).duration")
        lane = document.speakers.index(turn.speaker)
        page.page.mouse.click(plot["x"] + (word.start + word.end) / 2 / duration * plot["width"],
                              plot["y"] + 40 + lane * (34 + 10 + 8) + 23)
        page.page.wait_for_function("window.seeks.length > 0")
        at = page.page.evaluate("(() => { document.querySelector('audio.vtx-audio').pause(); return window.seeks.pop(); })()")
    assert math.isclose(at, word.start, abs_tol=0.01)
    assert page.errors == [] and page.outside(server.url) == []
