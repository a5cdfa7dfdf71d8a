"""How fast report.html opens in a headless browser, for a synthetic 1-hour conversation.

    PYTHONPATH=$PWD .venv/bin/python bench/report_open.py [--minutes 60] [--runs 3] [--no-plotly]

Builds a document of MINUTES of four speakers (a word every ~0.37 s, emotions, overlaps) with a
matching wav, writes report.html the way the pipeline does (a long file's audio goes to
report-audio.mp3 beside it), then opens it in Chromium (Debian's, driven by playwright), served
with byte ranges from a loopback server, and prints: the file size, the time to the load event,
and the time until the timeline script has run (the figure is interactive). For comparison it
opens the same lanes drawn with plotly (plotly.js inlined) the same way.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from vtxlib.emotion.base import LABELS
from vtxlib.report import write_report
from vtxlib.testing.static_server import StaticServer
from vtxlib.types import (
    AlignedTranscript,
    Diarization,
    Document,
    Emotion,
    MediaInfo,
    SpeakerTurn,
    StageRecord,
    Turn,
    Word,
)

VOCABULARY = ("so the plan is that we measure it first and then we decide what to change because "
              "nobody wants another week of guessing about numbers we never wrote down").split()


def synthetic_document(minutes: float, speakers: int = 4, seed: int = 0) -> tuple[Document, Diarization]:
    rng = np.random.default_rng(seed)
    turns, t, total = [], 0.3, minutes * 60
    while t < total - 5:
        speaker = f"SPEAKER_{int(rng.integers(speakers)):02d}"
        n = int(rng.integers(3, 40))
        words, w = [], t
        for _ in range(n):
            length = float(rng.uniform(0.15, 0.45))
            words.append(Word(text=str(rng.choice(VOCABULARY)), start=round(w, 3), end=round(w + length, 3),
                              prob=round(float(rng.uniform(0.4, 1.0)), 2), speaker=speaker))
            w += length + float(rng.uniform(0.0, 0.12))
        label = LABELS[int(rng.integers(len(LABELS)))]
        scores = {lab: 0.1 for lab in LABELS} | {label: 0.7}
        emotion = Emotion(label=label, scores=scores, confidence=0.7, backend="bench",
                          low_confidence=bool(rng.random() < 0.15))
        overlap = bool(rng.random() < 0.08)
        turns.append(Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words,
                          overlap=overlap, emotion=emotion))
        t = words[-1].end + float(rng.uniform(-0.3 if overlap else 0.1, 1.0))
    aligned = AlignedTranscript(turns=turns, language="en")
    media = MediaInfo(id="bench", title=f"synthetic {minutes:g}-minute meeting", source="/data/meeting.wav",
                      duration=total)
    stages = {"asr": StageRecord(backend="whisper-cpu", options={}, seconds=95.0, cached=True, load_seconds=0.3)}
    diarization = Diarization(turns=[SpeakerTurn(speaker=x.speaker, start=x.start, end=x.end) for x in turns],
                              overlaps=[(x.start, min(x.end, x.start + 1.0)) for x in turns if x.overlap],
                              backend="bench")
    return Document(media=media, transcript=aligned, stages=stages), diarization


def write_wav(path: Path, seconds: float) -> Path:
    rate = 16000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
        rng = np.random.default_rng(1)
        for start in range(0, int(seconds), 60):  # a minute at a time: flat memory
            n = rate * min(60, int(seconds) - start)
            envelope = 0.5 + 0.5 * np.sin(np.arange(n) / rate * 2 * np.pi * 0.3)
            out.writeframes((rng.normal(0, 0.1, n) * envelope * 32767).astype("<i2").tobytes())
    return path


def plotly_page(document: Document, diarization: Diarization, path: Path) -> Path:
    from vtxlib.plots import alignment_figure, save_figure

    fig = alignment_figure(document, diarization, backend="plotly", max_word_labels=0)
    return save_figure(fig, path)


def time_open(url: str, ready_js: str, runs: int) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    loads, readies = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            began = time.perf_counter()
            page.goto(url, wait_until="load", timeout=60_000)
            loads.append(time.perf_counter() - began)
            page.wait_for_function(ready_js, timeout=60_000)
            readies.append(time.perf_counter() - began)
            if errors:
                raise SystemExit(f"page errors: {errors}")
            page.close()
        browser.close()
    return statistics.median(loads), statistics.median(readies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-plotly", action="store_true", help="skip the plotly comparison")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    document, diarization = synthetic_document(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wav = write_wav(folder / "audio.wav", args.minutes * 60)
        began = time.perf_counter()
        report = write_report(document, folder / "site" / "report.html", diarization=diarization, audio_path=wav)
        written = time.perf_counter() - began
        words = len(document.transcript.words)
        print(f"document: {args.minutes:g} min, {len(document.transcript.turns)} turns, {words} words")
        print(f"write_report: {written:.1f} s (MP3 encoding of the audio included)")
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(report.parent.iterdir()))
        print(f"files: {sizes}")
        with StaticServer(report.parent) as server:
            load, ready = time_open(server.url + "report.html",
                                    "document.getElementById('timeline') && document.getElementById('timeline').vtx",
                                    args.runs)
            print(f"report.html (SVG + inline script): load event {load:.2f} s, interactive {ready:.2f} s "
                  f"(median of {args.runs})")
            if not args.no_plotly:
                page = plotly_page(document, diarization, report.parent / "plotly.html")
                print(f"plotly.html (same lanes, plotly.js inline): {page.stat().st_size / 1e6:.1f} MB")
                load, ready = time_open(server.url + "plotly.html",
                                        "document.querySelector('.main-svg') !== null", args.runs)
                print(f"plotly.html: load event {load:.2f} s, figure drawn {ready:.2f} s (median of {args.runs})")


if __name__ == "__main__":
    main()
