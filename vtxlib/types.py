"""Typed models passed between pipeline stages (pydantic v2).

Every stage returns one of these; each serialises to plain JSON with ``model_dump(mode="json")``
and comes back with ``model_validate``. Unknown keys are ignored on load, so a file written by a
newer vtxlib with more fields still reads. Times are float seconds from the start of the 16 kHz audio.
``schemas/transcript.schema.json`` is the JSON Schema of :class:`Document` (``python -m vtxlib schema``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_serializer, model_validator

SCHEMA_VERSION = 2  # 2: words only inside their turns (version 1 also listed them at the top level)
READABLE_VERSIONS = (1, 2)
UNKNOWN_SPEAKER = "UNKNOWN"


class VtxModel(BaseModel):
    """Base of every vtxlib model: unknown keys ignored on load, positional construction in field
    order (as the dataclasses these replaced allowed)."""

    model_config = ConfigDict(extra="ignore")
    _positional: ClassVar[Optional[tuple[str, ...]]] = None  # positional order when not the fields'

    def __init__(self, *args: Any, **data: Any) -> None:
        if args:
            names = list(type(self)._positional or type(self).model_fields)
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
            data.update(zip(names, args))
        super().__init__(**data)


class MediaInfo(VtxModel):
    id: str
    title: str
    source: str
    duration: Optional[float] = None
    kind: Literal["file", "url", "live"] = "file"
    extractor: Optional[str] = None
    path: Optional[str] = Field(default=None, description="local media file (downloaded or given); "
                                "left out of transcript.json")


class AudioFile(VtxModel):
    """The one decoded 16 kHz mono PCM wav every later stage reads."""

    path: str
    sample_rate: int
    duration: float
    channels: int = 1


class Word(VtxModel):
    text: str
    start: float
    end: float
    prob: Optional[float] = None
    speaker: Optional[str] = None


class Segment(VtxModel):
    text: str
    start: float
    end: float
    words: list[Word] = Field(default_factory=list)


class LanguageSpan(VtxModel):
    """A stretch of speech in one language (the language stage's windows, merged)."""

    language: str
    start: float
    end: float


class LanguageCandidate(VtxModel):
    """One language of the acoustic top candidates, decoded with that language forced (rescoring)."""

    language: str
    probability: float = Field(description="the acoustic identification's probability of it")
    avg_logprob: float = Field(description="the decoder's mean log-probability per token with the language forced")
    degenerate: bool = Field(False, description="the decode repeated itself or produced almost nothing")
    score: Optional[float] = Field(None, description="the combined score (None: ruled out, e.g. English that "
                                   "did not decode fluently)")


class LanguageDetection(VtxModel):
    """The language stage's result: which language the speech is in, and how sure that is.

    ``source`` is "detected" (identified from the speech) or "forced" (``--language xx``).
    ``probabilities`` are the mean over the windows that were listened to (each weighted by its
    speech), ``shares`` each language's share of the speech (0-1) by the windows that chose it,
    and ``spans`` the stretches of speech in each language. ``low_confidence`` says the
    identification could not be trusted (music, noise, very little speech): ``language`` is then
    the fallback, and ``--language`` is how to choose another.
    """

    language: Optional[str] = None
    probability: Optional[float] = None
    source: Literal["detected", "forced"] = "detected"
    probabilities: dict[str, float] = Field(default_factory=dict)
    shares: dict[str, float] = Field(default_factory=dict)
    spans: list[LanguageSpan] = Field(default_factory=list)
    low_confidence: bool = False
    windows: int = 0
    speech_seconds: float = 0.0
    acoustic_language: Optional[str] = Field(None, description="the acoustic identification's own choice, when "
                                             "the candidates were rescored by decoding")
    candidates: list[LanguageCandidate] = Field(default_factory=list, description="the candidates rescored by "
                                                "decoding one window with each language forced (empty: not rescored)")
    unconfirmed_windows: int = Field(0, description="windows heard as another language that decoded better in "
                                     "the chosen one, so counted for it")
    note: str = Field(default="", description="one line on what was concluded (a warning when there is one)")

    @property
    def secondary(self) -> list[str]:
        """Languages other than the main one, by share of speech."""
        return [lang for lang, _ in sorted(self.shares.items(), key=lambda kv: -kv[1]) if lang != self.language]


class Transcript(VtxModel):
    """ASR output: segments with word timings, no speakers yet (a hosted backend asked for speaker
    labels puts them on the words and in ``extras``)."""

    segments: list[Segment]
    language: Optional[str] = None
    language_probability: Optional[float] = None
    language_source: Optional[Literal["detected", "forced"]] = None
    language_detection: Optional[LanguageDetection] = None
    backend: str = ""
    model: str = ""
    model_version: Optional[str] = None
    extras: "AsrExtras" = Field(default_factory=lambda: AsrExtras(), description="what a hosted ASR backend "
                                "returned besides the words (AssemblyAI's sentiment/chapters, Gemini's "
                                "alignment figures); copied into the document's extras")
    routing: Optional["AsrRouting"] = Field(default=None, description="asr auto with --allow-cloud: which "
                                            "backends were tried, in order, and why each failed")

    @model_serializer(mode="wrap")
    def _without_empty_extras(self, handler):
        data = handler(self)
        if isinstance(data.get("extras"), dict) and not any(data["extras"].values()):
            del data["extras"]  # a local backend's transcript serialises as before (same digests)
        if data.get("routing", 0) is None:
            del data["routing"]
        return data

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


class SpeakerTurn(VtxModel):
    """A diarization turn: who spoke from start to end."""

    speaker: str
    start: float
    end: float


class Diarization(VtxModel):
    """Diarization output.

    ``turns`` are exclusive (at most one speaker at a time): words get their speaker from them.
    ``overlaps`` are the regions where more than one speaker was detected, and ``speech_turns``
    the turns with overlap (both speakers where two talk at once; empty for a backend that only
    gives exclusive turns), so that later stages can flag and show both.
    """

    turns: list[SpeakerTurn]
    overlaps: list[tuple[float, float]] = Field(default_factory=list)
    speech_turns: list[SpeakerTurn] = Field(default_factory=list)
    backend: str = ""
    model: str = ""
    model_version: Optional[str] = None
    num_speakers_estimated: Optional[int] = None
    # each speaker's centroid in the diarizer's own embedding space (unit vectors; empty for a
    # backend without speaker embeddings): what enrolled voices are matched against
    speaker_embeddings: dict[str, list[float]] = Field(default_factory=dict)

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns})


