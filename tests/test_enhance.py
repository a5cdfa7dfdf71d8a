"""Gemini enhancement against a fake client that returns the SDK's own response types."""

from __future__ import annotations

import copy
import json
import logging
import random
import re

import pytest
from fakes import HelloAsr, OneTurnDiarizer
from needs import require

genai_types = require("google.genai.types", extra="enhance")
from google.genai import errors as genai_errors  # noqa: E402

from vtxlib import enhance as enh  # noqa: E402
from vtxlib.enhance import EnhanceOptions, EnhanceResult, EnhanceSkipped  # noqa: E402
from vtxlib.errors import InputError  # noqa: E402
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Turn, Word  # noqa: E402

# -- fixtures ---------------------------------------------------------------------------------

def make_document(turn_texts: list[tuple[str, str]], turn_gap: float = 12.0) -> Document:
    """Turns of (speaker, text); words 0.3 s apart, each turn starting ``turn_gap`` s after the last."""
    turns, t = [], 0.5
    for speaker, text in turn_texts:
        words = []
        for j, token in enumerate(text.split()):
            start = round(t + 0.3 * j, 3)
            words.append(Word(text=" " + token, start=start, end=round(start + 0.25, 3), prob=0.9,
                              speaker=speaker))
        turns.append(Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words))
        t = words[-1].end + turn_gap
    return Document(media=MediaInfo(id="m1", title="call", source="call.wav"),
                    transcript=AlignedTranscript(turns=turns, language="en"))


CALL = [
    ("SPEAKER_00", "welcome back to the show our next caller is on the line go ahead"),
    ("SPEAKER_01", "hi this is diane in new jersey and i have a question about my garden"),
    ("SPEAKER_00", "sure diane what is going on with the garden"),
    ("SPEAKER_01", "the tomatoes keep splitting after it rains"),
    ("SPEAKER_00", "that is common water them evenly and mulch the beds thanks for calling"),
]


def response(text: str, finish=genai_types.FinishReason.STOP) -> genai_types.GenerateContentResponse:
    return genai_types.GenerateContentResponse(candidates=[genai_types.Candidate(
        content=genai_types.Content(role="model", parts=[genai_types.Part(text=text)]),
        finish_reason=finish)])


def punctuate(payload: dict) -> dict:
    """What a well-behaved model answers: capitalised turn starts and 'I', a full stop per turn."""
    out = []
    for turn in payload["turns"]:
        for k, (word_id, text) in enumerate(turn["words"]):
            if k == 0 or text == "i":
                text = text[:1].upper() + text[1:]
            if k == len(turn["words"]) - 1:
                text += "."
            out.append({"id": word_id, "text": text})
    return {"words": out}


def insights(payload: dict) -> dict:
    lines = payload["transcript"].splitlines()
    names = []
    for line in lines:
        speaker, text = re.match(r"\[\d+ \| [\d:]+ \| (\S+)\] (.*)", line).groups()
        found = re.search(r"this is (\w+)", text)
        if found:
            names.append({"speaker": speaker, "name": found.group(1).title(), "evidence": found.group(0)})
    return {"summary": {"overall": "A caller asks about a garden.",
                        "speakers": [{"speaker": s, "summary": f"{s} talks."} for s in payload["speakers"]]},
            "chapters": [{"turn": 0, "title": "Intro"}, {"turn": 1, "title": "Diane's garden"},
                         {"turn": 3, "title": "Split tomatoes"}, {"turn": 99, "title": "Out of range"}],
            "speaker_names": names + [{"speaker": "SPEAKER_77", "name": "Ghost", "evidence": "-"}]}


def good_model(payload: dict, call_no: int):
    return response(json.dumps(punctuate(payload) if "turns" in payload else insights(payload)))


class FakeModels:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.requests: list[dict] = []

    def generate_content(self, *, model, contents, config):
        payload = json.loads(contents)
        self.requests.append({"model": model, "payload": payload, "config": config})
        result = self.behaviour(payload, len(self.requests))
        if isinstance(result, Exception):
            raise result
        return result


class FakeClient:
    def __init__(self, behaviour=good_model):
        self.models = FakeModels(behaviour)

    @property
    def punctuation_calls(self) -> int:
        return sum("turns" in r["payload"] for r in self.models.requests)


