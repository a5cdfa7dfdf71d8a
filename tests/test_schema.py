"""transcript.json: the published JSON Schema is current, version-1 files still load, and a bad
file is reported in one line naming the file and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from transcript_schema_check import SCHEMA_FILE, problems

from vtxlib.types import (
    SCHEMA_VERSION,
    AlignedTranscript,
    Document,
    DocumentError,
    MediaInfo,
    Turn,
    Word,
    transcript_schema_text,
)

V1_FILE = Path(__file__).parent / "data" / "transcript_v1.json"
ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_schema_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == transcript_schema_text(), \
        "schemas/transcript.schema.json is stale: run `python -m vtxlib schema --out schemas/transcript.schema.json`"


def test_schema_check_command_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"title": "old"}))
    command = [sys.executable, "-m", "vtxlib", "schema", "--check", "--out"]
    current = subprocess.run(command + [str(SCHEMA_FILE)], cwd=ROOT, capture_output=True, text=True)
    old = subprocess.run(command + [str(stale)], cwd=ROOT, capture_output=True, text=True)
    assert (current.returncode, old.returncode) == (0, 1)
    assert "not the current schema" in old.stderr


def test_a_version_1_file_loads_and_is_written_as_version_2(tmp_path):
    v1 = json.loads(V1_FILE.read_text(encoding="utf-8"))
    doc = Document.load(V1_FILE)
    assert [w.text for w in doc.transcript.words] == [w["text"] for w in v1["words"]]
    assert [(w.start, w.speaker) for w in doc.transcript.words] == [(w["start"], w["speaker"]) for w in v1["words"]]
    assert doc.speakers == v1["speakers"] and doc.speaker_names == {"SPEAKER_00": "Alice"}
    assert doc.turns[1].overlap and doc.turns[1].emotion.low_confidence and doc.turns[2].emotion is None
    assert doc.stages["enhance"].incomplete == "skipped: no key" and doc.stages["diarize"].cached
    enhance = doc.extras.enhance
    assert enhance.suggested_speaker_names["SPEAKER_01"].name == "Bob"
    assert enhance.summary.overall == "A greeting." and enhance.chapters[0].title == "Hello"

    written = doc.model_dump(mode="json")
    assert written["schema_version"] == SCHEMA_VERSION == 2
    assert "words" not in written  # each word is stored once, inside its turn
    assert sum(len(t["words"]) for t in written["turns"]) == len(v1["words"])
    assert written["turns"] == [{k: v for k, v in t.items()} for t in v1["turns"]]  # turns unchanged
    (tmp_path / "transcript.json").write_text(json.dumps(written))
    assert problems(tmp_path / "transcript.json") == []
    assert Document.load(tmp_path / "transcript.json") == doc


def test_unknown_keys_are_ignored_on_load():
    data = json.loads(V1_FILE.read_text(encoding="utf-8"))
    data["from_the_future"] = {"x": 1}
    data["turns"][0]["colour"] = "red"
    data["turns"][0]["words"][0]["phonemes"] = ["h"]
    assert Document.load(data).turns[0].words[0].text == " Hello"


def test_a_bad_file_is_one_line_naming_the_file_and_field(tmp_path):
    data = json.loads(V1_FILE.read_text(encoding="utf-8"))
    data["turns"][1]["words"][0]["start"] = "soon"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DocumentError) as caught:
        Document.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "turns.1.words.0.start" in message
    with pytest.raises(DocumentError, match="schema_version 3.*newer vtxlib"):
        Document.load({**data, "schema_version": 3})
    path.write_text("{not json")
    with pytest.raises(DocumentError, match="cannot read"):
        Document.load(path)


def test_the_schema_rejects_what_the_model_rejects(tmp_path):
    doc = Document(media=MediaInfo(id="m", title="t", source="s", path="/private/m.wav"),
                   transcript=AlignedTranscript(turns=[Turn(speaker="A", start=0.0, end=1.0,
                                                             words=[Word(text="hi", start=0.0, end=1.0)])]))
    good = doc.model_dump(mode="json")
    assert "path" not in good["media"] and good["turns"][0]["text"] == "hi" and good["speakers"] == ["A"]
    path = tmp_path / "transcript.json"
    path.write_text(json.dumps(good))
    assert problems(path) == []
    del good["turns"][0]["words"][0]["end"]
    path.write_text(json.dumps(good))
    found = problems(path)
    assert any("'end' is a required property" in p for p in found)  # the schema says so
    assert any("turns.0.words.0.end" in p for p in found)  # and so does the model
    path.unlink()  # leave nothing invalid for the after-test check


def test_an_enhance_artifact_cached_by_version_1_code_still_loads():
    """The enhance stage's cached artifact embeds a document; one written before version 2 is reused."""
    from vtxlib.enhance import EnhanceResult

    v1 = json.loads(V1_FILE.read_text(encoding="utf-8"))
    extras = v1["extras"]["enhance"]
    artifact = {"document": v1, "summary": extras["summary"], "chapters": extras["chapters"],
                "suggested_speaker_names": extras["suggested_speaker_names"], "stats": extras["stats"],
                "model": extras["model"]}
    result = EnhanceResult.model_validate(artifact)
    assert result.summary.speakers == {"SPEAKER_00": "greets"} and result.chapters_text() == "00:00 Hello"
    assert result.suggested_speaker_names["SPEAKER_01"].evidence == "called Bob"
    assert len(result.document.transcript.words) == len(v1["words"]) and result.unfinished() is None
