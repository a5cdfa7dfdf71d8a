"""Live session results: options, utterances, and conversion to the pipeline's types."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from pydantic import computed_field

from ..audio import SAMPLE_RATE, write_wav  # noqa: F401  (SAMPLE_RATE: the live modules import it from here)
from ..types import (
    AlignedTranscript,
    Diarization,
    Document,
    LanguageDetection,
    MediaInfo,
    OptionsModel,
    SpeakerTurn,
    StageRecord,
    Turn,
    VtxModel,
    Word,
)

log = logging.getLogger("vtxlib.live")

FRAME_SAMPLES = 512  # Silero's 32 ms frame at 16 kHz
CONTEXT_SAMPLES = 64  # Silero sees the last 64 samples of the previous frame with each frame
SPEAKER_PREFIX = "SPEAKER_"


class LiveOptions(OptionsModel):
    vad_threshold: float = 0.5
    vad_neg_threshold: Optional[float] = None  # default vad_threshold - 0.15, as in silero-vad
    min_silence_s: float = 0.5  # trailing silence that ends an utterance
    min_speech_s: float = 0.25  # shorter bursts are dropped
    max_utterance_s: float = 15.0  # a monologue is cut here so text keeps flowing
    pad_s: float = 0.2  # audio kept before speech onset and after speech end
    speaker_labels: bool = False
    speaker_threshold: Optional[float] = None  # cosine similarity to a known voice; None: SPEAKER_THRESHOLD
    min_embed_s: float = 1.0  # shorter utterances join the closest known speaker instead
    phrase_gap_s: float = 0.2  # with speaker labels, a cut is split where the voice changes at such a pause
    keep_audio: bool = True  # keep the session audio so that it can be saved with the transcript


class Utterance(VtxModel):
    """One transcribed stretch of speech.

    ``latency_s`` is the time from the end of the speech to the text being emitted, as a listener
    would experience it: measured on the wall clock for real-time sources; for sources replayed
    faster than real time it is ``endpoint_delay_s + processing_s`` (the same work at real time).
    """

    index: int
    start: float
    end: float
    words: list[Word]
    speaker: Optional[str] = None
    endpoint_delay_s: float = 0.0  # stream seconds between speech end and the cut
    processing_s: float = 0.0  # wall seconds of ASR (+ speaker embedding)
    latency_s: float = 0.0
    measured_realtime: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words if w.text.strip())


@dataclass
class LiveSession:
    """Everything a live run produced; convertible to the pipeline's transcript types."""

    utterances: list[Utterance] = field(default_factory=list)
    duration: float = 0.0
    started_wall: Optional[float] = None  # time.time() of the first sample
    language: Optional[str] = None
    language_detection: Optional[LanguageDetection] = None  # the language check's, when one ran
    language_decided_after: Optional[int] = None  # utterances transcribed before the language check decided
    language_note: Optional[str] = None  # the language check's one line
    audio: Optional[np.ndarray] = None

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)

    @property
    def latencies(self) -> list[float]:
        return [u.latency_s for u in self.utterances]

    def to_aligned(self) -> AlignedTranscript:
        turns = []
        for u in self.utterances:
            if not u.words:
                continue
            speaker = u.speaker or SPEAKER_PREFIX + "00"
            words = [Word(w.text, w.start, w.end, w.prob, speaker) for w in u.words]
            turns.append(Turn(speaker=speaker, start=u.start, end=u.end, words=words))
        return AlignedTranscript(turns=turns, language=self.language)

    def to_diarization(self) -> Diarization:
        turns = [SpeakerTurn(t.speaker, t.start, t.end) for t in self.to_aligned().turns]
        return Diarization(turns=turns, backend="live", num_speakers_estimated=len({t.speaker for t in turns}))

    def to_document(self, media_id: Optional[str] = None, title: Optional[str] = None) -> Document:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started_wall or time.time()))
        media = MediaInfo(id=media_id or f"live-{stamp}", title=title or f"Live recording {stamp}",
                          source="microphone", duration=round(self.duration, 3), kind="live")
        stages = {"live": StageRecord(backend="live", options={}, seconds=round(
            sum(u.processing_s for u in self.utterances), 3))}
        detection = self.language_detection
        found = detection is not None and detection.language == self.language  # the check's language was used
        return Document(media=media, transcript=self.to_aligned(), stages=stages, language_detection=detection,
                        language_probability=detection.probability if found else None,
                        language_source="detected" if found else None)

    def save(self, workspace, out_dir: Optional[Path] = None, media_id: Optional[str] = None,
             title: Optional[str] = None) -> dict[str, Path]:
        """Write the audio, the utterances and transcript.{json,vtt,srt,rttm,txt} to the workspace."""
        from ..subtitles import write_outputs
        from ..workspace import atomic_path, atomic_write_json

        document = self.to_document(media_id, title)
        media_id = document.media.id
        paths: dict[str, Path] = {}
        if self.audio is not None and self.audio.size:
            target = workspace.audio_path(media_id)
            with atomic_path(target, suffix=".wav") as tmp:
                write_wav(tmp, self.audio)
            paths["audio"] = target
        paths["utterances"] = atomic_write_json(
            workspace.media_dir(media_id) / "live" / "utterances.json",
            {"duration": self.duration, "language": self.language,
             "language_detection": self.language_detection.model_dump(mode="json") if self.language_detection else None,
             "utterances": [u.model_dump(mode="json") for u in self.utterances]})
        target_dir = Path(out_dir) / media_id if out_dir else workspace.outputs_dir(media_id)
        paths.update(write_outputs(document, target_dir, diarization=self.to_diarization()))
        log.info("saved live session %s (%d utterances) to %s", media_id, len(self.utterances), target_dir)
        return paths
