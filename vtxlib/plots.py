"""Figures for inspecting alignment and emotion; notebooks and the HTML report only call these.

* :func:`alignment_figure`: one lane per speaker with word boxes (and labels when they fit),
  diarization turns behind them, overlap regions, and optionally the waveform. Only what falls in
  ``[start, end)`` is drawn, so a 30-second window of a 1-hour file renders in milliseconds.
* :func:`review_figure`: the interactive timeline of ``report.html`` for a notebook: inline HTML
  (hover, zoom) that renders in Colab, Jupyter and a saved notebook, with a static PNG
  (:func:`overview_figure`) in the same output so papermill and nbconvert never show it empty.
* :func:`interactive_alignment`: an ipywidgets slider that scrolls that window through the file.
* :func:`emotion_timeline_figure`: per speaker, emotion label bands or per-class score curves.
* :func:`emotion_summary_figure`: per speaker, how much speaking time carried each label.

Every function takes a :class:`~vtxlib.types.Document` or an
:class:`~vtxlib.types.AlignedTranscript` and returns a matplotlib ``Figure`` (built without pyplot,
so it works headless and leaves no global state) or, with ``backend="plotly"``, a plotly figure.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .emotion.base import LABELS
from .errors import InputError, missing_dependency
from .timeline import EMOTION_COLORS, OVERLAP_COLOR, SPEAKER_PALETTE, UNCERTAIN_COLOR, speaker_colors, timeline_html  # noqa: F401
from .types import AlignedTranscript, AudioFile, Diarization, Document, Turn

log = logging.getLogger("vtxlib.plots")

Source = Union[Document, AlignedTranscript]
AudioLike = Union[AudioFile, str, Path, None]
PLAYER_MAX_SECONDS = 600.0  # review_figure embeds a player up to this length (as report.html does)

BACKENDS = ("matplotlib", "plotly")
MAX_WORD_LABELS = 150  # beyond this many words in view, no labels are tried at all
LABEL_FONT_PT = 9  # word labels; at the 96-110 dpi of the PNGs that is 12-14 px
WAVEFORM_BINS = 2000  # min/max envelope points: enough for any screen width
ENVELOPE_CHUNK_SAMPLES = 1 << 21  # read long files ~2 M samples (~2 min) at a time


# -- shared data ---------------------------------------------------------------------------------

@dataclass
class _View:
    turns: list[Turn]
    speakers: list[str]
    names: dict[str, str]

    def name(self, speaker: str) -> str:
        return self.names.get(speaker, speaker)


def _view(source: Source) -> _View:
    if isinstance(source, Document):
        transcript, names = source.transcript, dict(source.speaker_names)
    elif isinstance(source, AlignedTranscript):
        transcript, names = source, {}
    else:
        raise InputError(f"expected a Document or an AlignedTranscript, got {type(source).__name__}")
    return _View(turns=list(transcript.turns), speakers=list(transcript.speakers), names=names)


def _extent(view: _View, diarization: Optional[Diarization]) -> float:
    ends = [t.end for t in view.turns] + ([t.end for t in diarization.turns] if diarization else [])
    return max(ends, default=0.0)


def _window(view: _View, diarization: Optional[Diarization], start: float, end: Optional[float]):
    end = _extent(view, diarization) if end is None else end
    if end <= start:
        raise InputError(f"the plot window is empty: start={start} s, end={end} s")
    return float(start), float(end)


def _clip(items, start: float, end: float):
    """(start, end, item) for the items overlapping [start, end), clipped to it."""
    return [(max(s, start), min(e, end), item) for s, e, item in items if e > start and s < end]


def _words_in(view: _View, start: float, end: float):
    return _clip(((w.start, w.end, (t.speaker, w.text)) for t in view.turns for w in t.words), start, end)


def _diarization_turns_in(view: _View, diarization: Optional[Diarization], start: float, end: float):
    turns = diarization.turns if diarization else view.turns
    return _clip(((t.start, t.end, t.speaker) for t in turns), start, end)


def _overlaps_in(view: _View, diarization: Optional[Diarization], start: float, end: float):
    if diarization is not None:
        spans = [(s, e, None) for s, e in diarization.overlaps]
    else:
        spans = [(t.start, t.end, None) for t in view.turns if t.overlap]
    return [(s, e) for s, e, _ in _clip(spans, start, end)]


def waveform_envelope(audio: AudioLike, start: float, end: float,
                      bins: int = WAVEFORM_BINS) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(times, minima, maxima) of the audio in [start, end), read from disk for that window only."""
    if audio is None:
        return None
    from .audio import load_audio

    path, rate = (audio.path, audio.sample_rate) if isinstance(audio, AudioFile) else (str(audio), 16000)
    total = int((end - start) * rate)
    bins = max(1, min(bins, total))
    edges = np.linspace(0, total, bins + 1).astype(int)
    per_chunk = max(1, bins * ENVELOPE_CHUNK_SAMPLES // max(total, 1))  # bounded memory on long files
    lows, highs = [], []
    for first in range(0, bins, per_chunk):
        last = min(bins, first + per_chunk)
        chunk = load_audio(path, start + edges[first] / rate, start + edges[last] / rate)
        if chunk.size == 0:
            break
        local = np.minimum(edges[first:last] - edges[first], chunk.size - 1)
        lows.append(np.minimum.reduceat(chunk, local))
        highs.append(np.maximum.reduceat(chunk, local))
    if not lows:
        return None
    lows_all, highs_all = np.concatenate(lows), np.concatenate(highs)
    times = start + (edges[:-1] + edges[1:])[: len(lows_all)] / 2 / rate
    return times, lows_all, highs_all


def _literal(text: str) -> str:
    """Text matplotlib must not read as mathtext ("$5 or $10" would otherwise fail to render)."""
    return text.replace("$", r"\$")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InputError(f"unknown plot backend {backend!r}; expected one of: {', '.join(BACKENDS)}")


def _mpl_figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise missing_dependency("matplotlib", "cpu", "Plotting") from e
    return Figure(figsize=(width, height), layout="constrained")


def _plotly():
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as e:
        raise missing_dependency("plotly", "cpu", "Interactive plots") from e
    return go, make_subplots


def _rectangles(spans, low: float, high: float) -> tuple[list, list]:
    """Closed rectangle outlines separated by None: one plotly trace draws them all."""
    xs, ys = [], []
    for s, e in spans:
        xs += [s, e, e, s, s, None]
        ys += [low, low, high, high, low, None]
    return xs, ys


# -- alignment -----------------------------------------------------------------------------------

def alignment_figure(source: Source, diarization: Optional[Diarization] = None, audio: AudioLike = None,
                     start: float = 0.0, end: Optional[float] = None, backend: str = "matplotlib",
                     max_word_labels: int = MAX_WORD_LABELS, width: float = 14.0):
    """Speaker lanes over [start, end) with word boxes, diarization turns, overlaps and waveform.

    ``end=None`` means the end of the transcript. Word labels are drawn only when at most
    ``max_word_labels`` words are in view; zoom in (a smaller window) to read them.
    """
    _check_backend(backend)
    view = _view(source)
    start, end = _window(view, diarization, start, end)
    speakers = list(dict.fromkeys(view.speakers + (diarization.speakers if diarization else [])))
    data = {
        "speakers": speakers,
        "words": _words_in(view, start, end),
        "turns": _diarization_turns_in(view, diarization, start, end),
        "overlaps": _overlaps_in(view, diarization, start, end),
        "wave": waveform_envelope(audio, start, end),
    }
    draw = _alignment_plotly if backend == "plotly" else _alignment_matplotlib
    return draw(view, data, start, end, max_word_labels, width)


def _alignment_matplotlib(view: _View, data: dict, start: float, end: float, max_labels: int,
                          width: float):
    speakers, colors = data["speakers"], speaker_colors(data["speakers"])
    lanes = {s: i for i, s in enumerate(reversed(speakers))}
    has_wave = data["wave"] is not None
    fig = _mpl_figure(width, 1.2 + 0.9 * len(speakers) + (1.2 if has_wave else 0))
    axes = fig.subplots(2 if has_wave else 1, 1, sharex=True, squeeze=False,
                        height_ratios=[1, max(1, len(speakers))] if has_wave else None)[:, 0]
    if has_wave:
        times, lows, highs = data["wave"]
        axes[0].fill_between(times, lows, highs, color="#555555", linewidth=0)
        axes[0].set_yticks([])
        axes[0].set_ylabel("audio")
    ax = axes[-1]
    for speaker in speakers:
        lane = lanes[speaker]
        turn_spans = [(s, e - s) for s, e, who in data["turns"] if who == speaker]
        ax.broken_barh(turn_spans, (lane - 0.42, 0.84), facecolors=colors[speaker], alpha=0.18)
        word_spans = [(s, e - s) for s, e, (who, _) in data["words"] if who == speaker]
        ax.broken_barh(word_spans, (lane - 0.22, 0.44), facecolors=colors[speaker], alpha=0.8,
                       edgecolor="white", linewidth=0.5)
    labelled = 0
    if len(data["words"]) <= max_labels:
        seconds_per_point = (end - start) / (width * 72 * 0.75)  # the axes take at least 3/4 of the width
        for s, e, (who, text), row in _label_rows(data["words"], fig, seconds_per_point):
            y, va = (lanes[who] + 0.25, "bottom") if row == 0 else (lanes[who] - 0.25, "top")
            ax.text((s + e) / 2, y, _literal(text), ha="center", va=va, fontsize=LABEL_FONT_PT, clip_on=True)
            labelled += 1
    for s, e in data["overlaps"]:
        ax.axvspan(s, e, color=OVERLAP_COLOR, alpha=0.25, hatch="//", linewidth=0)
    ax.set_yticks(list(lanes.values()), [_literal(view.name(s)) for s in lanes])
    ax.set_ylim(-0.6, len(speakers) - 0.4)
    ax.set_xlim(start, end)
    ax.set_xlabel("time (s)")
    title = f"alignment {start:.1f}-{end:.1f} s: {len(data['words'])} words"
    if labelled < len(data["words"]):
        title += f", {labelled} labelled (zoom in to read every word)"
    axes[0].set_title(title, fontsize=10)
    _alignment_legend(fig, bool(data["overlaps"]), has_wave)
    return fig


def _label_rows(words, fig, seconds_per_point: float):
    """(start, end, (speaker, text), row) for the labels that fit: per speaker, two rows (above and
    below the word bars), a label going to the first row where it does not touch its neighbour."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.font_manager import FontProperties

    renderer = FigureCanvasAgg(fig).get_renderer()
    font = FontProperties(size=LABEL_FONT_PT)
    points_per_pixel = 72 / fig.dpi
    right: dict[tuple[str, int], float] = {}
    placed = []
    for s, e, (who, text) in sorted(words, key=lambda w: (w[0] + w[1]) / 2):
        pixels = renderer.get_text_width_height_descent(_literal(text), font, ismath=False)[0]
        half = (pixels * points_per_pixel + 3) * seconds_per_point / 2
        middle = (s + e) / 2
        for row in (0, 1):
            if middle - half > right.get((who, row), -np.inf):
                right[(who, row)] = middle + half
                placed.append((s, e, (who, text), row))
                break
    return placed


def _alignment_legend(fig, overlaps: bool, wave: bool) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#1f77b4", alpha=0.18, label="speaker turn (diarization)"),
               Patch(facecolor="#1f77b4", alpha=0.8, label="word (ASR), coloured by speaker")]
    if overlaps:
        handles.append(Patch(facecolor=OVERLAP_COLOR, alpha=0.25, hatch="//", label="overlapping speech"))
    if wave:
        handles.append(Patch(facecolor="#555555", label="waveform"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)


def _alignment_plotly(view: _View, data: dict, start: float, end: float, max_labels: int, width: float):
    go, make_subplots = _plotly()
    speakers, colors = data["speakers"], speaker_colors(data["speakers"])
    lanes = {s: i for i, s in enumerate(reversed(speakers))}
    has_wave = data["wave"] is not None
    fig = make_subplots(rows=2 if has_wave else 1, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[0.2, 0.8] if has_wave else None)
    row = 2 if has_wave else 1
    if has_wave:
        times, lows, highs = data["wave"]
        fig.add_trace(go.Scatter(x=np.concatenate([times, times[::-1]]), y=np.concatenate([highs, lows[::-1]]),
                                 fill="toself", mode="lines", line={"width": 0}, fillcolor="#555555",
                                 name="audio", hoverinfo="skip"), row=1, col=1)
    for speaker in speakers:
        lane = lanes[speaker]
        xs, ys = _rectangles([(s, e) for s, e, who in data["turns"] if who == speaker], lane - 0.42, lane + 0.42)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line={"width": 0},
                                 fillcolor=colors[speaker], opacity=0.2, name=f"{view.name(speaker)} turns",
                                 hoverinfo="skip"), row=row, col=1)
        mine = [(s, e, text) for s, e, (who, text) in data["words"] if who == speaker]
        xs, ys = _rectangles([(s, e) for s, e, _ in mine], lane - 0.22, lane + 0.22)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line={"width": 0.5, "color": "white"},
                                 fillcolor=colors[speaker], name=f"{view.name(speaker)} words",
                                 hoverinfo="skip"), row=row, col=1)
        fig.add_trace(go.Scatter(x=[(s + e) / 2 for s, e, _ in mine], y=[lane + 0.32] * len(mine),
                                 mode="text" if len(data["words"]) <= max_labels else "markers",
                                 text=[t for _, _, t in mine], marker={"size": 1, "opacity": 0},
                                 hovertext=[f"{t} {s:.2f}-{e:.2f} s" for s, e, t in mine], hoverinfo="text",
                                 textfont={"size": 9}, showlegend=False), row=row, col=1)
    if data["overlaps"]:
        xs, ys = _rectangles(data["overlaps"], -0.5, len(speakers) - 0.5)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line={"width": 0},
                                 fillcolor=OVERLAP_COLOR, opacity=0.3, name="overlap"), row=row, col=1)
    fig.update_yaxes(tickvals=list(lanes.values()), ticktext=[view.name(s) for s in lanes], row=row, col=1)
    fig.update_xaxes(range=[start, end], title_text="time (s)", row=row, col=1)
    fig.update_layout(height=160 + 90 * len(speakers) + (120 if has_wave else 0), width=int(width * 80),
                      title=f"alignment {start:.1f}-{end:.1f} s: {len(data['words'])} words",
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def interactive_alignment(source: Source, diarization: Optional[Diarization] = None, audio: AudioLike = None,
                          window: float = 30.0, backend: str = "matplotlib"):
    """A slider over the file that redraws :func:`alignment_figure` for ``window`` seconds at a time."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError as e:
        raise missing_dependency("ipywidgets", "notebooks", "The interactive alignment view") from e
    _check_backend(backend)
    total = _extent(_view(source), diarization)
    slider = widgets.FloatSlider(value=0.0, min=0.0, max=max(0.0, total - window), step=window / 6,
                                 description="start (s)", continuous_update=False,
                                 layout=widgets.Layout(width="90%"))
    output = widgets.Output()

    def redraw(change=None) -> None:
        start = slider.value
        fig = alignment_figure(source, diarization, audio, start=start, end=min(total, start + window),
                               backend=backend)
        output.clear_output(wait=True)
        with output:
            display(fig)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, output])


