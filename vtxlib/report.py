"""``report.html``: one offline file to listen to, click through and judge a transcript.

* a player (sticky at the top) with the transcript's WebVTT as its track; the current caption is
  shown under it as the browser parsed it;
* the interactive timeline (:mod:`vtxlib.timeline`): speaker lanes, words, overlap, emotion strip,
  waveform, hover details, zoom; a click plays from there;
* per speaker: talk time, words and the share of speaking time carrying each emotion;
* the transcript: a click on a word (or a turn's time) plays from there, the word being spoken is
  highlighted while the audio plays;
* the stage timings (a cached stage shows the seconds it took when it was computed).

Nothing is fetched from the network: CSS, script, data and the VTT are inline. The audio is
embedded (MP3, 32 kbit/s mono, about 4 kB per second) for files up to
:data:`EMBED_AUDIO_MAX_SECONDS`; longer files get ``report-audio.mp3`` written next to the report
and linked relative to it, so the output folder stays self-contained (keep the two files together).
The page shows the media's file name, never a folder of the machine it was made on.
"""

from __future__ import annotations

import base64
import html
import logging
import subprocess
from pathlib import Path
from typing import Optional, Union

from .emotion.base import LABELS
from .language import how_found, warns
from .timefmt import clock
from .timeline import CSS as TIMELINE_CSS
from .timeline import EMOTION_COLORS, UNCERTAIN_COLOR, speaker_colors, timeline_html
from .types import Diarization, Document, MediaInfo, Turn
from .workspace import atomic_write_text

log = logging.getLogger("vtxlib.report")

EMBED_AUDIO_MAX_SECONDS = 600.0  # up to 10 minutes the audio is inside report.html (~3.2 MB base64)
REPORT_AUDIO_NAME = "report-audio.mp3"  # longer files: this file next to report.html
AUDIO_BITRATE = "32k"

EMBEDDED_NOTE = ("Emotions come from the embedded estimator: arousal from loudness, pitch and speaking rate "
                 "relative to each speaker, valence from a word lexicon (VADER). It is not a trained "
                 "speech-emotion model; treat labels as hints.")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto 3em;max-width:1200px;
