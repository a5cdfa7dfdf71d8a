"""Voice activity frame by frame and the cutting of a stream into utterances."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .session import CONTEXT_SAMPLES, FRAME_SAMPLES, SAMPLE_RATE, LiveOptions

log = logging.getLogger("vtxlib.live")

class StreamingVad:
    """Silero speech probabilities for a stream, one per 32 ms frame, state kept across chunks.

    The model is faster-whisper's (``faster_whisper.vad.get_vad_model``, the one the speech stage
    uses); its ``__call__`` scores a whole array from a fresh state, so the stream keeps the LSTM
    state and the previous frame's last samples here, framing each chunk the way that call does."""

    def __init__(self, model=None):
        from ..vad import load_vad_model

        self.model = model or load_vad_model()
        self.reset()

    def reset(self) -> None:
        self.hidden = np.zeros((1, 1, 128), dtype=np.float32)
        self.cell = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Probabilities of the whole frames completed by CHUNK (leftover samples wait)."""
        data = np.concatenate((self.pending, np.asarray(chunk, dtype=np.float32).reshape(-1)))
        n_frames = data.size // FRAME_SAMPLES
        self.pending = data[n_frames * FRAME_SAMPLES:]
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        frames = data[:n_frames * FRAME_SAMPLES].reshape(n_frames, FRAME_SAMPLES)
        contexts = np.concatenate((self.context[None], frames[:-1, -CONTEXT_SAMPLES:]))
        self.context = frames[-1, -CONTEXT_SAMPLES:].copy()
        block = np.ascontiguousarray(np.concatenate((contexts, frames), axis=1))
        probs, self.hidden, self.cell = self.model.session.run(
            None, {"input": block, "h": self.hidden, "c": self.cell})
        return probs.reshape(-1)


@dataclass
class Cut:
    """A closed utterance in stream samples: speech ``start``-``end``, decided at ``decided_at``.

    ``split_start`` / ``split_end`` mark boundaries made inside continuous speech (at
    ``max_utterance_s``): those are not padded, so no audio is transcribed twice.
    """

    start: int
    end: int
    decided_at: int
    split_start: bool = False
    split_end: bool = False


class UtteranceSegmenter:
    """Turns per-frame speech probabilities into utterance boundaries (sample indices).

    Hysteresis as in silero-vad: speech starts at ``threshold``; it ends once the probability has
    stayed below ``neg_threshold`` for ``min_silence_s``. Speech running past ``max_utterance_s``
    is split at the least speech-like frame of its last ``split_search_s`` seconds (a short pause
    between words, usually). Pure bookkeeping, no audio.
    """

    split_search_s = 2.0

    def __init__(self, options: LiveOptions):
        self.options = options
        self.neg_threshold = (options.vad_neg_threshold if options.vad_neg_threshold is not None
                              else max(options.vad_threshold - 0.15, 0.01))
        self.frames_seen = 0
        self.speech_start: Optional[int] = None  # sample index of the first speech frame
        self.silence_start: Optional[int] = None
        self.split_start = False
        self.probs: list[float] = []  # since speech_start, one per frame

    def push(self, probs: np.ndarray) -> list[Cut]:
        """Feed probabilities; returns the utterances they close."""
        closed = []
        opts = self.options
        for p in np.asarray(probs, dtype=np.float64):
            at = self.frames_seen * FRAME_SAMPLES
            self.frames_seen += 1
            now = at + FRAME_SAMPLES
            if self.speech_start is None:
                if p >= opts.vad_threshold:
                    self.speech_start, self.silence_start, self.probs = at, None, [p]
                continue
            self.probs.append(p)
            if p >= opts.vad_threshold:
                self.silence_start = None
            elif p < self.neg_threshold and self.silence_start is None:
                self.silence_start = at
            if self.silence_start is not None and now - self.silence_start >= opts.min_silence_s * SAMPLE_RATE:
                closed.extend(self._close(self.silence_start, now))
            elif now - self.speech_start >= opts.max_utterance_s * SAMPLE_RATE:
                closed.extend(self._split(now))
        return closed

    def flush(self) -> list[Cut]:
        """Close an utterance still open at the end of the stream."""
        if self.speech_start is None:
            return []
        now = self.frames_seen * FRAME_SAMPLES
        return self._close(self.silence_start if self.silence_start is not None else now, now)

    def _split(self, now: int) -> list[Cut]:
        search = min(len(self.probs) - 1, int(self.split_search_s * SAMPLE_RATE / FRAME_SAMPLES))
        window = np.asarray(self.probs[len(self.probs) - search:])
        index = len(self.probs) - 1 - int(np.argmin(window[::-1]))  # the latest of equal minima
        cut = self.speech_start + index * FRAME_SAMPLES
        closed = self._close(cut, now, split_end=True)
        self.speech_start, self.split_start, self.probs = cut, True, self.probs[index:]
        return closed

    def _close(self, end: int, now: int, split_end: bool = False) -> list[Cut]:
        start, split_start = self.speech_start, self.split_start
        self.speech_start, self.silence_start, self.split_start, self.probs = None, None, False, []
        if end - start < self.options.min_speech_s * SAMPLE_RATE:
            return []
        return [Cut(start, end, now, split_start, split_end)]