# -- emotion -------------------------------------------------------------------------------------

def _emotion_turns(view: _View) -> list[Turn]:
    return [t for t in view.turns if t.emotion is not None]


def emotion_timeline_figure(source: Source, mode: str = "bands", backend: str = "matplotlib",
                            start: float = 0.0, end: Optional[float] = None, width: float = 14.0):
    """Per speaker over time: ``mode="bands"`` colours each turn by its label (pale when
    low-confidence); ``mode="scores"`` draws each class's score as a step curve."""
    _check_backend(backend)
    if mode not in ("bands", "scores"):
        raise InputError(f"unknown emotion timeline mode {mode!r}; expected 'bands' or 'scores'")
    view = _view(source)
    start, end = _window(view, None, start, end)
    turns = [t for t in _emotion_turns(view) if t.end > start and t.start < end]
    speakers = view.speakers or ["(none)"]
    if backend == "plotly":
        return _emotion_timeline_plotly(view, speakers, turns, mode, start, end, width)
    fig = _mpl_figure(width, 0.6 + 1.3 * len(speakers))
    axes = fig.subplots(len(speakers), 1, sharex=True, squeeze=False)[:, 0]
    for ax, speaker in zip(axes, speakers):
        mine = [t for t in turns if t.speaker == speaker]
        if mode == "bands":
            for label in LABELS:
                sure = [(t.start, t.end - t.start) for t in mine
                        if t.emotion.label == label and not t.emotion.low_confidence]
                ax.broken_barh(sure, (0, 1), facecolors=EMOTION_COLORS[label], label=label)
            unsure = [(t.start, t.end - t.start) for t in mine if t.emotion.low_confidence]
            ax.broken_barh(unsure, (0, 1), facecolors=UNCERTAIN_COLOR, hatch="..", label="uncertain")
            ax.set_yticks([])
        else:
            for label in LABELS:
                xs, ys = _step_curve(mine, label)
                ax.plot(xs, ys, color=EMOTION_COLORS[label], label=label, linewidth=1.2)
            ax.set_ylim(0, 1)
        ax.set_ylabel(_literal(view.name(speaker)), rotation=0, ha="right", va="center")
        ax.set_xlim(start, end)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper right", ncols=5, fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"emotion per speaker ({_backend_note(turns)})", fontsize=10)
    return fig


