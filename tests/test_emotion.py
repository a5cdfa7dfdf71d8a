"""Emotion stage: windowing/aggregation, low-confidence handling, the embedded estimator on espeak
speech, and the speechbrain backend through the model card's real interface with random weights."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from needs import require, require_tools

from vtxlib import audio
from vtxlib.emotion import create_emotion_backend, resolve_emotion_name
from vtxlib.emotion.base import LABELS
from vtxlib.emotion.embedded import (
    EmbeddedEmotion,
    _analysis_frames,
    count_syllables,
    label_scores,
    measure_prosody,
    pitch_track,
)
from vtxlib.emotion.stage import (
    WindowOptions,
    aggregate_scores,
    apply_emotions,
    classify_turns_by_windows,
    emotion_from_scores,
    split_span,
    words_in_span,
)
from vtxlib.errors import BackendUnavailable, InputError
from vtxlib.types import AlignedTranscript, AudioFile, Emotion, Turn, Word

FIXTURES = Path(__file__).parent / ".fixtures" / "emotion"
SR = 16000


# -- audio helpers ---------------------------------------------------------------------------------

def write_wav(path: Path, samples: np.ndarray) -> AudioFile:
    audio.write_wav(path, samples, SR)
    return AudioFile(path=str(path), sample_rate=SR, duration=len(samples) / SR)


def speak(text: str, amplitude: int, pitch: int, speed: int) -> np.ndarray:
    """espeak-ng speech at 16 kHz, cached in tests/.fixtures (git-ignored)."""
    require_tools("espeak-ng", "ffmpeg")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(f"{text}|{amplitude}|{pitch}|{speed}".encode()).hexdigest()[:12]
    name = f"espeak-{digest}.wav"
    target = FIXTURES / name
    if not target.exists():
        raw = target.with_suffix(".raw.wav")
        subprocess.run(["espeak-ng", "-w", str(raw), "-a", str(amplitude), "-p", str(pitch),
                        "-s", str(speed), text], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ac", "1",
                        "-ar", str(SR), "-c:a", "pcm_s16le", str(target)], check=True)
        raw.unlink()
    with wave.open(str(target), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768


def spread_words(text: str, start: float, end: float) -> list[Word]:
    """Word timings spread evenly over the utterance (what an aligner would roughly give)."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    return [Word(t, start + i * step, start + (i + 1) * step - 0.02, speaker="SPEAKER_00")
            for i, t in enumerate(tokens)]


def conversation(tmp_path: Path, utterances: list[tuple[str, int, int, int]], gap: float = 0.3):
    """One wav of the utterances back to back, one turn per utterance (same speaker)."""
    pieces, turns, t = [], [], 0.0
    for text, amplitude, pitch, speed in utterances:
        samples = speak(text, amplitude, pitch, speed)
        duration = len(samples) / SR
        turns.append(Turn("SPEAKER_00", round(t, 3), round(t + duration, 3),
                          spread_words(text, t + 0.05, t + duration - 0.05)))
        pieces += [samples, np.zeros(int(gap * SR), np.float32)]
        t += duration + gap
    return write_wav(tmp_path / "conversation.wav", np.concatenate(pieces)), turns


CALM = (40, 25, 120)  # espeak amplitude, pitch, words per minute
AGITATED = (200, 85, 220)


# -- windowing and aggregation ---------------------------------------------------------------------

def test_split_span_keeps_windows_between_half_and_full_max_and_covers_the_turn():
    assert split_span(1.0, 4.0, 8.0) == [(1.0, 4.0)]
    for duration in (8.01, 12.0, 17.3, 61.0):
        spans = split_span(10.0, 10.0 + duration, 8.0)
        assert spans[0][0] == 10.0 and spans[-1][1] == pytest.approx(10.0 + duration)
        assert all(a[1] == pytest.approx(b[0]) for a, b in zip(spans, spans[1:]))
        assert all(4.0 <= e - s <= 8.0 + 1e-9 for s, e in spans)
    assert len(split_span(0.0, 17.3, 8.0)) == 3


def test_words_in_span_gives_each_word_to_exactly_one_window():
    words = [Word("a", 0.0, 0.4), Word("b", 3.8, 4.4), Word("c", 4.5, 5.0)]  # b's midpoint is 4.1
    first, second = words_in_span(words, 0.0, 4.0), words_in_span(words, 4.0, 8.0)
    assert [w.text for w in first] == ["a"] and [w.text for w in second] == ["b", "c"]


