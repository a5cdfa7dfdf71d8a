"""The interactive timeline shared by ``report.html`` and notebook 08: one HTML fragment, no network.

Speaker lanes (diarization turns pale, ASR words dark, word labels where they fit when zoomed in),
an emotion strip under each lane, overlapping speech drawn across the lanes, the waveform on top
when the audio is given, a legend, and a time axis.

The figure is drawn as SVG on the Python side, so it shows without JavaScript (a notebook viewer
that strips scripts, an nbconvert export); a small inline script adds hover details (word, its
probability, speaker, emotion scores), zoom (buttons, Ctrl/⌘ + wheel, drag to pan), word labels
and click-to-seek. Lanes are drawn in seconds on the x axis with ``preserveAspectRatio="none"``,
so zooming only changes the ``viewBox``. A click dispatches a ``vtx-seek`` event (``detail`` is
the time in seconds) that bubbles to the page; ``element.vtx.setTime(t)`` moves the playhead.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Optional, Union

import numpy as np

from .emotion.base import LABELS
from .timefmt import clock
from .types import AlignedTranscript, Diarization, Document

Source = Union[Document, AlignedTranscript]

# One palette for speakers everywhere (report, plots, timeline, the styled VTT lightens it); no speaker
# colour is near an emotion colour or the overlap colour (at least 80 apart in RGB), so a lane's colour
# never reads as an emotion.
SPEAKER_PALETTE = ("#1f77b4", "#2ca02c", "#e7298a", "#8c564b", "#17becf", "#7b4173", "#a6761d",
                   "#637939", "#fb9a99", "#4d4d4d")
EMOTION_COLORS = {"neutral": "#9e9e9e", "happy": "#f2b400", "angry": "#d62728", "sad": "#1a237e"}
UNCERTAIN_COLOR = "#dddddd"
OVERLAP_COLOR = "#ff7f0e"

WAVE_H, LANE_H, EMOTION_H, GAP = 40, 34, 10, 8  # pixels (the SVG's y unit)
WORD_TOP, WORD_BOTTOM = 15, 31  # word bars inside a lane; labels go above them
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def speaker_colors(speakers: list[str]) -> dict[str, str]:
    """A stable colour per speaker (the report, the plots and the timeline use the same mapping)."""
    return {s: SPEAKER_PALETTE[i % len(SPEAKER_PALETTE)] for i, s in enumerate(speakers)}


def _r(x: float) -> float:
    return round(float(x), 3)


def timeline_data(source: Source, diarization: Optional[Diarization] = None,
                  envelope=None) -> dict:
    """Everything the figure shows, as compact JSON-able columns (words in document order)."""
    if isinstance(source, Document):
        transcript, names = source.transcript, source.speaker_names
    else:
        transcript, names = source, {}
    speakers = list(dict.fromkeys(transcript.speakers + (diarization.speakers if diarization else [])))
    index = {s: k for k, s in enumerate(speakers)}
    colors = speaker_colors(speakers)
    words = {"s": [], "e": [], "p": [], "k": [], "t": [], "u": []}
    turns = {"s": [], "e": [], "k": [], "o": [], "l": [], "c": [], "x": [], "sc": [], "b": []}
    for u, turn in enumerate(transcript.turns):
        for w in turn.words:
            words["s"].append(_r(w.start))
            words["e"].append(_r(w.end))
            words["p"].append(None if w.prob is None else round(float(w.prob), 2))
            words["k"].append(index[turn.speaker])
            words["t"].append(w.text.strip())
            words["u"].append(u)
        emotion = turn.emotion
        turns["s"].append(_r(turn.start))
        turns["e"].append(_r(turn.end))
        turns["k"].append(index[turn.speaker])
        turns["o"].append(int(turn.overlap))
        turns["l"].append(emotion.label if emotion else None)
        turns["c"].append(round(float(emotion.confidence), 2) if emotion else None)
        turns["x"].append(int(bool(emotion and emotion.low_confidence)))
        turns["sc"].append({k: round(float(v), 2) for k, v in emotion.scores.items()} if emotion else None)
        turns["b"].append(emotion.backend if emotion else None)
    if diarization is not None:
        spans = [(t.start, t.end, t.speaker) for t in (diarization.speech_turns or diarization.turns)]
        overlaps = [(s, e) for s, e in diarization.overlaps]
    else:
        spans = [(t.start, t.end, t.speaker) for t in transcript.turns]
        overlaps = [(t.start, t.end) for t in transcript.turns if t.overlap]
    ends = [e for _, e, _ in spans] + words["e"] + [0.0]
    if isinstance(source, Document) and source.media.duration:  # the whole file, as its player shows it
        ends.append(source.media.duration)
    data = {
        "duration": _r(max(ends)),
        "speakers": [{"id": s, "name": names.get(s, s), "color": colors[s]} for s in speakers],
        "words": words, "turns": turns,
        "bands": {"s": [_r(s) for s, _, _ in spans], "e": [_r(e) for _, e, _ in spans],
                  "k": [index[k] for _, _, k in spans]},
        "overlaps": [[_r(s), _r(e)] for s, e in overlaps],
        "emotion_colors": {**EMOTION_COLORS, "uncertain": UNCERTAIN_COLOR},
        "labels": list(LABELS),
        "layout": {"wave": WAVE_H if envelope is not None else 0, "lane": LANE_H, "emotion": EMOTION_H,
                   "gap": GAP, "word_top": WORD_TOP, "word_bottom": WORD_BOTTOM},
    }
    if data["duration"] <= 0:
        data["duration"] = 1.0
    return data


# -- static SVG ----------------------------------------------------------------------------------

def _rects(spans, top: float, bottom: float) -> str:
    h = bottom - top
    return "".join(f"M{s:.3f} {top:g}h{max(e - s, 0.001):.3f}v{h:g}h{-max(e - s, 0.001):.3f}z" for s, e in spans)


def _path(d: str, fill: str, extra: str = "") -> str:
    return f'<path d="{d}" fill="{fill}"{extra}/>' if d else ""


def _lane_top(data: dict, k: int) -> int:
    layout = data["layout"]
    return layout["wave"] + k * (LANE_H + EMOTION_H + GAP)


def _height(data: dict) -> int:
    return _lane_top(data, len(data["speakers"])) or LANE_H


def _svg(data: dict, envelope) -> str:
    duration = data["duration"]
    parts = []
    if envelope is not None:
        times, lows, highs = envelope
        peak = max(float(np.max(np.abs(highs))), float(np.max(np.abs(lows))), 1e-6)  # quiet recordings too
        mid, half = WAVE_H / 2, (WAVE_H / 2 - 2) / peak
        top = " ".join(f"{t:.2f} {mid - half * float(v):.1f}" for t, v in zip(times, highs))
        bottom = " ".join(f"{t:.2f} {mid - half * float(v):.1f}" for t, v in zip(times[::-1], lows[::-1]))
        parts.append(f'<path d="M{top} L{bottom}z" fill="#666"/>')
    if data["overlaps"]:  # under the lanes, so the words stay readable
        top, bottom = data["layout"]["wave"], _height(data) - GAP
        parts.append(_path(_rects(data["overlaps"], top, bottom), OVERLAP_COLOR, ' fill-opacity="0.3"'))
    bands, words, turns = data["bands"], data["words"], data["turns"]
    for k, speaker in enumerate(data["speakers"]):
        y, color = _lane_top(data, k), speaker["color"]
        mine = [(s, e) for s, e, who in zip(bands["s"], bands["e"], bands["k"]) if who == k]
        parts.append(_path(_rects(mine, y, y + LANE_H), color, ' fill-opacity="0.18"'))
        mine = [(s, e) for s, e, who in zip(words["s"], words["e"], words["k"]) if who == k]
        parts.append(_path(_rects(mine, y + WORD_TOP, y + WORD_BOTTOM), color))
        strip = y + LANE_H + 1
        for label in (*LABELS, "uncertain"):
            spans = [(s, e) for s, e, who, lab, low in zip(turns["s"], turns["e"], turns["k"], turns["l"], turns["x"])
                     if who == k and lab is not None and (("uncertain" if low else lab) == label)]
            parts.append(_path(_rects(spans, strip, strip + EMOTION_H - 1), data["emotion_colors"].get(label, "#777")))
    height = _height(data)
    parts.append(f'<line class="vtx-playhead" x1="0" x2="0" y1="0" y2="{height}" stroke="#000" '
                 'stroke-width="1.5" vector-effect="non-scaling-stroke" visibility="hidden"/>')
    return (f'<svg class="vtx-svg" viewBox="0 0 {duration:.3f} {height}" preserveAspectRatio="none" '
            f'width="100%" height="{height}" role="img" aria-label="speaker lanes">' + "".join(parts) + "</svg>")


def _axis(duration: float) -> str:
    step = next((s for s in TICK_STEPS if duration / s <= 12), TICK_STEPS[-1])
    ticks = []
    t = 0.0
    while t <= duration + 1e-9:
        x = 100 * t / duration
        anchor = "start" if x < 2 else "end" if x > 98 else "middle"
        ticks.append(f'<line x1="{x:.3f}%" x2="{x:.3f}%" y1="0" y2="5" stroke="#888"/>'
                     f'<text x="{x:.3f}%" y="17" text-anchor="{anchor}">{clock(t, 1 if step < 1 else 0)}</text>')
        t += step
    return f'<svg class="vtx-axis" width="100%" height="22">{"".join(ticks)}</svg>'


def _names(data: dict) -> str:
    rows = []
    if data["layout"]["wave"]:
        rows.append(f'<div style="height:{WAVE_H}px" class="vtx-name vtx-muted">audio</div>')
    for speaker in data["speakers"]:
        rows.append(f'<div style="height:{LANE_H + EMOTION_H + GAP}px;color:{speaker["color"]}" class="vtx-name" '
                    f'title="{html.escape(speaker["id"], quote=True)}">{html.escape(speaker["name"])}</div>')
    return "".join(rows)


def _legend(data: dict) -> str:
    items = []
    for speaker in data["speakers"]:
        items.append(f'<span class="vtx-key"><i style="background:{speaker["color"]};opacity:.25"></i>'
                     f'<i style="background:{speaker["color"]}"></i>{html.escape(speaker["name"])}</span>')
    items.append('<span class="vtx-key vtx-muted">pale: speaker turn (diarization) &middot; dark: word (ASR)</span>')
    if data["overlaps"]:
        items.append(f'<span class="vtx-key"><i style="background:{OVERLAP_COLOR};opacity:.35"></i>'
                     "overlapping speech</span>")
    if any(label is not None for label in data["turns"]["l"]):
        for label, color in data["emotion_colors"].items():
            items.append(f'<span class="vtx-key"><i class="vtx-thin" style="background:{color}"></i>{label}</span>')
        items.append('<span class="vtx-key vtx-muted">(emotion strip under each lane)</span>')
    return f'<div class="vtx-legend">{"".join(items)}</div>'


CSS = """
.vtx-tl{font:13px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;position:relative;
max-width:100%;background:#fff}
.vtx-bar{display:flex;gap:.4em;align-items:center;margin:.2em 0 .4em;flex-wrap:wrap}
.vtx-bar button{font:inherit;padding:.1em .6em;border:1px solid #bbb;background:#f7f7f7;border-radius:4px;cursor:pointer}
.vtx-range{color:#555;font-variant-numeric:tabular-nums}.vtx-muted{color:#777}
.vtx-body{display:grid;grid-template-columns:9em minmax(0,1fr);gap:.4em}
.vtx-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-top:9px;
box-sizing:border-box}
.vtx-plot{position:relative;cursor:crosshair;user-select:none}
.vtx-audio{width:100%;height:32px;margin:.2em 0 .4em}
.vtx-svg{display:block}.vtx-labels{position:absolute;left:0;top:0;pointer-events:none}
.vtx-labels text{font-size:11px;fill:#222}
.vtx-axis{display:block;overflow:visible}.vtx-axis text{font-size:11px;fill:#555}
.vtx-tip{position:absolute;z-index:5;pointer-events:none;background:#fff;border:1px solid #999;border-radius:4px;
padding:.3em .5em;box-shadow:0 2px 6px rgba(0,0,0,.2);font-size:12px;width:max-content;max-width:24em}
.vtx-tip b{font-weight:600}
.vtx-legend{display:flex;flex-wrap:wrap;gap:.3em 1.1em;margin-top:.5em;font-size:12px}
.vtx-key i{display:inline-block;width:14px;height:12px;margin-right:3px;vertical-align:-1px;border-radius:2px}
.vtx-key i.vtx-thin{height:6px;vertical-align:1px}
"""

SCRIPT = r"""
window.vtxTimeline = window.vtxTimeline || function (root) {
  var still = document.getElementById(root.id + '-png');
  if (still) { still.parentNode.removeChild(still); root.style.display = ''; }
  var D = JSON.parse(root.querySelector('script.vtx-data').textContent);
  var svg = root.querySelector('.vtx-svg'), plot = root.querySelector('.vtx-plot');
  var labels = root.querySelector('.vtx-labels'), axis = root.querySelector('.vtx-axis');
  var tip = root.querySelector('.vtx-tip'), range = root.querySelector('.vtx-range');
  var head = svg.querySelector('.vtx-playhead'), L = D.layout, W = D.words, T = D.turns;
  var H = +svg.getAttribute('height'), dur = D.duration, v0 = 0, v1 = dur, NS = 'http://www.w3.org/2000/svg';
  var perSpeaker = D.speakers.map(function () { return []; });
  for (var i = 0; i < W.s.length; i++) perSpeaker[W.k[i]].push(i);
  var turnsOf = D.speakers.map(function () { return []; });
  for (i = 0; i < T.s.length; i++) turnsOf[T.k[i]].push(i);
  var ctx = document.createElement('canvas').getContext('2d'); ctx.font = '11px system-ui, sans-serif';
  function clock(t, d) {  // whole seconds are cut, not rounded, as media players show a time
    t = Math.max(0, t); var h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t - 60 * Math.floor(t / 60);
    var ss = d ? s.toFixed(d).padStart(3 + d, '0') : String(Math.floor(s)).padStart(2, '0');
    return (h ? h + ':' + String(m).padStart(2, '0') : String(m).padStart(2, '0')) + ':' + ss;
  }
  function find(list, starts, ends, t, slack) {  // the item of LIST (indices, by start) nearest t, within slack
    var lo = 0, hi = list.length - 1, best = -1, found = -1, gap = Infinity;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (starts[list[mid]] <= t + slack) { best = mid; lo = mid + 1; } else hi = mid - 1; }
    for (var j = best; j >= 0 && j > best - 8; j--) {
      var i = list[j], d = t < starts[i] ? starts[i] - t : t > ends[i] ? t - ends[i] : 0;
      if (d <= slack && d < gap) { gap = d; found = i; }
    }
    return found;
  }
  function step(span) { var s = [0.5,1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200];
    for (var i = 0; i < s.length; i++) if (span / s[i] <= 12) return s[i]; return 7200; }
  function draw() {
    svg.setAttribute('viewBox', v0 + ' 0 ' + (v1 - v0) + ' ' + H);
    var w = plot.clientWidth, st = step(v1 - v0), html = '';
    for (var t = Math.ceil(v0 / st) * st; t <= v1 + 1e-9; t += st) {
      var x = (t - v0) / (v1 - v0) * w, a = x < 20 ? 'start' : x > w - 20 ? 'end' : 'middle';
      html += '<line x1="' + x + '" x2="' + x + '" y1="0" y2="5" stroke="#888"/><text x="' + x + '" y="17" text-anchor="' + a + '">' + clock(t, st < 1 ? 1 : 0) + '</text>';
    }
    axis.innerHTML = html;
    range.textContent = 'showing ' + clock(v0) + '\u2013' + clock(v1) + ' of ' + clock(dur);
    labels.setAttribute('width', w); labels.setAttribute('height', H);
    while (labels.firstChild) labels.removeChild(labels.firstChild);
    var scale = w / (v1 - v0), count = 0;
    for (var k = 0; k < perSpeaker.length && scale >= 20; k++) {  // labels from ~1 minute per screen
      var right = -Infinity, y = L.wave + k * (L.lane + L.emotion + L.gap) + L.word_top - 3;
      var list = perSpeaker[k];
      for (var n = 0; n < list.length; n++) {
        var j = list[n]; if (W.e[j] < v0 || W.s[j] > v1) continue;
        if (++count > 1500) break;
        var text = W.t[j], width = ctx.measureText(text).width, cx = ((W.s[j] + W.e[j]) / 2 - v0) * scale;
        if (cx - width / 2 < right + 4 || width > (W.e[j] - W.s[j]) * scale + 40) continue;
        var el = document.createElementNS(NS, 'text'); el.setAttribute('x', cx); el.setAttribute('y', y);
        el.setAttribute('text-anchor', 'middle'); el.textContent = text; labels.appendChild(el);
        right = cx + width / 2;
      }
    }
  }
  function view(a, b) {
    var span = Math.min(dur, Math.max(0.5, b - a)); a = Math.max(0, Math.min(a, dur - span));
    v0 = a; v1 = a + span; draw();
  }
  function timeAt(px) { return v0 + px / plot.clientWidth * (v1 - v0); }
  function zoom(f, t) { if (t === undefined) t = (v0 + v1) / 2; view(t - (t - v0) * f, t + (v1 - t) * f); }
  root.querySelector('.vtx-in').onclick = function () { zoom(0.5); };
  root.querySelector('.vtx-out').onclick = function () { zoom(2); };
  root.querySelector('.vtx-fit').onclick = function () { view(0, dur); };
  plot.addEventListener('wheel', function (e) {
    var r = plot.getBoundingClientRect();
    if (e.ctrlKey || e.metaKey) { e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8, timeAt(e.clientX - r.left)); }
    else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) { e.preventDefault(); var d = (e.deltaX || e.deltaY) / plot.clientWidth * (v1 - v0); view(v0 + d, v1 + d); }
  }, {passive: false});
  var drag = null;
  plot.addEventListener('mousedown', function (e) { drag = {x: e.clientX, a: v0, b: v1, moved: false}; });
  window.addEventListener('mouseup', function () { setTimeout(function () { drag = null; }, 0); });
  function describe(t, y) {
    if (y < L.wave) return null;
    var k = Math.floor((y - L.wave) / (L.lane + L.emotion + L.gap)), dy = (y - L.wave) % (L.lane + L.emotion + L.gap);
    if (k < 0 || k >= D.speakers.length || dy >= L.lane + L.emotion) return null;
    var sp = D.speakers[k], slack = 3 * (v1 - v0) / plot.clientWidth, lines = [], seek = null;
    var u = find(turnsOf[k], T.s, T.e, t, slack);
    if (dy < L.lane) {
      var j = find(perSpeaker[k], W.s, W.e, t, slack);
      if (j >= 0) {
        lines.push(['b', W.t[j]], ['', ' ' + clock(W.s[j], 2) + '\u2013' + clock(W.e[j], 2)]);
        if (W.p[j] !== null) lines.push(['', ' \u00b7 probability ' + W.p[j].toFixed(2)]);
        seek = W.s[j]; u = W.u[j];
      } else if (u < 0) { lines.push(['', 'no words here']); }
    }
    lines.push(['br'], ['b', sp.name], ['', sp.name !== sp.id ? ' (' + sp.id + ')' : '']);
    if (u >= 0) {
      lines.push(['', ' \u00b7 turn ' + clock(T.s[u], 1) + '\u2013' + clock(T.e[u], 1)]);
      if (seek === null) seek = T.s[u];
      if (T.l[u] !== null) {
        var sc = T.sc[u] || {}, parts = D.labels.map(function (l) { return l + ' ' + (sc[l] || 0).toFixed(2); });
        lines.push(['br'], ['b', 'emotion: ' + T.l[u] + (T.x[u] ? ' (uncertain)' : '')],
                   ['', ' ' + Math.round(100 * T.c[u]) + '% (' + T.b[u] + ')'], ['br'], ['', parts.join(', ')]);
      }
    }
    for (var o = 0; o < D.overlaps.length; o++)
      if (D.overlaps[o][0] <= t && t <= D.overlaps[o][1]) { lines.push(['br'], ['', 'overlapping speech']); break; }
    return {lines: lines, seek: seek === null ? t : seek};
  }
  plot.addEventListener('mousemove', function (e) {
    var r = plot.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    if (drag && Math.abs(e.clientX - drag.x) > 3) {
      drag.moved = true; var d = (drag.x - e.clientX) / plot.clientWidth * (drag.b - drag.a);
      view(drag.a + d, drag.b + d); tip.hidden = true; return;
    }
    var info = describe(timeAt(x), y);
    if (!info) { tip.hidden = true; return; }
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    info.lines.forEach(function (p) {
      var el = p[0] === 'br' ? document.createElement('br') : document.createElement(p[0] || 'span');
      if (p[0] !== 'br') el.textContent = p[1]; tip.appendChild(el);
    });
    tip.hidden = false;
    var left = x + 14; if (left + tip.offsetWidth > plot.clientWidth) left = Math.max(0, x - tip.offsetWidth - 14);
    tip.style.left = left + 'px'; tip.style.top = Math.min(y + 14, Math.max(0, H - tip.offsetHeight)) + 'px';
  });
  plot.addEventListener('mouseleave', function () { tip.hidden = true; });
  plot.addEventListener('click', function (e) {
    if (drag && drag.moved) return;
    var r = plot.getBoundingClientRect(), info = describe(timeAt(e.clientX - r.left), e.clientY - r.top);
    var t = info ? info.seek : timeAt(e.clientX - r.left);
    root.dispatchEvent(new CustomEvent('vtx-seek', {detail: t, bubbles: true}));
  });
  plot.addEventListener('dblclick', function (e) { var r = plot.getBoundingClientRect(); zoom(0.25, timeAt(e.clientX - r.left)); });
  window.addEventListener('resize', draw);
  var own = root.querySelector('audio.vtx-audio');  // the figure's own player (a notebook), if any
  if (own) {
    root.addEventListener('vtx-seek', function (e) {
      own.currentTime = Math.max(0, e.detail); var p = own.play(); if (p && p.catch) p.catch(function () {});
    });
    own.addEventListener('timeupdate', function () { root.vtx.setTime(own.currentTime, !own.paused); });
  }
  root.vtx = {
    view: view,
    setTime: function (t, follow) {
      head.setAttribute('x1', t); head.setAttribute('x2', t); head.setAttribute('visibility', 'visible');
      if (follow && (t < v0 || t > v1)) view(t - 0.1 * (v1 - v0), t + 0.9 * (v1 - v0));
    }
  };
  if (dur > 600) view(0, 300); else draw();
};
"""


def timeline_html(source: Source, diarization: Optional[Diarization] = None, envelope=None,
                  element_id: Optional[str] = None, include_css: bool = True,
                  fallback_png: Optional[bytes] = None, audio_src: Optional[str] = None,
                  page_player: bool = False) -> str:
    """The figure as one self-contained HTML fragment (CSS, SVG, data and script inline).

    With ``fallback_png`` the fragment shows that picture until its script runs, and the script
    swaps in the interactive figure: where scripts are stripped (a saved notebook opened untrusted,
    a repository viewer) the picture stays. With ``audio_src`` (a ``data:`` URI) the figure has its
    own player: a click plays from there and the playhead follows it; ``page_player`` says the page
    around it plays the clicks (report.html). Without either, the hint does not promise playback.
    """
    data = timeline_data(source, diarization, envelope)
    element_id = element_id or f"vtx-tl-{secrets.token_hex(4)}"
    # no "<" or "&" inside the script element: "</script>" or "<!--" in a word could end or confuse it
    payload = (json.dumps(data, ensure_ascii=False, separators=(",", ":"))
               .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    long_hint = " &middot; long file: the first 5 minutes are shown" if data["duration"] > 600 else ""
    fallback = ""
    if fallback_png:
        import base64

        fallback = (f'<img class="vtx-fallback" id="{element_id}-png" style="max-width:100%" alt="speaker lanes" '
                    f'src="data:image/png;base64,{base64.b64encode(fallback_png).decode("ascii")}">')
    hidden = ' style="display:none"' if fallback else ""
    player = (f'<audio class="vtx-audio" controls preload="metadata" src="{html.escape(audio_src, quote=True)}">'
              "</audio>" if audio_src else "")
    click_hint = ("click to play from there" if audio_src or page_player
                  else "no player here: report.html plays from a click")
    return "".join([
        f"<style>{CSS}</style>" if include_css else "", fallback,
        f'<div class="vtx-tl" id="{element_id}"{hidden}>',
        '<div class="vtx-bar"><button class="vtx-out" title="zoom out">&minus;</button>'
        '<button class="vtx-in" title="zoom in">+</button><button class="vtx-fit">whole file</button>'
        f'<span class="vtx-range">00:00&ndash;{clock(data["duration"])}</span>'
        f'<span class="vtx-muted">hover for details &middot; {click_hint} &middot; Ctrl/&#8984;+wheel '
        f"or double-click to zoom, drag to pan{long_hint}</span></div>", player,
        f'<div class="vtx-body"><div class="vtx-names">{_names(data)}</div><div class="vtx-plot">',
        _svg(data, envelope), f'<svg class="vtx-labels" width="0" height="{_height(data)}"></svg>',
        _axis(data["duration"]), '<div class="vtx-tip" hidden></div></div></div>',
        _legend(data),
        f'<script type="application/json" class="vtx-data">{payload}</script>',
        "</div>",
        f"<script>{SCRIPT}\nvtxTimeline(document.getElementById('{element_id}'));</script>",
    ])
