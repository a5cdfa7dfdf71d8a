"""Translated caption tracks: backend choice, the Gemini translator against a loopback stand-in of
the Gemini REST endpoint (through the real google-genai client) that misbehaves in every way a
cue-preserving translation can fail, and the pipeline writing transcript.<lang>.vtt/.srt."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import webvtt
from fakes import FakeBackend
from needs import require

genai = require("google.genai", extra="enhance")
from google.genai import types as genai_types  # noqa: E402

from vtxlib.errors import InputError, StageFailed  # noqa: E402
from vtxlib.subtitles import SubtitleOptions, VTTWriter, cue_digest, translated_cues, translation_cues  # noqa: E402
from vtxlib.translate import NoTranslationBackend, TranslationRequest, choose_translator, parse_languages  # noqa: E402
from vtxlib.translate.base import CueSource  # noqa: E402
from vtxlib.translate.canary import CANARY_PAIRS, canary_supports  # noqa: E402
from vtxlib.translate.gemini import GeminiTranslateOptions, GeminiTranslator  # noqa: E402
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Translation, Turn, Word  # noqa: E402

SPANISH = [("SPEAKER_00", "hola a todos y bienvenidos al programa de hoy"),
           ("SPEAKER_01", "gracias por invitarme es un placer estar aquí"),
           ("SPEAKER_00", "hoy hablamos del tiempo en la ciudad y de los planes para el fin de semana "
                          "porque mucha gente quiere saber si va a llover o no"),
           ("SPEAKER_01", "yo creo que va a hacer sol")]


def make_document(turns=SPANISH, language="es") -> Document:
    out, t = [], 0.5
    for speaker, text in turns:
        words = []
        for token in text.split():
            words.append(Word(text=token, start=round(t, 3), end=round(t + 0.25, 3), prob=0.9, speaker=speaker))
            t += 0.3
        out.append(Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words))
        t += 1.5
    return Document(media=MediaInfo(id="m1", title="show", source="show.wav", duration=round(t + 1, 3)),
                    transcript=AlignedTranscript(turns=out, language=language),
                    speaker_names={"SPEAKER_00": "Ana"})


# -- a loopback Gemini ---------------------------------------------------------------------------

def fake_translation(text: str) -> str:
    return "EN " + " ".join(reversed(text.split()))


def answer(cues: list[dict]) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": json.dumps({"cues": cues})}]},
                            "finishReason": "STOP"}]}


def right(cues):
    return [{"id": c["id"], "text": fake_translation(c["text"])} for c in cues]


def drops_a_cue(cues):
    return right(cues)[:-1]


def merges_two(cues):
    good = right(cues)
    good[0]["text"] += " " + good[1]["text"]
    return [good[0]] + good[2:]


def merges_into_an_empty_cue(cues):
    good = right(cues)
    good[0]["text"] += " " + good[1]["text"]
    good[1]["text"] = " "
    return good


def adds_one(cues):
    return right(cues) + [{"id": str(len(cues) + 1), "text": "an extra line"}]


def wrong_ids(cues):
    return [{"id": f"cue-{c['id']}", "text": c["text"]} for c in right(cues)]


def reorders(cues):
    good = right(cues)
    return [good[1], good[0]] + good[2:]


def not_json(cues):
    return "this is not JSON"


def unavailable(cues):
    return 503, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}


def model_not_found(cues):
    return 404, {"error": {"code": 404, "message": "models/gemini-2.5-flash is not found for API version v1beta, "
                           "or is not supported for generateContent.", "status": "NOT_FOUND"}}


class GeminiStandIn:
    """Answers generateContent with BEHAVIOURS in turn (the last one repeats); records requests. A behaviour
    answers cues (a 200 with them as the answer), a text (a 200 with that text) or (status, error body)."""

    def __init__(self, *behaviours):
        self.behaviours = list(behaviours)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                payload = json.loads(body["contents"][0]["parts"][0]["text"])
                behaviour = outer.behaviours[min(len(outer.requests), len(outer.behaviours)) - 1]
                cues = behaviour(payload["cues"])
                status = 200
                if isinstance(cues, tuple):
                    status, body = cues
                elif isinstance(cues, str):
                    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": cues}]},
                                            "finishReason": "STOP"}]}
                else:
                    body = answer(cues)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def client(self):
        return genai.Client(api_key="test-key-not-real", http_options=genai_types.HttpOptions(
            base_url=self.url, retry_options=genai_types.HttpRetryOptions(attempts=1)))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gemini():
    made = []

    def start(*behaviours):
        made.append(GeminiStandIn(*behaviours))
        return made[-1]

    yield start
    for server in made:
        server.close()


def request_for(document: Document, target="en") -> tuple[TranslationRequest, list]:
    cues = translation_cues(document)
    sources = [CueSource(id=str(k + 1), speaker=c.speaker, text=c.text, start=c.start, end=c.end)
               for k, c in enumerate(cues)]
    return TranslationRequest(cues=sources, source=document.language, target=target), cues


FAST = GeminiTranslateOptions(backoff_s=0.0, max_backoff_s=0.0, max_attempts=3)


@pytest.mark.parametrize("misbehaviour", [drops_a_cue, merges_two, merges_into_an_empty_cue, adds_one, wrong_ids,
                                          reorders, not_json])
def test_a_wrong_answer_is_rejected_and_asked_again(gemini, misbehaviour, caplog):
    server = gemini(misbehaviour, right)
    document = make_document()
    request, cues = request_for(document)
    translator = GeminiTranslator(FAST, client=server.client())
    texts = translator.translate(request)

    assert len(server.requests) == 2 and translator.attempts == 2 and len(translator.rejected) == 1
    assert list(texts) == [c.id for c in request.cues]
    assert texts == {c.id: fake_translation(c.text) for c in request.cues}
    body = server.requests[0]["body"]
    assert server.requests[0]["path"].endswith(f"/models/{FAST.model}:generateContent")
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    schema = body["generationConfig"]["responseSchema"]
    assert set(schema["properties"]) == {"cues"}  # the pydantic response_schema, as the SDK sends it
    sent = json.loads(body["contents"][0]["parts"][0]["text"])
    assert [c["id"] for c in sent["cues"]] == [c.id for c in request.cues]
    assert sent["target_language"] == "en" and sent["source_language"] == "es"
    assert "test-key-not-real" not in json.dumps(body)


def test_every_answer_wrong_fails_and_returns_nothing(gemini):
    server = gemini(drops_a_cue, merges_two, adds_one)
    request, _ = request_for(make_document())
    with pytest.raises(StageFailed, match=r"rejected 3 times .*no en track was written"):
        GeminiTranslator(FAST, client=server.client()).translate(request)
    assert len(server.requests) == 3


def test_503_then_success_is_retried_by_the_sdk_not_counted_as_a_rejection(gemini):
    server = gemini(unavailable, right)
    request, _ = request_for(make_document())
    translator = GeminiTranslator(FAST, client=server.client())
    texts = translator.translate(request)
    assert len(server.requests) == 2, "the server saw the request twice"
    assert translator.attempts == 1 and translator.rejected == [], "one generate_content call: the SDK retried"
    assert texts == {c.id: fake_translation(c.text) for c in request.cues}


def test_no_answer_after_every_attempt_fails_with_one_line(gemini):
    server = gemini(unavailable)
    request, _ = request_for(make_document())
    with pytest.raises(StageFailed) as caught:
        GeminiTranslator(FAST, client=server.client()).translate(request)
    assert str(caught.value) == ("Gemini did not answer the en translation after 3 attempts: 503 UNAVAILABLE "
                                 "The model is overloaded.")
    assert len(server.requests) == 3


def test_a_retired_translation_model_is_one_line_naming_the_variable(gemini, monkeypatch):
    from vtxlib.errors import BackendUnavailable

    monkeypatch.setenv("VTX_GEMINI_MODEL", "gemini-2.5-flash")
    server = gemini(model_not_found)
    request, _ = request_for(make_document())
    with pytest.raises(BackendUnavailable) as caught:
        GeminiTranslator(GeminiTranslateOptions(backoff_s=0.0), client=server.client()).translate(request)
    message = str(caught.value)
    assert "\n" not in message and "'gemini-2.5-flash' was not found or is retired (404 NOT_FOUND)" in message
    assert "VTX_GEMINI_MODEL=NAME in the environment" in message and message.endswith("No translation was made.")
    assert len(server.requests) == 1 and "/models/gemini-2.5-flash:" in server.requests[0]["path"]
    monkeypatch.delenv("VTX_GEMINI_MODEL")
    assert GeminiTranslateOptions().model == "gemini-flash-latest"


def test_long_documents_go_in_chunks_with_their_own_ids(gemini):
    server = gemini(right)
    request, _ = request_for(make_document(SPANISH * 6))
    options = GeminiTranslateOptions(chunk_cues=4, backoff_s=0.0)
    texts = GeminiTranslator(options, client=server.client()).translate(request)
    assert len(server.requests) == -(-len(request.cues) // 4) > 1
    assert list(texts) == [c.id for c in request.cues]


def test_translated_vtt_has_the_original_cues_voices_and_times(gemini):
    server = gemini(right)
    document = make_document()
    request, cues = request_for(document, "fr")
    texts = GeminiTranslator(FAST, client=server.client()).translate(request)
    translation = Translation(language="fr", backend="gemini", cue_digest=cue_digest(cues), cues=texts)
    original = webvtt.from_buffer(io.StringIO(VTTWriter().render(document))).captions
    translated = webvtt.from_buffer(io.StringIO(VTTWriter(translation=translation).render(document))).captions
    assert len(translated) == len(original) == len(cues)
    for a, b in zip(original, translated):
        assert (a.start, a.end) == (b.start, b.end)
        assert a.raw_text.split(">")[0] == b.raw_text.split(">")[0]  # the same <v ...> tag
        assert b.text.replace("\n", " ").startswith("EN ")


def test_a_translation_of_other_cues_is_refused():
    document = make_document()
    cues = translation_cues(document)
    bad = Translation(language="fr", backend="gemini", cue_digest="0" * 16, cues={str(k + 1): "x" for k in range(len(cues))})
    with pytest.raises(InputError, match="other cues"):
        translated_cues(document, bad)
    short = Translation(language="fr", backend="gemini", cue_digest=cue_digest(cues), cues={"1": "x"})
    with pytest.raises(InputError, match="missing ids"):
        translated_cues(document, short)


def test_translated_japanese_track_is_broken_in_characters(gemini):
    def japanese(cues):
        return [{"id": c["id"], "text": "今日はとてもいい天気ですね、明日は雨が降るかもしれません。"} for c in cues]

    server = gemini(japanese)
    document = make_document()
    request, cues = request_for(document, "ja")
    texts = GeminiTranslator(FAST, client=server.client()).translate(request)
    translation = Translation(language="ja", backend="gemini", cue_digest=cue_digest(cues), cues=texts)
    for cue in translated_cues(document, translation, SubtitleOptions()):
        assert all(len(line) <= 13 and " " not in line for line in cue.lines), cue.lines


# -- choosing a backend -------------------------------------------------------------------------

def test_backend_choice_and_the_line_naming_what_would_serve():
    assert choose_translator("auto", "es", "fr", gemini_key=True, gpu_tier=False) == "gemini"
    assert choose_translator("auto", "es", "en", gemini_key=False, gpu_tier=False) == "whisper"
    assert choose_translator("auto", "es", "en", gemini_key=False, gpu_tier=True) == "canary"
    assert choose_translator("auto", "ja", "en", gemini_key=False, gpu_tier=True) == "whisper"
    assert choose_translator("auto", "en", "de", gemini_key=False, gpu_tier=True) == "canary"
    with pytest.raises(NoTranslationBackend, match="set GEMINI_API_KEY.*only English targets are available"):
        choose_translator("auto", "es", "fr", gemini_key=False, gpu_tier=False)
    with pytest.raises(NoTranslationBackend, match="English only, not de"):
        choose_translator("whisper", "es", "de", gemini_key=True, gpu_tier=False)
    with pytest.raises(NoTranslationBackend, match="needs a Gemini API key"):
        choose_translator("gemini", "es", "en", gemini_key=False, gpu_tier=False)
    with pytest.raises(NoTranslationBackend, match="does not translate ja into de"):
        choose_translator("canary", "ja", "de", gemini_key=False, gpu_tier=True)
    with pytest.raises(NoTranslationBackend, match="needs the GPU tier"):
        choose_translator("canary", "es", "en", gemini_key=False, gpu_tier=False)


def test_canary_pairs_are_the_model_cards():
    assert CANARY_PAIRS == {("en", "de"), ("en", "es"), ("en", "fr"), ("de", "en"), ("es", "en"), ("fr", "en")}
    assert canary_supports("de", "en") and not canary_supports("de", "fr") and not canary_supports("ja", "en")
    assert canary_supports(None, "en") and not canary_supports(None, "ja")


def test_language_lists_are_checked():
    assert parse_languages(" en, pt-BR ,en") == ["en", "pt-br"]
    assert parse_languages(None) == [] and parse_languages("") == []
    with pytest.raises(InputError, match="expected language codes"):
        parse_languages("english!")


# -- the pipeline -------------------------------------------------------------------------------

class _Asr(FakeBackend):
    """The Spanish words of make_document(), counting its calls."""

    name = "fake-asr"
    calls = 0

    def transcribe(self, audio, progress=None):
        from vtxlib.types import Segment, Transcript

        type(self).calls += 1
        document = make_document()
        segments = [Segment(text=t.text, start=t.start, end=t.end,
                            words=[w.model_copy(update={"speaker": None}) for w in t.words])
                    for t in document.transcript.turns]
        return Transcript(segments=segments, language="es", backend=self.name)


class _Diarizer(FakeBackend):
    """make_document()'s speakers, each turn widened by 50 ms."""

    name = "fake-diarizer"

    def diarize(self, audio, count, progress=None):
        from vtxlib.types import Diarization, SpeakerTurn

        turns = [SpeakerTurn(t.speaker, t.start - 0.05, t.end + 0.05) for t in make_document().transcript.turns]
        return Diarization(turns, backend=self.name)