class VoiceMatch(VtxModel):
    """How one diarized speaker compares with the enrolled voices (``--voices``).

    ``candidate`` is the enrolled person the one-to-one assignment gave this speaker (None when there
    were fewer people than speakers), ``score`` the cosine similarity of their voiceprints, and
    ``name`` the candidate when the score reached ``threshold``, else None (the speaker stays anonymous).
    """

    speaker: str
    name: Optional[str] = None
    candidate: Optional[str] = None
    score: Optional[float] = None
    threshold: Optional[float] = None


class Emotion(VtxModel):
    label: str
    scores: dict[str, float]
    confidence: float
    backend: str
    low_confidence: bool = False


class Turn(VtxModel):
    """A speaker-attributed stretch of speech carrying its words."""

    speaker: str
    start: float
    end: float
    words: list[Word] = Field(default_factory=list)
    overlap: bool = False
    emotion: Optional[Emotion] = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words if w.text.strip())

    @model_serializer(mode="wrap")
    def _without_empty_emotion(self, handler):
        data = handler(self)
        if data.get("emotion", 0) is None:  # as version 1 wrote it (and artifact digests stay the same)
            del data["emotion"]
        return data


class AlignedTranscript(VtxModel):
    """Words with speakers and the speaker turns that carry them (align stage output)."""

    turns: list[Turn]
    language: Optional[str] = None

    @property
    def words(self) -> list[Word]:
        return [w for t in self.turns for w in t.words]

    @property
    def speakers(self) -> list[str]:
        seen: list[str] = []
        for t in self.turns:
            if t.speaker not in seen:
                seen.append(t.speaker)
        return seen


class StageRecord(VtxModel):
    backend: str
    options: dict[str, Any]
    seconds: float
    cached: bool = False
    model: Optional[str] = None
    model_version: Optional[str] = None
    incomplete: Optional[str] = Field(default=None, description="why the stage did not finish its work "
                                      "(then it was not cached)")
    load_seconds: Optional[float] = Field(default=None, description="cached=True: this run's time to read "
                                          "the artifact back (seconds is the time it took when computed)")


# -- enrichments (extras) ------------------------------------------------------------------------

class Chapter(VtxModel):
    start: float
    title: str


class Summary(VtxModel):
    overall: str
    speakers: dict[str, str] = Field(default_factory=dict, description="speaker id -> what they said")


class SuggestedName(VtxModel):
    name: str
    evidence: str = ""


