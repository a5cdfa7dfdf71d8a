"""The HTML report: one offline file, every word present and escaped, badges, the timeline, the player,
per-speaker shares and stage timings. (tests/test_browser.py opens it in a real browser.)"""

from __future__ import annotations

import base64
import html
import re
import wave

import numpy as np

from vtxlib.emotion.base import LABELS
from vtxlib.plots import review_figure
from vtxlib.report import REPORT_AUDIO_NAME, render_report, speaker_table, write_report
from vtxlib.subtitles import VTTWriter
from vtxlib.types import (
    AlignedTranscript,
    AudioFile,
    Diarization,
    Document,
    Emotion,
    LanguageDetection,
    MediaInfo,
    SpeakerTurn,
    StageRecord,
    Turn,
    Word,
)

SR = 16000


def words(text: str, start: float, speaker: str) -> list[Word]:
    return [Word(text=tok, start=start + 0.4 * i, end=start + 0.4 * i + 0.35, prob=0.8, speaker=speaker)
            for i, tok in enumerate(text.split())]


def emotion(label: str, confidence: float, backend: str = "speechbrain", low: bool = False) -> Emotion:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return Emotion(label=label, scores={lab: (confidence if lab == label else rest) for lab in LABELS},
                   confidence=confidence, backend=backend, low_confidence=low)


def sample_document(backend: str = "speechbrain", with_emotion: bool = True,
                    source: str = "https://example.org/v?a=1&b=2") -> Document:
    lines = [
        ("SPEAKER_00", 0.0, "Welcome to the <b>quarterly</b> review & planning call"),
        ("SPEAKER_01", 4.0, "Thanks. The numbers are <script>alert('x')</script> worse than expected"),
        ("SPEAKER_00", 8.5, "That is \"terrible\" news"),
        ("SPEAKER_02", 11.0, "ok"),
    ]
    labels = [("neutral", 0.81, False), ("sad", 0.66, False), ("angry", 0.72, False), ("neutral", 0.0, True)]
    turns = []
    for (speaker, start, text), (label, conf, low) in zip(lines, labels):
        ws = words(text, start, speaker)
        turns.append(Turn(speaker=speaker, start=start, end=ws[-1].end, words=ws,
                          overlap=speaker == "SPEAKER_00" and start > 8,
                          emotion=emotion(label, conf, backend, low) if with_emotion else None))
    stages = {"asr": StageRecord(backend="whisper-cpu", options={}, seconds=3.2, model="tiny.en"),
              "diarize": StageRecord(backend="embedded", options={}, seconds=1.5),
              "emotion": StageRecord(backend=backend, options={}, seconds=0.04, cached=True, load_seconds=0.01)}
    media = MediaInfo(id="abc123", title="Q3 <review>", source=source, duration=12.0)
    return Document(media=media, transcript=AlignedTranscript(turns=turns, language="en"), stages=stages,
                    speaker_names={"SPEAKER_01": "Grace & Co"})


def write_tone(path, seconds: float = 13.0):
    t = np.arange(int(seconds * SR)) / SR
    pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(pcm.tobytes())
    return path


