"""A self-contained HTML report written next to the subtitles.

One file, no network needed to open it: inline CSS, the plots as base64 PNG, every transcript
string HTML-escaped. It shows the media, the speakers, the stage timings from
``document.stages``, the alignment overview, the emotion timeline and summary, and the transcript
with speaker colours and emotion badges.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path
from typing import Optional, Union

from .emotion.base import LABELS
from .types import Diarization, Document, Turn
from .workspace import atomic_write_text

log = logging.getLogger("vtxlib.report")

EMBEDDED_NOTE = ("Emotions come from the embedded estimator: arousal from loudness, pitch and speaking rate "
                 "relative to each speaker, valence from a word lexicon (VADER). It is not a trained "
                 "speech-emotion model; treat labels as hints.")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em} table{border-collapse:collapse;font-size:.9em}
td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left} th{background:#f6f6f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}
.turn{display:grid;grid-template-columns:7.5em 10em 1fr;gap:.6em;padding:.35em 0;border-bottom:1px solid #f2f2f2}
.time{color:#888;font-variant-numeric:tabular-nums;font-size:.85em}
.speaker{font-weight:600} .badge{display:inline-block;font-size:.75em;padding:0 .5em;border-radius:.8em;
color:#fff;margin-left:.4em;vertical-align:middle} .badge.uncertain{color:#555;background:#e4e4e4 !important;
font-style:italic} .overlap{font-size:.75em;color:#c55a11;margin-left:.4em} .note{background:#fff8e1;
padding:.5em .8em;border-left:3px solid #f2b400;font-size:.9em}
"""


def _png_img(fig, alt: str) -> str:
    from .plots import figure_png

    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _plot_section(title: str, make_figure) -> str:
    """A plot as an <img>, or a note saying why it is missing: a plot must never sink the report."""
    try:
        return f"<h2>{html.escape(title)}</h2>\n{_png_img(make_figure(), title)}"
    except Exception as e:  # plotting libraries fail in many ways; the transcript still matters
        log.warning("report: %s plot skipped (%s: %s)", title, type(e).__name__, e)
        reason = html.escape(f"{type(e).__name__}: {e}")
        return f"<h2>{html.escape(title)}</h2>\n<p class=meta>not drawn: {reason}</p>"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:05.2f}" if hours else f"{minutes:02d}:{secs:05.2f}"


def _badge(turn: Turn) -> str:
    emotion = turn.emotion
    if emotion is None:
        return ""
    from .plots import EMOTION_COLORS

    scores = ", ".join(f"{label} {emotion.scores.get(label, 0.0):.2f}" for label in LABELS)
    tip = html.escape(f"{emotion.backend}: {scores}", quote=True)
    if emotion.low_confidence:
        return f'<span class="badge uncertain" title="{tip}">{html.escape(emotion.label)}?</span>'
    color = EMOTION_COLORS.get(emotion.label, "#777")
    return (f'<span class="badge" style="background:{color}" title="{tip}">{html.escape(emotion.label)} '
            f"{emotion.confidence:.0%}</span>")


def _transcript_html(document: Document, colors: dict[str, str]) -> str:
    rows = []
    for turn in document.transcript.turns:
        name = html.escape(document.display_name(turn.speaker))
        color = colors.get(turn.speaker, "#333")
        overlap = '<span class="overlap">overlap</span>' if turn.overlap else ""
        rows.append(f'<div class="turn"><span class="time">{_clock(turn.start)}&ndash;{_clock(turn.end)}</span>'
                    f'<span class="speaker" style="color:{color}">{name}{overlap}</span>'
                    f"<span>{html.escape(turn.text)}{_badge(turn)}</span></div>")
    return "\n".join(rows)