def test_aggregate_scores_weights_windows_by_duration():
    scores = aggregate_scores([{"angry": 1.0}, {"sad": 1.0}], [6.0, 3.0])
    assert scores["angry"] == pytest.approx(2 / 3) and scores["sad"] == pytest.approx(1 / 3)
    assert set(scores) == set(LABELS) and sum(scores.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one weight per score"):
        aggregate_scores([{"sad": 1.0}], [1.0, 2.0])


def test_emotion_from_scores_flags_weak_winners():
    strong = emotion_from_scores({"neutral": 0.1, "happy": 0.7, "angry": 0.1, "sad": 0.1}, "x", 0.5)
    weak = emotion_from_scores({"neutral": 0.3, "happy": 0.2, "angry": 0.35, "sad": 0.15}, "x", 0.5)
    assert (strong.label, strong.confidence, strong.low_confidence) == ("happy", 0.7, False)
    assert (weak.label, weak.low_confidence) == ("angry", True)


def test_window_options_reject_windows_shorter_than_two_minimum_turns():
    with pytest.raises(InputError):
        WindowOptions(min_turn_seconds=3.0, max_window_seconds=4.0)


def _energy_scorer(pairs):
    """A deterministic scorer: 'angry' share grows with the window's RMS, 'neutral' takes the rest."""
    out = []
    for window, samples in pairs:
        loud = float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0
        share = min(1.0, loud / 0.4)
        out.append({"angry": share, "neutral": 1.0 - share})
    return out


def test_classify_turns_by_windows_short_long_and_outside_turns(tmp_path):
    t = np.arange(30 * SR) / SR
    loud_then_quiet = np.where(t < 12.0, 0.5, 0.05) * np.sin(2 * np.pi * 200 * t)
    audio = write_wav(tmp_path / "tone.wav", loud_then_quiet.astype(np.float32))
    turns = [Turn("A", 0.0, 0.6), Turn("A", 0.0, 18.0), Turn("B", 20.0, 29.0), Turn("B", 31.0, 33.0)]
    calls = []
    results = classify_turns_by_windows(audio, turns, _energy_scorer, WindowOptions(), "test",
                                        progress=lambda done, total: calls.append((done, total)))
    short, long_turn, quiet, outside = results
    assert short.low_confidence and short.confidence == 0.0
    assert set(short.scores.values()) == {0.25}
    # 0-18 s -> 3 windows of 6 s: two loud (sine RMS 0.354 -> share 0.884), one quiet (0.088)
    assert long_turn.label == "angry" and not long_turn.low_confidence
    assert long_turn.scores["angry"] == pytest.approx((2 * 0.884 + 0.088) / 3, abs=0.01)
    assert quiet.label == "neutral" and quiet.scores["neutral"] > 0.9
    assert outside is None
    assert calls[-1][0] == pytest.approx(calls[-1][1]) == pytest.approx(18.0 + 9.0)


def test_apply_emotions_returns_a_new_transcript_and_leaves_the_input_alone():
    aligned = AlignedTranscript([Turn("A", 0, 1, [Word("hi", 0, 1)]), Turn("B", 1, 2)], language="en")
    emotion = Emotion("sad", {lab: 0.25 for lab in LABELS}, 0.25, "x", low_confidence=True)
    result = apply_emotions(aligned, [emotion, None])
    assert result is not aligned and result.turns[0] is not aligned.turns[0]
    assert result.turns[0].emotion == emotion and result.turns[1].emotion is None
    assert all(t.emotion is None for t in aligned.turns)
    assert result.turns[0].words == aligned.turns[0].words and result.language == "en"
    with pytest.raises(ValueError, match="got 1 emotions for 2 turns"):
        apply_emotions(aligned, [emotion])


# -- embedded estimator ----------------------------------------------------------------------------

def test_pitch_track_finds_the_fundamental_not_a_subharmonic():
    t = np.arange(SR) / SR
    for f0 in (75.0, 150.0, 310.0):
        tone = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(4 * np.pi * f0 * t)
        assert np.nanmedian(pitch_track(_analysis_frames(tone))) == pytest.approx(f0, rel=0.02)
    noise = np.random.default_rng(0).normal(0, 0.1, SR)
    assert np.isnan(pitch_track(_analysis_frames(noise))).mean() > 0.8


def test_count_syllables():
    assert [count_syllables(w) for w in ("a", "meeting", "yesterday", "rhythm", "strengths")] == [1, 2, 3, 1, 1]


def test_label_rules_follow_the_documented_quadrants():
    def top(a, v):
        scores = label_scores(a, v)
        return max(scores, key=scores.get)

    assert top(0.0, 0.0) == "neutral" and label_scores(0, 0)["neutral"] > 0.5
    assert top(0.8, -0.7) == "angry" and top(0.6, 0.8) == "happy" and top(-0.8, -0.6) == "sad"
    # loud speech with neutral words is ambiguous: no class should reach the confidence bar
    assert max(label_scores(0.8, 0.0).values()) < 0.5


def test_embedded_arousal_responds_to_louder_higher_faster_speech(tmp_path):
    text = "I told you yesterday that the report has to be finished before the meeting starts"
    calm, agitated = speak(text, *CALM), speak(text, *AGITATED)
    calm_db, calm_pitch, _ = measure_prosody(calm)
    loud_db, loud_pitch, _ = measure_prosody(agitated)
    assert loud_db > calm_db + 6 and loud_pitch > calm_pitch + 3
    audio, turns = conversation(tmp_path, [(text, *CALM), (text, *AGITATED)])
    calm_emotion, agitated_emotion = EmbeddedEmotion().classify_turns(audio, turns)
    aroused = lambda e: e.scores["angry"] + e.scores["happy"]  # noqa: E731
    assert aroused(agitated_emotion) > aroused(calm_emotion) + 0.2
    assert calm_emotion.scores["sad"] > agitated_emotion.scores["sad"]


def test_embedded_labels_combine_prosody_and_words(tmp_path):
    audio, turns = conversation(tmp_path, [
        ("we will go through the agenda and then look at the numbers for this quarter", *CALM),
        ("I hate this, it is a terrible disgusting mess and you ruined everything", *AGITATED),
        ("this is wonderful, I love it, what a great and happy surprise for all of us", *AGITATED),
        ("I feel so sad and lonely, everything is lost and hopeless now", *CALM),
        ("okay", 100, 50, 175),
    ])
    progress = []
    emotions = EmbeddedEmotion().classify_turns(audio, turns, progress=lambda d, t: progress.append(d))
    labels = [e.label for e in emotions[:4]]
    assert labels[1:] == ["angry", "happy", "sad"]
    assert all(e.backend == "embedded-prosody-lexicon" for e in emotions)
    assert all(sum(e.scores.values()) == pytest.approx(1.0, abs=1e-3) for e in emotions)
    assert emotions[4].low_confidence and emotions[4].confidence == 0.0  # "okay" is under a second
    assert progress and progress == sorted(progress)


def test_embedded_without_lexicon_is_arousal_only(tmp_path):
    audio, turns = conversation(tmp_path, [
        ("I hate this, it is a terrible disgusting mess and you ruined everything", *CALM),
        ("I hate this, it is a terrible disgusting mess and you ruined everything", *AGITATED)])
    from vtxlib.emotion.embedded import EmbeddedEmotionOptions

    backend = EmbeddedEmotion(EmbeddedEmotionOptions(use_lexicon=False))
    calm, agitated = backend.classify_turns(audio, turns)
    # valence is 0 without the lexicon, so angry/happy = exp(0.5 * arousal): the hostile words count
    # for nothing and only the delivery separates the two turns
    assert agitated.scores["angry"] > agitated.scores["happy"]
    assert calm.scores["angry"] < calm.scores["happy"]
    assert calm.scores["sad"] > agitated.scores["sad"]
    assert backend.options_dict()["use_lexicon"] is False


# -- registry --------------------------------------------------------------------------------------

def test_registry_resolves_auto_and_rejects_unknown_names(monkeypatch):
    import vtxlib.emotion as registry
    import vtxlib.gpu as gpu

    assert "embedded" in registry.available_emotion_backends()  # vaderSentiment is a cpu-extra dependency
    monkeypatch.setattr(registry, "available_emotion_backends", lambda: ["embedded", "speechbrain"])
    monkeypatch.setattr(gpu, "cuda_available", lambda: False)
    assert resolve_emotion_name("auto") == "embedded"
    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    assert resolve_emotion_name("auto") == "speechbrain"
    monkeypatch.setattr(registry, "available_emotion_backends", lambda: ["embedded"])
    assert resolve_emotion_name("auto") == "embedded"  # a GPU without speechbrain
    assert create_emotion_backend("off") is None
    assert create_emotion_backend("embedded").name == "embedded"
    assert create_emotion_backend("speechbrain").name == "speechbrain"  # loads lazily
    with pytest.raises(InputError, match="expected one of"):
        resolve_emotion_name("wav2vec")


# -- speechbrain with a local model-card directory holding random weights ---------------------------

from gpu_models import CUSTOM_INTERFACE  # noqa: E402


@pytest.fixture(scope="module")
def speechbrain_card(tmp_path_factory) -> Path:
    """A directory in the model card's layout holding a tiny random wav2vec2 and random heads."""
    torch = require("torch", extra="gpu")
    require("speechbrain", extra="gpu")
    require("transformers", extra="gpu")
    from gpu_models import write_speechbrain_card

    torch.set_num_threads(1)
    return write_speechbrain_card(tmp_path_factory.mktemp("sb-card"))


def test_speechbrain_backend_through_the_model_card_interface(speechbrain_card, tmp_path):
    import torch

    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions

    audio, turns = conversation(tmp_path, [
        ("we will go through the agenda and then look at the numbers for this quarter", *CALM),
        ("I hate this, it is a terrible disgusting mess and you ruined everything", *AGITATED),
        ("okay", 100, 50, 175)])
    turns.append(Turn("SPEAKER_00", 0.0, 13.0, turns[0].words + turns[1].words))  # 2 windows
    options = SpeechBrainEmotionOptions(source=str(speechbrain_card), device="cpu")
    backend = create_emotion_backend("speechbrain", cache_dir=tmp_path / "models", options=options)
    assert isinstance(backend, SpeechBrainEmotion)
    emotions = backend.classify_turns(audio, turns)
    assert len(emotions) == 4 and all(e.backend == "speechbrain" for e in emotions)
    assert emotions[2].low_confidence and emotions[2].confidence == 0.0
    for emotion in (emotions[0], emotions[1], emotions[3]):
        assert set(emotion.scores) == set(LABELS)
        assert sum(emotion.scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert emotion.label == max(emotion.scores, key=emotion.scores.get)

    # the card's columns (neu, ang, hap, sad) land on the right labels
    from vtxlib.audio import load_audio

    samples = torch.from_numpy(load_audio(audio.path, turns[1].start, turns[1].end)).unsqueeze(0)
    probs = backend._classifier.classify_batch(samples, torch.tensor([1.0]))[0].reshape(-1)
    expected = dict(zip(["neutral", "angry", "happy", "sad"], probs.tolist()))
    assert emotions[1].scores == pytest.approx(expected, abs=1e-3)
    # the long turn is the duration-weighted mean of its two windows' scores, not one window's
    assert emotions[3].scores != pytest.approx(emotions[0].scores, abs=1e-4)
    assert (tmp_path / "models" / "speechbrain" / speechbrain_card.name / "hyperparams.yaml").exists()
    backend.close()
    assert backend._classifier is None


def test_speechbrain_batches_give_the_same_labels_as_single_windows(speechbrain_card, tmp_path):
    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions

    text = "I told you yesterday that the report has to be finished before the meeting starts"
    audio, turns = conversation(tmp_path, [(text, *CALM), (text, *CALM)])
    single = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(speechbrain_card), device="cpu"),
                                cache_dir=tmp_path / "m1").classify_turns(audio, turns)
    batched = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(speechbrain_card), device="cpu",
                                                           batch_size=2),
                                 cache_dir=tmp_path / "m2").classify_turns(audio, turns)
    for a, b in zip(single, batched):
        assert a.scores == pytest.approx(b.scores, abs=0.02)


