"""Known speakers by voice (``--voices``): enrollment, clip checks, matching, caching, the CLI flag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from needs import require

from vtxlib import voices
from vtxlib.audio import write_wav
from vtxlib.errors import InputError
from vtxlib.types import Diarization, Document, SpeakerTurn, VoiceMatch

pytestmark = pytest.mark.tools("espeak-ng", "ffmpeg")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / ".fixtures" / "voices" / "unit"


def clip(voice_index: int, take: int = 0, sentences: int = 4) -> Path:
    """An enrollment clip of the synthetic conversations' voice VOICE_INDEX (cached, git-ignored)."""
    from vtxlib.testing.enroll import enrollment_clip
    from vtxlib.testing.synth import VOICES

    return enrollment_clip(FIXTURES, VOICES[voice_index], take, sentences)


def person_folder(root: Path, layout: dict[str, list[Path]]) -> Path:
    """{name: clips}: one clip -> Name.wav, several -> Name/ folder."""
    root.mkdir(parents=True, exist_ok=True)
    for name, clips in layout.items():
        if len(clips) == 1:
            shutil.copy(clips[0], root / f"{name}{clips[0].suffix}")
        else:
            (root / name).mkdir()
            for i, path in enumerate(clips):
                shutil.copy(path, root / name / f"clip{i}{path.suffix}")
    return root


def to_mp3(source: Path, target: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), str(target)], check=True)
    return target


# -- the folder -------------------------------------------------------------------------------------

def test_enrollment_from_files_and_folders(tmp_path):
    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)], "Bob Smith": [clip(1), clip(1, take=1)]})
    to_mp3(clip(2), folder / "Carol_Jones.mp3")
    (folder / "notes.txt").write_text("not a clip")
    shutil.copy(clip(0), folder / ".hidden.wav")

    people = voices.enrollment_clips(folder)
    assert sorted(people) == ["Alice", "Bob Smith", "Carol Jones"]
    assert [p.name for p in people["Bob Smith"]] == ["clip0.wav", "clip1.wav"]

    checked = voices.check_clips(folder)
    for clips in checked.people.values():
        for result in clips:
            assert result.speech_s >= voices.MIN_SPEECH_S
            assert np.linalg.norm(result.campplus) == pytest.approx(1.0, abs=1e-4)
    enrollment = voices.enroll(checked, voices.CamppVoiceEmbedder())
    assert sorted(enrollment.voiceprints) == ["Alice", "Bob Smith", "Carol Jones"]
    bob = [np.asarray(c.campplus) for c in checked.people["Bob Smith"]]
    np.testing.assert_allclose(enrollment.voiceprints["Bob Smith"], voices.unit_mean(bob), atol=1e-5)
    assert enrollment.threshold == voices.CAMPPLUS_THRESHOLD


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        voices.enrollment_clips(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no voice clips"):
        voices.enrollment_clips(tmp_path / "empty")
    (tmp_path / "people" / "Dana").mkdir(parents=True)
    with pytest.raises(InputError, match=r"people/Dana: no audio clips"):
        voices.enrollment_clips(tmp_path / "people")


# -- bad clips --------------------------------------------------------------------------------------

def bad_clip(kind: str, folder: Path) -> Path:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "silent":
        rng = np.random.default_rng(0)
        return write_wav(folder / "Quiet Person.wav", (1e-5 * rng.standard_normal(16000 * 8)).astype(np.float32))
    if kind == "too short":  # the first 2.2 s of a clip
        audio, _ = sf.read(clip(0), dtype="float32")
        return write_wav(folder / "Brief.wav", audio[:int(2.2 * 16000)])
    # a man's and a woman's synthetic voice one after the other
    a, _ = sf.read(clip(0), dtype="float32")
    b, _ = sf.read(clip(1, take=1), dtype="float32")
    return write_wav(folder / "Two People.wav", np.concatenate([a, b]))


@pytest.mark.parametrize("kind, message", [("silent", "is silent"), ("too short", "is too short"),
                                           ("two voices", "contains several voices")])
def test_bad_clip_gets_one_line_error_naming_the_file(tmp_path, kind, message):
    folder = tmp_path / "voices"
    shutil.copy(clip(2), person_folder(folder, {}) / "Good.wav")
    bad = bad_clip(kind, folder)
    with pytest.raises(InputError) as error:
        voices.check_clips(folder, tmp_path / "cache")
    text = str(error.value)
    assert str(bad) in text and message in text and "\n" not in text
    assert not any(bad.name in p.name for p in (tmp_path / "cache").glob("*")), "a bad clip is not cached"


def test_several_voices_threshold_keeps_every_single_voice_clip(tmp_path):
    """The two-voice check must not reject clean single-voice clips of any synthetic voice."""
    from vtxlib.testing.synth import VOICES

    for i in range(len(VOICES)):
        split = voices.voice_split(voices.clip_speech(voices.read_clip(clip(i))).vectors)
        assert split >= voices.SEVERAL_VOICES_COSINE, (VOICES[i], split)


# -- matching ---------------------------------------------------------------------------------------

def test_hungarian_gives_each_name_to_one_speaker_and_keeps_weak_matches_anonymous():
    alice, bob = np.eye(4)[0], np.eye(4)[1]
    speakers = {"SPEAKER_00": [0.9, 0.1, 0.0, 0.42], "SPEAKER_01": [0.8, 0.0, 0.6, 0.0],  # both closest to Alice
                "SPEAKER_02": [0.0, 0.2, 0.1, 0.97]}  # nobody enrolled
    enrollment = voices.Enrollment(voiceprints={"Alice": alice, "Bob": bob}, model="test", threshold=0.5)
    matches = {m.speaker: m for m in voices.match_speakers(speakers, enrollment)}
    assert matches["SPEAKER_00"].name == "Alice" and matches["SPEAKER_00"].score > 0.85
    # SPEAKER_01 resembles Alice too, but she is taken; Bob is what is left and he is below threshold
    assert matches["SPEAKER_01"].name is None
    assert [m.candidate for m in matches.values()].count("Alice") == 1
    assert matches["SPEAKER_02"].name is None
    assert {m.threshold for m in matches.values()} == {0.5}
    assert voices.names_of(list(matches.values())) == {"SPEAKER_00": "Alice"}


def test_unenrolled_voice_stays_anonymous_with_real_voiceprints(tmp_path):
    """Speakers 'heard' in other utterances (take 1) than the enrollment clips (take 0)."""
    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)], "Bob": [clip(1)]})
    enrollment = voices.enroll(voices.check_clips(folder), voices.CamppVoiceEmbedder())
    heard = {f"SPEAKER_0{i}": voices.check_clip(clip(i, take=1), None).campplus for i in range(3)}
    matches = {m.speaker: m for m in voices.match_speakers(heard, enrollment)}
    assert matches["SPEAKER_00"].name == "Alice" and matches["SPEAKER_01"].name == "Bob"
    assert matches["SPEAKER_02"].name is None