def _stages_html(document: Document) -> str:
    if not document.stages:
        return "<p class=meta>no stage timings recorded</p>"
    total = sum(r.seconds for r in document.stages.values())
    rows = []
    for name, record in document.stages.items():
        share = f"{record.seconds / total:.0%}" if total > 0 else "-"
        model = " ".join(x for x in (record.model, record.model_version) if x)
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(record.backend)}</td>"
                    f"<td>{html.escape(model)}</td><td class=num>{record.seconds:.2f}</td>"
                    f"<td class=num>{share}</td><td>{'cached' if record.cached else ''}</td></tr>")
    header = "<tr><th>stage</th><th>backend</th><th>model</th><th>seconds</th><th>share</th><th></th></tr>"
    footer = f"<tr><th>total</th><th></th><th></th><th class=num>{total:.2f}</th><th></th><th></th></tr>"
    return f"<table>{header}{''.join(rows)}{footer}</table>"


def _speakers_html(document: Document, colors: dict[str, str]) -> str:
    from .plots import emotion_seconds

    seconds = emotion_seconds(document)
    rows = []
    for speaker in document.speakers:
        talk = sum(t.end - t.start for t in document.transcript.turns if t.speaker == speaker)
        words = sum(len(t.words) for t in document.transcript.turns if t.speaker == speaker)
        labelled = {k: v for k, v in seconds.get(speaker, {}).items() if v > 0}
        top = max(labelled, key=labelled.get) if labelled else ""
        rows.append(f'<tr><td style="color:{colors[speaker]};font-weight:600">'
                    f"{html.escape(document.display_name(speaker))}</td><td class=num>{talk:.1f}</td>"
                    f"<td class=num>{words}</td><td>{html.escape(top)}</td></tr>")
    return ("<table><tr><th>speaker</th><th>seconds</th><th>words</th><th>most frequent emotion</th></tr>"
            + "".join(rows) + "</table>")


def _emotion_note(document: Document) -> str:
    backends = {t.emotion.backend for t in document.transcript.turns if t.emotion}
    if "embedded-prosody-lexicon" in backends:
        return f'<p class="note">{html.escape(EMBEDDED_NOTE)}</p>'
    return ""


def render_report(document: Document, diarization: Optional[Diarization] = None,
                  audio_path: Optional[Union[str, Path]] = None) -> str:
    """The report as one HTML string (pure apart from reading the audio for the waveform)."""
    from .plots import (alignment_figure, emotion_summary_figure, emotion_timeline_figure,
                        speaker_colors)

    colors = speaker_colors(list(dict.fromkeys(
        document.speakers + (diarization.speakers if diarization else []))))
    media = document.media
    has_emotion = any(t.emotion for t in document.transcript.turns)
    duration = media.duration or max((t.end for t in document.transcript.turns), default=0.0)
    language = document.transcript.language
    language_note = f" &middot; language {html.escape(language)}" if language else ""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(media.title or media.id)} - transcript report</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(media.title or media.id)}</h1>",
        f'<p class="meta">{html.escape(media.source)} &middot; {_clock(duration)} &middot; '
        f"{len(document.speakers)} speaker(s) &middot; {len(document.transcript.words)} words"
        f"{language_note}</p>",
        "<h2>Speakers</h2>", _speakers_html(document, colors),
        "<h2>Stage timings</h2>", _stages_html(document),
    ]
    if document.transcript.turns:
        parts.append(_plot_section("Alignment", lambda: alignment_figure(
            document, diarization, audio_path, backend="matplotlib", max_word_labels=60)))
    if has_emotion:
        parts += [_emotion_note(document),
                  _plot_section("Emotion timeline", lambda: emotion_timeline_figure(document)),
                  _plot_section("Emotion summary", lambda: emotion_summary_figure(document))]
    parts += ["<h2>Transcript</h2>", _transcript_html(document, colors), "</body></html>"]
    return "\n".join(parts)


def write_report(document: Document, path: Union[str, Path], diarization: Optional[Diarization] = None,
                 audio_path: Optional[Union[str, Path]] = None) -> Path:
    """Write the report to ``path`` (atomically) and return it."""
    path = Path(path)
    atomic_write_text(path, render_report(document, diarization, audio_path))
    log.info("report written to %s", path)
    return path
