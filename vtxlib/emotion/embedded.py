"""The embedded CPU emotion estimator: prosody for arousal, a word lexicon for valence.

This is **not** a trained speech-emotion model. No package on PyPI ships speech-emotion weights
that run offline, so the CPU tier uses two transparent signals and fixed, documented rules
(docs/emotion.md explains them and their limits):

* arousal (calm <-> agitated) from prosody, each relative to the same speaker's median over the
  file: loudness (frame RMS in dB), pitch level and pitch spread (autocorrelation pitch tracker),
  and speaking rate (syllables per second of the words' timings);
* valence (negative <-> positive) from the words alone, with the VADER lexicon that ships inside
  the ``vaderSentiment`` package (English only).

Both axes map onto the four IEMOCAP labels through the linear logits in :data:`LABEL_LOGITS` and
a softmax. Every result says ``backend="embedded-prosody-lexicon"``.

The lexicon is English. For speech in any other language (:meth:`EmbeddedEmotion.for_language`)
the estimator uses prosody only: valence is left at 0 (English word lists are never scored against
foreign text), and every result says ``backend="embedded-prosody"``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Iterable, Optional

import numpy as np
from pydantic import Field

from ..errors import missing_dependency
from ..types import AudioFile, Emotion, OptionsModel, Turn, VtxModel
from .base import LABELS, ProgressFn
from .stage import EmotionWindow, WindowOptions, classify_turns_by_windows

log = logging.getLogger("vtxlib.emotion")

BACKEND_ID = "embedded-prosody-lexicon"
PROSODY_ONLY_ID = "embedded-prosody"  # no lexicon: speech in a language other than English
LEXICON_LANGUAGES = ("en",)  # VADER's word list

#: logit(label) = bias + arousal_weight * arousal + valence_weight * valence, then softmax.
LABEL_LOGITS: dict[str, tuple[float, float, float]] = {
    #          bias, arousal, valence
    "neutral": (0.0, 0.0, 0.0),
    "happy": (-1.5, 1.0, 2.5),
    "angry": (-1.5, 1.5, -2.5),
    "sad": (-1.5, -2.0, -1.5),
}

#: How much each prosodic cue counts towards arousal, and the smallest spread (per speaker) used to
#: standardise it, so that a speaker with very uniform delivery does not turn noise into emotion.
AROUSAL_CUES: dict[str, tuple[float, float]] = {
    #               weight, minimum scale
    "loudness_db": (0.4, 3.0),
    "pitch_semitones": (0.25, 1.5),
    "pitch_spread": (0.15, 1.0),
    "speech_rate": (0.2, 0.8),
}

ANALYSIS_RATE = 8000  # pitch and energy are computed after 2x decimation: half the cost, enough for F0
FRAME_SECONDS = 0.040  # 40 ms frames cover two periods of a 50 Hz voice
HOP_SECONDS = 0.020
F0_MIN, F0_MAX = 60.0, 400.0
VOICING_THRESHOLD = 0.45  # normalised autocorrelation peak above which a frame counts as voiced
SILENCE_BELOW_PEAK_DB = 35.0  # frames this far below the window's loudest frame are pauses
_VOWEL_GROUPS = re.compile(r"[aeiouy]+", re.IGNORECASE)


class EmbeddedEmotionOptions(OptionsModel):
    windows: WindowOptions = Field(default_factory=WindowOptions)
    use_lexicon: bool = True  # False: arousal only (e.g. for languages VADER does not cover)


class WindowCues(VtxModel):
    """The measurements one window contributes; None where a cue could not be measured."""

    speaker: str
    loudness_db: Optional[float]
    pitch_semitones: Optional[float]
    pitch_spread: Optional[float]
    speech_rate: Optional[float]
    valence: float


# -- prosody -------------------------------------------------------------------------------------

def _analysis_frames(samples: np.ndarray) -> np.ndarray:
    """Decimate 16 kHz -> 8 kHz (pairwise mean, a crude but adequate low-pass) and frame it."""
    x = np.asarray(samples, dtype=np.float32)
    x = x[: len(x) // 2 * 2].reshape(-1, 2).mean(axis=1)
    frame, hop = int(FRAME_SECONDS * ANALYSIS_RATE), int(HOP_SECONDS * ANALYSIS_RATE)
    if len(x) < frame:
        return np.zeros((0, frame), dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]


def _frame_db(frames: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(rms + 1e-9)


def _speech_frames(db: np.ndarray) -> np.ndarray:
    if db.size == 0:
        return np.zeros(0, dtype=bool)
    return (db > db.max() - SILENCE_BELOW_PEAK_DB) & (db > -60.0)


def pitch_track(frames: np.ndarray) -> np.ndarray:
    """F0 in Hz per frame (NaN where unvoiced) from the windowed, normalised autocorrelation
    (Boersma's method without its path search: one FFT per frame, vectorised)."""
    if len(frames) == 0:
        return np.zeros(0)
    size = frames.shape[1]
    taper = np.hanning(size)
    x = (frames - frames.mean(axis=1, keepdims=True)) * taper
    nfft = 1 << (2 * size - 1).bit_length()
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, nfft)) ** 2, nfft)[:, :size]
    taper_ac = np.fft.irfft(np.abs(np.fft.rfft(taper, nfft)) ** 2, nfft)[:size]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ac / np.maximum(ac[:, :1], 1e-12)) / (taper_ac / taper_ac[0])
    lo, hi = int(ANALYSIS_RATE / F0_MAX), min(int(ANALYSIS_RATE / F0_MIN), size - 2)
    band = r[:, lo:hi + 1]
    best = _shortest_strong_lag(band)
    peak = band[np.arange(len(band)), best]
    lag = (best + lo).astype(float)
    # parabolic interpolation around the peak for sub-sample lag precision
    left = r[np.arange(len(r)), np.clip(best + lo - 1, 0, size - 1)]
    right = r[np.arange(len(r)), np.clip(best + lo + 1, 0, size - 1)]
    denom = left - 2 * peak + right
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / denom, 0.0)
    f0 = ANALYSIS_RATE / (lag + np.clip(shift, -0.5, 0.5))
    return np.where(peak > VOICING_THRESHOLD, f0, np.nan)


