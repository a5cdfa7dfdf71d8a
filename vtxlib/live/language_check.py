"""The language check of live transcription: when no language was named, the first seconds of speech are
identified as the language stage identifies a file, so that Spanish said into the microphone does not
go on coming out as English words."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..language import LanguageOptions, identify
from ..types import LanguageDetection
from .session import SAMPLE_RATE

#: Seconds of speech heard before the check: one of the language stage's windows (LanguageOptions.window_s).
#: Under 5 s the stage identifies espeak-ng's voices about half the time (docs/languages.md).
CHECK_AFTER_S = LanguageOptions().window_s


class LanguageCheck:
    """Collects the speech of the first utterances and, once ``after_s`` seconds of it are in, identifies
    its language once with DETECTOR (a ``WhisperLanguageDetector``: ``vtxlib.language.identify`` with
    decoding, as the language stage does)."""

    def __init__(self, detector, after_s: float = CHECK_AFTER_S, options: Optional[LanguageOptions] = None):
        self.detector = detector
        self.after_s = after_s
        self.options = options or LanguageOptions()
        self.detection: Optional[LanguageDetection] = None
        self._speech: list[np.ndarray] = []

    def load(self) -> None:
        self.detector.model  # noqa: B018 - loaded now, not in the middle of the stream

    def reset(self) -> None:
        self.detection, self._speech = None, []

    @property
    def done(self) -> bool:
        return self.detection is not None

    def hear(self, samples: np.ndarray) -> Optional[LanguageDetection]:
        """Add one utterance's audio; the identification when this one completes ``after_s`` seconds."""
        if self.done:
            return None
        self._speech.append(np.asarray(samples, dtype=np.float32))
        heard = sum(piece.size for piece in self._speech) / SAMPLE_RATE
        if heard < self.after_s:
            return None
        self.load()
        speech, self._speech = np.concatenate(self._speech), []
        read = lambda start, end: speech[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]  # noqa: E731
        self.detection = identify(read, [(0.0, speech.size / SAMPLE_RATE)], self.detector, self.options,
                                  decode=self.detector.decode)
        return self.detection


def another_language(detection: LanguageDetection, current: str) -> Optional[str]:
    """The language to switch to: the one identified, when it is not CURRENT and the identification is sure."""
    if detection.language in (None, current) or detection.low_confidence:
        return None
    return detection.language
