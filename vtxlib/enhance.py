"""Gemini enhancement: punctuation/casing restoration that never moves a timestamp, a summary,
YouTube chapters and suggested speaker names.

The transcript's words are sent in chunks, each word with an id; the model answers with the
corrected text per id as structured JSON. A chunk's answer is used only if it has exactly the
ids that were sent, in order, one token per word and the same letters (casing and punctuation
are what may change); otherwise that chunk keeps its original words and a warning names it. So
word count, order, speakers and every start/end are identical before and after.

Without a key the stage raises :class:`EnhanceSkipped` (a :class:`~vtxlib.errors.VtxError`); the
pipeline catches it, logs the one-line message and goes on without enhancement.

Answers are structured JSON of a pydantic ``response_schema`` (:class:`PunctuationAnswer`,
:class:`InsightsAnswer`) read back with ``model_validate_json``. Timeouts, 408, 429 and 5xx are
retried by google-genai itself (:func:`vtxlib.genai_client.http_options`); an answer that is not
JSON of the schema is asked for again (tenacity), up to ``answer_attempts`` in all.

A request that got no answer (Gemini unreachable, retries exhausted) is different from an answer
that was rejected: the result then says so (:meth:`EnhanceResult.unfinished`), and the pipeline
neither caches it nor reports the run as complete, so a later run asks again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

from pydantic import BaseModel, Field, ValidationError

from .errors import BackendUnavailable, InputError, StageFailed
from .genai_client import AnswerRejected as ResponseRejected
from .genai_client import MalformedAnswer, default_model, model_help
from .secrets import get_secret
from .timefmt import clock
from .types import (
    Chapter,
    Document,
    EnhanceExtras,
    EnhanceStats,
    OptionsModel,
    SuggestedName,
    Summary,
    Turn,
    VtxModel,
    Word,
)
from .workspace import atomic_write_json

log = logging.getLogger("vtxlib.enhance")

PROMPT_VERSION = 2  # part of every cache key (with the schema): change it when a prompt changes
YOUTUBE_MIN_CHAPTER_S = 10.0

PUNCTUATION_INSTRUCTIONS = """\
You restore punctuation and casing in an automatic speech transcript.
The input is JSON: speaker turns, each with words given as [id, text].
Return every id exactly once, in the same order, each with its corrected text.
Rules:
- Only change capitalisation and add or remove punctuation attached to the word
  (for example "hello" -> "Hello," or "im" -> "I'm").
- Never merge, split, drop, add or reorder words; never put a space inside a word's text.
- Do not change spelling, translate, or rephrase.
"""

INSIGHTS_INSTRUCTIONS = """\
You read a speaker-attributed transcript. Each line is "[turn index | start time | speaker] text".
Return JSON with:
- summary.overall: a short paragraph summarising the conversation;
- summary.speakers: for each speaker label, one or two sentences on what they said;
- chapters: YouTube-style chapters, each {"turn": index of the turn where it begins, "title": a short
  title}; the first chapter begins at turn 0; chapters follow the order of the transcript;
- speaker_names: for each speaker label whose real name is stated or clearly implied in the
  transcript (e.g. "This is Diane in New Jersey"), {"speaker", "name", "evidence": the words that
  show it}. Leave out speakers whose name is not evident; never guess.
