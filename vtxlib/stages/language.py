"""language: Whisper's language identification over windows of the speech (or ``--language``),
then the ASR model for that language checked before any long work."""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..capabilities import ChecksAvailability, FallsBack, model_label, model_languages
from ..errors import BackendUnavailable
from ..language import AUTO, LanguageOptions, forced
from ..types import AudioFile, LanguageDetection, MediaInfo, StageRecord
from ..vad import SpeechRegions
from .base import Ref, RunContext, RunState, Stage
from .speech import detects_language

log = logging.getLogger("vtxlib.language")


class LanguageStage(Stage):
    name = "language"
    inputs = ("speech",)
    options_model = LanguageOptions
    output = LanguageDetection

    def compute(self, ctx: RunContext, state: RunState) -> None:
        media, audio_digest = state.media, [state.refs["audio"].digest]
        if ctx.options.language != AUTO:
            ctx.language = forced(ctx.options.language)
            state.put(self.name, ctx.language)
            ctx.records[self.name] = StageRecord(backend="forced", options={"language": ctx.options.language},
                                                 seconds=0.0)
        elif state.get("speech") is not None and detects_language(ctx) and \
                not ctx.cache.recorded_hit(ctx, "asr", media.id, audio_digest):
            ctx.language, ref = self.identify(ctx, media, state.get("audio"), state.get("speech"),
                                              state.refs["speech"])
            state.put(self.name, ctx.language, ref)
        detection = ctx.language
        if detection is None:
            return
        from ..language import log_note

        log_note(detection)
        if not ctx.cache.recorded_hit(ctx, "asr", media.id, audio_digest):
            check_asr_language(ctx.backends.get(ctx, "asr"), detection)

    def identify(self, ctx: RunContext, media: MediaInfo, audio: AudioFile, speech: SpeechRegions,
                 speech_ref: Ref) -> tuple[LanguageDetection, Optional[Ref]]:
        """A hub detector (the GPU tier's) that cannot be loaded gives way to the bundled one on the CPU,
        with one warning line; loaded on the GPU, it is released after the stage like every GPU model
        (``free_gpu_between_stages``). Without the detector's model (not installed) the language is not
        identified: one warning line, the default (English) model, nothing cached."""
        from ..language import unidentified

        options = LanguageOptions()
        with ctx.backends.released_after(ctx, self.name):
            detector = ctx.backends.get(ctx, self.name)
            while True:
                try:
                    return ctx.cached(media.id, self.name, detector.name, options.model_dump(mode="json"),
                                      [speech_ref.digest], lambda: detector.identify(audio.path, speech.regions, options),
                                      LanguageDetection.model_validate, model_files=detector.model_files())
                except BackendUnavailable as e:
                    detector = fall_back(detector, e)
                    if detector is None:
                        return unidentified(str(e)), None


def fall_back(detector: Any, error: BackendUnavailable) -> Any:
    """The detector to use instead of DETECTOR, whose model could not be loaded (ERROR), said in one
    warning line; None when it has none."""
    fallback = detector.fallback() if isinstance(detector, FallsBack) else None
    if fallback is not None:
        log.warning("language: %s; identifying the language with %s on the CPU instead", error, fallback.name)
    return fallback


def check_asr_language(backend: Any, detection: LanguageDetection) -> None:
    """An ASR model that does not handle the language: one line, before ASR and diarization start."""
    from ..asr import check_model_languages
    from ..language import mixed

    if detection.language is None:
        return
    needed = [detection.language, *mixed(detection)]
    check_model_languages(model_languages(backend), model_label(backend), detection, needed)
    if isinstance(backend, ChecksAvailability):
        try:
            backend.check_available()
        except BackendUnavailable as e:
            raise BackendUnavailable(f"language {', '.join(needed)} needs the ASR model "
                                     f"{model_label(backend)}: {e}") from e