@pytest.fixture
def cli_run(tmp_path, monkeypatch, capsys):
    import wave

    import numpy as np

    from vtxlib import cli
    from vtxlib.stages.backends import BackendRegistry

    src = tmp_path / "show.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((0.2 * np.sin(np.arange(16000 * 20) / 10) * 32767).astype("<i2").tobytes())
    monkeypatch.setattr(BackendRegistry, "_create", lambda self, ctx, stage: {"asr": _Asr, "diarize": _Diarizer}[stage]())
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    _Asr.calls = 0

    def run(*extra):
        status = cli.main(["run", str(src), "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "out"),
                           "--emotion", "off", "--no-report", "-q", "--language", "es", *extra])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    run.out = tmp_path / "out"
    return run


def test_no_backend_for_the_pair_says_so_before_any_work(cli_run):
    status, out, err = cli_run("--translate", "fr")
    assert status == 1 and _Asr.calls == 0, "the ASR ran before the missing translator was reported"
    assert err.count("\n") == 1 and "set GEMINI_API_KEY" in err and "only English targets" in err
    status, out, err = cli_run("--translate", "de", "--translator", "whisper")
    assert status == 1 and _Asr.calls == 0 and "English only" in err


def test_cli_translate_writes_tracks_and_json_then_reuses_the_cache(cli_run, gemini, monkeypatch):
    from vtxlib.translate import gemini as gemini_module

    server = gemini(wrong_ids, right)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")
    monkeypatch.setattr(gemini_module, "make_client", lambda api_key, options: server.client())
    monkeypatch.setattr(GeminiTranslateOptions, "model_post_init", lambda self, ctx: setattr(self, "backoff_s", 0.0))
    status, out, err = cli_run("--translate", "en,fr")
    assert status == 0, err
    folder = next(cli_run.out.iterdir())
    original = webvtt.read(str(folder / "transcript.vtt")).captions
    document = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    assert [t["language"] for t in document["translations"]] == ["en", "fr"]
    for language in ("en", "fr"):
        track = webvtt.read(str(folder / f"transcript.{language}.vtt")).captions
        assert [(c.start, c.end) for c in track] == [(c.start, c.end) for c in original]
        assert [c.raw_text.split(">")[0] for c in track] == [c.raw_text.split(">")[0] for c in original]
        srt = webvtt.from_srt(str(folder / f"transcript.{language}.srt")).captions
        assert [(c.start, c.end) for c in srt] == [(c.start, c.end) for c in original]
        stored = next(t for t in document["translations"] if t["language"] == language)
        assert stored["backend"] == "gemini" and len(stored["cues"]) == len(original)
        assert stored["cues"]["1"] == " ".join(line for line in track[0].text.split("\n"))
    assert document["stages"]["translate"]["options"]["languages"] == ["en", "fr"]
    asked = len(server.requests)
    assert asked == 3  # en: a wrong answer, then the right one; fr: right at once
    status, out, err = cli_run("--translate", "en,fr")
    assert status == 0 and len(server.requests) == asked, "the cached translations were asked again"
    status, out, err = cli_run("--translate", "fr,de")  # cached per target language: only German is asked
    assert status == 0 and len(server.requests) == asked + 1
    assert json.loads(server.requests[-1]["body"]["contents"][0]["parts"][0]["text"])["target_language"] == "de"
    folder = next(cli_run.out.iterdir())
    tracks = sorted(p.name for p in folder.glob("transcript.*.vtt") if p.name != "transcript.styled.vtt")
    assert tracks == ["transcript.de.vtt", "transcript.fr.vtt"]


