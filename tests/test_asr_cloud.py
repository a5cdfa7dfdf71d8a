"""Hosted ASR (AssemblyAI, Gemini) through their official SDKs against loopback fakes; the router; consent."""

from __future__ import annotations

import json
import logging
import re
import socket

import pytest
from needs import require

require("assemblyai", extra="cloud")
require("google.genai", extra="cloud")

from cloud_fakes import FakeAssemblyAI, FakeGemini, words_of_script  # noqa: E402

from vtxlib.asr import CloudSettings, create_asr  # noqa: E402
from vtxlib.asr.assemblyai import AssemblyAIAsr, AssemblyAIOptions  # noqa: E402
from vtxlib.asr.cloud import DRY_RUN_FILE, CloudAsrError, ConsentRequired  # noqa: E402
from vtxlib.asr.gemini import GeminiAsr, GeminiAsrOptions, plan_chunks  # noqa: E402
from vtxlib.asr.router import AsrRequest, AsrRouter, rank_backends  # noqa: E402
from vtxlib.audio import read_info  # noqa: E402
from vtxlib.testing.synth import make_conversation  # noqa: E402
from vtxlib.types import Segment, Transcript, Word  # noqa: E402

KEY = "test-key-not-real-7d1c"
FAILURE_MODES = ("401", "429", "500", "timeout", "malformed", "partial")


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    return make_conversation(tmp_path_factory.mktemp("conv"), num_speakers=2, target_seconds=20, seed=3)


@pytest.fixture
def script(conversation):
    return [(t.speaker, t.start, t.end, t.text) for t in conversation.turns]


@pytest.fixture
def audio(conversation, tmp_path):
    import shutil

    target = tmp_path / "media" / "audio.wav"  # the dry run writes beside the audio
    target.parent.mkdir()
    shutil.copy(conversation.wav, target)
    return read_info(target)


@pytest.fixture
def aai_fake(script, conversation, monkeypatch):
    fake = FakeAssemblyAI(script, conversation.duration)
    monkeypatch.setenv("VTX_ASSEMBLYAI_BASE_URL", fake.url)
    yield fake
    fake.close()
    assert fake.errors == [], "the fake itself failed"


@pytest.fixture
def gemini_fake(script, monkeypatch):
    fake = FakeGemini(script)
    monkeypatch.setenv("VTX_GEMINI_BASE_URL", fake.url)
    yield fake
    fake.close()
    assert fake.errors == [], "the fake itself failed"


class ScriptAligner:
    """The local recognizer's words, as the script says (times shifted by 20 ms, one word missed)."""

    name = "whisper-cpu"
    takes_speech = False

    def __init__(self, script):
        self.words = [Word(t, s + 0.02, e + 0.02) for t, s, e, _ in words_of_script(script)]
        del self.words[3]

    def transcribe(self, audio, progress=None, **_):
        return Transcript([Segment("x", 0, 1, self.words)], backend="whisper-cpu")

    def close(self):
        pass


class LocalStandIn:
    name = "whisper-cpu"
    takes_speech = False

    def options_dict(self):
        return {"model": "stand-in"}

    def transcribe(self, audio, progress=None, **_):
        return Transcript([Segment("local words", 0.0, 1.0, [Word("local", 0.0, 0.5), Word("words", 0.5, 1.0)])],
                          backend="whisper-cpu")

    def close(self):
        pass


def no_sleep(seconds):
    no_sleep.calls.append(seconds)


def assemblyai(**options) -> AssemblyAIAsr:
    no_sleep.calls = []
    options = {"poll_first_s": 0.01, "http_timeout_s": 1.0, **options}
    return AssemblyAIAsr(AssemblyAIOptions(**options), api_key=KEY, allow_cloud=True, sleep=no_sleep)


def gemini(script, **options) -> GeminiAsr:
    options = {"timeout_s": 1.0, "retry_backoff_s": 0.01, **options}
    return GeminiAsr(GeminiAsrOptions(**options), api_key=KEY, allow_cloud=True, aligner=ScriptAligner(script))


# -- AssemblyAI ---------------------------------------------------------------------------------