def test_speechbrain_offline_gives_an_actionable_message(tmp_path, monkeypatch):
    require("speechbrain", extra="gpu")
    import huggingface_hub.constants

    from vtxlib.emotion.speechbrain import SpeechBrainEmotion

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    backend = SpeechBrainEmotion(cache_dir=tmp_path)
    with pytest.raises(BackendUnavailable) as info:
        backend.load()
    message = str(info.value)
    assert "speechbrain/emotion-recognition-wav2vec2-IEMOCAP" in message
    assert "facebook/wav2vec2-base" in message and "--emotion embedded" in message
    assert "\n" not in message


def test_speechbrain_incomplete_local_folder_names_the_missing_layout(tmp_path):
    require("speechbrain", extra="gpu")
    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions

    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "custom_interface.py").write_text(CUSTOM_INTERFACE)
    backend = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(tmp_path / "card")),
                                 cache_dir=tmp_path / "m")
    with pytest.raises(BackendUnavailable, match="hyperparams.yaml"):
        backend.load()


def test_speechbrain_loads_a_card_written_for_speechbrain_before_1_0(speechbrain_card, tmp_path):
    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions

    old_card = tmp_path / "old-card"
    shutil.copytree(speechbrain_card, old_card, ignore=shutil.ignore_patterns("w2v-cache"))
    yaml = (old_card / "hyperparams.yaml").read_text()
    yaml = yaml.replace("speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2",
                        "speechbrain.lobes.models.huggingface_wav2vec.HuggingFaceWav2Vec2")
    yaml = yaml.replace("    freeze: True\n", "    freeze: True\n    pretrain: False\n")
    yaml = yaml.replace(f"pretrained_path: {speechbrain_card}", f"pretrained_path: {old_card}")
    (old_card / "hyperparams.yaml").write_text(yaml)
    assert "HuggingFaceWav2Vec2" in yaml and "pretrain: False" in yaml
    backend = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(old_card), device="cpu"),
                                 cache_dir=tmp_path / "m")
    backend.load()
    assert backend._columns == ["neutral", "angry", "happy", "sad"]