def test_embedded_diarization_keeps_one_unit_centroid_per_speaker():
    from vtxlib.diarize.base import SpeakerCount
    from vtxlib.diarize.embedded import EmbeddedDiarizer
    from vtxlib.testing.synth import make_conversation
    from vtxlib.types import AudioFile

    conversation = make_conversation(FIXTURES.parent / "synth", 3, 30, seed=0)
    result = EmbeddedDiarizer().diarize(AudioFile(path=str(conversation.wav), sample_rate=16000,
                                                  duration=conversation.duration), SpeakerCount())
    assert set(result.speaker_embeddings) == set(result.speakers) and len(result.speakers) == 3
    vectors = np.array(list(result.speaker_embeddings.values()))
    assert vectors.shape == (3, 192)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.max(vectors @ vectors.T - 2 * np.eye(3)) < 0.95, "three different voices, three different centroids"
    assert Diarization.model_validate(json.loads(json.dumps(result.model_dump(mode="json")))) == result


def test_diarization_and_document_keep_embeddings_and_matches():
    diarization = Diarization(turns=[SpeakerTurn(speaker="SPEAKER_00", start=0.0, end=1.0)],
                              speaker_embeddings={"SPEAKER_00": [0.6, 0.8]})
    assert Diarization.model_validate(json.loads(json.dumps(diarization.model_dump(mode="json")))) == diarization
    from vtxlib.types import AlignedTranscript, MediaInfo

    document = Document(media=MediaInfo(id="m", title="t", source="s"), transcript=AlignedTranscript(turns=[]),
                        voice_matches=[VoiceMatch(speaker="SPEAKER_00", name="Alice", candidate="Alice", score=0.8)])
    assert Document.model_validate(json.loads(json.dumps(document.model_dump(mode="json")))).voice_matches == document.voice_matches


# -- caching ----------------------------------------------------------------------------------------

def test_voiceprints_are_cached_per_clip_content(tmp_path, monkeypatch):
    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)], "Bob": [clip(1), clip(1, take=1)]})
    cache = tmp_path / "ws" / "voices"
    first = voices.check_clips(folder, cache)
    assert (first.stats.computed, first.stats.cached) == (3, 0)

    def analysed_again(*args, **kwargs):
        raise AssertionError("a cached clip was analysed again")

    monkeypatch.setattr(voices, "analyse_clip", analysed_again)
    second = voices.check_clips(folder, cache)
    assert (second.stats.computed, second.stats.cached) == (0, 3)
    assert voices.enroll(second, voices.CamppVoiceEmbedder()).voiceprints.keys() == {"Alice", "Bob"}
    monkeypatch.undo()
    shutil.copy(clip(2), folder / "Alice.wav")  # same name, other content: analysed anew
    third = voices.check_clips(folder, cache)
    assert (third.stats.computed, third.stats.cached) == (1, 2)