def test_assemblyai_transcribes_with_word_times_language_sentiment_and_chapters(aai_fake, audio, script):
    transcript = assemblyai(speaker_labels=True).transcribe(audio)

    expected = words_of_script(script)
    assert [w.text for w in transcript.words] == [t for t, *_ in expected]
    assert transcript.words[0].start == pytest.approx(expected[0][1], abs=0.001)
    assert transcript.words[0].prob == pytest.approx(0.93)
    assert transcript.language == "en" and transcript.backend == "assemblyai"
    extras = transcript.extras.assemblyai
    assert extras.language_code == "en_us" and extras.language_confidence == pytest.approx(0.9817)
    assert [s.sentiment for s in extras.sentiments][:3] == ["POSITIVE", "NEUTRAL", "NEGATIVE"]
    assert extras.chapters[0].headline == "A conversation"
    assert {t.speaker for t in extras.speaker_turns} == {"SPEAKER_00", "SPEAKER_01"}
    upload, create = aai_fake.seen[0], aai_fake.seen[1]
    assert upload.path == "/v2/upload" and len(upload.body) == audio_bytes(audio)
    config = json.loads(create.body)
    assert config["language_detection"] is True and config["speaker_labels"] is True
    assert config["sentiment_analysis"] is True and config["auto_chapters"] is True
    assert all(r.headers["authorization"] == KEY for r in aai_fake.seen)
    assert all(KEY.encode() not in r.body for r in aai_fake.seen), "the key travels in a header only"
    assert no_sleep.calls and no_sleep.calls[0] == pytest.approx(0.01), "polled, with a wait between polls"


def audio_bytes(audio):
    from pathlib import Path

    return Path(audio.path).stat().st_size


def test_assemblyai_asks_for_no_labels_unless_they_are_the_diarization(aai_fake, audio):
    transcript = assemblyai(language="de").transcribe(audio)
    config = json.loads(aai_fake.seen[1].body)
    assert "speaker_labels" not in config and "language_detection" not in config and config["language_code"] == "de"
    assert transcript.extras.assemblyai.speaker_turns == []


@pytest.mark.parametrize("endpoint,mode,kind", [
    ("upload", "401", "auth"), ("create", "429", "quota"), ("poll", "500", "service"),
    ("upload", "timeout", "timeout"), ("poll", "malformed", "malformed"), ("poll", "partial", "partial"),
    ("poll", "job_error", "unsupported")])
def test_assemblyai_failure_classes(aai_fake, audio, endpoint, mode, kind):
    aai_fake.fail += [(endpoint, mode)] * 4
    with pytest.raises(CloudAsrError) as caught:
        assemblyai(retries=1).transcribe(audio)
    assert caught.value.kind == kind and str(caught.value).startswith("assemblyai: ")
    assert KEY not in str(caught.value)


def test_assemblyai_waits_out_a_short_retry_after_then_succeeds(aai_fake, audio):
    aai_fake.fail += [("create", "429")]
    transcript = assemblyai(retries=2).transcribe(audio)
    assert transcript.words and 1.0 in no_sleep.calls, "Retry-After: 1 was honoured"


def test_assemblyai_poll_gives_up_after_its_timeout(aai_fake, audio):
    aai_fake.polls_needed = None
    backend = assemblyai(timeout_s=0.0)
    with pytest.raises(CloudAsrError) as caught:
        backend.transcribe(audio)
    assert caught.value.kind == "timeout" and "still processing" in str(caught.value)


# -- Gemini -------------------------------------------------------------------------------------

def test_gemini_inline_structured_output_and_local_word_times(gemini_fake, audio, script):
    transcript = gemini(script).transcribe(audio)

    expected = words_of_script(script)
    assert [w.text for w in transcript.words] == [t for t, *_ in expected]
    anchored = [w for i, w in enumerate(transcript.words) if i != 3]
    assert all(abs(w.start - (e[1] + 0.02)) < 0.002 for w, e in zip(anchored, expected[:3] + expected[4:]))
    missed = transcript.words[3]
    assert transcript.words[2].end <= missed.start < missed.end <= transcript.words[4].start + 1e-6
    assert transcript.extras.gemini_asr.words_anchored == len(expected) - 1
    body = json.loads(gemini_fake.seen[0].body)
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "segments" in json.dumps(config["responseSchema"])
    assert "inlineData" in json.dumps(body["contents"]) and KEY not in json.dumps(body)
    assert gemini_fake.seen[0].headers["x-goog-api-key"] == KEY