def _step_curve(turns: list[Turn], label: str) -> tuple[list, list]:
    xs, ys = [], []
    for t in turns:
        value = t.emotion.scores.get(label, 0.0)
        xs += [t.start, t.end, None]
        ys += [value, value, None]
    return [np.nan if x is None else x for x in xs], [np.nan if y is None else y for y in ys]


def _backend_note(turns: list[Turn]) -> str:
    backends = sorted({t.emotion.backend for t in turns if t.emotion})
    return ", ".join(backends) if backends else "no emotions"


def _emotion_timeline_plotly(view: _View, speakers: list[str], turns: list[Turn], mode: str,
                             start: float, end: float, width: float):
    go, make_subplots = _plotly()
    fig = make_subplots(rows=len(speakers), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[view.name(s) for s in speakers])
    for row, speaker in enumerate(speakers, start=1):
        mine = [t for t in turns if t.speaker == speaker]
        for label in LABELS:
            if mode == "bands":
                spans = [(t.start, t.end) for t in mine if t.emotion.label == label and not t.emotion.low_confidence]
                xs, ys = _rectangles(spans, 0, 1)
                trace = go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line={"width": 0},
                                   fillcolor=EMOTION_COLORS[label], name=label, legendgroup=label,
                                   showlegend=row == 1)
            else:
                xs, ys = _step_curve(mine, label)
                trace = go.Scatter(x=xs, y=ys, mode="lines", line={"color": EMOTION_COLORS[label]},
                                   name=label, legendgroup=label, showlegend=row == 1)
            fig.add_trace(trace, row=row, col=1)
        if mode == "bands":
            xs, ys = _rectangles([(t.start, t.end) for t in mine if t.emotion.low_confidence], 0, 1)
            fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line={"width": 0},
                                     fillcolor=UNCERTAIN_COLOR, name="uncertain", legendgroup="uncertain",
                                     showlegend=row == 1), row=row, col=1)
    fig.update_xaxes(range=[start, end])
    fig.update_layout(height=120 + 150 * len(speakers), width=int(width * 80),
                      title=f"emotion per speaker ({_backend_note(turns)})")
    return fig