"""

class WordText(BaseModel):
    id: int
    text: str


class PunctuationAnswer(BaseModel):
    """The punctuation answer (``response_schema``): every word id sent, with its corrected text."""

    words: list[WordText]


class SpeakerSummary(BaseModel):
    speaker: str
    summary: str


class SummaryAnswer(BaseModel):
    overall: str
    speakers: list[SpeakerSummary]


class ChapterItem(BaseModel):
    turn: int = Field(description="index of the turn where the chapter begins")
    title: str


class NameItem(BaseModel):
    speaker: str
    name: str
    evidence: str = Field(description="the words of the transcript that show the name")


class InsightsAnswer(BaseModel):
    """The summary/chapters/names answer (``response_schema``)."""

    summary: SummaryAnswer
    chapters: list[ChapterItem]
    speaker_names: list[NameItem]


class EnhanceSkipped(BackendUnavailable):
    """Enhancement cannot run here (no API key, or google-genai missing); the pipeline goes on."""


MODEL_HELP = model_help("--enhance-model NAME", "notebooks: ENHANCE_MODEL")


class EnhanceOptions(OptionsModel):
    model: str = Field(default_factory=default_model)
    chunk_words: int = 300
    timeout_s: float = 120.0
    max_retries: int = 4  # HTTP retries (timeouts, 408, 429, 5xx), made by google-genai
    backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    answer_attempts: int = 2  # per request, when an answer is not JSON of the schema
    punctuation: bool = True
    summary: bool = True
    chapters: bool = True
    suggest_names: bool = True
    insights_max_chars: int = 400_000
    temperature: float = 0.0
    thinking_budget: Optional[int] = None  # e.g. 0 turns thinking off on Flash models

    def cache_options(self) -> dict:
        """The options that change a model answer (not timeouts or retries)."""
        return {"model": self.model, "temperature": self.temperature,
                "thinking_budget": self.thinking_budget, "prompt_version": PROMPT_VERSION}


class EnhanceResult(VtxModel):
    document: Document
    summary: Optional[Summary] = None
    chapters: list[Chapter] = Field(default_factory=list)
    suggested_speaker_names: dict[str, SuggestedName] = Field(default_factory=dict)
    stats: EnhanceStats = Field(default_factory=EnhanceStats)
    model: str = ""

    def chapters_text(self) -> str:
        return chapters_text(self.chapters)

    def unfinished(self) -> Optional[str]:
        """Why this result is not final (requests that got no answer), or None when it is."""
        stats = self.stats
        problems = []
        if stats.chunks_unanswered:
            problems.append(f"{stats.chunks_ok} of {stats.chunks} chunks corrected, "
                            f"{stats.chunks_unanswered} got no answer")
        if stats.insights_unanswered:
            problems.append("no summary or chapters: the request got no answer")
        if not problems:
            return None
        reasons = [r for r in stats.fallback_reasons.values() if r] + [stats.insights_unanswered]
        return "; ".join(problems) + f" ({next(r for r in reasons if r)})"


# -- public entry points ---------------------------------------------------------------------

def enhance(document: Document, options: Optional[EnhanceOptions] = None, client: Any = None,
            cache_dir: Optional[Path] = None, api_key: Optional[str] = None,
            secrets_dir: Optional[Path] = None) -> EnhanceResult:
    """Restore punctuation/casing and add summary, chapters and suggested names.

    ``client`` is anything with ``.models.generate_content(model=, contents=, config=)`` (a
    ``google.genai.Client``); without one, a client is made from ``api_key`` or the
    ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` secret. Raises :class:`EnhanceSkipped` when neither
    exists. The input document is not modified.
    """
    options = options or EnhanceOptions()
    if options.chunk_words < 1:
        raise InputError(f"chunk_words must be at least 1, got {options.chunk_words}")
    if client is None:
        client = make_client(api_key or get_secret("GEMINI_API_KEY", secrets_dir), options)
    caller = _ModelCaller(client, options, cache_dir)
    result = EnhanceResult(document=copy.deepcopy(document), model=options.model)
    if options.punctuation:
        _restore_punctuation(result, caller)
    if options.summary or options.chapters or options.suggest_names:
        _add_insights(result, caller, options)
    result.stats.calls, result.stats.retries = caller.calls, caller.retries
    result.document.extras.enhance = _extras(result)
    log.info("enhance: %d/%d chunks corrected (%d cached, %d kept original), %d words changed",
             result.stats.chunks_ok, result.stats.chunks, result.stats.chunks_cached,
             result.stats.chunks_fallback, result.stats.words_changed)
    return result


def make_client(api_key: Optional[str], options: EnhanceOptions):
    """A ``google.genai.Client`` for the Gemini Developer API, with the shared retry policy."""
    if not api_key:
        raise EnhanceSkipped(
            "Gemini enhancement skipped: no API key. Set GEMINI_API_KEY (or GOOGLE_API_KEY) in the "
            "environment, add it to Colab secrets, or write it to <workspace>/secrets/GEMINI_API_KEY.")
    from .genai_client import gemini_client

    try:
        return gemini_client(api_key, options.timeout_s, extra="enhance", what="Gemini enhancement",
                             attempts=options.max_retries + 1, backoff_s=options.backoff_s,
                             max_backoff_s=options.max_backoff_s)
    except BackendUnavailable as e:  # google-genai not installed: the run goes on without enhancement
        raise EnhanceSkipped(str(e)) from e


def document_with_enhancements(result: EnhanceResult, base: Optional[Document] = None) -> Document:
    """The enhanced document: corrected word texts plus ``extras["enhance"]``.

    With ``base`` (the document that was enhanced), a copy of it receives the corrected texts, so
    fields that do not survive serialisation (``media.path``) are kept, as when ``result`` comes
    back from the stage cache. The words must line up one to one with identical timings.
    """
    if base is None:
        enhanced = copy.deepcopy(result.document)
        enhanced.extras.enhance = _extras(result)
        return enhanced
    corrected = result.document.transcript.words
    enhanced = copy.deepcopy(base)
    words = enhanced.transcript.words
    if [(w.start, w.end, w.speaker) for w in words] != [(w.start, w.end, w.speaker) for w in corrected]:
        raise InputError("this enhancement result belongs to another transcript (words or timings differ)")
    for word, new in zip(words, corrected):
        word.text = new.text
    enhanced.extras.enhance = _extras(result)
    return enhanced


def apply_speaker_names(document: Document, mapping: dict[str, Any]) -> Document:
    """A copy of ``document`` whose speakers display under the given names.

    ``mapping`` is ``{SPEAKER_00: "Diane"}`` or the ``suggested_speaker_names`` of an
    :class:`EnhanceResult` (``{SPEAKER_00: {"name": ..., "evidence": ...}}``); the speaker ids
    and every word stay as they are, only ``speaker_names`` changes.
    """
    unknown = sorted(set(mapping) - set(document.speakers))
    if unknown:
        raise InputError(f"unknown speaker(s) {', '.join(unknown)}; this transcript has "
                         f"{', '.join(document.speakers) or 'no speakers'}")
    named = copy.deepcopy(document)
    for speaker, value in mapping.items():
        name = value.get("name") if isinstance(value, dict) else getattr(value, "name", value)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"the name for {speaker} is empty")
        named.speaker_names[speaker] = name.strip()
    return named


def chapters_text(chapters: list[Chapter]) -> str:
    """YouTube description chapters: ``00:00 Title`` lines, the first at 00:00."""
    if not chapters:
        return ""
    if len(chapters) < 3:
        log.info("YouTube shows chapters only when there are at least 3 (got %d)", len(chapters))
    return "\n".join(f"{clock(0.0 if i == 0 else c.start)} {c.title}" for i, c in enumerate(chapters))


# -- punctuation ----------------------------------------------------------------------------

@dataclass
class _Chunk:
    index: int
    word_ids: list[int]
    payload: dict  # what the model sees


def _restore_punctuation(result: EnhanceResult, caller: "_ModelCaller") -> None:
    words = result.document.transcript.words
    chunks = _make_chunks(result.document.transcript.turns, caller.options.chunk_words)
    result.stats.chunks = len(chunks)
    for chunk in _progress(chunks, "enhance"):
        texts, cached, reason, unanswered = _correct_chunk(chunk, words, caller)
        if texts is None:
            result.stats.chunks_fallback += 1
            result.stats.chunks_unanswered += int(unanswered)
            result.stats.fallback_reasons[str(chunk.index)] = reason
            log.warning("enhance: chunk %d (words %d-%d) keeps its original text: %s", chunk.index,
                        chunk.word_ids[0], chunk.word_ids[-1], reason)
            continue
        result.stats.chunks_ok += 1
        result.stats.chunks_cached += int(cached)
        for word_id, text in zip(chunk.word_ids, texts):
            if words[word_id].text != text:
                result.stats.words_changed += 1
                words[word_id].text = text


def _make_chunks(turns: list[Turn], chunk_words: int) -> list[_Chunk]:
    """Consecutive pieces of at most ``chunk_words`` words, cut at turn boundaries when possible."""
    chunks: list[_Chunk] = []
    current: list[tuple[str, list[tuple[int, Word]]]] = []
    size = 0
    next_id = 0

    def flush():
        nonlocal current, size
        if current:
            chunks.append(_chunk_from_pieces(len(chunks), current))
        current, size = [], 0

    for turn in turns:
        numbered = list(enumerate(turn.words, start=next_id))
        next_id += len(turn.words)
        while numbered:
            if size and size + len(numbered) > chunk_words:
                flush()
            take = numbered[: chunk_words - size]
            numbered = numbered[len(take):]
            current.append((turn.speaker, take))
            size += len(take)
    flush()
    return chunks


def _chunk_from_pieces(index: int, pieces: list[tuple[str, list[tuple[int, Word]]]]) -> _Chunk:
    payload = {"turns": [{"speaker": speaker, "words": [[i, w.text.strip()] for i, w in numbered]}
                         for speaker, numbered in pieces]}
    ids = [i for _, numbered in pieces for i, _ in numbered]
    return _Chunk(index=index, word_ids=ids, payload=payload)


def _correct_chunk(chunk: _Chunk, words: list[Word], caller: "_ModelCaller"):
    """(texts, from_cache, reason, unanswered): texts is None when the chunk must keep its original
    words; unanswered says that no answer came (as opposed to one that was rejected)."""
    originals = [words[i].text for i in chunk.word_ids]
    try:
        data, cached = caller.generate("punctuation", chunk.payload, PUNCTUATION_INSTRUCTIONS, PunctuationAnswer,
                                       check=lambda answer: _validate_words(answer, chunk.word_ids, originals))
    except ResponseRejected as e:
        return None, False, str(e), False
    except StageFailed as e:
        return None, False, str(e), True
    return data, cached, "", False


def _validate_words(answer: PunctuationAnswer, ids: list[int], originals: list[str]) -> list[str]:
    """The corrected texts in id order, or ResponseRejected saying what does not match."""
    items = answer.words
    got_ids = [item.id for item in items]
    if got_ids != ids:
        raise ResponseRejected(f"ids do not match: sent {len(ids)} words, got {len(items)}"
                               + (" (same count, different ids/order)" if len(items) == len(ids) else ""))
    texts = []
    for word_id, item, original in zip(ids, items, originals):
        text = item.text
        if not text.strip():
            raise ResponseRejected(f"word {word_id} came back empty")
        leading = original[: len(original) - len(original.lstrip())]  # keep ASR's leading space
        text = text.strip()
        if re.search(r"\s", text):
            raise ResponseRejected(f"word {word_id} was split or merged: {original.strip()!r} -> {text!r}")
        if _letters(text) != _letters(original):
            raise ResponseRejected(f"word {word_id} changed spelling: {original.strip()!r} -> {text!r}")
        texts.append(leading + text)
    return texts


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


# -- summary, chapters, names -------------------------------------------------------------------

def _add_insights(result: EnhanceResult, caller: "_ModelCaller", options: EnhanceOptions) -> None:
    turns = result.document.transcript.turns
    if not turns:
        return
    payload = {"transcript": _insights_lines(turns, options.insights_max_chars),
               "speakers": result.document.speakers}
    try:
        found, _ = caller.generate("insights", payload, insights_instructions(result.document.language), InsightsAnswer,
                                   check=lambda answer: _validate_insights(answer, turns, result.document.speakers))
    except (ResponseRejected, StageFailed) as e:
        log.warning("enhance: no summary/chapters/names: %s", e)
        if isinstance(e, StageFailed):
            result.stats.insights_unanswered = str(e)
        return
    if options.summary:
        result.summary = found.summary
    if options.chapters:
        result.chapters = found.chapters
    if options.suggest_names:
        result.suggested_speaker_names = found.speaker_names


def insights_instructions(language: Optional[str]) -> str:
    """The insights prompt, told to write in the transcript's LANGUAGE (a Spanish talk gets a Spanish
    summary and chapter titles, not English ones)."""
    if not language:
        return INSIGHTS_INSTRUCTIONS
    return INSIGHTS_INSTRUCTIONS + (f"Write the summaries and chapter titles in the transcript's language "
                                    f"(ISO 639-1 code {language}); do not translate them.\n")


def _insights_lines(turns: list[Turn], max_chars: int) -> str:
    lines = [f"[{i} | {clock(t.start)} | {t.speaker}] {t.text}" for i, t in enumerate(turns)]
    text = "\n".join(lines)
    words_per_turn = max(len(t.words) for t in turns)
    while len(text) > max_chars and words_per_turn > 1:
        # Very long inputs: keep every turn (chapters need their times) but shorten each one.
        words_per_turn = max(1, words_per_turn * 3 // 4)
        lines = [f"[{i} | {clock(t.start)} | {t.speaker}] "
                 + " ".join(w.text.strip() for w in t.words[:words_per_turn]) for i, t in enumerate(turns)]
        text = "\n".join(lines)
    if words_per_turn < max(len(t.words) for t in turns):
        log.warning("enhance: transcript too long for one summary request; each turn was cut to "
                    "its first %d words", words_per_turn)
    return text


class _Insights(NamedTuple):
    summary: Summary
    chapters: list[Chapter]
    speaker_names: dict[str, SuggestedName]


def _validate_insights(answer: InsightsAnswer, turns: list[Turn], speakers: list[str]) -> _Insights:
    overall = answer.summary.overall.strip()
    if not overall:
        raise ResponseRejected("the summary is empty")
    per_speaker = {item.speaker: item.summary.strip() for item in answer.summary.speakers if item.speaker in speakers}
    return _Insights(Summary(overall=overall, speakers=per_speaker), _valid_chapters(answer.chapters, turns),
                     _valid_names(answer.speaker_names, speakers))


def _valid_chapters(items: list[ChapterItem], turns: list[Turn]) -> list[Chapter]:
    """Chapters at real turn starts, in order, at least 10 s apart (YouTube's minimum length)."""
    chapters: list[Chapter] = []
    last_turn = -1
    for item in items:
        index, title = item.turn, item.title.strip()
        if not 0 <= index < len(turns) or not title or index <= last_turn:
            log.debug("dropping chapter %r (bad turn index or title)", item)
            continue
        start = turns[index].start
        if chapters and start - chapters[-1].start < YOUTUBE_MIN_CHAPTER_S:
            log.debug("dropping chapter %r: less than %.0f s after the previous", title, YOUTUBE_MIN_CHAPTER_S)
            continue
        chapters.append(Chapter(start=start, title=" ".join(title.split())))
        last_turn = index
    return chapters


def _valid_names(items: list[NameItem], speakers: list[str]) -> dict[str, SuggestedName]:
    names = {}
    for item in items:
        name = item.name.strip()
        if item.speaker in speakers and name:
            names[item.speaker] = SuggestedName(name=name, evidence=item.evidence.strip())
    return names


def _extras(result: EnhanceResult) -> EnhanceExtras:
    return EnhanceExtras(model=result.model, summary=result.summary, chapters=list(result.chapters),
                         chapters_text=result.chapters_text(),
                         suggested_speaker_names=dict(result.suggested_speaker_names),
                         stats=result.stats.model_copy(deep=True))


# -- calling the model --------------------------------------------------------------------------

class _ModelCaller:
    """One structured-JSON request: disk cache, the shared HTTP retry policy (google-genai's own), and
    another sample while an answer is malformed (tenacity)."""

    def __init__(self, client: Any, options: EnhanceOptions, cache_dir: Optional[Path]):
        self.client, self.options = client, options
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.calls = self.retries = 0
        self.gave_up: Optional[str] = None  # set once a request got no answer: stop asking

    def generate(self, kind: str, payload: dict, instructions: str, schema: type[BaseModel],
                 check: Callable[[Any], Any]):
        """(checked answer, from_cache). Raises ResponseRejected or StageFailed."""
        key = self._cache_key(kind, payload, instructions, schema)
        cached = self._load(key)
        if cached is not None:
            try:
                return check(schema.model_validate(cached)), True
            except (ValidationError, ResponseRejected):
                log.warning("enhance: ignoring a cached %s answer that no longer validates", kind)
        if self.gave_up:
            raise StageFailed(f"not asked, an earlier request failed ({self.gave_up})")
        answer = self._ask(json.dumps(payload, ensure_ascii=False), _generate_config(self.options, instructions, schema),
                           schema)
        checked = check(answer)
        self._store(key, answer.model_dump(mode="json"))
        return checked, False

    def _ask(self, contents: str, config: Any, schema: type[BaseModel]) -> Any:
        """The answer as SCHEMA; one that is not JSON of it is asked for again, up to answer_attempts."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        from .genai_client import read_answer

        retrying = Retrying(stop=stop_after_attempt(max(1, self.options.answer_attempts)),
                            retry=retry_if_exception_type(MalformedAnswer), before_sleep=self._log_malformed,
                            reraise=True)
        for attempt in retrying:
            with attempt:
                return read_answer(self._send(contents, config), schema)
        raise AssertionError("unreachable")

    def _log_malformed(self, state) -> None:
        self.retries += 1
        log.info("enhance: %s; asking again", state.outcome.exception())

    def _send(self, contents: str, config: Any) -> Any:
        """One generate_content call (google-genai retries transient HTTP failures inside it)."""
        from .genai_client import describe, is_transient, no_answer_line

        self.calls += 1
        try:
            return self.client.models.generate_content(model=self.options.model, contents=contents, config=config)
        except Exception as e:  # classified below; anything else propagates
            if is_transient(e):
                self.gave_up = describe(e)
                raise StageFailed(no_answer_line(e, self.options.max_retries + 1)) from e
            mapped = _permanent_error(e, self.options.model)
            if mapped is e:
                raise
            raise mapped from e

    def _cache_key(self, kind: str, payload: dict, instructions: str, schema: type[BaseModel]) -> str:
        blob = json.dumps({"kind": kind, "payload": payload, "instructions": instructions,
                           "schema": schema.model_json_schema(), "options": self.options.cache_options()},
                          sort_keys=True, ensure_ascii=False)
        return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:24]}"

    def _load(self, key: str) -> Optional[Any]:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as e:
            log.warning("enhance: unreadable cache file %s (%s); asking again", path, e)
            return None

    def _store(self, key: str, data: Any) -> None:
        if self.cache_dir is not None:
            atomic_write_json(self.cache_dir / f"{key}.json", data)


def _generate_config(options: EnhanceOptions, instructions: str, schema: type[BaseModel]):
    from .genai_client import genai_types, http_options

    try:
        types = genai_types("enhance", "Gemini enhancement")
    except BackendUnavailable as e:
        raise EnhanceSkipped(str(e)) from e
    extra = {}
    if options.thinking_budget is not None:
        extra["thinking_config"] = types.ThinkingConfig(thinking_budget=options.thinking_budget)
    return types.GenerateContentConfig(
        system_instruction=instructions, temperature=options.temperature,
        response_mime_type="application/json", response_schema=schema,
        http_options=http_options(options.timeout_s, options.max_retries + 1, options.backoff_s,
                                  options.max_backoff_s), **extra)


def _permanent_error(error: Exception, model: str) -> Exception:
    """A refused key or a retired model: the stage is skipped with one line; another refusal fails it."""
    from .genai_client import permanent_error

    return permanent_error(error, model, MODEL_HELP, lambda why: EnhanceSkipped(f"{why} Enhancement skipped."))


# -- small helpers ------------------------------------------------------------------------------

def _progress(items: list, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=desc, unit="chunk", disable=len(items) < 2, leave=False)