def test_gemini_large_audio_goes_through_the_files_api(gemini_fake, audio, script):
    transcript = gemini(script, inline_max_bytes=1000).transcribe(audio)
    paths = [(r.method, r.path.split("?")[0]) for r in gemini_fake.seen]
    assert paths[0][0] == "POST" and re.fullmatch(r"/upload/v1[a-z0-9]*/files", paths[0][1])
    assert paths[1][1].startswith("/upload-session/")
    assert "fileData" in json.dumps(json.loads(gemini_fake.seen[2].body)["contents"])
    assert paths[-1][0] == "DELETE", "the uploaded file is deleted once used"
    assert len(transcript.words) == len(words_of_script(script))


def test_long_audio_is_split_at_pauses_and_joined_without_losing_or_doubling_words(gemini_fake, audio, script):
    transcript = gemini(script, chunk_max_s=6.0).transcribe(audio)

    parts = gemini_fake.answered_parts
    assert len(parts) >= 3 and parts[0][0] == 0.0 and parts[-1][1] == pytest.approx(audio.duration, abs=0.01)
    assert all(b[0] == pytest.approx(a[1], abs=0.01) for a, b in zip(parts, parts[1:])), "parts tile the file"
    assert all(b - a <= 6.0 + 1e-6 for a, b in parts)
    assert [w.text for w in transcript.words] == [t for t, *_ in words_of_script(script)]
    assert transcript.extras.gemini_asr.chunks == len(parts)
    speech = [(s, e) for _, s, e, _ in script]
    for _, cut in parts[:-1]:
        assert not any(s < cut < e for s, e in speech), f"the cut at {cut:.2f} s is inside a turn"


def test_plan_chunks_cuts_in_the_longest_pause_of_the_second_half():
    speech = [(0, 3), (3.2, 5), (6.5, 9), (9.1, 14)]
    chunks = plan_chunks(14.0, speech, max_s=10.0)
    assert [(c.start, c.end) for c in chunks] == [(0.0, 5.75), (5.75, 14.0)]
    assert plan_chunks(4.0, speech, 10.0)[0].end == 4.0
    hard = plan_chunks(30.0, [(0, 30)], 10.0)
    assert [c.end for c in hard] == [10.0, 20.0, 30.0]


@pytest.mark.parametrize("mode,kind", [("401", "auth"), ("429", "quota"), ("500", "service"), ("timeout", "timeout"),
                                       ("malformed", "malformed"), ("partial", "partial")])
def test_gemini_failure_classes(gemini_fake, audio, script, mode, kind):
    gemini_fake.fail += [mode] * 4
    with pytest.raises(CloudAsrError) as caught:
        gemini(script, retries=1).transcribe(audio)
    assert caught.value.kind == kind and str(caught.value).startswith("gemini: ")


def generate_requests(fake) -> list:
    return [r for r in fake.seen if r.path.endswith(":generateContent")]


@pytest.mark.parametrize("mode", ["503", "429", "500", "timeout"])
def test_gemini_transient_failure_then_success_is_retried_by_the_sdk(gemini_fake, audio, script, mode):
    gemini_fake.fail += [mode]
    transcript = gemini(script, retries=2).transcribe(audio)
    assert len(generate_requests(gemini_fake)) == 2, "the SDK asked again, once"
    assert [w.text for w in transcript.words] == [t for t, *_ in words_of_script(script)]


def test_gemini_retries_stop_after_the_configured_attempts(gemini_fake, audio, script):
    gemini_fake.fail += ["503"] * 10
    with pytest.raises(CloudAsrError) as caught:
        gemini(script, retries=2).transcribe(audio)
    assert caught.value.kind == "service" and "503 UNAVAILABLE" in str(caught.value)
    assert len(generate_requests(gemini_fake)) == 3


def test_a_retired_gemini_asr_model_is_one_line_naming_the_option(gemini_fake, audio, script, monkeypatch):
    monkeypatch.setenv("VTX_GEMINI_MODEL", "gemini-2.5-flash")
    gemini_fake.fail += ["404"]
    with pytest.raises(CloudAsrError) as caught:
        gemini(script, retries=2).transcribe(audio)
    message = str(caught.value)
    assert caught.value.kind == "model" and "\n" not in message
    assert "'gemini-2.5-flash' was not found or is retired (404 NOT_FOUND)" in message
    assert "--asr-model NAME with --asr gemini" in message and "VTX_GEMINI_MODEL" in message, message
    seen = generate_requests(gemini_fake)
    assert len(seen) == 1 and "/models/gemini-2.5-flash:" in seen[0].path, "the env var picks it; no retry"
    monkeypatch.delenv("VTX_GEMINI_MODEL")
    assert GeminiAsrOptions().model == "gemini-flash-latest"


