"""`python -m vtxlib run` on a real two-speaker recording, and the CLI's one-line errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vtxlib import metrics
from vtxlib.testing.samples import pyannote_sample, words_by_speaker
from vtxlib.types import SCHEMA_VERSION, Document, SpeakerTurn

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_FILES = ("transcript.json", "transcript.vtt", "transcript.styled.vtt", "transcript.srt", "transcript.rttm",
                "transcript.txt")


def vtx(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "vtxlib", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=600, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sample():
    return pyannote_sample()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, sample):
    base = tmp_path_factory.mktemp("e2e")
    proc = vtx("run", str(sample.wav), "--workspace", str(base / "ws"), "--out", str(base / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    folder = next((base / "out").iterdir())
    return proc, folder, base


def spoken_by_speaker(cues) -> dict[str, str]:
    """Each speaker's words in the order written, overlap markers left out."""
    from vtxlib.subtitles import SubtitleOptions

    spoken: dict[str, list[str]] = {}
    for speaker, text in cues:
        if text != SubtitleOptions().overlap_text:
            spoken.setdefault(speaker, []).extend(text.split())
    return {speaker: " ".join(words) for speaker, words in spoken.items()}


def test_writes_the_five_files_and_a_summary(sample_run):
    import re

    import webvtt

    proc, folder, _ = sample_run
    assert sorted(p.name for p in folder.glob("transcript.*")) == sorted(OUTPUT_FILES)
    doc = Document.load(folder / "transcript.json")
    said = spoken_by_speaker((t.speaker, t.text) for t in doc.transcript.turns)
    assert set(said) == set(doc.speakers) and len(doc.speakers) == 2
    srt = [c.text.split(": ", 1) for c in webvtt.from_srt(str(folder / "transcript.srt"))]
    assert spoken_by_speaker(srt) == said
    txt = [re.fullmatch(r"\[\d\d:\d\d:\d\d\] (\S+): (.+)", line).groups()
           for line in (folder / "transcript.txt").read_text().splitlines()]
    assert spoken_by_speaker(txt) == said
    rttm = [line.split() for line in (folder / "transcript.rttm").read_text().splitlines()]
    assert {r[7] for r in rttm} == set(doc.speakers) and {(r[0], r[1]) for r in rttm} == {("SPEAKER", doc.media.id)}
    assert all(float(r[4]) > 0 and 0 <= float(r[3]) <= float(r[3]) + float(r[4]) <= 30.05 for r in rttm)
    assert f"speakers: 2 ({', '.join(doc.speakers)})" in proc.stdout
    assert f"words: {len(doc.transcript.words)}  turns: {len(doc.transcript.turns)}" in proc.stdout
    assert "\nlanguage: en\n" in proc.stdout  # the English sample, identified without a warning
    assert f"outputs: {folder}" in proc.stdout and "real time" in proc.stdout


def test_report_stage_total_is_the_wall_clock_the_command_prints(sample_run):
    import re

    proc, folder, _ = sample_run
    page = (folder / "report.html").read_text(encoding="utf-8")
    shown = float(re.search(r"<th>total \(wall clock\)</th><th></th><th></th><th class=num>([\d.]+)</th>", page).group(1))
    printed = re.search(r"total ([\d.]+) s, .*\(([\d.]+) s to the subtitles, the total report.html shows\)",
                        proc.stdout)
    assert printed, proc.stdout
    assert shown == float(printed.group(2)) <= float(printed.group(1))
    seconds = {name: float(value) for name, value in re.findall(r"<tr><td>(\w+)</td><td>[^<]*</td><td>[^<]*</td>"
                                                                 r"<td class=num>([\d.]+)</td>", page)}
    assert "subtitles" in seconds and {"asr", "diarize"} <= set(seconds)
    assert shown < sum(seconds.values())  # asr and diarize ran side by side: their time is not added twice