@pytest.fixture
def drive_refusing_symlinks(tmp_path, monkeypatch):
    """A folder that behaves like Google Drive's FUSE mount: creating a symlink in it fails with
    errno 95 (EOPNOTSUPP)."""
    import errno
    import os

    drive = tmp_path / "drive" / "MyDrive" / "vtx"
    drive.mkdir(parents=True)
    real_symlink = os.symlink

    def symlink(src, dst, *args, **kwargs):
        if str(os.path.abspath(dst)).startswith(str(drive)):
            raise OSError(errno.EOPNOTSUPP, "Operation not supported", str(dst))
        return real_symlink(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "symlink", symlink)
    return drive


def test_speechbrain_loads_into_a_drive_folder_that_refuses_symlinks(speechbrain_card, drive_refusing_symlinks):
    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions

    models = drive_refusing_symlinks / "models"
    backend = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(speechbrain_card), device="cpu"),
                                 cache_dir=models)
    backend.load()
    assert backend._columns == ["neutral", "angry", "happy", "sad"]
    saved = models / "speechbrain" / speechbrain_card.name
    files = [p for p in saved.iterdir() if p.suffix in (".yaml", ".py", ".ckpt", ".txt")]
    assert {p.name for p in files} >= {"hyperparams.yaml", "custom_interface.py", "model.ckpt", "wav2vec2.ckpt"}
    assert not any(p.is_symlink() for p in files), "copies, not links"


