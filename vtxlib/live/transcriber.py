"""The live transcriber: chunks in, transcribed utterances out, one model loaded once."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

import numpy as np

from ..errors import BackendUnavailable, InputError, VtxError
from .capture import AudioSource
from .language_check import LanguageCheck, another_language
from .segment import Cut, StreamingVad, UtteranceSegmenter
from .session import FRAME_SAMPLES, SAMPLE_RATE, LiveOptions, LiveSession, Utterance
from .speakers import SPEAKER_THRESHOLD, SpeakerTracker

log = logging.getLogger("vtxlib.live")

class LiveTranscriber:
    """VAD-segmented streaming transcription with an already-loaded ASR backend.

    ``asr`` needs ``transcribe_array(samples, duration, offset=...) -> Transcript`` (the
    ``whisper-cpu`` backend has it). Use :meth:`run` to consume a source to its end, or
    :meth:`start` / :meth:`stop` to run in a background thread (notebook widget).

    With a ``language_check`` (no language was named), the first seconds of speech are identified
    once; when they are surely another language than ``language``, ``switch_asr(language)`` gives
    the backend that transcribes the rest (None: the mismatch is only said, in one warning line).
    """

    def __init__(self, asr, options: Optional[LiveOptions] = None, vad: Optional[StreamingVad] = None,
                 speakers: Optional[SpeakerTracker] = None,
                 on_utterance: Optional[Callable[[Utterance], None]] = None,
                 language: Optional[str] = None, language_check: Optional[LanguageCheck] = None,
                 switch_asr: Optional[Callable[[str], object]] = None):
        if not hasattr(asr, "transcribe_array"):
            raise BackendUnavailable(f"live transcription needs an ASR backend with transcribe_array "
                                     f"(whisper-cpu); {getattr(asr, 'name', type(asr).__name__)} has none")
        self.asr = asr
        self.options = options or LiveOptions()
        self.vad = vad
        self.speakers = speakers
        if self.speakers is None and self.options.speaker_labels:
            self.speakers = SpeakerTracker(self.options.speaker_threshold or SPEAKER_THRESHOLD, self.options.min_embed_s)
        self.on_utterance = on_utterance
        self.language = language
        self.language_check = language_check
        self.switch_asr = switch_asr
        self._thread: Optional[threading.Thread] = None
        self._source: Optional[AudioSource] = None
        self.error: Optional[BaseException] = None
        self._reset()

    # -- lifecycle -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load every model now, so the first utterance does not pay for it."""
        if self.vad is None:
            self.vad = StreamingVad()
        model = getattr(self.asr, "model", None)  # whisper-cpu loads lazily on first access
        if model is None:
            log.debug("ASR backend %s has no lazy model attribute", getattr(self.asr, "name", "?"))
        if self.speakers is not None:
            from ..diarize.models import load_campplus

            load_campplus()
        if self.language_check is not None:
            self.language_check.load()

    def _reset(self) -> None:
        self.session = LiveSession()
        self.segmenter = UtteranceSegmenter(self.options)
        self._chunks: list[np.ndarray] = []  # the stream so far (kept for slicing and saving)
        self._offset = 0  # samples dropped from the front of _chunks when keep_audio is off
        self._samples = 0
        self._realtime = False
        self._started_at: Optional[float] = None
        if self.vad is not None:
            self.vad.reset()
        if self.speakers is not None:
            self.speakers.reset()
        if self.language_check is not None:
            self.language_check.reset()

    def run(self, source: AudioSource) -> LiveSession:
        """Consume SOURCE to its end (or until :meth:`stop`), flush, and return the session."""
        self.warm_up()
        self._reset()
        self._source = source
        self._realtime = bool(getattr(source, "realtime", False))
        self.session.started_wall = time.time()
        for chunk in source:
            if self._started_at is None:
                self._started_at = getattr(source, "started_at", None) or time.perf_counter()
            self.feed(chunk)
        self.flush()
        return self.session

    def start(self, source: AudioSource) -> None:
        """Run in a background thread; :meth:`stop` ends it and returns the session."""
        if self._thread is not None and self._thread.is_alive():
            raise InputError("this live transcriber is already recording; stop it first")
        self.warm_up()
        self.error = None

        def target() -> None:
            try:
                self.run(source)
            except BaseException as e:  # reported by stop(); a thread has nobody else to tell
                self.error = e
                if isinstance(e, VtxError):  # one clear line, raised again by stop(): no traceback
                    log.debug("live transcription stopped: %s", e, exc_info=True)
                else:
                    log.exception("live transcription stopped by an error")

        self._thread = threading.Thread(target=target, name="vtx-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: Optional[float] = 30.0) -> LiveSession:
        if self._source is not None:
            self._source.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("live transcription did not finish within %.0f s", timeout or 0)
            self._thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.session

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- streaming -----------------------------------------------------------------------
    def feed(self, chunk: np.ndarray) -> list[Utterance]:
        """Add CHUNK; returns the utterances it completed (already transcribed)."""
        if self.vad is None:
            self.warm_up()
        if self._started_at is None:
            self._started_at = time.perf_counter()
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        self._chunks.append(chunk)
        self._samples += chunk.size
        self.session.duration = self._samples / SAMPLE_RATE
        closed = self.segmenter.push(self.vad.process(chunk))
        results = [self._emit(cut) for cut in closed]
        self._trim_history()
        return [u for u in results if u is not None]

    def flush(self) -> list[Utterance]:
        """Transcribe the utterance still open (on stop or end of stream)."""
        closed: list[Cut] = []
        if self.vad is not None and self.vad.pending.size:
            tail = self.vad.pending.size
            pad = np.zeros(FRAME_SAMPLES - tail, dtype=np.float32)
            closed += self.segmenter.push(self.vad.process(pad))  # completing the last frame may end the utterance
        closed += self.segmenter.flush()
        for cut in closed:
            cut.end, cut.decided_at = min(cut.end, self._samples), min(cut.decided_at, self._samples)
        results = [self._emit(cut) for cut in closed]
        if self.options.keep_audio and self._chunks:
            self.session.audio = np.concatenate(self._chunks)
        return [u for u in results if u is not None]

    def _emit(self, cut: Cut) -> Optional[Utterance]:
        decided = time.perf_counter()
        pad = int(self.options.pad_s * SAMPLE_RATE)
        start, end = cut.start, cut.end
        first = start if cut.split_start else max(0, start - pad)
        last = end if cut.split_end else min(self._samples, end + pad)
        samples = self._slice(first, last)
        if samples.size == 0:
            return None
        self._check_language(samples)  # may switch the model before this utterance is transcribed
        transcript = self.asr.transcribe_array(samples, samples.size / SAMPLE_RATE, offset=first / SAMPLE_RATE)
        self.session.language = self.session.language or transcript.language
        words = [w for s in transcript.segments for w in s.words]
        if not words:
            log.debug("utterance %.2f-%.2f s: no words recognised", first / SAMPLE_RATE, last / SAMPLE_RATE)
            return None
        if self.speakers is None:
            pieces = [(first, last, words, None)]
        else:  # one utterance per voice: the cut at a pause may hold a hand-over between speakers
            pieces = [(a, b, group, self.speakers.assign(self._slice(a, b), vector))
                      for a, b, group, vector in self._speaker_pieces(start, end, first, last, words)]
        done = time.perf_counter()
        emitted = None
        for piece_first, piece_last, group, speaker in pieces:
            emitted = self._record(piece_first, piece_last, group, speaker, cut, end, decided, done)
        return emitted

    def _check_language(self, samples: np.ndarray) -> None:
        """Hear SAMPLES (the utterance about to be transcribed) for the language check; once it has
        decided, keep the language or switch to the one found, from this utterance on."""
        if self.language_check is None or self.language_check.done:
            return
        detection = self.language_check.hear(samples)
        if detection is None:
            return
        self.session.language_detection = detection
        self.session.language_decided_after = len(self.session.utterances)
        found = another_language(detection, self.language)
        if found is None:
            if detection.low_confidence and detection.language not in (None, self.language):
                self._say(logging.WARNING,
                          f"the first {detection.speech_seconds:.0f} s of speech may be {detection.language}, but "
                          f"not surely (p={detection.probability:.2f}): still transcribed as {self.language}; name "
                          f"the language with --language xx")
            else:
                self._say(logging.INFO, detection.note)
            return
        heard = f"the speech is {found} (p={detection.probability:.2f}), not {self.language}"
        if self.switch_asr is None:
            self._say(logging.WARNING, f"{heard}, but the model named transcribes {self.language}; restart with "
                                       f"--language {found} and a model for it")
            return
        self.asr = self.switch_asr(found)
        before = len(self.session.utterances)
        self._say(logging.WARNING, f"{heard}: transcribing it in {found}" + ("" if not before else (
            f" from here on; the {before} utterance(s) before were transcribed as {self.language} "
            f"(--language {found} from the start avoids that)")))
        self.language = self.session.language = found

    def _say(self, level: int, note: str) -> None:
        """The language check's one line: logged, and kept on the session for the notebook widget."""
        self.session.language_note = note
        log.log(level, "%s", note)

    def _record(self, first: int, last: int, words: list, speaker: Optional[str], cut: Cut, end: int,
                decided: float, done: float) -> Utterance:
        utterance = Utterance(index=len(self.session.utterances), start=round(first / SAMPLE_RATE, 3),
                              end=round(last / SAMPLE_RATE, 3), words=words, speaker=speaker,
                              endpoint_delay_s=round((cut.decided_at - end) / SAMPLE_RATE, 3),
                              processing_s=round(done - decided, 3))
        utterance.latency_s, utterance.measured_realtime = self._latency(utterance, end, done)
        if speaker:
            for w in words:
                w.speaker = speaker
        self.session.utterances.append(utterance)
        log.info("utterance %d (%.2f-%.2f s, latency %.2f s): %s", utterance.index, utterance.start,
                 utterance.end, utterance.latency_s, utterance.text)
        if self.on_utterance is not None:
            self.on_utterance(utterance)
        return utterance

    def _speaker_pieces(self, start: int, end: int, first: int, last: int, words: list) -> list[tuple]:
        """(first, last, words, embedding or None) per voice in one cut: the words are grouped into phrases at pauses of
        ``phrase_gap_s`` (a phrase at least ``min_embed_s`` long, shorter ones joined to the next), and
        a new piece starts where a phrase's voice differs from the previous phrase's (CAM++ cosine
        below the tracker's threshold). One piece when nothing differs."""
        phrases = _phrases(words, self.options.phrase_gap_s, self.options.min_embed_s)
        if len(phrases) < 2:
            return [(first, last, words, None)]
        bounds = [(max(start, int(group[0].start * SAMPLE_RATE)), min(end, int(group[-1].end * SAMPLE_RATE)))
                  for group in phrases]
        vectors = [self.speakers.embed(self._slice(a, b)) for a, b in bounds]
        pieces, current, mine = [], list(phrases[0]), [vectors[0]]
        piece_first = first
        for k in range(1, len(phrases)):
            if float(vectors[k - 1] @ vectors[k]) < self.speakers.threshold:
                cut_at = (bounds[k - 1][1] + bounds[k][0]) // 2  # the middle of the pause between them
                pieces.append((piece_first, cut_at, current, np.mean(mine, axis=0)))
                piece_first, current, mine = cut_at, [], []
            current += phrases[k]
            mine.append(vectors[k])
        pieces.append((piece_first, last, current, np.mean(mine, axis=0)))  # a piece's voice: its phrases' mean
        return pieces

    def _latency(self, utterance: Utterance, speech_end: int, emitted: float) -> tuple[float, bool]:
        if self._realtime and self._started_at is not None:
            spoken = self._started_at + speech_end / SAMPLE_RATE
            return round(emitted - spoken, 3), True
        return round(utterance.endpoint_delay_s + utterance.processing_s, 3), False

    def _slice(self, first: int, last: int) -> np.ndarray:
        first, last = first - self._offset, last - self._offset
        if last <= 0:
            return np.zeros(0, dtype=np.float32)
        out, position = [], 0
        for chunk in self._chunks:
            lo, hi = max(first - position, 0), min(last - position, chunk.size)
            if lo < hi:
                out.append(chunk[lo:hi])
            position += chunk.size
            if position >= last:
                break
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _trim_history(self) -> None:
        """Without keep_audio, drop audio older than the open utterance (plus padding)."""
        if self.options.keep_audio:
            return
        open_start = self.segmenter.speech_start
        keep_from = (open_start if open_start is not None else self._samples) - int(
            (self.options.pad_s + 1.0) * SAMPLE_RATE)
        while self._chunks and self._offset + self._chunks[0].size < keep_from:
            self._offset += self._chunks.pop(0).size


def create_live_transcriber(asr_model: Optional[str] = None, language: Optional[str] = None,
                            options: Optional[LiveOptions] = None, beam_size: int = 1,
                            on_utterance: Optional[Callable[[Utterance], None]] = None) -> LiveTranscriber:
    """A transcriber on the embedded tier (whisper-cpu) for speech in LANGUAGE (a Whisper code:
    bundled tiny.en for English, bundled base for the others, unless ``asr_model``), with its
    models loaded now. Greedy decoding without faster-whisper's own VAD: utterances are already cut
    at silences, and latency matters more than the last bit of accuracy.

    LANGUAGE None or ``auto``: English, checked. The first ~10 s of speech are identified (the bundled base
    model, loaded now too); when they are surely another language, the rest is transcribed in it
    with the model ``auto`` chooses for it (only said, when ``asr_model`` was named)."""
    from ..asr import check_model_languages, choose_asr_model
    from ..asr.language_id import WhisperLanguageDetector
    from ..asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions
    from ..capabilities import model_languages
    from ..language import DETECTOR_MODEL, forced, live_language

    named = live_language(language)
    checked, language = named is None, named or "en"
    def live_asr(model: str, spoken: str, loaded=None) -> WhisperCpuAsr:
        return WhisperCpuAsr(WhisperCpuOptions(model=model, language=spoken, beam_size=beam_size, vad_filter=False),
                             model=loaded)

    model = asr_model or choose_asr_model([language], "cpu").model
    asr = live_asr(model, language)
    check_model_languages(model_languages(asr), model, forced(language), [language])  # tiny.en asked for es
    check = LanguageCheck(WhisperLanguageDetector()) if checked else None

    def switch_asr(found: str) -> WhisperCpuAsr:
        chosen = choose_asr_model([found], "cpu").model
        return live_asr(chosen, found, check.detector.model if chosen == DETECTOR_MODEL else None)  # base loaded once

    transcriber = LiveTranscriber(asr, options, on_utterance=on_utterance, language=language, language_check=check,
                                  switch_asr=switch_asr if checked and asr_model is None else None)
    transcriber.warm_up()
    return transcriber


def _phrases(words: list, gap_s: float, min_s: float) -> list[list]:
    """WORDS grouped at pauses of at least GAP_S; a group shorter than MIN_S joins the next one (the
    last joins the one before), so every group is long enough to embed."""
    groups: list[list] = []
    for word in words:
        if groups and word.start - groups[-1][-1].end < gap_s:
            groups[-1].append(word)
        else:
            groups.append([word])
    merged: list[list] = []
    for group in groups:
        if merged and merged[-1][-1].end - merged[-1][0].start < min_s:
            merged[-1] += group
        else:
            merged.append(group)
    if len(merged) > 1 and merged[-1][-1].end - merged[-1][0].start < min_s:
        tail = merged.pop()
        merged[-1] += tail
    return merged