# -- the CLI ----------------------------------------------------------------------------------------

def vtx(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "vtxlib", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=900, stdin=subprocess.DEVNULL)


def test_cli_bad_clip_fails_before_any_stage(tmp_path):
    folder = tmp_path / "voices"
    bad = bad_clip("silent", folder)
    conversation = write_wav(tmp_path / "talk.wav", np.zeros(16000, dtype=np.float32))
    proc = vtx("run", str(conversation), "--voices", str(folder), "--workspace", str(tmp_path / "ws"), "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: voice clip {bad} is silent: record a few seconds of this person speaking alone"
    assert not (tmp_path / "ws" / "media").exists(), "nothing ran before the clips were checked"


@pytest.mark.slow
def test_cli_names_enrolled_speakers_and_leaves_the_other_anonymous(tmp_path):
    from vtxlib.testing.synth import make_conversation

    conversation = make_conversation(FIXTURES.parent / "synth", 3, 30, seed=0)  # VOICES[0..2]
    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)], "Bob Smith": [clip(1), clip(1, take=1)]})
    out = tmp_path / "out"
    proc = vtx("run", str(conversation.wav), "--voices", str(folder), "--workspace", str(tmp_path / "ws"),
               "--out", str(out), "--emotion", "off", "--quiet")
    assert proc.returncode == 0, proc.stderr
    target = next(out.iterdir())
    data = json.loads((target / "transcript.json").read_text())
    names = data["speaker_names"]
    assert sorted(names.values()) == ["Alice", "Bob Smith"]
    matches = {m["speaker"]: m for m in data["voice_matches"]}
    for speaker, name in names.items():
        assert matches[speaker]["name"] == name and matches[speaker]["score"] >= matches[speaker]["threshold"]
        assert matches[speaker]["threshold"] == voices.CAMPPLUS_THRESHOLD
    anonymous = [s for s in data["speakers"] if s not in names]
    assert len(anonymous) == 1 and matches[anonymous[0]]["name"] is None

    # the words each name carries are the words that voice said (reference: the synthetic script)
    reference = {f"spk{i}": name for i, name in enumerate(["Alice", "Bob Smith", None])}
    turns = conversation.reference_turns()
    agree = total = 0
    for word in (w for turn in data["turns"] for w in turn["words"]):
        mid = 0.5 * (word["start"] + word["end"])
        under = [t.speaker for t in turns if t.start <= mid < t.end]
        if len(under) == 1:
            total += 1
            agree += names.get(word["speaker"]) == reference[under[0]]
    assert total > 50 and agree / total > 0.9

    vtt = (target / "transcript.vtt").read_text()
    assert "<v Alice>" in vtt or "<v.neutral Alice>" in vtt or "Alice>" in vtt
    assert "Bob Smith>" in vtt and f"{anonymous[0]}>" in vtt
    assert "Alice: " in (target / "transcript.srt").read_text()
    assert "Bob Smith" in (target / "report.html").read_text()

    again = vtx("run", str(conversation.wav), "--voices", str(folder), "--workspace", str(tmp_path / "ws"),
                "--out", str(out), "--emotion", "off", "--quiet", "-v")
    assert again.returncode == 0, again.stderr
    assert "(0 analysed, 3 cached)" in again.stderr


# -- the service ------------------------------------------------------------------------------------

def test_service_job_gets_configured_and_uploaded_voices(tmp_path):
    require("fastapi", extra="service")
    require("httpx", extra="service")
    from test_service import FakePipeline, client_for, tone_wav

    from vtxlib.pipeline import PipelineOptions
    from vtxlib.workspace import Workspace

    configured = person_folder(tmp_path / "configured", {"Alice": [clip(0)], "Bob": [clip(1)]})
    seen = {}

    class VoicesPipeline(FakePipeline):
        def run(self, source, out_dir=None, until="subtitles", options=None, hook=None):
            folder = Path(options.voices)
            seen["people"] = sorted(voices.enrollment_clips(folder))
            seen["bob"] = (folder / "Bob.wav").read_bytes()
            return super().run(source, out_dir, until, options=options, hook=hook)

    fake = VoicesPipeline(Workspace(tmp_path / "ws"))
    fake.default_options = PipelineOptions(emotion="off", voices=str(configured))
    media = tone_wav(tmp_path / "talk.wav", 1.0)
    with client_for(fake.workspace, fake) as client:
        response = client.post("/transcribe", files=[("file", ("talk.wav", media.read_bytes(), "audio/wav")),
                                                     ("voices", ("Bob.wav", clip(2).read_bytes(), "audio/wav")),
                                                     ("voices", ("Carol Jones.wav", clip(2).read_bytes(), "audio/wav"))])
        assert response.status_code == 200, response.text
        assert response.json()["job_id"]
        record = client.get(f"/jobs/{response.json()['job_id']}").json()
        refused = client.post("/transcribe", files=[("file", ("talk.wav", media.read_bytes(), "audio/wav")),
                                                    ("voices", ("notes.txt", b"hello", "text/plain"))])
    assert seen["people"] == ["Alice", "Bob", "Carol Jones"]
    assert seen["bob"] == clip(2).read_bytes(), "an uploaded person replaces the configured one"
    assert record["request"]["overrides"] == {"voices": "uploaded"}, "no server path in the answer"
    assert refused.status_code == 400 and "notes.txt" in refused.json()["error"]
    assert sorted(p.name for p in configured.iterdir()) == ["Alice.wav", "Bob.wav"], "the configured folder is untouched"