def api_error(code: int, status: str) -> genai_errors.APIError:
    body = {"error": {"code": code, "message": status.lower(), "status": status}}
    return (genai_errors.ClientError if code < 500 else genai_errors.ServerError)(code, body)


def frozen(document: Document) -> list[tuple]:
    """Everything enhancement must never change: count, order, speakers and timings."""
    return [(w.speaker, w.start, w.end, w.prob) for w in document.transcript.words]


def only_punctuation(**kw) -> EnhanceOptions:
    return EnhanceOptions(summary=False, chapters=False, suggest_names=False, **kw)


# -- happy path --------------------------------------------------------------------------------

def test_happy_path_corrects_text_and_keeps_every_timing():
    doc = make_document(CALL)
    before = copy.deepcopy(doc)
    client = FakeClient()
    result = enh.enhance(doc, EnhanceOptions(chunk_words=1000), client=client)

    assert doc == before, "the input document must not be modified"
    assert frozen(result.document) == frozen(before)
    texts = [t.text for t in result.document.transcript.turns]
    assert texts[0] == "Welcome back to the show our next caller is on the line go ahead."
    assert texts[1].startswith("Hi this is diane in new jersey and I have")
    assert result.document.transcript.words[0].text == " Welcome"  # ASR's leading space kept
    assert result.stats.chunks == result.stats.chunks_ok == 1
    assert result.stats.words_changed == 11  # 5 turn starts + 5 full stops + one "I"

    assert result.summary.model_dump() == {"overall": "A caller asks about a garden.",
                              "speakers": {"SPEAKER_00": "SPEAKER_00 talks.", "SPEAKER_01": "SPEAKER_01 talks."}}
    turns = doc.transcript.turns
    assert [(c.start, c.title) for c in result.chapters] == [
        (turns[0].start, "Intro"), (turns[1].start, "Diane's garden"), (turns[3].start, "Split tomatoes")]
    lines = result.chapters_text().splitlines()
    assert lines[0] == "00:00 Intro"
    assert lines[1] == f"00:{int(turns[1].start):02d} Diane's garden"
    assert {s: n.model_dump() for s, n in result.suggested_speaker_names.items()} == {
        "SPEAKER_01": {"name": "Diane", "evidence": "this is diane"}}
    assert result.document.speaker_names == {}, "names are offered, never applied"
    assert result.document.extras.enhance.chapters_text == result.chapters_text()


def test_request_uses_structured_json_output_and_per_call_timeout():
    client = FakeClient()
    enh.enhance(make_document(CALL), EnhanceOptions(model="gemini-x-flash", timeout_s=7.5, thinking_budget=0),
                client=client)
    first = client.models.requests[0]
    config = first["config"]
    assert first["model"] == "gemini-x-flash"
    assert isinstance(config, genai_types.GenerateContentConfig)
    assert config.response_mime_type == "application/json"
    assert config.response_schema is enh.PunctuationAnswer
    assert config.http_options.timeout == 7500
    retry = config.http_options.retry_options  # the SDK retries, whichever client is passed in
    assert retry.attempts == 5 and retry.initial_delay == 2.0 and retry.max_delay == 60.0
    assert set(retry.http_status_codes) == {408, 429, 500, 502, 503, 504}
    assert config.thinking_config.thinking_budget == 0
    assert client.models.requests[1]["config"].response_schema is enh.InsightsAnswer


def test_a_schema_valid_answer_parses_into_the_model_and_an_invalid_one_is_malformed():
    from vtxlib.genai_client import MalformedAnswer, read_answer

    answer = read_answer(response('{"words": [{"id": 0, "text": "Hello,"}, {"id": 1, "text": "world."}]}'),
                         enh.PunctuationAnswer)
    assert isinstance(answer, enh.PunctuationAnswer) and isinstance(answer.words[0], enh.WordText)
    assert [(w.id, w.text) for w in answer.words] == [(0, "Hello,"), (1, "world.")]
    with pytest.raises(MalformedAnswer, match=r"does not match the schema \(words\.0\.text: Field required\)"):
        read_answer(response('{"words": [{"id": 0}]}'), enh.PunctuationAnswer)
    with pytest.raises(MalformedAnswer, match="not valid JSON"):
        read_answer(response('{"words": ['), enh.PunctuationAnswer)