def _shortest_strong_lag(band: np.ndarray) -> np.ndarray:
    """Index of the first local maximum within 10% of the strongest one.

    A periodic signal correlates as well at 2T, 3T, ... as at T; taking the global maximum would
    report sub-octaves, so the shortest lag that is nearly as strong wins.
    """
    inner = band[:, 1:-1]
    local_max = (inner > band[:, :-2]) & (inner >= band[:, 2:])
    strong = local_max & (inner >= 0.9 * band.max(axis=1, keepdims=True))
    first = np.argmax(strong, axis=1) + 1
    return np.where(strong.any(axis=1), first, np.argmax(band, axis=1))


def count_syllables(word: str) -> int:
    return max(1, len(_VOWEL_GROUPS.findall(word)))


def speech_rate(window: EmotionWindow) -> Optional[float]:
    """Syllables per second over the time the window's words occupy (pauses excluded)."""
    spoken = sum(max(0.0, min(w.end, window.end) - max(w.start, window.start)) for w in window.words)
    if spoken < 0.3:
        return None
    return sum(count_syllables(w.text) for w in window.words if w.text.strip()) / spoken


def measure_prosody(samples: np.ndarray) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(loudness dB, median pitch in semitones re 100 Hz, pitch spread in semitones) of speech frames."""
    frames = _analysis_frames(samples)
    db = _frame_db(frames)
    speech = _speech_frames(db)
    if not speech.any():
        return None, None, None
    loudness = float(np.mean(db[speech]))
    f0 = pitch_track(frames[speech])
    voiced = f0[np.isfinite(f0)]
    if len(voiced) < 5:
        return loudness, None, None
    semitones = 12.0 * np.log2(voiced / 100.0)
    median = float(np.median(semitones))
    # a robust spread (scaled MAD): a few octave or fricative errors must not look like excitement
    return loudness, median, 1.4826 * float(np.median(np.abs(semitones - median)))


# -- valence -------------------------------------------------------------------------------------

class Lexicon:
    """VADER's compound sentiment of a text in [-1, 1] (0 for no text)."""

    def __init__(self):
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as e:
            raise missing_dependency("vaderSentiment", "cpu", "The embedded emotion estimator") from e
        self._analyzer = SentimentIntensityAnalyzer()

    def valence(self, text: str) -> float:
        return float(self._analyzer.polarity_scores(text)["compound"]) if text.strip() else 0.0