color:#222;line-height:1.45;padding:0 1.2em}
h1{font-size:1.5em;margin:.6em 0 .1em} h2{font-size:1.15em;margin-top:1.4em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em;margin:.2em 0}
.langbar{position:relative;height:1.6em;background:#f2f2f2;border-radius:3px;margin:.4em 0}
.langbar .lang{position:absolute;top:0;bottom:0;border:0;color:#fff;font:inherit;font-size:.8em;overflow:hidden;
cursor:pointer;padding:0 .3em;text-align:left}
.warning{background:#fff6e0;border-left:3px solid #e0a000;padding:.3em .6em;margin:.4em 0;font-size:.9em}
table{border-collapse:collapse;font-size:.9em}
td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left} th{background:#f6f6f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.player{position:sticky;top:0;z-index:10;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd}
.player audio{width:100%;height:40px}
.caption{min-height:1.5em;font-size:1.05em;padding:.15em .2em;color:#111}
.caption span[title]::before{content:attr(title) ": ";font-weight:600;color:#555}
.controls{font-size:.85em;color:#555}
.turn{display:grid;grid-template-columns:10.5em 10em 1fr;gap:.6em;padding:.35em .2em;border-bottom:1px solid #f2f2f2}
.turn.now{background:#f4f9ff}
.time{color:#666;font:inherit;font-size:.85em;font-variant-numeric:tabular-nums;background:none;border:0;
padding:0;text-align:left;cursor:pointer} .time:hover{text-decoration:underline}
.speaker{font-weight:600} .w{cursor:pointer;border-radius:3px} .w:hover{background:#eef}
.w.now{background:#ffe066;box-shadow:0 0 0 2px #ffe066}
.badge{display:inline-block;font-size:.75em;padding:0 .5em;border-radius:.8em;color:#fff;margin-left:.4em;
vertical-align:middle} .badge.uncertain{color:#555;background:#e4e4e4 !important;font-style:italic}
.overlap{font-size:.75em;color:#c55a11;margin-left:.4em} .note{background:#fff8e1;padding:.5em .8em;
border-left:3px solid #f2b400;font-size:.9em}
.share{display:flex;width:16em;height:.9em;border-radius:3px;overflow:hidden;background:#f0f0f0}
.share i{display:block;height:100%} .shares{font-size:.8em;color:#555}
"""

PAGE_SCRIPT = r"""
(function () {
  var audio = document.getElementById('player'), data = document.querySelector('.vtx-data');
  if (!data) return;
  var D = JSON.parse(data.textContent), W = D.words, spans = document.getElementsByClassName('w');
  var rows = {}, tl = document.querySelector('.vtx-tl');  // turn index -> its transcript row
  Array.prototype.forEach.call(document.getElementsByClassName('turn'), function (r) { rows[r.dataset.u] = r; });
  var follow = document.getElementById('follow'), caption = document.getElementById('caption');
  var order = W.s.map(function (_, i) { return i; }).sort(function (a, b) { return W.s[a] - W.s[b]; });
  var current = -1, running = false;
  function seek(t) {
    if (!audio) return;
    audio.currentTime = Math.max(0, t);
    var p = audio.play(); if (p && p.catch) p.catch(function () {});
    update();
  }
  document.getElementById('transcript').addEventListener('click', function (e) {
    var el = e.target;
    if (el.classList.contains('w')) seek(W.s[Array.prototype.indexOf.call(spans, el)]);
    else if (el.dataset && el.dataset.t) seek(parseFloat(el.dataset.t));
  });
  var langbar = document.querySelector('.langbar');
  if (langbar) langbar.addEventListener('click', function (e) {
    if (e.target.dataset && e.target.dataset.t) seek(parseFloat(e.target.dataset.t));
  });
  document.addEventListener('vtx-seek', function (e) { seek(e.detail); });
  function wordAt(t) {
    var lo = 0, hi = order.length - 1, best = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (W.s[order[mid]] <= t) { best = mid; lo = mid + 1; } else hi = mid - 1; }
    return best >= 0 && t <= W.e[order[best]] + 0.25 ? order[best] : -1;
  }
  function visible(el) { var r = el.getBoundingClientRect(); return r.top > 90 && r.bottom < window.innerHeight; }
  function update() {
    if (!audio) return;
    var t = audio.currentTime, w = wordAt(t), on = follow && follow.checked;
    if (tl && tl.vtx) tl.vtx.setTime(t, on && !audio.paused);
    if (w === current) return;
    if (current >= 0) { spans[current].classList.remove('now'); rows[W.u[current]].classList.remove('now'); }
    current = w;
    if (w >= 0) {
      spans[w].classList.add('now'); rows[W.u[w]].classList.add('now');
      if (on && !audio.paused && !visible(spans[w])) spans[w].scrollIntoView({block: 'center'});
    }
  }
  function loop() { update(); if (running) requestAnimationFrame(loop); }
  if (audio) {
    audio.addEventListener('play', function () { if (!running) { running = true; requestAnimationFrame(loop); } });
    audio.addEventListener('pause', function () { running = false; update(); });
    audio.addEventListener('seeked', update);
    audio.addEventListener('timeupdate', update);
    // one <track> per language (the original first); the selector shows one of them under the player
    var tracks = audio.textTracks || [], chooser = document.getElementById('tracks'), shown = null;
    function showCues() {
      while (caption.firstChild) caption.removeChild(caption.firstChild);
      var cues = (shown && shown.activeCues) || [];
      for (var i = 0; i < cues.length; i++) {
        if (i) caption.appendChild(document.createElement('br'));
        caption.appendChild(cues[i].getCueAsHTML());
      }
    }
    function showTrack(index) {
      for (var k = 0; k < tracks.length; k++) tracks[k].mode = k === index ? 'hidden' : 'disabled';
      shown = tracks[index] || null;
      if (shown) caption.lang = shown.language;
      showCues();
    }
    for (var k = 0; k < tracks.length; k++)
      tracks[k].addEventListener('cuechange', function () { if (this === shown) showCues(); });
    if (chooser) chooser.addEventListener('change', function () { showTrack(parseInt(chooser.value, 10)); });
    showTrack(chooser ? parseInt(chooser.value, 10) : 0);
  }
})();
"""


# -- sections ------------------------------------------------------------------------------------

def source_label(media: MediaInfo) -> str:
    """The source as a page may show it: a URL (without credentials) or the file's name only."""
    from .netguard import share_safe_source

    return share_safe_source(media.source)


def _badge(turn: Turn) -> str:
    emotion = turn.emotion
    if emotion is None:
        return ""
    scores = ", ".join(f"{label} {emotion.scores.get(label, 0.0):.2f}" for label in LABELS)
    tip = html.escape(f"{emotion.backend}: {scores}", quote=True)
    if emotion.low_confidence:
        return f'<span class="badge uncertain" title="{tip}">{html.escape(emotion.label)}?</span>'
    color = EMOTION_COLORS.get(emotion.label, "#777")
    return (f'<span class="badge" style="background:{color}" title="{tip}">{html.escape(emotion.label)} '
            f"{emotion.confidence:.0%}</span>")


def _transcript_html(document: Document, colors: dict[str, str]) -> str:
    """One row per turn with words (a voice heard only under another's words has no text: the
    timeline shows it, the transcript does not); ``data-u`` is the turn's index in the data."""
    from .subtitle_rules import rules_for

    rows = []
    # right-to-left text runs right to left; dir="auto" lets each turn follow its own first letters
    direction = ' dir="rtl"' if rules_for(document.language).rtl else ' dir="auto"'
    lang = f' lang="{html.escape(document.language, quote=True)}"' if document.language else ""
    direction += lang
    for u, turn in enumerate(document.transcript.turns):
        if not turn.words:
            continue
        name = html.escape(document.display_name(turn.speaker))
        color = colors.get(turn.speaker, "#333")
        overlap = ' <span class="overlap" title="overlapping speech">(overlap)</span>' if turn.overlap else ""
        # every word is a span, in document order (the script maps span i to word i of the data)
        words = _joined_spans([w.text.strip() for w in turn.words])
        rows.append(f'<div class="turn" data-u="{u}"><button class="time" data-t="{turn.start:.3f}" '
                    f'title="play from here">{clock(turn.start, 2)}&ndash;{clock(turn.end, 2)}</button> '
                    f'<span class="speaker" style="color:{color}">{name}{overlap}</span> '
                    f"<span{direction}>{words}{_badge(turn)}</span></div>")
    return '<div id="transcript">' + "\n".join(rows) + "</div>"


def _joined_spans(tokens: list[str]) -> str:
    """One span per word, a space between them except where the script has none (Chinese, Japanese, Thai)."""
    from .subtitle_rules import separator

    return "".join((separator(tokens[k - 1], token) if k else "") + f'<span class="w">{html.escape(token)}</span>'
                   for k, token in enumerate(tokens))


def wall_clock_seconds(document: Document, parallel: tuple[str, ...] = ()) -> float:
    """The stages' seconds with the ones in PARALLEL counted once (the longest of them): they ran
    side by side, so adding them would count that time twice."""
    side_by_side = [r.seconds for name, r in document.stages.items() if name in parallel]
    return (sum(r.seconds for name, r in document.stages.items() if name not in parallel)
            + max(side_by_side, default=0.0))


def _stages_html(document: Document, wall_seconds: Optional[float] = None,
                 parallel: tuple[str, ...] = ()) -> str:
    """The stage table; its total is the run's wall clock (WALL_SECONDS, as the command line
    reports it) or, without one, the stages' seconds with those in PARALLEL counted once."""
    if not document.stages:
        return "<p class=meta>no stage timings recorded</p>"
    total = wall_seconds if wall_seconds is not None else wall_clock_seconds(document, parallel)
    rows = []
    for name, record in document.stages.items():
        share = f"{record.seconds / total:.0%}" if total > 0 and not record.cached else "-"  # cached: not this run's
        model = " ".join(x for x in (record.model, record.model_version) if x)
        note = ""
        if record.cached:
            loaded = getattr(record, "load_seconds", None)
            note = "cached: time when computed" + (f"; loaded in {loaded:.2f} s" if loaded is not None else "")
        others = [other for other in parallel if other != name and other in document.stages]
        if name in parallel and others:
            note = "; ".join(x for x in (note, f"ran alongside {', '.join(others)}") if x)
        if record.incomplete:
            note = f"incomplete: {record.incomplete}"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(record.backend)}</td>"
                    f"<td>{html.escape(model)}</td><td class=num>{record.seconds:.2f}</td>"
                    f"<td class=num>{share}</td><td>{html.escape(note)}</td></tr>")
    header = "<tr><th>stage</th><th>backend</th><th>model</th><th>seconds</th><th>share</th><th></th></tr>"
    footer = (f"<tr><th>total (wall clock)</th><th></th><th></th><th class=num>{total:.2f}</th><th></th>"
              "<th></th></tr>")
    return f"<table>{header}{''.join(rows)}{footer}</table>"


def speaker_table(document: Document) -> list[dict]:
    """Per speaker: talk seconds, share of all talk, words, and seconds per emotion label."""
    from .plots import emotion_seconds

    seconds = emotion_seconds(document)
    talk = {s: sum(t.end - t.start for t in document.transcript.turns if t.speaker == s) for s in document.speakers}
    total = sum(talk.values())
    return [{"speaker": s, "name": document.display_name(s), "seconds": talk[s],
             "share": talk[s] / total if total else 0.0,
             "words": sum(len(t.words) for t in document.transcript.turns if t.speaker == s),
             "emotions": {k: v for k, v in seconds.get(s, {}).items() if v > 0}} for s in document.speakers]


def _speakers_html(document: Document, colors: dict[str, str]) -> str:
    palette = {**EMOTION_COLORS, "uncertain": UNCERTAIN_COLOR}
    rows = []
    for row in speaker_table(document):
        labelled = sum(row["emotions"].values())
        bars, texts = [], []
        for label, secs in sorted(row["emotions"].items(), key=lambda kv: -kv[1]):
            share = secs / labelled
            bars.append(f'<i style="width:{100 * share:.2f}%;background:{palette.get(label, "#777")}" '
                        f'title="{html.escape(label)} {share:.0%} ({secs:.1f} s)"></i>')
            texts.append(f"{html.escape(label)} {share:.0%}")
        emotion = (f'<div class="share">{"".join(bars)}</div><div class="shares">{" &middot; ".join(texts)}</div>'
                   if bars else '<span class="meta">no emotion</span>')
        rows.append(f'<tr><td style="color:{colors[row["speaker"]]};font-weight:600">{html.escape(row["name"])}</td>'
                    f'<td class=num>{clock(row["seconds"], 1)}</td><td class=num>{row["share"]:.0%}</td>'
                    f'<td class=num>{row["words"]}</td><td>{emotion}</td></tr>')
    return ("<table><tr><th>speaker</th><th>talk time</th><th>share</th><th>words</th>"
            "<th>emotion share of speaking time</th></tr>" + "".join(rows) + "</table>")


def _emotion_note(document: Document) -> str:
    backends = {t.emotion.backend for t in document.transcript.turns if t.emotion}
    if "embedded-prosody-lexicon" in backends:
        return f'<p class="note">{html.escape(EMBEDDED_NOTE)}</p>'
    return ""


def _hosted_asr_html(document: Document) -> list[str]:
    """AssemblyAI's sentiment per sentence and chapters, and which recognizer made the words: apart
    from (and never merged with) vtx's emotion scores above."""
    parts: list[str] = []
    routing = document.extras.asr_routing
    if routing is not None and routing.produced_by:
        failed = [f"{a.backend} ({html.escape(a.error)})" for a in routing.attempts if not a.ok]
        parts.append(f'<p class="meta">Words by <b>{html.escape(routing.produced_by)}</b> (asr auto, cloud allowed)'
                     + (f"; tried first: {'; '.join(failed)}" if failed else "") + "</p>")
    gemini = document.extras.gemini_asr
    if gemini is not None:
        parts.append(f'<p class="meta">Words by Gemini ({html.escape(gemini.model)}, {gemini.chunks} request(s)); '
                     f"their times from {html.escape(gemini.aligner)}: {gemini.words_anchored} of {gemini.words} "
                     f"words matched, the rest interpolated.</p>")
    extras = document.extras.assemblyai
    if extras is None:
        return parts
    if extras.sentiments:
        rows = "".join(f"<tr><td class=num>{clock(s.start, 1)}</td><td>{html.escape(document.display_name(s.speaker)) if s.speaker else ''}"
                       f"</td><td>{s.sentiment.lower()}</td><td class=num>{s.confidence:.2f}</td>"
                       f"<td>{html.escape(s.text)}</td></tr>" for s in extras.sentiments)
        parts += ["<h2>AssemblyAI sentiment (per sentence)</h2>",
                  '<p class="meta">AssemblyAI\'s own sentiment model on its sentences: not vtx\'s emotion '
                  "scores (those are on the turns above).</p>",
                  "<table><tr><th>time</th><th>speaker</th><th>sentiment</th><th>confidence</th><th>sentence</th>"
                  f"</tr>{rows}</table>"]
    if extras.chapters:
        rows = "".join(f"<tr><td class=num>{clock(c.start, 1)}</td><td><b>{html.escape(c.headline)}</b><br>"
                       f"{html.escape(c.summary)}</td></tr>" for c in extras.chapters)
        parts += ["<h2>AssemblyAI chapters</h2>", f"<table><tr><th>start</th><th>chapter</th></tr>{rows}</table>"]
    language = f"{extras.language_code} ({extras.language_confidence:.2f})" if extras.language_confidence is not None \
        else extras.language_code or "?"
    parts.append(f'<p class="meta">AssemblyAI transcript {html.escape(extras.transcript_id)}, model '
                 f"{html.escape(extras.speech_model or '?')}, language {html.escape(language)}.</p>")
    return parts


def _language_meta(document: Document) -> str:
    """The header's language and how it was found: forced, detected with its probability, or unsure."""
    language = document.transcript.language
    if not language:
        return ""
    how = how_found(document.language_detection)
    return f' &middot; language <b class="language">{html.escape(language)}</b>' + (f" ({html.escape(how)})" if how else "")


def _language_warning(document: Document) -> list[str]:
    """The language stage's one line where it warned (unsure, or a second language heard): a reader of
    the page is told what the run's log said, and how to choose the language."""
    detection = document.language_detection
    if not warns(detection) or not detection.note:
        return []
    return [f'<p class="warning language-note">{html.escape(detection.note)}</p>']


LANGUAGE_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2")


def _languages_html(document: Document, duration: float) -> list[str]:
    """Where each language is spoken, when more than one was heard: the language stage's spans as a bar
    over the file (a click plays from a span's start), with each language's share of the speech."""
    detection = document.language_detection
    languages = list(dict.fromkeys(span.language for span in detection.spans)) if detection else []
    if len(languages) < 2 or duration <= 0:
        return []
    color = {lang: LANGUAGE_COLORS[k % len(LANGUAGE_COLORS)] for k, lang in enumerate(languages)}
    bars = "".join(
        f'<button class="lang" data-t="{span.start:.3f}" style="left:{100 * span.start / duration:.3f}%;'
        f'width:{100 * (span.end - span.start) / duration:.3f}%;background:{color[span.language]}" '
        f'title="{html.escape(span.language)} {clock(span.start, 1)}&ndash;{clock(span.end, 1)}: play from here">'
        f"{html.escape(span.language)}</button>" for span in detection.spans)
    shares = " &middot; ".join(f'<span style="color:{color[lang]}">&#9632;</span> {html.escape(lang)} '
                               f"{detection.shares.get(lang, 0.0):.0%} of the speech" for lang in languages)
    return ["<h2>Languages</h2>", f'<div class="langbar">{bars}</div>', f'<p class="meta">{shares}</p>']


def _player_html(audio_src: Optional[str], vtt: Optional[str], language: Optional[str],
                 translations: Optional[list[tuple[str, str, str]]] = None) -> str:
    """The player; ``translations`` are ``(language, label, vtt)`` tracks offered beside the original."""
    if not audio_src:
        return '<div class="player"><p class="meta">no audio in this report (see the log of the run)</p></div>'
    tracks, options = [], []
    original = [(language or "en", f"{language or 'en'} (original)", vtt)] if vtt is not None else []
    for index, (lang, label, text) in enumerate(original + list(translations or [])):
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        code = html.escape(lang, quote=True)
        tracks.append(f'<track kind="captions" label="{html.escape(label, quote=True)}" srclang="{code}"'
                      f'{" default" if index == 0 else ""} src="data:text/vtt;base64,{data}">')
        options.append(f'<option value="{index}" lang="{code}">{html.escape(label)}</option>')
    chooser = (' &middot; <label>captions <select id="tracks">' + "".join(options) + "</select></label>"
               if len(options) > 1 else "")
    return ('<div class="player">'
            f'<audio id="player" controls preload="metadata" src="{html.escape(audio_src, quote=True)}">'
            f'{"".join(tracks)}</audio>'
            '<div id="caption" class="caption" dir="auto" aria-live="polite"></div>'
            '<div class="controls"><label><input type="checkbox" id="follow" checked> follow playback</label>'
            f" &middot; click a word, a time or the timeline to play from there{chooser}</div></div>")


def render_report(document: Document, diarization: Optional[Diarization] = None,
                  audio_path: Optional[Union[str, Path]] = None, *, audio_src: Optional[str] = None,
                  vtt: Optional[str] = None, translations: Optional[list[tuple[str, str, str]]] = None,
                  wall_seconds: Optional[float] = None, parallel: tuple[str, ...] = ()) -> str:
    """The report as one HTML string (pure apart from reading AUDIO_PATH for the waveform).

    ``audio_src`` is the player's source (a ``data:`` URI or a path relative to the report),
    ``vtt`` the WebVTT text given to the player as its track, ``translations`` the translated
    tracks as ``(language, label, vtt)``: the player then offers a choice of captions;
    ``wall_seconds`` the run's wall clock up to the report and ``parallel`` the stages that ran side
    by side (the stage table's total).
    """
    colors = speaker_colors(list(dict.fromkeys(document.speakers + (diarization.speakers if diarization else []))))
    media = document.media
    duration = media.duration or max((t.end for t in document.transcript.turns), default=0.0)
    language = document.transcript.language
    language_note = _language_meta(document)
    if document.translations:
        language_note += " &middot; translated into " + ", ".join(html.escape(t.language) for t in document.translations)
    title = html.escape(media.title or media.id)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request
        f"<title>{title} - transcript report</title>", f"<style>{CSS}{TIMELINE_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{html.escape(source_label(media))} &middot; {clock(duration)} &middot; '
        f"{len(document.speakers)} speaker(s) &middot; {len(document.transcript.words)} words{language_note}</p>",
        *_language_warning(document),
        _player_html(audio_src, vtt, language, translations),
    ]
    parts += _languages_html(document, duration)
    if document.transcript.turns:
        parts += ["<h2>Timeline</h2>", _timeline_section(document, diarization, audio_path, duration,
                                                         playable=bool(audio_src))]
    parts += ["<h2>Speakers</h2>", _speakers_html(document, colors), _emotion_note(document),
              "<h2>Transcript</h2>", _transcript_html(document, colors), *_hosted_asr_html(document),
              "<h2>Stage timings</h2>", _stages_html(document, wall_seconds, parallel),
              ('<p class="meta">A cached stage shows the seconds it took when it was computed. The total is '
               "the wall clock of the run up to the subtitles; stages that ran side by side are counted once.</p>"),
              f"<script>{PAGE_SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts)


def _timeline_section(document: Document, diarization: Optional[Diarization],
                      audio_path: Optional[Union[str, Path]], duration: float, playable: bool = True) -> str:
    envelope = None
    if audio_path is not None and duration > 0:
        from .plots import waveform_envelope

        try:
            envelope = waveform_envelope(audio_path, 0.0, duration)
        except Exception as e:  # a waveform must never sink the report
            log.warning("report: waveform skipped (%s: %s)", type(e).__name__, e)
    return timeline_html(document, diarization, envelope, element_id="timeline", include_css=False,
                         page_player=playable)


# -- audio ---------------------------------------------------------------------------------------

def encode_audio(wav: Union[str, Path], target: Optional[Path] = None) -> bytes:
    """MP3 (mono, 32 kbit/s) of WAV: written to TARGET atomically, or returned as bytes."""
    from .audio import encode_mp3

    return encode_mp3(wav, target, AUDIO_BITRATE)


def _audio_source(document: Document, audio_path: Optional[Union[str, Path]], folder: Path,
                  embed_max_seconds: float) -> Optional[str]:
    if audio_path is None:
        return None
    duration = document.media.duration or 0.0
    try:
        if duration <= embed_max_seconds:
            return "data:audio/mpeg;base64," + base64.b64encode(encode_audio(audio_path)).decode("ascii")
        encode_audio(audio_path, folder / REPORT_AUDIO_NAME)
        return REPORT_AUDIO_NAME
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        log.warning("report: no player, the audio could not be encoded (%s: %s %s)", type(e).__name__, e,
                    detail.decode(errors="replace").strip()[-300:])
        return None


def write_report(document: Document, path: Union[str, Path], diarization: Optional[Diarization] = None,
                 audio_path: Optional[Union[str, Path]] = None, subtitle_options=None,
                 embed_audio_max_seconds: float = EMBED_AUDIO_MAX_SECONDS, *,
                 wall_seconds: Optional[float] = None, parallel: tuple[str, ...] = ()) -> Path:
    """Write the report to ``path`` (atomically) and return it.

    With ``audio_path`` (the 16 kHz wav) the report gets a player: the audio is embedded up to
    ``embed_audio_max_seconds``, else written as ``report-audio.mp3`` beside the report.
    """
    from .subtitles import VTTWriter

    path = Path(path)
    source = _audio_source(document, audio_path, path.parent, embed_audio_max_seconds)
    try:
        vtt = VTTWriter(subtitle_options).render(document)
        translations = [(t.language, f"{t.language} (translation, {t.backend})",
                         VTTWriter(subtitle_options, translation=t).render(document)) for t in document.translations]
    except Exception as e:  # the player still plays without its track
        log.warning("report: no caption track (%s: %s)", type(e).__name__, e)
        vtt, translations = None, []
    atomic_write_text(path, render_report(document, diarization, audio_path, audio_src=source, vtt=vtt,
                                          translations=translations, wall_seconds=wall_seconds,
                                          parallel=parallel))
    log.info("report written to %s", path)
    return path


def report_files(folder: Path) -> dict[str, Path]:
    """The report's files in FOLDER by output name (``report``, ``report_audio``)."""
    folder = Path(folder)
    found = {"report": folder / "report.html", "report_audio": folder / REPORT_AUDIO_NAME}
    return {name: p for name, p in found.items() if p.exists()}