# -- the router ---------------------------------------------------------------------------------

def router(script, keys=("assemblyai", "gemini"), speakers=False) -> AsrRouter:
    made = {"assemblyai": lambda: assemblyai(retries=0), "gemini": lambda: gemini(script, retries=0),
            "whisper-cpu": LocalStandIn}
    return AsrRouter(AsrRequest(keys=keys, speakers_from_asr=speakers), lambda name: made[name]())


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_router_falls_back_on_every_failure_class(aai_fake, gemini_fake, audio, script, mode, caplog):
    endpoint = {"401": "upload", "429": "create", "timeout": "upload"}.get(mode, "poll")
    aai_fake.fail += [(endpoint, mode)]
    with caplog.at_level(logging.INFO, logger="vtxlib"):
        transcript = router(script).transcribe(audio)
    assert transcript.backend == "gemini"
    assert [(a.backend, a.ok) for a in transcript.routing.attempts] == [("assemblyai", False), ("gemini", True)]
    assert "asr: transcript by gemini (auto, after assemblyai failed)" in caplog.text

    gemini_fake.fail += [mode]
    aai_fake.fail += [(endpoint, mode)]
    transcript = router(script).transcribe(audio)
    assert transcript.backend == "whisper-cpu" and transcript.routing.produced_by == "whisper-cpu"
    assert KEY not in caplog.text


def test_router_order_follows_the_request():
    order = lambda **kw: [n for n, _ in rank_backends(AsrRequest(**kw), 600.0)]  # noqa: E731
    assert order() == ["whisper-cpu"]
    assert order(keys=("gemini",)) == ["gemini", "whisper-cpu"]
    assert order(keys=("assemblyai", "gemini")) == ["assemblyai", "gemini", "whisper-cpu"]
    assert order(keys=("assemblyai", "gemini"), speakers_from_asr=True) == ["assemblyai", "whisper-cpu"]
    assert order(keys=("assemblyai", "gemini"), gpu=True) == ["nemo", "assemblyai", "gemini", "whisper-cpu"]
    assert order(keys=("assemblyai", "gemini"), gpu=True, language="fr") == ["assemblyai", "gemini", "nemo",
                                                                             "whisper-cpu"]
    assert [n for n, _ in rank_backends(AsrRequest(keys=("assemblyai",)), 11 * 3600.0)] == ["whisper-cpu"]


# -- consent and dry runs ------------------------------------------------------------------------

@pytest.fixture
def connections(monkeypatch):
    """Every connect() any socket of this process makes."""
    made = []
    real = socket.socket.connect

    def connect(self, address):
        made.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return made


def test_without_consent_nothing_leaves_the_process(aai_fake, gemini_fake, audio, monkeypatch, connections):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    for name in ("assemblyai", "gemini"):
        with pytest.raises(ConsentRequired, match="--allow-cloud"):
            create_asr(name)
    backend = create_asr("auto", cloud=CloudSettings(allow_cloud=False))
    assert backend.name in ("whisper-cpu", "nemo")
    with pytest.raises(ConsentRequired):  # a backend built with consent withheld refuses at transcribe too
        AssemblyAIAsr(api_key=KEY).transcribe(audio)
    assert aai_fake.seen == [] and gemini_fake.seen == [] and connections == []


def test_dry_run_writes_the_requests_and_sends_nothing(aai_fake, gemini_fake, audio, script, connections, caplog):
    made = {"assemblyai": AssemblyAIAsr(api_key=KEY, allow_cloud=True, dry_run=True),
            "gemini": GeminiAsr(api_key=KEY, allow_cloud=True, dry_run=True), "whisper-cpu": LocalStandIn()}
    with caplog.at_level(logging.WARNING, logger="vtxlib"):
        transcript = AsrRouter(AsrRequest(keys=("assemblyai", "gemini")), made.get).transcribe(audio)
    assert transcript.backend == "whisper-cpu"
    from pathlib import Path

    planned = json.loads((Path(audio.path).parent / DRY_RUN_FILE).read_text())
    assert [(p["backend"], p["method"], p["url"].split("/", 3)[-1]) for p in planned][:2] == [
        ("assemblyai", "POST", "v2/upload"), ("assemblyai", "POST", "v2/transcript")]
    assert any(p["backend"] == "gemini" and ":generateContent" in p["url"] for p in planned)
    assert "dry run, not sent: POST" in caplog.text
    assert "asr: transcript by whisper-cpu (auto, dry run for assemblyai, gemini)" in caplog.text
    assert aai_fake.seen == [] and gemini_fake.seen == [] and connections == []


