"""Plots render headless, draw only what is in the window, and come out as non-trivial files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from needs import require

import vtxlib.plots as plots
from vtxlib.emotion.base import LABELS
from vtxlib.errors import InputError
from vtxlib.types import (
    AlignedTranscript,
    AudioFile,
    Diarization,
    Document,
    Emotion,
    MediaInfo,
    SpeakerTurn,
    Turn,
    Word,
)

SR = 16000


def write_tone(path: Path, seconds: float, amplitude: float = 0.5) -> AudioFile:
    t = np.arange(int(seconds * SR)) / SR
    pcm = (amplitude * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(pcm.tobytes())
    return AudioFile(path=str(path), sample_rate=SR, duration=seconds)


def synthetic_transcript(turn_count: int, speakers: int = 3, seed: int = 0) -> AlignedTranscript:
    """Alternating speakers, a word every 0.3 s, emotions cycling through the labels."""
    rng = np.random.default_rng(seed)
    turns, t = [], 0.0
    for i in range(turn_count):
        speaker = f"SPEAKER_{i % speakers:02d}"
        duration = float(rng.uniform(1.5, 5.0))
        words = [Word(f"w{i}_{k}", t + 0.3 * k, t + 0.3 * k + 0.25, speaker=speaker)
                 for k in range(int(duration / 0.3))]
        label = LABELS[i % len(LABELS)]
        scores = {lab: (0.7 if lab == label else 0.1) for lab in LABELS}
        emotion = Emotion(label, scores, 0.7, "test", low_confidence=i % 5 == 4)
        turns.append(Turn(speaker, t, t + duration, words, overlap=i % 7 == 3, emotion=emotion))
        t += duration + 0.2
    return AlignedTranscript(turns, language="en")


def diarization_of(aligned: AlignedTranscript) -> Diarization:
    turns = [SpeakerTurn(t.speaker, t.start, t.end) for t in aligned.turns]
    overlaps = [(t.start, min(t.end, t.start + 1.0)) for t in aligned.turns if t.overlap]
    return Diarization(turns=turns, overlaps=overlaps, backend="test")


def words_between(aligned: AlignedTranscript, start: float, end: float) -> int:
    return sum(1 for w in aligned.words if w.end > start and w.start < end)


def assert_png_of(fig, path: Path) -> None:
    """PATH is FIG rendered at its own size and dpi, and something is drawn on it (not a blank page)."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    width, height = fig.get_size_inches() * fig.dpi
    assert pixels.shape[:2] == (round(height), round(width))
    assert (pixels < 200).any(axis=2).mean() > 0.01  # not a blank page (what is drawn: the axes asserts)


def test_alignment_figure_matplotlib_draws_the_window_with_waveform(tmp_path):
    aligned = synthetic_transcript(12)
    audio = write_tone(tmp_path / "tone.wav", aligned.turns[-1].end + 1)
    fig = plots.alignment_figure(aligned, diarization_of(aligned), audio, start=5.0, end=20.0)
    assert len(fig.axes) == 2  # waveform + lanes
    lanes = fig.axes[-1]
    assert 0 < len(lanes.texts) <= words_between(aligned, 5.0, 20.0)
    assert [t.get_text() for t in lanes.get_yticklabels()] == ["SPEAKER_02", "SPEAKER_01", "SPEAKER_00"]
    assert lanes.get_xlim() == (5.0, 20.0)
    assert_png_of(fig, plots.save_figure(fig, tmp_path / "alignment.png"))


def test_alignment_figure_hides_labels_when_too_many_words_and_uses_display_names(tmp_path):
    aligned = synthetic_transcript(40)
    document = Document(MediaInfo("m", "t", "s"), aligned, speaker_names={"SPEAKER_00": "Ada"})
    fig = plots.alignment_figure(document, max_word_labels=20)
    assert len(fig.axes[-1].texts) == 0
    assert "Ada" in [t.get_text() for t in fig.axes[-1].get_yticklabels()]