# -- the GPU tier's embedding space (random weights: plumbing only) ----------------------------------

@pytest.mark.gpu_tier
@pytest.mark.slow
def test_pyannote_tier_enrolls_and_matches_in_the_pipelines_own_embedding_space(tmp_path):
    """pyannote's SpeakerDiarization with the real segmentation-3.0 and a RANDOM XVectorSincNet
    embedding (tests/gpu_models.py): the scores mean nothing; the dimensions, the cache and the
    one-to-one assignment are what is checked."""
    require("pyannote.audio", extra="gpu")
    import torch
    from gpu_models import build_pyannote_pipeline

    from vtxlib.diarize.base import SpeakerCount
    from vtxlib.diarize.pyannote import PyannoteDiarizer, PyannoteOptions
    from vtxlib.testing.synth import make_conversation
    from vtxlib.types import AudioFile

    torch.set_num_threads(1)
    pipeline = build_pyannote_pipeline(tmp_path / "plda")
    conversation = make_conversation(FIXTURES.parent / "synth", 3, 30, seed=0)
    diarizer = PyannoteDiarizer(PyannoteOptions(device="cpu"), pipeline=pipeline)
    result = diarizer.diarize(AudioFile(path=str(conversation.wav), sample_rate=16000,
                                        duration=conversation.duration), SpeakerCount())
    dimension = pipeline._embedding.dimension
    assert set(result.speaker_embeddings) & set(result.speakers), "the turns' speakers have embeddings"
    assert all(len(v) == dimension for v in result.speaker_embeddings.values())

    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)], "Bob": [clip(1)]})
    cache = tmp_path / "ws" / "voices"
    enrollment = voices.enroll(voices.check_clips(folder, cache), diarizer.voice_embedder())
    assert (enrollment.model, enrollment.threshold) == ("pyannote", voices.PYANNOTE_THRESHOLD)
    assert enrollment.stats.computed == 2
    for vector in enrollment.voiceprints.values():
        assert vector.shape == (dimension,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert len(list(cache.glob("*-pyannote-*.json"))) == 2

    again = voices.enroll(voices.check_clips(folder, cache), diarizer.voice_embedder())
    assert (again.stats.computed, again.stats.cached) == (0, 2)
    np.testing.assert_allclose(again.voiceprints["Bob"], enrollment.voiceprints["Bob"])

    matches = voices.match_speakers(result.speaker_embeddings, enrollment)
    assert sorted(m.speaker for m in matches) == sorted(result.speaker_embeddings)
    named = [m.candidate for m in matches if m.candidate]
    assert len(named) == len(set(named)) == min(2, len(matches))
    assert all(-1.0 <= m.score <= 1.0 for m in matches if m.score is not None)


def test_batch_refuses_voices_when_no_notebook_takes_them(tmp_path):
    require("papermill", extra="notebooks")
    from vtxlib.batch import BatchOptions, run_batch
    from vtxlib.workspace import Workspace

    options = BatchOptions(notebooks=("01_acquire",), parameters={"VOICES": str(tmp_path)})
    with pytest.raises(InputError, match="VOICES"):
        run_batch("list.txt", Workspace(tmp_path / "ws"), options, sources=["a.wav"])


def test_diarizer_without_speaker_embeddings_is_refused(tmp_path):
    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.workspace import Workspace

    folder = person_folder(tmp_path / "voices", {"Alice": [clip(0)]})
    options = PipelineOptions(diarizer="sortformer", voices=str(folder), emotion="off")
    with pytest.raises(InputError, match="--voices needs speaker embeddings.*not sortformer"):
        Pipeline(Workspace(tmp_path / "ws"), options).run(str(clip(1)))
