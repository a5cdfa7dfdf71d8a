"""The HTML report: self-contained, every turn present and escaped, badges, plots and stage timings."""

from __future__ import annotations

import html
import re
import wave

import numpy as np

from vtxlib.emotion.base import LABELS
from vtxlib.report import render_report, write_report
from vtxlib.types import (AlignedTranscript, AudioFile, Diarization, Document, Emotion, MediaInfo,
                          SpeakerTurn, StageRecord, Turn, Word)

SR = 16000


def words(text: str, start: float, speaker: str) -> list[Word]:
    return [Word(tok, start + 0.4 * i, start + 0.4 * i + 0.35, speaker=speaker)
            for i, tok in enumerate(text.split())]


def emotion(label: str, confidence: float, backend: str = "speechbrain", low: bool = False) -> Emotion:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return Emotion(label, {lab: (confidence if lab == label else rest) for lab in LABELS}, confidence,
                   backend, low_confidence=low)


def sample_document(backend: str = "speechbrain", with_emotion: bool = True) -> Document:
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
        turns.append(Turn(speaker, start, ws[-1].end, ws, overlap=speaker == "SPEAKER_00" and start > 8,
                          emotion=emotion(label, conf, backend, low) if with_emotion else None))
    stages = {"asr": StageRecord("whisper-cpu", {}, 3.2, model="tiny.en"),
              "diarize": StageRecord("embedded", {}, 1.5),
              "emotion": StageRecord(backend, {}, 0.04, cached=True)}
    media = MediaInfo(id="abc123", title="Q3 <review>", source="https://example.org/v?a=1&b=2", duration=12.0)
    return Document(media, AlignedTranscript(turns, language="en"), stages=stages,
                    speaker_names={"SPEAKER_01": "Grace & Co"})


def test_report_contains_every_turn_escaped_with_badges_and_timings(tmp_path):
    document = sample_document()
    path = write_report(document, tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    for turn in document.transcript.turns:
        assert html.escape(turn.text) in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>quarterly" not in page
    assert "Q3 &lt;review&gt;" in page and "Grace &amp; Co" in page
    assert page.count('class="turn"') == 4
    assert page.count('class="badge"') == 3 and page.count('class="badge uncertain"') == 1
    assert "angry 72%" in page and "sad 66%" in page
    for stage in ("asr", "diarize", "emotion"):
        assert f"<td>{stage}</td>" in page
    assert "4.74" in page  # total seconds
    assert page.count('class="overlap"') == 1


def test_report_is_self_contained(tmp_path):
    from base64 import b64decode
    from io import BytesIO

    from PIL import Image

    page = write_report(sample_document(), tmp_path / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # alignment, emotion timeline, emotion summary
    for img in images:  # each decodes to a full-width PNG with something drawn on it
        with Image.open(BytesIO(b64decode(img))) as png:
            pixels = np.asarray(png.convert("RGB"))
        assert png.format == "PNG" and pixels.shape[1] >= 800 and (pixels < 200).any(axis=2).mean() > 0.05
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<script" not in page


def test_report_with_diarization_and_waveform(tmp_path):
    from base64 import b64decode
    from io import BytesIO

    from PIL import Image

    document = sample_document()
    t = np.arange(13 * SR) / SR
    pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "audio.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(pcm.tobytes())
    diarization = Diarization([SpeakerTurn(t.speaker, t.start, t.end) for t in document.transcript.turns],
                              overlaps=[(9.0, 9.6)])
    with_audio = render_report(document, diarization, AudioFile(str(tmp_path / "audio.wav"), SR, 13.0).path)
    without = render_report(document)
    image = lambda page: re.findall(r"base64,([A-Za-z0-9+/=]+)", page)[0]  # noqa: E731
    assert image(with_audio) != image(without)  # the waveform panel is drawn
    heights = [Image.open(BytesIO(b64decode(image(page)))).height for page in (with_audio, without)]
    assert heights[0] - heights[1] >= 100  # the waveform panel (1.2 in) is drawn above the lanes


def test_embedded_estimator_is_labelled_as_such_and_no_emotion_means_no_emotion_plots(tmp_path):
    embedded = render_report(sample_document(backend="embedded-prosody-lexicon"))
    assert "not a trained speech-emotion model" in embedded
    assert "not a trained" not in render_report(sample_document())
    plain = render_report(sample_document(with_emotion=False))
    assert plain.count("base64,") == 1 and "badge" not in plain.split("<h2>Transcript</h2>")[1]


def test_report_of_an_empty_transcript_still_renders(tmp_path):
    document = Document(MediaInfo("m", "silence", "file.wav", duration=3.0), AlignedTranscript([]))
    page = write_report(document, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h1>silence</h1>" in page and "no stage timings recorded" in page