def test_a_30_second_window_of_an_hour_renders_only_that_window():
    aligned = synthetic_transcript(1100)  # ~ 1 hour, ~ 10,000 words
    assert aligned.turns[-1].end > 3600
    fig = plots.alignment_figure(aligned, diarization_of(aligned), start=1800.0, end=1830.0)
    assert 0 < len(fig.axes[-1].texts) <= words_between(aligned, 1800.0, 1830.0) < 150
    drawn_bars = sum(len(c.get_paths()) for c in fig.axes[-1].collections)
    assert drawn_bars < 200  # words + turns in the window, not the whole file's ~10,000


def test_alignment_labels_never_overlap_are_readable_and_the_legend_explains_the_marks(tmp_path):
    aligned = synthetic_transcript(40)
    dense = [Turn(speaker=t.speaker, start=t.start, end=t.end, overlap=t.overlap, emotion=t.emotion,
                  words=[Word(text=f"{w.text}-extra-long", start=w.start, end=w.end, speaker=w.speaker)
                         for w in t.words]) for t in aligned.turns]
    dense_aligned = AlignedTranscript(turns=dense, language="en")
    fig = plots.alignment_figure(dense_aligned, diarization_of(dense_aligned), start=0.0, end=40.0)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    lanes = fig.axes[-1]
    boxes = [(t.get_position()[1], t.get_window_extent(renderer)) for t in lanes.texts]
    assert boxes and len(boxes) < words_between(dense_aligned, 0.0, 40.0)  # some labels left out, not smeared
    for i, (row_a, a) in enumerate(boxes):
        for row_b, b in boxes[i + 1:]:
            assert row_a != row_b or not a.overlaps(b), "two word labels overlap"
    dpi = 110  # the PNG's
    assert all(t.get_fontsize() * dpi / 72 >= 12 for t in lanes.texts)  # >= 12 px tall, not 7
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["speaker turn (diarization)", "word (ASR), coloured by speaker"]
    assert "overlapping speech" in legend
    assert "labelled (zoom in to read every word)" in fig.axes[0].get_title()


def test_overview_figure_draws_the_whole_file_with_emotion_strips(tmp_path):
    aligned = synthetic_transcript(30)
    audio = write_tone(tmp_path / "tone.wav", aligned.turns[-1].end + 1)
    fig = plots.overview_figure(aligned, diarization_of(aligned), audio)
    assert len(fig.axes) == 2
    lanes = fig.axes[-1]
    assert lanes.get_xlim()[1] == pytest.approx(aligned.turns[-1].end)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"turn (diarization)", "words (ASR)", "overlap", *LABELS, "uncertain"} <= set(legend)
    assert len(plots.figure_png(fig, dpi=96)) > 20_000


def test_alignment_figure_plotly_is_windowed_and_writes_html(tmp_path):
    aligned = synthetic_transcript(12)
    audio = write_tone(tmp_path / "tone.wav", aligned.turns[-1].end + 1)
    fig = plots.alignment_figure(aligned, diarization_of(aligned), audio, start=0.0, end=15.0, backend="plotly")
    texts = [t for trace in fig.data if trace.mode == "text" for t in trace.text]
    assert len(texts) == words_between(aligned, 0.0, 15.0)
    assert any(trace.name == "overlap" for trace in fig.data)
    html = plots.save_figure(fig, tmp_path / "alignment.html").read_text(encoding="utf-8")
    assert "plotly.js v" in html and "cdn.plot.ly" not in html[:20000]  # inlined: the file works offline
    shown = [w.text for w in aligned.words if w.end > 0.0 and w.start < 15.0]
    assert all(f'"{text}"' in html for text in shown) and f'"{aligned.words[-1].text}"' not in html


def test_waveform_envelope_is_exact_and_chunking_does_not_change_it(tmp_path, monkeypatch):
    audio = write_tone(tmp_path / "tone.wav", 10.0, amplitude=0.5)
    times, lows, highs = plots.waveform_envelope(audio, 2.0, 8.0, bins=600)
    assert len(times) == len(lows) == len(highs) == 600
    assert times[0] == pytest.approx(2.005, abs=1e-3) and times[-1] == pytest.approx(7.995, abs=1e-3)
    assert highs.max() == pytest.approx(0.5, abs=0.01) and lows.min() == pytest.approx(-0.5, abs=0.01)
    monkeypatch.setattr(plots, "ENVELOPE_CHUNK_SAMPLES", 5000)
    times2, lows2, highs2 = plots.waveform_envelope(audio, 2.0, 8.0, bins=600)
    np.testing.assert_allclose(lows2, lows, atol=1e-4)
    np.testing.assert_allclose(highs2, highs, atol=1e-4)