class EnhanceStats(VtxModel):
    chunks: int = 0
    chunks_ok: int = 0
    chunks_fallback: int = 0
    chunks_cached: int = 0
    words_changed: int = 0
    calls: int = Field(default=0, description="generate_content calls (google-genai's own HTTP retries inside "
                       "one call are not counted)")
    retries: int = Field(default=0, description="calls that asked again because an answer was not JSON of the "
                         "schema")
    fallback_reasons: dict[str, str] = Field(default_factory=dict, description="chunk index -> reason")
    chunks_unanswered: int = Field(default=0, description="fallbacks because no answer came "
                                   "(not because one was rejected)")
    insights_unanswered: str = Field(default="", description="why the summary/chapters request got no answer")


class EnhanceExtras(VtxModel):
    """What the enhance stage adds to a document: ``Document.extras.enhance``."""

    model: str = ""
    summary: Optional[Summary] = None
    chapters: list[Chapter] = Field(default_factory=list)
    chapters_text: str = ""
    suggested_speaker_names: dict[str, SuggestedName] = Field(default_factory=dict)
    stats: EnhanceStats = Field(default_factory=EnhanceStats)


class AssemblyAISentiment(VtxModel):
    """AssemblyAI's sentiment of one sentence (its own model: not vtx's emotion scores)."""

    start: float
    end: float
    text: str
    sentiment: Literal["POSITIVE", "NEUTRAL", "NEGATIVE"]
    confidence: float
    speaker: Optional[str] = None


class AssemblyAIChapter(VtxModel):
    """One of AssemblyAI's auto chapters."""

    start: float
    end: float
    headline: str
    gist: str = ""
    summary: str = ""


class AssemblyAIExtras(VtxModel):
    """What AssemblyAI returned besides the words: ``Document.extras.assemblyai``."""

    transcript_id: str = ""
    speech_model: Optional[str] = None
    language_code: Optional[str] = Field(default=None, description="the language AssemblyAI detected (or was told)")
    language_confidence: Optional[float] = None
    speaker_turns: list[SpeakerTurn] = Field(default_factory=list, description="its utterances as speaker "
                                             "turns (speaker labels on): the diarization with --diarizer assemblyai")
    sentiments: list[AssemblyAISentiment] = Field(default_factory=list)
    chapters: list[AssemblyAIChapter] = Field(default_factory=list)


class GeminiAsrExtras(VtxModel):
    """How a Gemini transcript was made: ``Document.extras.gemini_asr``."""

    model: str = ""
    chunks: int = 0
    language: Optional[str] = None
    aligner: str = Field(default="", description="the local recognizer whose word times were matched to "
                         "Gemini's words")
    words: int = 0
    words_anchored: int = Field(default=0, description="words whose times are a local recognizer word's "
                                "(the same text); the rest are interpolated between anchors")


class AsrExtras(VtxModel):
    """What a hosted ASR backend adds to its transcript (copied into :class:`Extras`)."""

    assemblyai: Optional[AssemblyAIExtras] = None
    gemini_asr: Optional[GeminiAsrExtras] = None


class AsrAttempt(VtxModel):
    backend: str
    ok: bool
    error: str = ""


class AsrRouting(VtxModel):
    """``--asr auto`` with consent: the order the router chose and each backend it tried."""

    allow_cloud: bool
    order: list[str]
    attempts: list[AsrAttempt] = Field(default_factory=list)

    @property
    def produced_by(self) -> Optional[str]:
        return next((a.backend for a in self.attempts if a.ok), None)


class Extras(VtxModel):
    """Optional enrichments keyed by the stage that produced them; enrichments this version does
    not know are kept as they are."""

    model_config = ConfigDict(extra="allow")

    enhance: Optional[EnhanceExtras] = None
    assemblyai: Optional[AssemblyAIExtras] = Field(default=None, description="AssemblyAI's own results "
                                                   "(sentiment per sentence, chapters), labelled as its")
    gemini_asr: Optional[GeminiAsrExtras] = None
    asr_routing: Optional[AsrRouting] = None


# -- translations ------------------------------------------------------------------------------

class Translation(VtxModel):
    """One translated caption track: the original VTT's cues (same count, times and voices), their
    text in ``language``. ``cues`` maps a cue id (``"1"`` for the first cue of the original
    ``transcript.vtt``, and so on) to its translated text; ``cue_digest`` identifies the original
    cues (times, speakers), so a track is never laid over other cues."""

    language: str
    backend: str
    model: str = ""
    source_language: Optional[str] = None
    cue_digest: str = ""
    cues: dict[str, str] = Field(default_factory=dict, description="cue id -> translated text")


# -- transcript.json -----------------------------------------------------------------------------