def test_one_line_says_what_is_sent_where_before_the_upload(aai_fake, audio, caplog):
    with caplog.at_level(logging.WARNING, logger="vtxlib"):
        assemblyai().transcribe(audio)
    lines = [r.getMessage() for r in caplog.records if "sending" in r.getMessage()]
    assert len(lines) == 1 and f"to 127.0.0.1:{aai_fake.server.server_port} (assemblyai)" in lines[0]
    assert "s of audio" in lines[0] and KEY not in caplog.text


# -- whole runs from the fakes ------------------------------------------------------------------

def test_full_run_with_assemblyai_and_its_speaker_labels(aai_fake, conversation, tmp_path, monkeypatch):
    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.types import Document
    from vtxlib.workspace import Workspace

    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    options = PipelineOptions(asr="assemblyai", allow_cloud=True, emotion="embedded")
    with Pipeline(Workspace(tmp_path / "ws"), options) as pipeline:
        result = pipeline.run(str(conversation.wav), out_dir=tmp_path / "out")
    assert result.document.stages["diarize"].backend == "assemblyai", "auto with --asr assemblyai: its labels"
    assert json.loads(aai_fake.seen[1].body)["speaker_labels"] is True
    doc = Document.load(result.outputs["json"])
    assert doc.speakers == ["SPEAKER_00", "SPEAKER_01"]
    reference = _merged([t.speaker for t in conversation.turns])
    names = {s: f"SPEAKER_{i:02d}" for i, s in enumerate(dict.fromkeys(reference))}
    assert [t.speaker for t in doc.transcript.turns] == [names[s] for s in reference]
    assert all(t.emotion is not None and t.emotion.backend != "assemblyai" for t in doc.transcript.turns)
    assert doc.extras.assemblyai.sentiments and doc.extras.assemblyai.chapters
    report = result.outputs["report"].read_text()
    assert "AssemblyAI sentiment (per sentence)" in report and "not vtx&#x27;s emotion" not in report
    assert "AssemblyAI's own sentiment model" in report and "A conversation" in report
    assert re.search(r"<v[.a-z]* SPEAKER_00>", result.outputs["vtt"].read_text())
    record = json.loads((tmp_path / "ws").joinpath("media", result.media.id, "backends.json").read_text()) \
        if (tmp_path / "ws" / "media").exists() else pipeline.recorded_backends(result.media.id)
    assert record["asr"]["backend"] == "assemblyai" and record["diarize"]["backend"] == "assemblyai"


def _merged(speakers):
    """Consecutive turns of one speaker become one turn (as align makes them)."""
    out = []
    for s in speakers:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_full_run_with_gemini_and_the_local_aligner(gemini_fake, conversation, tmp_path, monkeypatch):
    from vtxlib.metrics import wer as word_error_rate
    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.workspace import Workspace

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    options = PipelineOptions(asr="gemini", allow_cloud=True, emotion="embedded")
    with Pipeline(Workspace(tmp_path / "ws"), options) as pipeline:
        result = pipeline.run(str(conversation.wav), out_dir=tmp_path / "out")
    doc = result.document
    reference = " ".join(t.text for t in conversation.turns)
    assert word_error_rate(reference, " ".join(w.text for w in doc.transcript.words)) < 0.05
    assert doc.extras.gemini_asr.aligner.startswith("whisper-cpu") and doc.extras.gemini_asr.words_anchored > 0
    assert result.document.stages["diarize"].backend == "embedded", "vtx's own diarizer runs with gemini"
    assert len(doc.speakers) == 2 and "report" in result.outputs and "vtt" in result.outputs
    assert "Words by Gemini" in result.outputs["report"].read_text()


def test_cli_auto_without_consent_sends_nothing_and_a_named_cloud_backend_asks_for_it(
        aai_fake, gemini_fake, conversation, tmp_path, monkeypatch, capsys):
    from vtxlib import cli

    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    status = cli.main(["run", str(conversation.wav), "--workspace", str(tmp_path / "ws"), "--asr", "assemblyai",
                       "-q"])
    err = capsys.readouterr().err
    assert status == 1 and "nothing is uploaded without consent; add --allow-cloud" in err
    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.workspace import Workspace

    with Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(asr="auto")) as pipeline:
        result = pipeline.run(str(conversation.wav), until="asr")
    assert result.transcript.backend == "whisper-cpu" and result.transcript.words
    assert aai_fake.seen == [] and gemini_fake.seen == []