@pytest.mark.parametrize("mode", ["bands", "scores"])
def test_emotion_timeline_matplotlib(tmp_path, mode):
    aligned = synthetic_transcript(20)
    fig = plots.emotion_timeline_figure(aligned, mode=mode)
    assert len(fig.axes) == 3
    if mode == "bands":
        uncertain = sum(1 for t in aligned.turns if t.emotion.low_confidence)
        hatched = sum(len(c.get_paths()) for ax in fig.axes for c in ax.collections if c.get_hatch())
        assert hatched == uncertain
    else:
        assert all(len(ax.lines) == len(LABELS) for ax in fig.axes)
    assert_png_of(fig, plots.save_figure(fig, tmp_path / f"timeline-{mode}.png"))


def test_emotion_plots_plotly(tmp_path):
    aligned = synthetic_transcript(20)
    timeline = plots.emotion_timeline_figure(aligned, backend="plotly")
    summary = plots.emotion_summary_figure(aligned, backend="plotly")
    assert {t.name for t in timeline.data} == {*LABELS, "uncertain"}
    assert [t.name for t in summary.data] == [*LABELS, "uncertain"]
    html = plots.save_figure(summary, tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "plotly.js v" in html and all(f'"name":"{name}"' in html for name in [*LABELS, "uncertain"])


def test_emotion_seconds_and_summary_figure(tmp_path):
    turns = [
        Turn("A", 0.0, 4.0, emotion=Emotion("angry", {}, 0.8, "t")),
        Turn("A", 4.0, 5.0, emotion=Emotion("happy", {}, 0.3, "t", low_confidence=True)),
        Turn("B", 5.0, 8.0, emotion=Emotion("sad", {}, 0.9, "t")),
        Turn("B", 8.0, 9.0),
    ]
    table = plots.emotion_seconds(AlignedTranscript(turns))
    assert table["A"] == {"neutral": 0.0, "happy": 0.0, "angry": 4.0, "sad": 0.0, "uncertain": 1.0}
    assert table["B"]["sad"] == 3.0 and sum(table["B"].values()) == 3.0
    fig = plots.emotion_summary_figure(AlignedTranscript(turns))
    widths = sorted(round(p.get_width(), 1) for p in fig.axes[0].patches if p.get_width() > 0)
    assert widths == [20.0, 80.0, 100.0]
    assert_png_of(fig, plots.save_figure(fig, tmp_path / "summary.png"))


def test_interactive_alignment_builds_a_slider_over_the_file(monkeypatch):
    require("ipywidgets", extra="notebooks")
    aligned = synthetic_transcript(30)
    drawn = []
    real = plots.alignment_figure
    monkeypatch.setattr(plots, "alignment_figure", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    widget = plots.interactive_alignment(aligned, window=20.0)
    slider, output = widget.children
    assert slider.max == pytest.approx(aligned.turns[-1].end - 20.0)
    slider.value = 40.0  # redraws the 40-60 s window
    assert [fig.axes[-1].get_xlim() for fig in drawn] == [(0.0, 20.0), (40.0, 60.0)]
    expected = words_between(aligned, 40.0, 60.0)
    assert 0 < len(drawn[-1].axes[-1].texts) <= expected
    assert f"40.0-60.0 s: {expected} words" in drawn[-1].axes[0].get_title()


def test_bad_arguments_are_reported():
    aligned = synthetic_transcript(3)
    with pytest.raises(InputError, match="plot backend"):
        plots.alignment_figure(aligned, backend="bokeh")
    with pytest.raises(InputError, match="empty"):
        plots.alignment_figure(aligned, start=5.0, end=5.0)
    with pytest.raises(InputError, match="Document or an AlignedTranscript"):
        plots.emotion_summary_figure(["not", "a", "transcript"])
    with pytest.raises(InputError, match="mode"):
        plots.emotion_timeline_figure(aligned, mode="pie")