def emotion_seconds(source: Source) -> dict[str, dict[str, float]]:
    """Speaking seconds per speaker per label; low-confidence turns count as ``uncertain``."""
    view = _view(source)
    table = {s: {label: 0.0 for label in (*LABELS, "uncertain")} for s in view.speakers}
    for t in _emotion_turns(view):
        key = "uncertain" if t.emotion.low_confidence else t.emotion.label
        table[t.speaker][key] += max(0.0, t.end - t.start)
    return table


def emotion_summary_figure(source: Source, backend: str = "matplotlib", width: float = 8.0):
    """Per speaker, the share of speaking time carrying each label (stacked horizontal bars)."""
    _check_backend(backend)
    view = _view(source)
    table = emotion_seconds(source)
    speakers = view.speakers
    categories = (*LABELS, "uncertain")
    colors = {**EMOTION_COLORS, "uncertain": UNCERTAIN_COLOR}
    shares = {s: _shares(table[s], categories) for s in speakers}
    if backend == "plotly":
        go, _ = _plotly()
        fig = go.Figure([go.Bar(y=[view.name(s) for s in speakers], x=[shares[s][c] for s in speakers],
                                name=c, orientation="h", marker_color=colors[c]) for c in categories])
        fig.update_layout(barmode="stack", xaxis={"range": [0, 100], "title": "% of speaking time"},
                          height=150 + 50 * len(speakers), width=int(width * 80),
                          title="emotion share per speaker")
        return fig
    fig = _mpl_figure(width, 1.2 + 0.5 * max(1, len(speakers)))
    ax = fig.subplots()
    left = np.zeros(len(speakers))
    for c in categories:
        values = np.array([shares[s][c] for s in speakers])
        ax.barh([_literal(view.name(s)) for s in speakers], values, left=left, color=colors[c], label=c)
        left += values
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of speaking time")
    ax.invert_yaxis()
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=8)
    ax.set_title("emotion share per speaker", fontsize=10)
    return fig


