"""Speech stage: where in the file someone is speaking, detected once and used by every later stage.

One detector per run, whose regions are one cached artifact (:class:`SpeechRegions`):

* with the ``embedded`` diarizer (the CPU tier's default), its own detector: segmentation-3.0's
  speech and overlap (:func:`vtxlib.diarize.embedded.detect_segmentation_speech`). whisper-cpu decodes those
  regions, and the diarizer rebuilds its voice count from them instead of running the model again,
  so ASR and diarization agree frame for frame on what is speech;
* otherwise (a diarizer that does not detect speech itself, or a diarization reused from an
  earlier GPU run), Silero VAD through faster-whisper's own torch-free module (``faster_whisper.vad``:
  the ONNX model it ships and its ``get_speech_timestamps``), so the model, framing and hysteresis
  are the library's, not a copy; this module.

whisper-cpu decodes each region widened by a pad (context for the decoder, chosen per detector) instead of
running its own VAD with other thresholds, so a recognised word lies inside (or within a pad of) the
diarizer's speech, and no word is left ``UNKNOWN`` because two detectors disagreed. The live
microphone path uses Silero frame by frame (:class:`vtxlib.live.segment.StreamingVad`): segmentation-3.0
needs 10 s of context, too late for live text.

The file is read in ``block_s`` blocks (memory stays flat with its length), each scored with the
``LEAD_S`` seconds before it so that the model does not start cold at its edge; a region cut by a
block boundary is joined again.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np
from pydantic import Field

from .audio import SAMPLE_RATE
from .errors import missing_dependency
from .types import OptionsModel, VtxModel

log = logging.getLogger("vtxlib.vad")

LEAD_S = 2.0  # audio before a block scored with it (then dropped): the model's state is warm at the block's start


class SpeechOptions(OptionsModel):
    """silero-vad's own defaults (threshold, minimum silence, padding), but short bursts are kept
    (faster-whisper's VAD keeps them too; dropping them cost ASR words on the synthetic files)."""

    threshold: float = 0.5
    min_speech_ms: int = 0
    min_silence_ms: int = 100
    speech_pad_ms: int = 30
    block_s: float = 300.0  # audio read and scored per call (memory); not part of the result's key

    def cache_dict(self) -> dict:
        return self.model_dump(mode="json", exclude={"block_s"})


class SpeechRegions(VtxModel):
    """Speech regions ``(start, end)`` in seconds, sorted and disjoint; ``overlaps``: where two
    voices speak at once (segmentation-3.0 tells; Silero does not, so they stay empty)."""

    regions: list[tuple[float, float]] = Field(default_factory=list)
    overlaps: list[tuple[float, float]] = Field(default_factory=list)
    duration: float = 0.0
    backend: str = "silero"
    model_version: Optional[str] = None

    @property
    def speech_seconds(self) -> float:
        return sum(end - start for start, end in self.regions)

    def padded(self, pad_s: float, min_gap_s: float = 0.0) -> list[tuple[float, float]]:
        """The regions widened by ``pad_s`` (clipped to the file), joined where less than
        ``min_gap_s`` apart (or overlapping after padding)."""
        out: list[list[float]] = []
        for start, end in self.regions:
            start, end = max(0.0, start - pad_s), min(self.duration, end + pad_s)
            if out and start - out[-1][1] < max(min_gap_s, 1e-9):
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        return [(round(s, 3), round(e, 3)) for s, e in out]

    def mask(self, times: np.ndarray) -> np.ndarray:
        """True where a time (seconds) lies inside a region."""
        return _inside(self.regions, times)

    def overlap_mask(self, times: np.ndarray) -> np.ndarray:
        """True where a time (seconds) lies inside an overlap."""
        return _inside(self.overlaps, times)


def _inside(spans: list[tuple[float, float]], times: np.ndarray) -> np.ndarray:
    if not spans:
        return np.zeros(len(times), dtype=bool)
    bounds = np.asarray(spans, dtype=np.float64).reshape(-1)
    return (np.searchsorted(bounds, np.asarray(times, dtype=np.float64), side="right") % 2) == 1


def _faster_whisper_vad():
    try:
        from faster_whisper import vad
    except ImportError as e:
        raise missing_dependency("faster-whisper", "cpu", "Speech detection (Silero VAD)") from e
    return vad


def detect_speech(path: str, options: Optional[SpeechOptions] = None) -> SpeechRegions:
    """Silero speech regions of a 16 kHz mono wav, scored block by block (Silero's
    ``get_speech_timestamps``; not segmentation-3.0's, which :mod:`vtxlib.diarize.embedded` detects)."""
    from .audio import load_audio, read_info
    from .versions import package_version

    options = options or SpeechOptions()
    info = read_info(path)
    if info.sample_rate != SAMPLE_RATE:
        raise ValueError(f"speech detection expects {SAMPLE_RATE} Hz audio, {path} is {info.sample_rate} Hz")
    duration = info.duration
    regions: list[tuple[float, float]] = []
    for start in np.arange(0.0, duration, options.block_s).tolist():
        lead = min(start, LEAD_S)
        samples = load_audio(path, start - lead, start + options.block_s)
        block = [(max(start, start - lead + s), start - lead + e) for s, e in speech_in_samples(samples, options)]
        regions = _joined(regions, [(round(s, 3), round(e, 3)) for s, e in block if e > start])
    speech = SpeechRegions(regions=regions, duration=round(duration, 3), backend="silero",
                           model_version=package_version("faster-whisper"))
    log.info("speech detection: %d regions, %.1f s of speech in %.1f s", len(regions),
             speech.speech_seconds, duration)
    return speech


def speech_in_samples(samples: np.ndarray, options: Optional[SpeechOptions] = None) -> list[tuple[float, float]]:
    """Speech regions (seconds) of a 16 kHz waveform, by faster-whisper's ``get_speech_timestamps``."""
    options = options or SpeechOptions()
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        return []
    vad = _faster_whisper_vad()
    chunks = vad.get_speech_timestamps(samples, vad.VadOptions(
        threshold=options.threshold, min_speech_duration_ms=options.min_speech_ms,
        min_silence_duration_ms=options.min_silence_ms, speech_pad_ms=options.speech_pad_ms))
    return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]


def _joined(regions: list[tuple[float, float]], more: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """REGIONS followed by MORE, a region ending where the next begins (a block edge) joined."""
    out = list(regions)
    for start, end in more:
        if out and start <= out[-1][1] + 1e-3:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def load_vad_model():
    """faster-whisper's Silero model (an ONNX session, loaded once per process)."""
    return _faster_whisper_vad().get_vad_model()