class DocumentError(ValueError):
    """A transcript.json (or a dict meant as one) that cannot be read, in one line."""


class Document(VtxModel):
    """What ``transcript.json`` holds: the finished, speaker-attributed transcript.

    The JSON is flat (``media``, ``language``, ``speakers``, ``turns`` with their words, ...);
    ``document.transcript`` is the same turns as an :class:`AlignedTranscript`, and
    ``Document(media=..., transcript=AlignedTranscript(...))`` builds one.
    """

    _positional: ClassVar[Optional[tuple[str, ...]]] = ("media", "transcript", "stages", "speaker_names", "extras")

    schema_version: Literal[2] = SCHEMA_VERSION
    media: MediaInfo
    language: Optional[str] = None
    language_probability: Optional[float] = Field(default=None, description="how sure the language "
                                                  "identification was (0-1); None when forced or unknown")
    language_source: Optional[Literal["detected", "forced"]] = Field(
        default=None, description="detected from the speech, or forced with --language")
    language_detection: Optional[LanguageDetection] = Field(
        default=None, description="the language stage's result: probabilities, shares of speech, spans")
    speaker_names: dict[str, str] = Field(default_factory=dict, description="speaker id -> display name")
    turns: list[Turn] = Field(default_factory=list)
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    extras: Extras = Field(default_factory=Extras)
    voice_matches: list[VoiceMatch] = Field(default_factory=list, description="one per speaker when "
                                            "voices were enrolled (--voices)")
    translations: list[Translation] = Field(default_factory=list, description="translated caption tracks "
                                            "(--translate), one per target language")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        transcript = data.pop("transcript", None)
        if transcript is not None:
            if isinstance(transcript, AlignedTranscript):
                data.setdefault("turns", transcript.turns)
                data.setdefault("language", transcript.language)
            else:
                data.setdefault("turns", transcript.get("turns", []))
                data.setdefault("language", transcript.get("language"))
        version = data.get("schema_version", SCHEMA_VERSION)
        if version not in READABLE_VERSIONS:
            raise ValueError(f"schema_version {version!r}: this vtxlib reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; a newer vtxlib wrote it")
        data["schema_version"] = SCHEMA_VERSION  # version 1 differs only by its top-level word list
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def speakers(self) -> list[str]:
        """Speaker ids in order of first appearance."""
        return self.transcript.speakers

    @property
    def transcript(self) -> AlignedTranscript:
        """The turns as an AlignedTranscript (the same Turn objects)."""
        return AlignedTranscript.model_construct(turns=self.turns, language=self.language)

    @transcript.setter
    def transcript(self, value: AlignedTranscript) -> None:
        self.turns, self.language = value.turns, value.language

    def display_name(self, speaker: str) -> str:
        return self.speaker_names.get(speaker, speaker)

    @model_serializer(mode="wrap")
    def _without_local_path(self, handler):
        data = handler(self)
        if isinstance(data.get("media"), dict):
            data["media"].pop("path", None)  # a local path means nothing elsewhere (and may be private)
        return data

    @classmethod
    def load(cls, source: Union[str, Path, dict]) -> "Document":
        """Read a transcript.json (a path or its parsed dict); a bad file raises DocumentError
        naming the file and the first problem."""
        import json

        name = "transcript"
        if isinstance(source, (str, Path)):
            name = str(source)
            try:
                source = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise DocumentError(f"cannot read {name}: {e}") from e
        try:
            return cls.model_validate(source)
        except ValidationError as e:
            raise DocumentError(f"{name} is not a vtx transcript: {describe_validation_error(e)}") from e


def describe_validation_error(error: ValidationError) -> str:
    """The first problem of a ValidationError in one line: ``field.path: message (+N more)``."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "top level"
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"


def transcript_schema() -> dict:
    """The JSON Schema of transcript.json (as written: serialization mode, computed fields included)."""
    schema = Document.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vtx transcript.json"
    schema["description"] = (Document.__doc__ or "").strip().splitlines()[0]
    return schema


def transcript_schema_text() -> str:
    """The schema as ``schemas/transcript.schema.json`` holds it."""
    import json

    return json.dumps(transcript_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class OptionsModel(VtxModel):
    """Base of option sets: a wrong value raises InputError with one line naming the option."""

    def __init__(self, *args: Any, **data: Any) -> None:
        try:
            super().__init__(*args, **data)
        except ValidationError as e:
            from .errors import InputError

            raise InputError(f"{type(self).__name__}: {describe_validation_error(e)}") from None


Transcript.model_rebuild()  # its extras are defined further down