# -- combination ---------------------------------------------------------------------------------

def measure_window(window: EmotionWindow, samples: np.ndarray, lexicon: Optional[Lexicon]) -> WindowCues:
    loudness, pitch, spread = measure_prosody(samples)
    return WindowCues(speaker=window.speaker, loudness_db=loudness, pitch_semitones=pitch,
                      pitch_spread=spread, speech_rate=speech_rate(window),
                      valence=lexicon.valence(window.text) if lexicon else 0.0)


def speaker_baselines(cues: list[WindowCues]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per speaker and cue: (median, robust scale) over all that speaker's windows."""
    baselines: dict[str, dict[str, tuple[float, float]]] = {}
    for speaker in {c.speaker for c in cues}:
        mine = [c for c in cues if c.speaker == speaker]
        baselines[speaker] = {}
        for name, (_, min_scale) in AROUSAL_CUES.items():
            values = np.array([getattr(c, name) for c in mine if getattr(c, name) is not None])
            if len(values) == 0:
                continue
            median = float(np.median(values))
            mad = 1.4826 * float(np.median(np.abs(values - median)))
            baselines[speaker][name] = (median, max(mad, min_scale))
    return baselines


def arousal(cue: WindowCues, baseline: dict[str, tuple[float, float]]) -> float:
    """tanh of the weighted mean z-score of the measurable cues; 0 = the speaker's usual delivery."""
    total, weights = 0.0, 0.0
    for name, (weight, _) in AROUSAL_CUES.items():
        value = getattr(cue, name)
        if value is None or name not in baseline:
            continue
        median, scale = baseline[name]
        total += weight * (value - median) / scale
        weights += weight
    return math.tanh(total / weights) if weights else 0.0


def label_scores(arousal_value: float, valence_value: float) -> dict[str, float]:
    logits = np.array([bias + wa * arousal_value + wv * valence_value
                       for bias, wa, wv in (LABEL_LOGITS[label] for label in LABELS)])
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return {label: float(p) for label, p in zip(LABELS, probs)}


def score_cues(cues: list[WindowCues]) -> list[dict[str, float]]:
    baselines = speaker_baselines(cues)
    return [label_scores(arousal(c, baselines.get(c.speaker, {})), c.valence) for c in cues]


class EmbeddedEmotion:
    """``embedded`` backend: the prosody + lexicon estimator (CPU, offline, milliseconds per turn)."""

    name = "embedded"

    def __init__(self, options: Optional[EmbeddedEmotionOptions] = None):
        self.options = options or EmbeddedEmotionOptions()
        self._lexicon: Optional[Lexicon] = None
        if self.options.use_lexicon:
            self._lexicon = Lexicon()  # fail at construction, not half way through a run

    @property
    def estimator(self) -> str:
        return BACKEND_ID if self._lexicon is not None else PROSODY_ONLY_ID

    def options_dict(self) -> dict:
        return {**self.options.model_dump(mode="json"), "estimator": self.estimator, "version": 1}

    def for_language(self, language: Optional[str]) -> "EmbeddedEmotion":
        """This estimator for speech in LANGUAGE: itself for English (or unknown), else one that
        uses prosody only (the lexicon is English)."""
        if language is None or language in LEXICON_LANGUAGES or self._lexicon is None:
            return self
        log.info("emotion: the speech is in %s, and the embedded estimator's lexicon (VADER) is English: "
                 "prosody only (arousal), valence not judged", language)
        return EmbeddedEmotion(self.options.model_copy(update={"use_lexicon": False}))

    def classify_turns(self, audio: AudioFile, turns: list[Turn],
                       progress: Optional[ProgressFn] = None) -> list[Optional[Emotion]]:
        return classify_turns_by_windows(audio, turns, self._score_windows, self.options.windows,
                                         self.estimator, progress)

    def measure(self, pairs: Iterable[tuple[EmotionWindow, np.ndarray]]) -> list[WindowCues]:
        return [measure_window(window, samples, self._lexicon) for window, samples in pairs]

    def _score_windows(self, pairs: Iterable[tuple[EmotionWindow, np.ndarray]]) -> list[dict[str, float]]:
        # two passes: baselines need every window of a speaker before any window can be scored
        return score_cues(self.measure(pairs))

    def close(self) -> None:
        """Nothing heavy to release: the lexicon is a small dict."""
