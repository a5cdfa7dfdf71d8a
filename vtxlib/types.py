"""Dataclasses passed between pipeline stages.

Every stage returns one of these; each serialises to plain JSON with ``to_dict`` and comes back with
``from_dict``. Times are float seconds from the start of the 16 kHz audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

SCHEMA_VERSION = 1
UNKNOWN_SPEAKER = "UNKNOWN"


def from_known_fields(cls, data: dict):
    """Build a flat dataclass from a dict, ignoring keys it does not know (forward compatible)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class MediaInfo:
    id: str
    title: str
    source: str
    duration: Optional[float] = None
    kind: str = "file"  # "file" | "url" | "live"
    extractor: Optional[str] = None
    path: Optional[str] = None  # local media file (downloaded or given)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MediaInfo":
        return from_known_fields(cls, data)


@dataclass
class AudioFile:
    """The one decoded 16 kHz mono PCM wav every later stage reads."""

    path: str
    sample_rate: int
    duration: float
    channels: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AudioFile":
        return from_known_fields(cls, data)


@dataclass
class Word:
    text: str
    start: float
    end: float
    prob: Optional[float] = None
    speaker: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Word":
        return from_known_fields(cls, data)


@dataclass
class Segment:
    text: str
    start: float
    end: float
    words: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end,
                "words": [w.to_dict() for w in self.words]}

    @classmethod
    def from_dict(cls, data: dict) -> "Segment":
        return cls(text=data["text"], start=data["start"], end=data["end"],
                   words=[Word.from_dict(w) for w in data.get("words", [])])


@dataclass
class Transcript:
    """ASR output: segments with word timings, no speakers yet."""

    segments: list[Segment]
    language: Optional[str] = None
    backend: str = ""
    model: str = ""
    model_version: Optional[str] = None

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def to_dict(self) -> dict:
        return {"segments": [s.to_dict() for s in self.segments], "language": self.language,
                "backend": self.backend, "model": self.model, "model_version": self.model_version}

    @classmethod
    def from_dict(cls, data: dict) -> "Transcript":
        return cls(segments=[Segment.from_dict(s) for s in data["segments"]],
                   language=data.get("language"), backend=data.get("backend", ""),
                   model=data.get("model", ""), model_version=data.get("model_version"))


@dataclass
class SpeakerTurn:
    """A diarization turn: who spoke from start to end."""

    speaker: str
    start: float
    end: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SpeakerTurn":
        return from_known_fields(cls, data)