def test_a_refused_file_operation_is_not_reported_as_a_download_problem(tmp_path):
    import errno

    from vtxlib.emotion.speechbrain import _load_failure_message

    cause = OSError(errno.EOPNOTSUPP, "Operation not supported")
    error = RuntimeError("while fetching")
    error.__cause__ = cause
    message = _load_failure_message("speechbrain/emotion-recognition-wav2vec2-IEMOCAP", tmp_path, error)
    assert "errno 95" in message and "internet" not in message and "\n" not in message


def test_emotion_auto_on_a_gpu_falls_back_to_the_embedded_estimator(tmp_path, monkeypatch, caplog):
    require("speechbrain", extra="gpu")
    import huggingface_hub.constants

    import vtxlib.emotion as registry
    import vtxlib.gpu as gpu

    monkeypatch.setattr(registry, "available_emotion_backends", lambda: ["embedded", "speechbrain"])
    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # the model cannot be fetched
    with caplog.at_level("WARNING", logger="vtxlib.emotion"):
        backend = create_emotion_backend("auto", cache_dir=tmp_path)
    assert backend.name == "embedded"
    warnings = [r.getMessage() for r in caplog.records if r.name == "vtxlib.emotion" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "embedded" in warnings[0] and "\n" not in warnings[0]
    with pytest.raises(BackendUnavailable):  # asked for by name, the failure stays an error
        create_emotion_backend("speechbrain", cache_dir=tmp_path).load()