def _shares(seconds: dict[str, float], categories) -> dict[str, float]:
    total = sum(seconds.values())
    return {c: (100.0 * seconds[c] / total if total else 0.0) for c in categories}


# -- review (notebook 08) ------------------------------------------------------------------------

def overview_figure(source: Source, diarization: Optional[Diarization] = None, audio: AudioLike = None,
                    width: float = 11.0):
    """The whole file at a glance (static): per speaker, turns and words, the emotion strip
    under them, overlaps and the waveform; the PNG beside :func:`review_figure`'s HTML."""
    view = _view(source)
    start, end = _window(view, diarization, 0.0, None)
    speakers = list(dict.fromkeys(view.speakers + (diarization.speakers if diarization else [])))
    colors = speaker_colors(speakers)
    wave = waveform_envelope(audio, start, end)
    fig = _mpl_figure(width, 1.3 + 0.75 * len(speakers) + (0.8 if wave is not None else 0))
    axes = fig.subplots(2 if wave is not None else 1, 1, sharex=True, squeeze=False,
                        height_ratios=[1, max(1, 1.4 * len(speakers))] if wave is not None else None)[:, 0]
    if wave is not None:
        times, lows, highs = wave
        axes[0].fill_between(times, lows, highs, color="#666666", linewidth=0)
        axes[0].set_yticks([])
        axes[0].set_ylabel("audio", rotation=0, ha="right", va="center")
    ax = axes[-1]
    lanes = {s: i for i, s in enumerate(reversed(speakers))}
    turns = _diarization_turns_in(view, diarization, start, end)
    for speaker in speakers:
        lane, color = lanes[speaker], colors[speaker]
        ax.broken_barh([(s, e - s) for s, e, who in turns if who == speaker], (lane - 0.05, 0.5),
                       facecolors=color, alpha=0.2)
        ax.broken_barh([(w.start, w.end - w.start) for t in view.turns if t.speaker == speaker for w in t.words],
                       (lane + 0.05, 0.3), facecolors=color)
        for label in (*LABELS, "uncertain"):
            spans = [(t.start, t.end - t.start) for t in _emotion_turns(view) if t.speaker == speaker
                     and ("uncertain" if t.emotion.low_confidence else t.emotion.label) == label]
            ax.broken_barh(spans, (lane - 0.3, 0.18), facecolors={**EMOTION_COLORS, "uncertain": UNCERTAIN_COLOR}[label])
    for s, e in _overlaps_in(view, diarization, start, end):
        ax.axvspan(s, e, color=OVERLAP_COLOR, alpha=0.3, linewidth=0)
    ax.set_yticks(list(lanes.values()), [_literal(view.name(s)) for s in lanes], fontsize=10)
    ax.set_ylim(-0.45, len(speakers) - 0.4)
    ax.set_xlim(start, end)
    ax.set_xlabel("time (s)")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#888888", alpha=0.25, label="turn (diarization)"),
               Patch(facecolor="#888888", label="words (ASR)"),
               Patch(facecolor=OVERLAP_COLOR, alpha=0.3, label="overlap")]
    if _emotion_turns(view):
        handles += [Patch(facecolor=c, label=label) for label, c in
                    {**EMOTION_COLORS, "uncertain": UNCERTAIN_COLOR}.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)
    axes[0].set_title(f"{len(view.turns)} turns, {sum(len(t.words) for t in view.turns)} words "
                      "(emotion strip under each lane)", fontsize=10)
    return fig