def test_json_contract(sample_run):
    _, folder, _ = sample_run
    data = json.loads((folder / "transcript.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert {"id", "title", "source", "duration"} <= set(data["media"])
    assert data["media"]["duration"] == pytest.approx(30.0, abs=0.1)
    assert len(data["speakers"]) == 2
    assert "words" not in data  # version 2: each word once, inside its turn
    words = [w for t in data["turns"] for w in t["words"]]
    assert len(words) > 60
    for w in words:
        assert {"text", "start", "end", "prob", "speaker"} <= set(w)
        assert 0 <= w["start"] <= w["end"] <= 30.05
        assert w["speaker"] in data["speakers"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    for t in data["turns"]:
        assert {"speaker", "start", "end", "text", "overlap"} <= set(t)
    assert {"audio", "asr", "diarize", "align", "subtitles"} <= set(data["stages"])
    for rec in data["stages"].values():
        assert {"backend", "options", "seconds"} <= set(rec)
    Document.load(data)  # round trip


def test_quality_on_the_sample(sample_run, sample):
    _, folder, _ = sample_run
    doc = Document.load(folder / "transcript.json")
    hyp = " ".join(w.text for w in doc.transcript.words)
    assert metrics.wer(sample.reference_text(), hyp) <= 0.20
    turns = [SpeakerTurn(t.speaker, t.start, t.end) for t in doc.transcript.turns]
    assert metrics.der(sample.reference_turns(), turns, collar=0.5) <= 0.20
    assert metrics.cpwer(sample.reference_text_by_speaker(), words_by_speaker(doc.transcript.words)) <= 0.30


def test_vtt_reparses_with_voice_tags(sample_run):
    import webvtt

    _, folder, _ = sample_run
    captions = webvtt.read(str(folder / "transcript.vtt"))
    assert len(captions) > 5
    assert all("<v " in c.raw_text or "<v." in c.raw_text for c in captions)
    doc = Document.load(folder / "transcript.json")
    assert spoken_by_speaker((c.voice, c.text) for c in captions) == \
        spoken_by_speaker((t.speaker, t.text) for t in doc.transcript.turns)


def test_rerun_is_cached(sample_run, sample):
    _, _, base = sample_run
    proc = vtx("run", str(sample.wav), "--workspace", str(base / "ws"), "--out", str(base / "out2"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    for stage in ("asr", "diarize"):  # cached, with the seconds the stage took when it was computed
        took = re.search(rf"{stage} (\d+\.\d+)s \(cached\)", proc.stdout)
        assert took and float(took.group(1)) > 0, proc.stdout


@pytest.mark.parametrize("make_input, expected", [
    (lambda d: d / "missing.mp4", "file not found"),
    (lambda d: (d / "empty.wav").touch() or d / "empty.wav", "empty (0 bytes)"),
    (lambda d: (d / "notes.mp3").write_text("not audio " * 100) and d / "notes.mp3", "not a media file"),
    (lambda d: d, "is a folder"),
])
def test_bad_input_is_one_line_error(tmp_path, make_input, expected):
    path = make_input(tmp_path)
    proc = vtx("run", str(path), "--workspace", str(tmp_path / "ws"), "--quiet")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_option_is_one_line_error(tmp_path, sample):
    proc = vtx("run", str(sample.wav), "--workspace", str(tmp_path / "ws"), "--min-speakers", "3",
               "--max-speakers", "2")
    assert proc.returncode == 1 and "larger than" in proc.stderr and "Traceback" not in proc.stderr
    proc = vtx("run", str(sample.wav), "--workspace", str(tmp_path / "ws"), "--asr", "whisper-large")
    assert proc.returncode == 1 and "unknown asr backend" in proc.stderr


@pytest.mark.parametrize("lavfi", ["anullsrc=r=16000:cl=mono", "sine=frequency=440:sample_rate=44100"])
def test_silence_or_music_gives_an_empty_transcript_and_a_warning(tmp_path, lavfi):
    import webvtt

    source = tmp_path / "no-speech.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", lavfi, "-t", "6",
                    str(source)], check=True)
    proc = vtx("run", str(source), "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "transcript is empty" in proc.stderr
    folder = next((tmp_path / "out").iterdir())
    data = json.loads((folder / "transcript.json").read_text())
    assert "words" not in data and data["turns"] == [] and data["speakers"] == []
    assert len(webvtt.read(str(folder / "transcript.vtt"))) == 0