def test_a_dry_run_needs_no_consent_shows_every_hosted_backend_and_has_its_own_cache_key(
        aai_fake, gemini_fake, audio, monkeypatch, connections):
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    dry = create_asr("auto", cloud=CloudSettings(dry_run=True))
    assert [n for n, _ in rank_backends(dry.request, audio.duration)][:2] == ["assemblyai", "gemini"]
    with pytest.raises(CloudAsrError, match="dry run: nothing was sent"):
        create_asr("assemblyai", cloud=CloudSettings(dry_run=True)).transcribe(audio)
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    real = create_asr("auto", cloud=CloudSettings(allow_cloud=True))
    assert real.options_dict() != dry.options_dict() and real.options_dict()["dry_run"] is False
    assert aai_fake.seen == [] and gemini_fake.seen == [] and connections == []


def test_auto_records_the_backend_that_made_the_transcript_and_keys_the_cache_by_consent(
        aai_fake, gemini_fake, conversation, tmp_path, monkeypatch):
    from vtxlib.pipeline import Pipeline, PipelineOptions
    from vtxlib.workspace import Workspace

    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    workspace = Workspace(tmp_path / "ws")
    consent = PipelineOptions(asr="auto", allow_cloud=True)
    with Pipeline(workspace, consent) as pipeline:
        aai_fake.fail += [("upload", "401")]
        first = pipeline.run(str(conversation.wav), until="asr")
        assert first.transcript.backend == "whisper-cpu", "assemblyai refused the key: the local fallback"
        assert pipeline.recorded_backends(first.media.id)["asr"] == {
            **pipeline.recorded_backends(first.media.id)["asr"], "backend": "whisper-cpu", "chosen_by": "auto"}
    with Pipeline(workspace, consent.replace(force="asr")) as pipeline:
        second = pipeline.run(str(conversation.wav), until="asr")
    assert second.transcript.backend == "assemblyai" and second.keys["asr"] == first.keys["asr"]
    assert pipeline.recorded_backends(second.media.id)["asr"]["backend"] == "assemblyai"
    assert [a.backend for a in second.transcript.routing.attempts] == ["assemblyai"]
    requests = len(aai_fake.seen)
    with Pipeline(workspace, consent) as pipeline:
        cached = pipeline.run(str(conversation.wav), until="asr")
    assert cached.transcript.backend == "assemblyai" and len(aai_fake.seen) == requests, "served from the cache"
    with Pipeline(workspace, PipelineOptions(asr="auto")) as pipeline:
        local = pipeline.run(str(conversation.wav), until="asr")
    assert local.keys["asr"] != cached.keys["asr"] and local.transcript.backend == "whisper-cpu"
    assert len(aai_fake.seen) == requests


def test_key_is_never_logged_even_at_debug(aai_fake, audio, monkeypatch, caplog):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    with caplog.at_level(logging.DEBUG):
        create_asr("assemblyai", cloud=CloudSettings(allow_cloud=True)).transcribe(audio)
        aai_fake.fail += [("upload", "401")]
        with pytest.raises(CloudAsrError):
            create_asr("assemblyai", cloud=CloudSettings(allow_cloud=True)).transcribe(audio)
    assert caplog.records and KEY not in caplog.text


def test_the_service_takes_consent_as_a_setting():
    require("fastapi", extra="service")
    from vtxlib.cli import build_parser, pipeline_options_from_args

    assert pipeline_options_from_args(build_parser().parse_args(["serve", "--allow-cloud"])).allow_cloud is True
    assert pipeline_options_from_args(build_parser().parse_args(["serve"])).allow_cloud is False


def test_a_router_that_used_the_gpu_model_is_released_after_the_stage(audio):
    closed = []

    class Gpu(LocalStandIn):
        name = "nemo"

        def close(self):
            closed.append(self.name)

    made = {"nemo": Gpu(), "whisper-cpu": LocalStandIn()}
    routed = AsrRouter(AsrRequest(gpu=True), made.get)
    assert not routed.uses_gpu
    routed.transcribe(audio)
    assert routed.uses_gpu
    routed.close()
    assert closed == ["nemo"]