def test_rejected_translations_fail_the_run_and_write_no_track(cli_run, gemini, monkeypatch):
    from vtxlib.translate import gemini as gemini_module

    server = gemini(drops_a_cue)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")
    monkeypatch.setattr(gemini_module, "make_client", lambda api_key, options: server.client())
    monkeypatch.setattr(GeminiTranslateOptions, "model_post_init", lambda self, ctx: setattr(self, "backoff_s", 0.0))
    status, out, err = cli_run("--translate", "fr")
    assert status == 1 and "rejected 4 times" in err and len(server.requests) == 4
    assert not list(Path(cli_run.out).rglob("transcript.fr.*"))


def test_upload_dry_run_sends_the_original_and_each_translation_in_its_language(cli_run, gemini, monkeypatch):
    from vtxlib.translate import gemini as gemini_module

    server = gemini(right)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")
    monkeypatch.setattr(gemini_module, "make_client", lambda api_key, options: server.client())
    status, out, err = cli_run("--translate", "en,de", "--upload", "dQw4w9WgXcQ", "--upload-dry-run")
    assert status == 0, err
    folder = next(cli_run.out.iterdir())
    requests = {p.name: json.loads(p.read_text()) for p in folder.glob("*.youtube-request.json")}
    assert sorted(requests) == ["transcript.de.vtt.youtube-request.json", "transcript.en.vtt.youtube-request.json",
                                "transcript.vtt.youtube-request.json"]
    languages = {name: r["body"]["snippet"]["language"] for name, r in requests.items()}
    assert languages == {"transcript.vtt.youtube-request.json": "es",  # the detected language, not "en"
                         "transcript.en.vtt.youtube-request.json": "en", "transcript.de.vtt.youtube-request.json": "de"}
    assert "3 caption requests" in out
    # visible speaker labels (chevrons when uploading) are in the translated tracks as in the original
    original = webvtt.read(str(folder / "transcript.vtt")).captions
    german = webvtt.read(str(folder / "transcript.de.vtt")).captions
    import html

    labelled = [html.unescape(c.text).startswith(">> ") for c in original]
    assert [html.unescape(c.text).startswith(">> ") for c in german] == labelled and sum(labelled) >= 2


def test_notebook_upload_sends_the_translations_in_their_languages(tmp_path):
    from types import SimpleNamespace

    from vtxlib.notebook import upload_captions
    from vtxlib.subtitles import write_outputs, write_translations

    document = make_document()
    cues = translation_cues(document)
    document.translations = [Translation(language="en", backend="test", cue_digest=cue_digest(cues),
                                         cues={str(k + 1): f"line {k + 1}" for k in range(len(cues))})]
    out = tmp_path / "out"
    outputs = {**write_outputs(document, out), **write_translations(document, out)}
    result = SimpleNamespace(outputs={k: str(v) for k, v in outputs.items()}, document=document, media=document.media)
    sent = upload_captions(result, video_id="dQw4w9WgXcQ", dry_run=True, workspace=str(tmp_path / "ws"))
    assert [(r.language, r.action) for r in sent.results] == [("es", "insert"), ("en", "insert")]
    request = json.loads(Path(sent.results[1].request_path).read_text())
    assert request["media"]["path"].endswith("transcript.en.vtt") and request["body"]["snippet"]["language"] == "en"