class ReviewFigure:
    """Displays as the interactive timeline (``text/html``) with a PNG of :func:`overview_figure`
    in the same output (``image/png``, and inside the HTML until its script swaps in the figure):
    Colab and Jupyter show the interactive figure; a saved notebook opened untrusted, a viewer that
    strips scripts, papermill outputs and nbconvert exports still show the picture."""

    def __init__(self, html_text: str, png: Optional[bytes], summary: str):
        self.html, self.png, self.summary = html_text, png, summary

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/html": self.html, "text/plain": self.summary}
        if self.png:
            import base64

            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle

    def _repr_html_(self) -> str:
        return self.html

    def save_html(self, path: Union[str, Path]) -> Path:
        """A standalone page with the figure (no network needed)."""
        from .workspace import atomic_write_text

        return atomic_write_text(Path(path), "<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'></head>"
                                             f"<body>{self.html}</body></html>")


def review_figure(source: Source, diarization: Optional[Diarization] = None, audio: AudioLike = None,
                  png: bool = True, player_max_seconds: float = PLAYER_MAX_SECONDS) -> ReviewFigure:
    """The report's interactive timeline for a notebook cell (put it last in the cell to show it).

    With AUDIO up to ``player_max_seconds`` long the figure has a player (MP3 inside the cell, about
    4 kB a second): a click on the timeline plays from there. Longer files get no player (the
    notebook would grow by megabytes); report.html plays them.
    """
    view = _view(source)
    end = _extent(view, diarization)
    envelope = waveform_envelope(audio, 0.0, end) if audio is not None and end > 0 else None
    image = None
    if png and view.turns:
        try:
            image = figure_png(overview_figure(source, diarization, audio), dpi=96)
        except Exception as e:  # the HTML still shows; say why the fallback is missing
            log.warning("review figure: static PNG skipped (%s: %s)", type(e).__name__, e)
    summary = (f"timeline: {len(view.speakers)} speaker(s), {len(view.turns)} turns, "
               f"{sum(len(t.words) for t in view.turns)} words, {end:.1f} s")
    player = _player_source(audio, end, player_max_seconds)
    return ReviewFigure(timeline_html(source, diarization, envelope, fallback_png=image, audio_src=player),
                        image, summary)


def _player_source(audio: AudioLike, duration: float, max_seconds: float) -> Optional[str]:
    """A data: URI of AUDIO as MP3 for the figure's player, or None (too long, or no encoder)."""
    if audio is None or not 0 < duration <= max_seconds:
        return None
    import base64
    import subprocess

    from .audio import encode_mp3

    path = audio.path if isinstance(audio, AudioFile) else str(audio)
    try:
        return "data:audio/mpeg;base64," + base64.b64encode(encode_mp3(path)).decode("ascii")
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        log.warning("review figure: no player, the audio could not be encoded (%s: %s)", type(e).__name__, e)
        return None


# -- output --------------------------------------------------------------------------------------

def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (Agg; no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_figure(fig, path: Union[str, Path]) -> Path:
    """Write a figure: matplotlib -> .png/.svg/.pdf; plotly -> self-contained .html (plotly.js inlined)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(fig, "savefig"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        fig.savefig(path)
    elif path.suffix.lower() in (".html", ".htm"):
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    else:
        fig.write_image(str(path))  # needs kaleido; html needs nothing
    return path