# -- bad answers fall back per chunk -------------------------------------------------------------

def corrupting(corrupt, bad_chunks=(2,)):
    """A model whose answers for the given punctuation call numbers are corrupted."""
    def behaviour(payload, call_no):
        if "turns" not in payload:
            return good_model(payload, call_no)
        answer = punctuate(payload)
        if call_no in bad_chunks:
            return corrupt(answer)
        return response(json.dumps(answer))
    return behaviour


def drop_last(answer):
    answer["words"].pop()
    return response(json.dumps(answer))


def swap_ids(answer):
    w = answer["words"]
    w[0]["id"], w[1]["id"] = w[1]["id"], w[0]["id"]
    return response(json.dumps(answer))


def merge_two(answer):
    w = answer["words"]
    w[0]["text"] = w[0]["text"] + " " + w[1]["text"]
    w[1]["text"] = ""
    return response(json.dumps(answer))


def respell(answer):
    answer["words"][3]["text"] = "Garden"
    return response(json.dumps(answer))


def garble(answer):
    return response(json.dumps(answer)[:-7])


def truncated(answer):
    return response(json.dumps(answer), finish=genai_types.FinishReason.MAX_TOKENS)


@pytest.mark.parametrize("corrupt, reason, bad_calls", [
    (garble, "not valid JSON", (2, 3)),  # a malformed answer is asked for again once
    (drop_last, "ids do not match", (2,)), (swap_ids, "different ids/order", (2,)),
    (merge_two, "split or merged", (2,)), (respell, "changed spelling", (2,)), (truncated, "MAX_TOKENS", (2,)),
])
def test_bad_chunk_keeps_original_words_and_warning_names_it(corrupt, reason, bad_calls, caplog):
    doc = make_document(CALL)
    client = FakeClient(corrupting(corrupt, bad_chunks=bad_calls))
    with caplog.at_level(logging.WARNING, logger="vtxlib.enhance"):
        result = enh.enhance(doc, only_punctuation(chunk_words=15), client=client)

    chunks = enh._make_chunks(doc.transcript.turns, 15)
    bad_ids = chunks[1].word_ids  # second call (and its retry) = chunk 1
    words, original = result.document.transcript.words, doc.transcript.words
    assert [words[i].text for i in bad_ids] == [original[i].text for i in bad_ids]
    assert any(words[i].text != original[i].text for i in chunks[0].word_ids)
    assert frozen(result.document) == frozen(doc)
    assert result.stats.chunks_fallback == 1 and result.stats.chunks_ok == len(chunks) - 1
    assert reason in result.stats.fallback_reasons["1"]
    assert any("chunk 1" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


def test_safety_blocked_prompt_and_safety_finish_fall_back_without_retry():
    blocked = genai_types.GenerateContentResponse(
        prompt_feedback=genai_types.GenerateContentResponsePromptFeedback(
            block_reason=genai_types.BlockedReason.SAFETY))
    stopped = genai_types.GenerateContentResponse(candidates=[genai_types.Candidate(
        finish_reason=genai_types.FinishReason.SAFETY)])
    answers = {1: blocked, 2: stopped}

    def behaviour(payload, call_no):
        return answers.get(call_no) or good_model(payload, call_no)

    client = FakeClient(behaviour)
    doc = make_document(CALL)
    result = enh.enhance(doc, only_punctuation(chunk_words=15), client=client)
    assert result.stats.fallback_reasons["0"] == "request blocked (SAFETY)"
    assert result.stats.fallback_reasons["1"] == "the answer stopped early (finish_reason SAFETY)"
    assert result.stats.retries == 0
    assert client.punctuation_calls == result.stats.chunks
    assert frozen(result.document) == frozen(doc)


# -- answers that are not JSON of the schema ---------------------------------------------------

def test_a_malformed_answer_is_asked_for_again_and_the_second_is_used():
    client = FakeClient(corrupting(garble, bad_chunks=(1,)))
    result = enh.enhance(make_document(CALL), only_punctuation(), client=client)
    assert result.stats.retries == 1 and result.stats.calls == 2 == client.punctuation_calls
    assert result.stats.chunks_ok == 1 and result.stats.chunks_fallback == 0


def test_a_malformed_answer_is_retried_then_reported_real_sdk(gemini_server, caplog):
    doc = make_document(CALL[:2])
    shapeless = {"candidates": [{"content": {"role": "model", "parts": [{"text": '{"words": [{"id": "first"}]}'}]},
                                 "finishReason": "STOP"}]}
    gemini_server["answers"] += [(200, shapeless, 0)] * 3
    with caplog.at_level(logging.INFO, logger="vtxlib.enhance"):
        result = enh.enhance(doc, only_punctuation(answer_attempts=3), client=sdk_client(gemini_server))
    assert len(gemini_server["seen"]) == 3, "asked three times (answer_attempts), then given up"
    assert result.stats.calls == 3 and result.stats.retries == 2
    reason = result.stats.fallback_reasons["0"]
    assert reason.startswith("the answer does not match the schema (words.0.id: ")
    assert result.stats.chunks_fallback == 1 and result.unfinished() is None, "an answer came: the result is final"
    assert [w.text for w in result.document.transcript.words] == [w.text for w in doc.transcript.words]
    assert sum("asking again" in r.getMessage() for r in caplog.records) == 2
    assert any("chunk 0" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


# -- transient HTTP failures: retried by google-genai itself -------------------------------------

def test_503_then_success_is_retried_by_the_sdk(gemini_server):
    doc = make_document(CALL[:2])
    unavailable = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    gemini_server["answers"] += [(503, unavailable, 0), (200, good_answer(doc), 0)]
    result = enh.enhance(doc, only_punctuation(backoff_s=0.01), client=sdk_client(gemini_server))
    assert len(gemini_server["seen"]) == 2, "the server saw the request twice"
    assert result.stats.calls == 1 and result.stats.retries == 0, "one generate_content call: the SDK retried"
    assert result.stats.chunks_ok == 1 and result.unfinished() is None
    assert result.document.transcript.turns[1].text.startswith("Hi this is diane")


def test_exhausted_retries_fall_back_and_stop_asking(gemini_server):
    unavailable = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    gemini_server["answers"] += [(503, unavailable, 0)] * 20
    doc = make_document(CALL)
    result = enh.enhance(doc, EnhanceOptions(chunk_words=15, max_retries=2, backoff_s=0.01),
                         client=sdk_client(gemini_server))
    chunks = result.stats.chunks
    assert chunks > 1 and result.stats.chunks_fallback == chunks == result.stats.chunks_unanswered
    assert len(gemini_server["seen"]) == 3, "3 attempts at the first chunk, then no more requests"
    assert result.stats.fallback_reasons["0"] == "Gemini did not answer after 3 attempts: 503 UNAVAILABLE " \
                                                 "The model is overloaded."
    assert "earlier request failed" in result.stats.fallback_reasons[str(chunks - 1)]
    assert result.summary is None and result.chapters == []
    assert [w.text for w in result.document.transcript.words] == [w.text for w in doc.transcript.words]
    assert "did not answer after 3 attempts" in result.unfinished()


@pytest.mark.parametrize("code, status, message", [
    (400, "INVALID_ARGUMENT", "rejected the API key (400 INVALID_ARGUMENT)"),
    (403, "PERMISSION_DENIED", "rejected the API key (403 PERMISSION_DENIED)"),
    (404, "NOT_FOUND", "was not found or is retired (404 NOT_FOUND); choose a current model with --enhance-model"),
])
def test_key_or_model_errors_skip_the_stage(code, status, message):
    error = api_error(code, status)
    if code == 400:
        error = genai_errors.ClientError(400, {"error": {"code": 400, "message": "API key not valid.",
                                                         "status": status,
                                                         "details": [{"reason": "API_KEY_INVALID"}]}})
    client = FakeClient(lambda payload, call_no: error)
    with pytest.raises(EnhanceSkipped) as info:
        enh.enhance(make_document(CALL), EnhanceOptions(), client=client)
    assert len(client.models.requests) == 1
    assert message in str(info.value)


# -- long transcripts and the cache -----------------------------------------------------------

def long_document(n_turns=120, seed=3) -> Document:
    rng = random.Random(seed)
    vocab = "we i you the garden rain tomato water new jersey call show question answer well".split()
    turns = [(f"SPEAKER_0{k % 3}", " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 40))))
             for k in range(n_turns)]
    return make_document(turns, turn_gap=1.0)


def test_long_transcript_is_split_into_many_bounded_chunks():
    doc = long_document()
    n_words = len(doc.transcript.words)
    client = FakeClient()
    result = enh.enhance(doc, only_punctuation(chunk_words=50), client=client)
    sent = [[i for turn in r["payload"]["turns"] for i, _ in turn["words"]] for r in client.models.requests]
    assert len(sent) == result.stats.chunks >= n_words // 50
    assert all(0 < len(ids) <= 50 for ids in sent)
    assert [i for ids in sent for i in ids] == list(range(n_words))
    assert result.stats.chunks_ok == result.stats.chunks
    assert frozen(result.document) == frozen(doc)
    for turn in result.document.transcript.turns:
        assert turn.words[0].text.strip()[0].isupper() and turn.words[-1].text.endswith(".")


def test_rerun_is_served_from_the_cache(tmp_path):
    doc = long_document(n_turns=30)
    first_client, second_client = FakeClient(), FakeClient()
    first = enh.enhance(doc, EnhanceOptions(chunk_words=60), client=first_client, cache_dir=tmp_path)
    second = enh.enhance(doc, EnhanceOptions(chunk_words=60), client=second_client, cache_dir=tmp_path)
    assert first.stats.chunks_cached == 0 and len(first_client.models.requests) == first.stats.chunks + 1
    assert second_client.models.requests == []
    assert second.stats.chunks_cached == second.stats.chunks
    assert second.document.transcript.words == first.document.transcript.words
    assert second.document.extras.enhance.stats.chunks_cached == second.stats.chunks
    assert second.summary == first.summary and second.chapters == first.chapters
    # another model is another answer: not served from this cache
    third_client = FakeClient()
    enh.enhance(doc, EnhanceOptions(chunk_words=60, model="other"), client=third_client, cache_dir=tmp_path)
    assert len(third_client.models.requests) == first.stats.chunks + 1


def test_fallen_back_chunks_are_not_cached(tmp_path):
    doc = make_document(CALL)
    enh.enhance(doc, only_punctuation(chunk_words=15), client=FakeClient(corrupting(drop_last, (1,))),
                cache_dir=tmp_path)
    again = FakeClient()
    result = enh.enhance(doc, only_punctuation(chunk_words=15), client=again, cache_dir=tmp_path)
    assert len(again.models.requests) == 1 and result.stats.chunks_ok == result.stats.chunks


# -- property: words never move -----------------------------------------------------------------

def chaotic_model(rng: random.Random):
    """Answers that are right, or broken in one of the ways models break them."""
    def behaviour(payload, call_no):
        answer = punctuate(payload)
        words = answer["words"]
        kind = rng.choice(["ok", "ok", "drop", "dup", "swap", "merge", "split", "respell", "garble",
                           "empty", "extra", "blocked"])
        if kind == "drop" and len(words) > 1:
            words.pop(rng.randrange(len(words)))
        elif kind == "dup":
            words.insert(0, dict(words[0]))
        elif kind == "swap" and len(words) > 1:
            a, b = rng.sample(range(len(words)), 2)
            words[a], words[b] = words[b], words[a]
        elif kind == "merge" and len(words) > 1:
            words[0]["text"] += " " + words[1]["text"]
            del words[1]
        elif kind == "split":
            words[-1]["text"] = "a " + words[-1]["text"]
        elif kind == "respell":
            words[rng.randrange(len(words))]["text"] = "zzz"
        elif kind == "garble":
            return response("{'words': oops")
        elif kind == "empty":
            words[0]["text"] = "   "
        elif kind == "extra":
            words.append({"id": words[-1]["id"] + 1, "text": "bonus"})
        elif kind == "blocked":
            return genai_types.GenerateContentResponse(
                prompt_feedback=genai_types.GenerateContentResponsePromptFeedback(
                    block_reason=genai_types.BlockedReason.PROHIBITED_CONTENT))
        return response(json.dumps(answer))
    return behaviour


@pytest.mark.parametrize("seed", range(40))
def test_property_word_count_order_speakers_and_timings_identical(seed):
    rng = random.Random(seed)
    doc = long_document(n_turns=rng.randint(1, 25), seed=seed)
    result = enh.enhance(doc, only_punctuation(chunk_words=rng.randint(1, 60)),
                         client=FakeClient(chaotic_model(rng)))
    assert frozen(result.document) == frozen(doc)
    assert [len(t.words) for t in result.document.transcript.turns] == [len(t.words) for t in doc.transcript.turns]
    assert [(t.speaker, t.start, t.end) for t in result.document.transcript.turns] == \
        [(t.speaker, t.start, t.end) for t in doc.transcript.turns]
    for before, after in zip(doc.transcript.words, result.document.transcript.words):
        assert enh._letters(before.text) == enh._letters(after.text)
        assert not re.search(r"\s", after.text.strip())
    assert result.stats.chunks_ok + result.stats.chunks_fallback == result.stats.chunks


# -- key handling, names, chapters, serialisation -------------------------------------------------

def test_missing_key_raises_enhance_skipped(monkeypatch, tmp_path):
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(EnhanceSkipped, match="GEMINI_API_KEY"):
        enh.enhance(make_document(CALL), secrets_dir=tmp_path)


def test_key_from_secrets_file_builds_a_real_client_with_the_retry_policy(monkeypatch, tmp_path):
    from google import genai

    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "GEMINI_API_KEY").write_text("test-key-not-real\n")
    made = {}
    monkeypatch.setattr(enh, "_ModelCaller", lambda client, *a: made.setdefault("client", client) and
                        (_ for _ in ()).throw(RuntimeError("stop here")))
    with pytest.raises(RuntimeError, match="stop here"):
        enh.enhance(make_document(CALL), EnhanceOptions(timeout_s=9), secrets_dir=tmp_path)
    client = made["client"]
    assert isinstance(client, genai.Client)
    assert client._api_client._http_options.timeout == 9000
    retry = client._api_client._http_options.retry_options
    assert retry.attempts == 5 and retry.initial_delay == 2.0 and 503 in retry.http_status_codes


def test_apply_speaker_names_is_explicit_and_checks_speakers():
    doc = make_document(CALL)
    result = enh.enhance(doc, EnhanceOptions(), client=FakeClient())
    named = enh.apply_speaker_names(result.document, result.suggested_speaker_names)
    assert named.speaker_names == {"SPEAKER_01": "Diane"}
    assert named.display_name("SPEAKER_01") == "Diane"
    assert result.document.speaker_names == {}
    assert frozen(named) == frozen(doc) and named.speakers == doc.speakers
    assert enh.apply_speaker_names(doc, {"SPEAKER_00": "Host"}).speaker_names == {"SPEAKER_00": "Host"}
    with pytest.raises(InputError, match="SPEAKER_09"):
        enh.apply_speaker_names(doc, {"SPEAKER_09": "Nobody"})
    with pytest.raises(InputError, match="empty"):
        enh.apply_speaker_names(doc, {"SPEAKER_00": {"name": " "}})


def test_chapters_use_real_turn_times_and_youtube_rules():
    doc = make_document([("A", "one two")] * 6, turn_gap=5.0)
    turns = doc.transcript.turns
    items = [{"turn": 0, "title": "Start"}, {"turn": 1, "title": "Too close"}, {"turn": 3, "title": " Later  part "},
             {"turn": 2, "title": "Backwards"}, {"turn": 5, "title": ""}, {"turn": -1, "title": "Neg"},
             {"turn": 5, "title": "End"}]
    chapters = enh._valid_chapters([enh.ChapterItem(**item) for item in items], turns)
    assert [(c.start, c.title) for c in chapters] == [(turns[0].start, "Start"), (turns[3].start, "Later part"),
                                                      (turns[5].start, "End")]
    hour = [enh.Chapter(2.0, "Intro"), enh.Chapter(61.4, "Next"), enh.Chapter(3725.0, "Late")]
    assert enh.chapters_text(hour) == "00:00 Intro\n01:01 Next\n1:02:05 Late"
    assert enh.chapters_text([]) == ""


def test_result_round_trips_through_json():
    result = enh.enhance(make_document(CALL), EnhanceOptions(chunk_words=20), client=FakeClient())
    again = EnhanceResult.model_validate_json(result.model_dump_json())
    assert again.model_dump(mode="json") == result.model_dump(mode="json")
    assert again.chapters_text() == result.chapters_text()
    assert EnhanceOptions.model_validate(EnhanceOptions(model="m").model_dump()).model == "m"


def test_long_insights_input_is_shortened_but_keeps_every_turn():
    doc = long_document(n_turns=60)
    text = enh._insights_lines(doc.transcript.turns, max_chars=3000)
    assert len(text) <= 3000
    assert [int(line.split(" |")[0][1:]) for line in text.splitlines()] == list(range(60))


# -- the real SDK client against a loopback server ---------------------------------------------

@pytest.fixture
def gemini_server():
    """A local stand-in for the Gemini REST endpoint: answers queued (status, body, delay) tuples."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"answers": [], "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["seen"].append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, payload, delay = state["answers"].pop(0) if state["answers"] else (500, {}, 0)
            time.sleep(delay)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (the timeout case)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


def sdk_client(server):
    """The real SDK client, pointed at the loopback server, with no retry of its own: the stage's
    requests carry the retry policy."""
    from google import genai

    return genai.Client(api_key="test-key-not-real", http_options=genai_types.HttpOptions(
        base_url=server["url"], retry_options=genai_types.HttpRetryOptions(attempts=1)))


def punctuation_payload(doc: Document) -> dict:
    turns, start = [], 0
    for turn in doc.transcript.turns:
        turns.append({"speaker": turn.speaker, "words": [[i, w.text.strip()] for i, w in enumerate(turn.words, start)]})
        start += len(turn.words)
    return {"turns": turns}


def good_answer(doc: Document) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": [
        {"text": json.dumps(punctuate(punctuation_payload(doc)))}]}, "finishReason": "STOP"}]}


def test_real_sdk_client_429_timeout_then_success(gemini_server):
    doc = make_document(CALL[:2])
    quota = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}
    gemini_server["answers"] += [(429, quota, 0), (200, good_answer(doc), 1.0), (200, good_answer(doc), 0)]

    options = only_punctuation(timeout_s=0.3, backoff_s=0.01)
    result = enh.enhance(doc, options, client=sdk_client(gemini_server))

    assert result.stats.calls == 1 and result.stats.chunks_ok == 1, "the SDK retried inside one call"
    assert result.document.transcript.turns[1].text.startswith("Hi this is diane in new jersey and I have")
    seen = gemini_server["seen"]
    assert len(seen) == 3 and seen[0]["path"].endswith("/models/gemini-flash-latest:generateContent")
    body = seen[0]["body"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    schema = body["generationConfig"]["responseSchema"]  # the pydantic response_schema, as the SDK sends it
    assert set(schema["properties"]) == {"words"} and schema["required"] == ["words"]
    assert json.loads(body["contents"][0]["parts"][0]["text"]) == punctuation_payload(doc)
    assert "test-key-not-real" not in json.dumps(body), "the key travels in a header only"
    assert seen[0]["headers"]["x-goog-api-key"] == "test-key-not-real"


def test_document_with_enhancements_from_a_cached_result_keeps_the_base_document():
    doc = make_document(CALL)
    doc.media.path = "/media/call.wav"  # not serialised: lost when the result comes from the cache
    result = EnhanceResult.model_validate_json(
        enh.enhance(doc, EnhanceOptions(), client=FakeClient()).model_dump_json())
    merged = enh.document_with_enhancements(result, doc)
    assert merged.media.path == "/media/call.wav" and doc.transcript.turns[0].text.startswith("welcome")
    assert merged.transcript.turns[0].text.startswith("Welcome back")
    assert frozen(merged) == frozen(doc)
    assert merged.extras.enhance.chapters_text.startswith("00:00 Intro")
    assert enh.document_with_enhancements(result).transcript.words[0].text == " Welcome"
    with pytest.raises(InputError, match="another transcript"):
        enh.document_with_enhancements(result, make_document(CALL[:2]))


# -- an enhancement that got no answer is not a finished one ------------------------------------

def unreachable(payload, call_no):
    return ConnectionError("Gemini is unreachable")


def test_requests_without_an_answer_leave_the_result_unfinished_but_rejected_answers_do_not():
    doc = make_document(CALL)
    result = enh.enhance(doc, EnhanceOptions(max_retries=1), client=FakeClient(unreachable))
    assert result.unfinished() is not None and "0 of 1 chunks corrected" in result.unfinished()
    assert "ConnectionError" in result.unfinished()
    rejected = enh.enhance(doc, only_punctuation(chunk_words=15), client=FakeClient(corrupting(drop_last, (1,))))
    assert rejected.stats.chunks_fallback == 1 and rejected.unfinished() is None
    assert enh.enhance(doc, EnhanceOptions(), client=FakeClient()).unfinished() is None


def test_cli_run_with_gemini_unreachable_fails_the_run_and_asks_again_next_time(tmp_path, monkeypatch, capsys):
    import wave

    import numpy as np

    from vtxlib import cli
    from vtxlib.stages.backends import BackendRegistry

    src = tmp_path / "talk.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((0.2 * np.sin(np.arange(32000) / 10) * 32767).astype("<i2").tobytes())
    clients = []
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")
    monkeypatch.setattr(enh, "make_client", lambda api_key, options: clients[-1])
    monkeypatch.setattr(BackendRegistry, "_create",
                        lambda self, ctx, stage: {"asr": HelloAsr, "diarize": OneTurnDiarizer}[stage]())
    argv = ["run", str(src), "--workspace", str(tmp_path / "ws"), "--enhance", "gemini", "--emotion", "off",
            "--no-report", "-q", "--language", "en"]  # a given language: no detector beside the fakes

    def run(behaviour):
        clients.append(FakeClient(behaviour))
        status = cli.main(argv)
        return status, capsys.readouterr().out, len(clients[-1].models.requests)

    status, out, asked = run(unreachable)
    assert status != 0 and asked > 0
    assert "incomplete: enhance (0 of 1 chunks corrected" in out
    status, out, asked = run(unreachable)
    assert status != 0 and asked > 0, "the failed enhancement was served from the cache"
    assert "enhance (cached)" not in out
    status, out, asked = run(good_model)
    assert status == 0 and asked > 0 and "incomplete" not in out
    status, out, asked = run(good_model)
    assert status == 0 and asked == 0 and "(cached)" in out.split("enhance", 1)[1].split(",", 1)[0]


def test_a_retired_model_is_one_line_naming_the_option_real_sdk(gemini_server, monkeypatch):
    """gemini-2.5-flash was shut down on 2026-12-01: the API answers 404 NOT_FOUND. The answer becomes one
    line naming the option (and the environment variable) to change; the env var picks the model."""
    monkeypatch.setenv("VTX_GEMINI_MODEL", "gemini-2.5-flash")
    retired = {"error": {"code": 404, "message": "models/gemini-2.5-flash is not found for API version v1beta, "
                         "or is not supported for generateContent.", "status": "NOT_FOUND"}}
    gemini_server["answers"] += [(404, retired, 0)]
    with pytest.raises(EnhanceSkipped) as info:
        enh.enhance(make_document(CALL[:2]), only_punctuation(), client=sdk_client(gemini_server))
    message = str(info.value)
    assert len(gemini_server["seen"]) == 1, "a 404 is not asked again"
    assert gemini_server["seen"][0]["path"].endswith("/models/gemini-2.5-flash:generateContent")
    assert "\n" not in message and "'gemini-2.5-flash' was not found or is retired (404 NOT_FOUND)" in message
    assert "--enhance-model" in message and "ENHANCE_MODEL" in message and "VTX_GEMINI_MODEL" in message
    monkeypatch.delenv("VTX_GEMINI_MODEL")
    assert EnhanceOptions().model == "gemini-flash-latest"


def test_the_summary_and_chapters_are_asked_for_in_the_transcripts_language():
    spanish = make_document(CALL)
    spanish.language = "es"
    client = FakeClient()
    enh.enhance(spanish, EnhanceOptions(chunk_words=1000), client=client)
    insights = [r["config"] for r in client.models.requests if r["config"].response_schema is enh.InsightsAnswer]
    assert len(insights) == 1
    assert "in the transcript's language (ISO 639-1 code es); do not translate" in insights[0].system_instruction

    unknown = make_document(CALL)
    unknown.language = None
    client = FakeClient()
    enh.enhance(unknown, EnhanceOptions(chunk_words=1000), client=client)
    assert all("transcript's language" not in r["config"].system_instruction for r in client.models.requests)