def test_report_contains_every_word_escaped_with_badges_and_timings(tmp_path):
    document = sample_document()
    path = write_report(document, tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    spans = re.findall(r'<span class="w">(.*?)</span>', page)
    assert spans == [html.escape(w.text) for w in document.transcript.words]
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<b>quarterly" not in page
    assert "Q3 &lt;review&gt;" in page and "Grace &amp; Co" in page
    assert page.count('class="turn"') == 4
    assert page.count('class="badge"') == 3 and page.count('class="badge uncertain"') == 1
    assert "angry 72%" in page and "sad 66%" in page
    for stage in ("asr", "diarize", "emotion"):
        assert f"<td>{stage}</td>" in page
    assert "4.74" in page  # total seconds
    assert "cached: time when computed; loaded in 0.01 s" in page
    assert page.count('class="overlap"') == 1


def test_report_is_one_offline_file(tmp_path):
    page = write_report(sample_document(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert not re.search(r"<script[^>]+src=", page) and "<link rel=\"stylesheet\"" not in page
    assert "@import" not in page and "url(" not in page
    assert '<svg class="vtx-svg"' in page and "vtxTimeline(" in page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_shows_the_file_name_not_the_machines_folders(tmp_path):
    source = tmp_path / "private" / "folders" / "board meeting.mp4"
    page = render_report(sample_document(source=str(source)))
    assert "board meeting.mp4" in page
    assert str(source.parent) not in page and "private" not in page


def test_short_audio_is_embedded_with_the_vtt_as_its_track(tmp_path):
    document = sample_document()
    write_tone(tmp_path / "audio.wav")
    path = write_report(document, tmp_path / "site" / "report.html", audio_path=tmp_path / "audio.wav")
    page = path.read_text(encoding="utf-8")
    audio = re.search(r'<audio id="player"[^>]* src="data:audio/mpeg;base64,([A-Za-z0-9+/=]+)"', page)
    assert audio and base64.b64decode(audio.group(1))[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xe3")
    track = re.search(r'<track kind="captions"[^>]* src="data:text/vtt;base64,([A-Za-z0-9+/=]+)"', page)
    assert track and base64.b64decode(track.group(1)).decode("utf-8") == VTTWriter().render(document)
    assert not (path.parent / REPORT_AUDIO_NAME).exists()


def test_long_audio_is_linked_relative_to_the_report(tmp_path):
    write_tone(tmp_path / "audio.wav")
    path = write_report(sample_document(), tmp_path / "site" / "report.html", audio_path=tmp_path / "audio.wav",
                        embed_audio_max_seconds=5.0)
    page = path.read_text(encoding="utf-8")
    assert f'src="{REPORT_AUDIO_NAME}"' in page and "data:audio" not in page
    assert (path.parent / REPORT_AUDIO_NAME).stat().st_size > 10_000


def test_timeline_with_diarization_overlap_and_waveform(tmp_path):
    document = sample_document()
    write_tone(tmp_path / "audio.wav")
    diarization = Diarization(turns=[SpeakerTurn(speaker=t.speaker, start=t.start, end=t.end)
                                     for t in document.transcript.turns], overlaps=[(9.0, 9.6)])
    with_audio = render_report(document, diarization, tmp_path / "audio.wav")
    without = render_report(document)
    assert 'class="vtx-name vtx-muted">audio<' in with_audio and ">audio<" not in without
    assert "overlapping speech</span>" in with_audio and "M9.000 40h0.600" in with_audio  # drawn under the lanes
    for name in ("SPEAKER_00", "Grace &amp; Co", "SPEAKER_02"):
        assert f">{name}</div>" in with_audio  # a lane per speaker, display names
    for label in LABELS:
        assert f"</i>{label}</span>" in with_audio  # the legend names every emotion colour


def test_speaker_table_talk_time_and_emotion_share():
    rows = {row["speaker"]: row for row in speaker_table(sample_document())}
    assert abs(sum(row["share"] for row in rows.values()) - 1.0) < 1e-9
    assert rows["SPEAKER_01"]["name"] == "Grace & Co" and rows["SPEAKER_01"]["words"] == 8
    assert set(rows["SPEAKER_00"]["emotions"]) == {"neutral", "angry"}
    assert rows["SPEAKER_02"]["emotions"].keys() == {"uncertain"}
    page = render_report(sample_document())
    assert "neutral 67% &middot; angry 33%" in page


def test_embedded_estimator_is_labelled_as_such_and_no_emotion_means_no_emotion_marks(tmp_path):
    embedded = render_report(sample_document(backend="embedded-prosody-lexicon"))
    assert "not a trained speech-emotion model" in embedded
    assert "not a trained" not in render_report(sample_document())
    plain = render_report(sample_document(with_emotion=False))
    assert "badge" not in plain.split("<h2>Transcript</h2>")[1] and "emotion strip" not in plain


def test_report_of_an_empty_transcript_still_renders(tmp_path):
    document = Document(media=MediaInfo(id="m", title="silence", source="file.wav", duration=3.0),
                        transcript=AlignedTranscript(turns=[]))
    page = write_report(document, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h1>silence</h1>" in page and "no stage timings recorded" in page


def test_review_figure_carries_html_and_a_png_fallback(tmp_path):
    audio = AudioFile(path=str(write_tone(tmp_path / "audio.wav")), sample_rate=SR, duration=13.0)
    figure = review_figure(sample_document(), audio=audio)
    bundle = figure._repr_mimebundle_()
    assert '<svg class="vtx-svg"' in bundle["text/html"] and "vtxTimeline(" in bundle["text/html"]
    assert ">audio</div>" in bundle["text/html"]  # the waveform row
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "3 speaker(s)" in bundle["text/plain"]
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(figure)  # what a kernel (and papermill) stores for the cell
    assert {"text/html", "image/png", "text/plain"} <= set(data)
    assert review_figure(sample_document()).html != figure.html  # each figure gets its own element id


def stage_total(page: str) -> float:
    return float(re.search(r"<th>total \(wall clock\)</th><th></th><th></th><th class=num>([\d.]+)</th>", page).group(1))


def test_stages_that_ran_side_by_side_are_counted_once():
    document = sample_document()
    assert stage_total(render_report(document)) == 4.74  # nothing said to run in parallel: the plain sum
    page = render_report(document, parallel=("asr", "diarize"))
    assert stage_total(page) == 3.24  # asr 3.2 beside diarize 1.5, then emotion 0.04
    assert page.count("ran alongside") == 2
    assert stage_total(render_report(document, wall_seconds=3.9, parallel=("asr", "diarize"))) == 3.9


def test_overlap_only_turns_are_no_transcript_rows_and_the_overlap_tag_stands_apart():
    document = sample_document()
    turns = document.transcript.turns
    turns.insert(2, Turn(speaker="SPEAKER_02", start=8.6, end=9.2, words=[], overlap=True))
    page = render_report(document)
    rows = re.findall(r'<div class="turn" data-u="(\d+)">(.*?)</div>', page)
    assert [int(u) for u, _ in rows] == [k for k, t in enumerate(turns) if t.words]  # the data's turn indices
    overlapped = next(row for _, row in rows if "overlap" in row)
    text = html.unescape(re.sub(r"<[^>]+>", "", overlapped))
    assert re.search(r"\(overlap\) That is", text), text  # not "overlapThat"


def test_one_palette_speakers_apart_from_emotions():
    from vtxlib.subtitles import StyledVTTWriter, on_dark_background
    from vtxlib.timeline import EMOTION_COLORS, OVERLAP_COLOR, SPEAKER_PALETTE, UNCERTAIN_COLOR, speaker_colors

    def distance(a: str, b: str) -> float:
        return sum((int(a[i:i + 2], 16) - int(b[i:i + 2], 16)) ** 2 for i in (1, 3, 5)) ** 0.5

    others = [*EMOTION_COLORS.values(), OVERLAP_COLOR, UNCERTAIN_COLOR]
    assert min(distance(s, o) for s in SPEAKER_PALETTE for o in others) >= 80
    document = sample_document()
    page = render_report(document)
    styled = StyledVTTWriter().render(document)
    for speaker, colour in speaker_colors(document.speakers).items():
        assert f"color:{colour}" in page  # the report's lane / name colour
        voice = html.unescape(document.display_name(speaker))
        assert f'::cue(v[voice="{voice}"]) {{ color: {on_dark_background(colour)}; }}' in styled


def with_detection(detection: LanguageDetection) -> Document:
    document = sample_document()
    transcript = document.transcript.model_copy(update={"language": detection.language})
    return document.model_copy(update={"language": detection.language, "language_detection": detection,
                                       "transcript": transcript})


def test_an_unsure_language_is_said_on_the_page_with_how_to_choose_it():
    note = ("language identification is unsure (p=0.15: music, noise, or a voice or language the model cannot "
            "place): transcribing as hu; choose another with --language xx")
    page = render_report(with_detection(LanguageDetection(language="hu", probability=0.1454, low_confidence=True,
                                                          shares={"hu": 1.0}, note=note)))
    assert "(unsure, p 0.15)" in page
    assert re.search(r'<p class="warning language-note">[^<]*--language xx</p>', page)


def test_a_second_language_is_said_on_the_page():
    note = "more than one language in the speech (en 62%, es 38%): each stretch is transcribed in its own language"
    page = render_report(with_detection(LanguageDetection(language="en", probability=0.61,
                                                          shares={"en": 0.624, "es": 0.376}, note=note)))
    assert '<p class="warning language-note">more than one language in the speech (en 62%, es 38%)' in page
    assert "(detected, p 0.61)" in page


def test_a_confident_or_forced_language_gets_no_warning():
    confident = render_report(with_detection(LanguageDetection(language="es", probability=0.8975, shares={"es": 1.0},
                                                               note="language es detected (p=0.90)")))
    assert "(detected, p 0.90)" in confident and "language-note" not in confident
    forced = render_report(with_detection(LanguageDetection(language="de", source="forced",
                                                            note="language de (forced with --language)")))
    assert "(forced)" in forced and "language-note" not in forced


def test_a_file_in_two_languages_shows_where_each_is_spoken():
    from vtxlib.types import LanguageSpan

    note = "more than one language in the speech (en 62%, es 38%): each stretch is transcribed in its own language"
    detection = LanguageDetection(language="en", probability=0.61, shares={"en": 0.624, "es": 0.376}, note=note,
                                  spans=[LanguageSpan(language="en", start=0.0, end=7.5),
                                         LanguageSpan(language="es", start=7.5, end=12.0)])
    page = render_report(with_detection(detection))
    bars = re.findall(r'<button class="lang" data-t="([\d.]+)" style="left:([\d.]+)%;width:([\d.]+)%[^>]*>(\w+)<',
                      page)
    assert bars == [("0.000", "0.000", "62.500", "en"), ("7.500", "62.500", "37.500", "es")]  # of 12 s
    assert "en 62% of the speech" in page and "es 38% of the speech" in page


def test_one_language_draws_no_language_bar():
    from vtxlib.types import LanguageSpan

    detection = LanguageDetection(language="es", probability=0.9, shares={"es": 1.0},
                                  spans=[LanguageSpan(language="es", start=0.0, end=12.0)])
    page = render_report(with_detection(detection))
    assert '<div class="langbar">' not in page and "<h2>Languages</h2>" not in page