@dataclass
class Diarization:
    """Diarization output.

    ``turns`` are exclusive (at most one speaker at a time): words get their speaker from them.
    ``overlaps`` are the regions where more than one speaker was detected, and ``speech_turns``
    the turns with overlap (both speakers where two talk at once; empty for a backend that only
    gives exclusive turns), so that later stages can flag and show both.
    """

    turns: list[SpeakerTurn]
    overlaps: list[tuple[float, float]] = field(default_factory=list)
    speech_turns: list[SpeakerTurn] = field(default_factory=list)
    backend: str = ""
    model: str = ""
    model_version: Optional[str] = None
    num_speakers_estimated: Optional[int] = None
    # each speaker's centroid in the diarizer's own embedding space (unit vectors; empty for a
    # backend without speaker embeddings): what enrolled voices are matched against
    speaker_embeddings: dict[str, list[float]] = field(default_factory=dict)

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns})

    def to_dict(self) -> dict:
        return {"turns": [t.to_dict() for t in self.turns],
                "overlaps": [list(o) for o in self.overlaps],
                "speech_turns": [t.to_dict() for t in self.speech_turns], "backend": self.backend,
                "model": self.model, "model_version": self.model_version,
                "num_speakers_estimated": self.num_speakers_estimated,
                "speaker_embeddings": {k: list(v) for k, v in self.speaker_embeddings.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Diarization":
        return cls(turns=[SpeakerTurn.from_dict(t) for t in data["turns"]],
                   overlaps=[tuple(o) for o in data.get("overlaps", [])],
                   speech_turns=[SpeakerTurn.from_dict(t) for t in data.get("speech_turns", [])],
                   backend=data.get("backend", ""), model=data.get("model", ""),
                   model_version=data.get("model_version"),
                   num_speakers_estimated=data.get("num_speakers_estimated"),
                   speaker_embeddings={k: list(v) for k, v in (data.get("speaker_embeddings") or {}).items()})


@dataclass
class VoiceMatch:
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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VoiceMatch":
        return from_known_fields(cls, data)


@dataclass
class Emotion:
    label: str
    scores: dict[str, float]
    confidence: float
    backend: str
    low_confidence: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Emotion":
        return from_known_fields(cls, data)


@dataclass
class Turn:
    """A speaker-attributed stretch of speech carrying its words."""

    speaker: str
    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    overlap: bool = False
    emotion: Optional[Emotion] = None

    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words if w.text.strip())

    def to_dict(self) -> dict:
        data = {"speaker": self.speaker, "start": self.start, "end": self.end, "text": self.text,
                "overlap": self.overlap, "words": [w.to_dict() for w in self.words]}
        if self.emotion is not None:
            data["emotion"] = self.emotion.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Turn":
        emotion = data.get("emotion")
        return cls(speaker=data["speaker"], start=data["start"], end=data["end"],
                   words=[Word.from_dict(w) for w in data.get("words", [])],
                   overlap=data.get("overlap", False),
                   emotion=Emotion.from_dict(emotion) if emotion else None)


@dataclass
class AlignedTranscript:
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

    def to_dict(self) -> dict:
        return {"turns": [t.to_dict() for t in self.turns], "language": self.language}

    @classmethod
    def from_dict(cls, data: dict) -> "AlignedTranscript":
        return cls(turns=[Turn.from_dict(t) for t in data["turns"]], language=data.get("language"))


@dataclass
class StageRecord:
    backend: str
    options: dict[str, Any]
    seconds: float
    cached: bool = False
    model: Optional[str] = None
    model_version: Optional[str] = None
    incomplete: Optional[str] = None  # why the stage did not finish its work (then it was not cached)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StageRecord":
        return from_known_fields(cls, data)


@dataclass
class Document:
    """What ``transcript.json`` holds: the finished, speaker-attributed transcript.

    ``extras`` carries optional enrichments (summary, chapters, suggested speaker names) keyed by
    the stage that produced them.
    """

    media: MediaInfo
    transcript: AlignedTranscript
    stages: dict[str, StageRecord] = field(default_factory=dict)
    speaker_names: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    voice_matches: list[VoiceMatch] = field(default_factory=list)  # one per speaker when --voices was given

    @property
    def speakers(self) -> list[str]:
        return self.transcript.speakers

    def display_name(self, speaker: str) -> str:
        return self.speaker_names.get(speaker, speaker)

    def to_dict(self) -> dict:
        turns = self.transcript.to_dict()["turns"]
        return {
            "schema_version": SCHEMA_VERSION,
            "media": {k: v for k, v in self.media.to_dict().items() if k != "path"},
            "language": self.transcript.language,
            "speakers": self.speakers,
            "speaker_names": dict(self.speaker_names),
            "voice_matches": [m.to_dict() for m in self.voice_matches],
            "words": [w.to_dict() for w in self.transcript.words],
            "turns": turns,
            "stages": {name: rec.to_dict() for name, rec in self.stages.items()},
            "extras": self.extras,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Document":
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"transcript.json has schema_version {version!r}; this vtxlib reads "
                             f"version {SCHEMA_VERSION}. Re-run the pipeline to regenerate it.")
        transcript = AlignedTranscript(turns=[Turn.from_dict(t) for t in data["turns"]],
                                       language=data.get("language"))
        return cls(media=MediaInfo.from_dict(data["media"]), transcript=transcript,
                   stages={k: StageRecord.from_dict(v) for k, v in data.get("stages", {}).items()},
                   speaker_names=dict(data.get("speaker_names", {})),
                   extras=dict(data.get("extras", {})),
                   voice_matches=[VoiceMatch.from_dict(m) for m in data.get("voice_matches", [])])
