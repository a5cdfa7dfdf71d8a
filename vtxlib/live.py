"""Live microphone transcription: audio chunks in, speaker-attributed utterances out.

The stream is cut into utterances by voice activity (Silero VAD, run frame by frame with its
state carried across chunks), not into fixed blocks: an utterance ends after ``min_silence_s`` of
trailing silence (or at ``max_utterance_s``), and is then transcribed by the already-loaded ASR
model with its absolute offset, so word times are stream times. Optionally each utterance's voice
embedding (resemblyzer) is matched to the speakers seen so far.

Capture is an interface (:class:`AudioSource`, chunks of float32 16 kHz mono):

* :class:`WavFileSource` replays a file, at real time or as fast as possible (tests, benchmarks);
* :class:`SoundDeviceSource` records from a local microphone (local Jupyter; needs PortAudio);
* :class:`ColabMicSource` receives PCM chunks sent by browser JavaScript in Google Colab.

:func:`live_widget` puts Record / Stop / Save buttons and a live transcript in a notebook.
"""

from __future__ import annotations

import base64
import html
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol

import numpy as np

from .audio import write_wav
from .errors import BackendUnavailable, InputError, missing_dependency
from .types import (AlignedTranscript, Diarization, Document, MediaInfo, SpeakerTurn, StageRecord,
                    Turn, Word)

log = logging.getLogger("vtxlib.live")

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # Silero's 32 ms frame at 16 kHz
CONTEXT_SAMPLES = 64  # Silero sees the last 64 samples of the previous frame with each frame
SPEAKER_PREFIX = "SPEAKER_"


# -- options and results ---------------------------------------------------------------------

@dataclass
class LiveOptions:
    vad_threshold: float = 0.5
    vad_neg_threshold: Optional[float] = None  # default vad_threshold - 0.15, as in silero-vad
    min_silence_s: float = 0.5  # trailing silence that ends an utterance
    min_speech_s: float = 0.25  # shorter bursts are dropped
    max_utterance_s: float = 15.0  # a monologue is cut here so text keeps flowing
    pad_s: float = 0.2  # audio kept before speech onset and after speech end
    speaker_labels: bool = False
    speaker_threshold: float = 0.75  # cosine similarity to a known speaker's centroid
    min_embed_s: float = 1.0  # shorter utterances join the closest known speaker instead
    keep_audio: bool = True  # keep the session audio so that it can be saved with the transcript

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LiveOptions":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Utterance:
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

    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words if w.text.strip())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Utterance":
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["words"] = [Word.from_dict(w) for w in data.get("words", [])]
        return cls(**values)


@dataclass
class LiveSession:
    """Everything a live run produced; convertible to the pipeline's transcript types."""

    utterances: list[Utterance] = field(default_factory=list)
    duration: float = 0.0
    started_wall: Optional[float] = None  # time.time() of the first sample
    language: Optional[str] = None
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
        return Document(media=media, transcript=self.to_aligned(), stages=stages)

    def save(self, workspace, out_dir: Optional[Path] = None, media_id: Optional[str] = None,
             title: Optional[str] = None) -> dict[str, Path]:
        """Write the audio, the utterances and transcript.{json,vtt,srt,rttm,txt} to the workspace."""
        from .subtitles import write_outputs
        from .workspace import atomic_path, atomic_write_json

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
             "utterances": [u.to_dict() for u in self.utterances]})
        target_dir = Path(out_dir) / media_id if out_dir else workspace.outputs_dir(media_id)
        paths.update(write_outputs(document, target_dir, diarization=self.to_diarization()))
        log.info("saved live session %s (%d utterances) to %s", media_id, len(self.utterances), target_dir)
        return paths


# -- capture ---------------------------------------------------------------------------------

class AudioSource(Protocol):
    """Yields float32 mono chunks at 16 kHz until the stream ends or :meth:`stop` is called."""

    sample_rate: int
    realtime: bool  # chunks arrive as they are captured (a microphone), not faster
    started_at: Optional[float]  # time.perf_counter() when the first sample was captured

    def __iter__(self) -> Iterator[np.ndarray]:
        ...

    def stop(self) -> None:
        ...


class WavFileSource:
    """Replays a wav file in ``chunk_ms`` chunks, at real time or as fast as it is consumed."""

    def __init__(self, path: Path | str, realtime: bool = True, chunk_ms: int = 100):
        from .audio import load_audio, read_info

        info = read_info(Path(path))
        if info.sample_rate != SAMPLE_RATE:
            raise InputError(f"{path}: expected a {SAMPLE_RATE} Hz wav, got {info.sample_rate} Hz "
                             f"(decode it first: ffmpeg -i IN -ac 1 -ar 16000 OUT.wav)")
        self.samples = load_audio(path)
        self.sample_rate = SAMPLE_RATE
        self.realtime = realtime
        self.chunk = max(1, int(SAMPLE_RATE * chunk_ms / 1000))
        self.started_at: Optional[float] = None
        self._stopped_at: Optional[float] = None
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[np.ndarray]:
        self.started_at = time.perf_counter()
        for first in range(0, self.samples.size, self.chunk):
            chunk = self.samples[first:first + self.chunk]
            captured = self.started_at + (first + chunk.size) / SAMPLE_RATE
            if self._stop.is_set() and (not self.realtime or captured > self._stopped_at):
                return  # like a microphone: audio captured before stop() is still delivered
            if self.realtime and not self._stop.is_set():
                self._stop.wait(max(0.0, captured - time.perf_counter()))
                if self._stop.is_set() and captured > self._stopped_at:
                    return
            yield chunk

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stopped_at = time.perf_counter()
            self._stop.set()


class _QueueSource:
    """Base for push-style sources: a capture callback puts chunks, iteration takes them."""

    realtime = True
    _END = None

    def __init__(self, max_queued_s: float = 120.0, chunk_s: float = 0.1):
        self.sample_rate = SAMPLE_RATE
        self.started_at: Optional[float] = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(max_queued_s / chunk_s)))
        self._stopped = threading.Event()
        self.dropped_chunks = 0

    def push(self, chunk: np.ndarray) -> None:
        if self._stopped.is_set():
            return
        if self.started_at is None:
            self.started_at = time.perf_counter() - chunk.size / SAMPLE_RATE
        try:
            self._queue.put_nowait(np.asarray(chunk, dtype=np.float32))
        except queue.Full:  # the consumer fell far behind; losing audio beats unbounded memory
            self.dropped_chunks += 1
            if self.dropped_chunks == 1:
                log.warning("live capture queue full: dropping audio (transcription is slower than real time)")

    def __iter__(self) -> Iterator[np.ndarray]:
        self._start_capture()
        try:
            while True:
                try:
                    chunk = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._stopped.is_set():
                        return
                    continue
                if chunk is self._END:
                    return
                yield chunk
        finally:
            self._stop_capture()

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            try:
                self._queue.put_nowait(self._END)
            except queue.Full:
                pass  # iteration ends on the stopped flag once the queue drains

    def _start_capture(self) -> None:
        pass

    def _stop_capture(self) -> None:
        pass


class SoundDeviceSource(_QueueSource):
    """A local microphone through ``sounddevice`` (PortAudio), for local Jupyter or scripts."""

    def __init__(self, device=None, chunk_ms: int = 100):
        super().__init__(chunk_s=chunk_ms / 1000)
        self.device = device
        self.blocksize = int(SAMPLE_RATE * chunk_ms / 1000)
        self._stream = None

    def _start_capture(self) -> None:
        sd = import_sounddevice()

        def callback(indata, frames, time_info, status):
            if status:
                log.debug("sounddevice status: %s", status)
            self.push(indata[:, 0].copy())

        self._stream = sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32",
                                      blocksize=self.blocksize, device=self.device, callback=callback)
        self._stream.start()

    def _stop_capture(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


def import_sounddevice():
    try:
        import sounddevice
    except ImportError as e:
        raise missing_dependency("sounddevice", "live", "Recording from a local microphone") from e
    except OSError as e:  # the wheel imports, but the PortAudio shared library is missing
        raise BackendUnavailable(
            f"sounddevice could not load PortAudio ({e}). Install it (Debian/Ubuntu: apt-get install "
            f"libportaudio2; macOS/Windows wheels bundle it). In Colab use ColabMicSource instead.") from e
    return sounddevice


# -- Colab: the browser captures, JavaScript sends base64 PCM chunks to a Python callback -------

COLAB_CALLBACK = "vtx_live_chunk"

COLAB_CAPTURE_JS = r"""
(async () => {
  const CALLBACK = "%(callback)s";
  const CHUNK_SECONDS = %(chunk_s)f;
  if (window.vtxLive) { await window.vtxLive.stop(); }
  const status = (text) => { const el = document.getElementById("vtx-live-status"); if (el) el.textContent = text; };
  const stream = await navigator.mediaDevices.getUserMedia(
      {audio: {channelCount: 1, echoCancellation: true, noiseSuppression: true}});
  const ctx = new (window.AudioContext || window.webkitAudioContext)();
  const input = ctx.createMediaStreamSource(stream);
  const rate = ctx.sampleRate;
  const chunkSamples = Math.round(rate * CHUNK_SECONDS);
  let pending = [], pendingLength = 0, seq = 0;
  const send = (floats) => {
    const pcm = new Int16Array(floats.length);
    for (let i = 0; i < floats.length; i++) {
      const s = Math.max(-1, Math.min(1, floats[i]));
      pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
    }
    const bytes = new Uint8Array(pcm.buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    google.colab.kernel.invokeFunction(CALLBACK, [btoa(binary), rate, seq++], {});
  };
  const collect = (floats) => {
    pending.push(new Float32Array(floats)); pendingLength += floats.length;
    if (pendingLength >= chunkSamples) {
      const joined = new Float32Array(pendingLength); let at = 0;
      for (const part of pending) { joined.set(part, at); at += part.length; }
      pending = []; pendingLength = 0;
      send(joined);
    }
  };
  let node;
  try {
    const worklet = `class VtxTap extends AudioWorkletProcessor {
      process(inputs) { if (inputs[0] && inputs[0][0]) this.port.postMessage(inputs[0][0]); return true; } }
      registerProcessor("vtx-tap", VtxTap);`;
    const url = URL.createObjectURL(new Blob([worklet], {type: "application/javascript"}));
    await ctx.audioWorklet.addModule(url);
    node = new AudioWorkletNode(ctx, "vtx-tap");
    node.port.onmessage = (event) => collect(event.data);
  } catch (err) {  // older browsers: the deprecated ScriptProcessorNode still works everywhere
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (event) => collect(event.inputBuffer.getChannelData(0));
  }
  const mute = ctx.createGain(); mute.gain.value = 0;
  input.connect(node); node.connect(mute); mute.connect(ctx.destination);
  window.vtxLive = {
    stop: async () => {
      if (pendingLength) { const rest = pending; pending = []; pendingLength = 0;
        const n = rest.reduce((a, p) => a + p.length, 0); const joined = new Float32Array(n); let at = 0;
        for (const part of rest) { joined.set(part, at); at += part.length; } send(joined); }
      stream.getTracks().forEach((t) => t.stop());
      await ctx.close();
      window.vtxLive = null;
      status("stopped");
    }
  };
  status("recording at " + rate + " Hz");
})();
"""

COLAB_STOP_JS = "if (window.vtxLive) { window.vtxLive.stop(); }"


def colab_capture_js(chunk_s: float, callback: str = COLAB_CALLBACK) -> str:
    """The browser-side recorder, sending a chunk every CHUNK_S seconds to CALLBACK."""
    return COLAB_CAPTURE_JS % {"callback": callback, "chunk_s": chunk_s}


def decode_pcm_chunk(payload: str, sample_rate: int) -> np.ndarray:
    """A base64 little-endian int16 mono chunk (as the browser sends it) -> float32 at 16 kHz."""
    try:
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, TypeError) as e:
        raise InputError(f"live audio chunk is not valid base64 ({e})") from e
    if len(raw) % 2:
        raise InputError(f"live audio chunk has {len(raw)} bytes; expected 16-bit samples (an even count)")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return resample_to_16k(samples, int(sample_rate))


def resample_to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate <= 0:
        raise InputError(f"live audio chunk has sample rate {sample_rate}; expected a positive rate")
    if sample_rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(SAMPLE_RATE, sample_rate)
    return resample_poly(samples, SAMPLE_RATE // g, sample_rate // g).astype(np.float32)


class ColabMicSource(_QueueSource):
    """The browser microphone in Google Colab.

    :meth:`_start_capture` displays JavaScript that records with ``getUserMedia`` (AudioWorklet,
    falling back to ScriptProcessor), converts to 16-bit PCM and calls the Python callback
    :data:`COLAB_CALLBACK` with ``(base64, sample_rate, seq)`` every ``chunk_ms``; :meth:`receive`
    decodes and resamples it. Colab delivers those calls while no cell is running, so record
    from the widget (which returns immediately) rather than from a blocking cell.
    """

    def __init__(self, chunk_ms: int = 250):
        super().__init__(chunk_s=chunk_ms / 1000)
        self.chunk_s = chunk_ms / 1000
        self.last_seq = -1

    def receive(self, payload: str, sample_rate: int, seq: int = -1) -> None:
        if seq >= 0 and self.last_seq >= 0 and seq != self.last_seq + 1:
            log.warning("live audio: chunk %d arrived after %d (chunks lost in the browser)", seq, self.last_seq)
        self.last_seq = max(self.last_seq, seq)
        self.push(decode_pcm_chunk(payload, sample_rate))

    def start_capture(self) -> None:
        self._start_capture()

    def _start_capture(self) -> None:
        output, display, javascript = _colab_output()
        output.register_callback(COLAB_CALLBACK, self.receive)
        display(javascript(colab_capture_js(self.chunk_s)))

    def stop(self) -> None:
        try:
            _, display, javascript = _colab_output()
            display(javascript(COLAB_STOP_JS))
        except BackendUnavailable:
            pass
        super().stop()


def _colab_output():
    try:
        from google.colab import output
        from IPython.display import Javascript, display
    except ImportError as e:
        raise BackendUnavailable("ColabMicSource works only inside Google Colab (google.colab is not "
                                 "importable here); in local Jupyter use SoundDeviceSource") from e
    return output, display, Javascript


def in_colab() -> bool:
    import importlib.util

    return importlib.util.find_spec("google.colab") is not None


# -- voice activity, frame by frame ----------------------------------------------------------

class StreamingVad:
    """Silero speech probabilities for a stream, one per 32 ms frame, state kept across chunks."""

    def __init__(self, model=None):
        from .vad import load_vad_model

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
        contexts = np.empty((n_frames, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = self.context
        contexts[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        self.context = frames[-1, -CONTEXT_SAMPLES:].copy()
        block = np.ascontiguousarray(np.concatenate((contexts, frames), axis=1))
        with self.model.lock:
            probs, self.hidden, self.cell = self.model.session.run(
                ["speech_probs", "hn", "cn"], {"input": block, "h": self.hidden, "c": self.cell})
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


# -- speakers --------------------------------------------------------------------------------

def embed_voice(samples: np.ndarray) -> np.ndarray:
    """A unit d-vector for an utterance: the mean of resemblyzer embeddings of 1.6 s windows
    (hop 0.8 s), computed by the embedded diarizer's numpy encoder (no torch/librosa import)."""
    from .diarize.embedded import (embed_windows, load_voice_encoder, mel_spectrogram,
                                   normalize_volume, speech_windows)

    mel = mel_spectrogram(normalize_volume(np.asarray(samples, dtype=np.float32)))
    windows = speech_windows([(0, mel.shape[0])], length=160, hop=80, min_length=40)
    if not windows:
        raise InputError(f"utterance of {samples.size / SAMPLE_RATE:.2f} s is too short to embed")
    with _single_threaded_blas():  # many small matmuls: threads only add contention
        vectors = embed_windows(load_voice_encoder(), mel, windows, batch_size=16)
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _single_threaded_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class SpeakerTracker:
    """Labels utterances by cosine similarity to the running centroid of each speaker seen."""

    def __init__(self, threshold: float = 0.75, min_embed_s: float = 1.0, embed: Optional[Callable] = None):
        self.threshold = threshold
        self.min_embed_s = min_embed_s
        self._embed = embed or embed_voice
        self.reset()

    def reset(self) -> None:
        """Forget the speakers seen (a new recording starts with SPEAKER_00 again)."""
        self.centroids: list[np.ndarray] = []
        self.counts: list[int] = []
        self.last: Optional[int] = None

    def embed(self, samples: np.ndarray) -> np.ndarray:
        vector = np.asarray(self._embed(samples), dtype=np.float64)
        return vector / (np.linalg.norm(vector) + 1e-9)

    def assign(self, samples: np.ndarray) -> str:
        if samples.size < self.min_embed_s * SAMPLE_RATE:
            if self.last is None:
                self.last = self._new(None)
            return self.label(self.last)
        vector = self.embed(samples)
        if self.last is not None and self.counts[self.last] == 0:  # a placeholder gets its voice
            self.centroids[self.last], self.counts[self.last] = vector, 1
            return self.label(self.last)
        if self.centroids:
            similarities = [float(vector @ (c / (np.linalg.norm(c) + 1e-9))) if n else -1.0
                            for c, n in zip(self.centroids, self.counts)]
            best = int(np.argmax(similarities))
            if similarities[best] >= self.threshold:
                self.centroids[best] = self.centroids[best] * self.counts[best] + vector
                self.counts[best] += 1
                self.centroids[best] /= self.counts[best]
                self.last = best
                return self.label(best)
        self.last = self._new(vector)
        return self.label(self.last)

    def _new(self, vector: Optional[np.ndarray]) -> int:
        """A new speaker; without a vector it is a placeholder until a long utterance gives its voice."""
        self.centroids.append(vector if vector is not None else np.zeros(1))
        self.counts.append(1 if vector is not None else 0)
        return len(self.centroids) - 1

    @staticmethod
    def label(index: int) -> str:
        return f"{SPEAKER_PREFIX}{index:02d}"


# -- the transcriber -------------------------------------------------------------------------

class LiveTranscriber:
    """VAD-segmented streaming transcription with an already-loaded ASR backend.

    ``asr`` needs ``transcribe_array(samples, duration, offset=...) -> Transcript`` (the
    ``whisper-cpu`` backend has it). Use :meth:`run` to consume a source to its end, or
    :meth:`start` / :meth:`stop` to run in a background thread (notebook widget).
    """

    def __init__(self, asr, options: Optional[LiveOptions] = None, vad: Optional[StreamingVad] = None,
                 speakers: Optional[SpeakerTracker] = None,
                 on_utterance: Optional[Callable[[Utterance], None]] = None):
        if not hasattr(asr, "transcribe_array"):
            raise BackendUnavailable(f"live transcription needs an ASR backend with transcribe_array "
                                     f"(whisper-cpu); {getattr(asr, 'name', type(asr).__name__)} has none")
        self.asr = asr
        self.options = options or LiveOptions()
        self.vad = vad
        self.speakers = speakers
        if self.speakers is None and self.options.speaker_labels:
            self.speakers = SpeakerTracker(self.options.speaker_threshold, self.options.min_embed_s)
        self.on_utterance = on_utterance
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
            from .diarize.embedded import load_voice_encoder

            load_voice_encoder()

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
        if self.vad is not None and self.vad.pending.size:
            tail = self.vad.pending.size
            pad = np.zeros(FRAME_SAMPLES - tail, dtype=np.float32)
            self.segmenter.push(self.vad.process(pad))  # complete the last partial frame
        closed = self.segmenter.flush()
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
        transcript = self.asr.transcribe_array(samples, samples.size / SAMPLE_RATE, offset=first / SAMPLE_RATE)
        self.session.language = self.session.language or transcript.language
        words = [w for s in transcript.segments for w in s.words]
        if not words:
            log.debug("utterance %.2f-%.2f s: no words recognised", first / SAMPLE_RATE, last / SAMPLE_RATE)
            return None
        speaker = self.speakers.assign(self._slice(start, end)) if self.speakers is not None else None
        done = time.perf_counter()
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


def create_live_transcriber(asr_model: Optional[str] = None, language: Optional[str] = "en",
                            options: Optional[LiveOptions] = None, beam_size: int = 1,
                            on_utterance: Optional[Callable[[Utterance], None]] = None) -> LiveTranscriber:
    """A transcriber on the embedded tier (whisper-cpu, bundled tiny.en unless ``asr_model``),
    with its models loaded now. Greedy decoding without faster-whisper's own VAD: utterances are
    already cut at silences, and latency matters more than the last bit of accuracy."""
    from .asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

    asr_options = WhisperCpuOptions(language=language, beam_size=beam_size, vad_filter=False)
    if asr_model:
        asr_options.model = asr_model
    transcriber = LiveTranscriber(WhisperCpuAsr(asr_options), options, on_utterance=on_utterance)
    transcriber.warm_up()
    return transcriber


# -- notebook widget -------------------------------------------------------------------------

def default_source() -> AudioSource:
    """The browser microphone in Colab, the local one elsewhere."""
    return ColabMicSource() if in_colab() else SoundDeviceSource()


def live_widget(transcriber: Optional[LiveTranscriber] = None, workspace=None,
                source_factory: Optional[Callable[[], AudioSource]] = None):
    """Record / Stop / Save buttons and a live transcript area (ipywidgets).

    ``source_factory`` makes a fresh :class:`AudioSource` per recording (default: the browser
    microphone in Colab, the local one elsewhere). The returned box has ``.transcriber`` and
    ``.session()`` for use from later cells.
    """
    try:
        import ipywidgets as widgets
    except ImportError as e:
        raise missing_dependency("ipywidgets", "notebook", "The live transcription widget") from e
    transcriber = transcriber or create_live_transcriber()
    source_factory = source_factory or default_source
    record = widgets.Button(description="Record", icon="microphone", button_style="danger")
    stop = widgets.Button(description="Stop", icon="stop", disabled=True)
    save = widgets.Button(description="Save", icon="save", disabled=True)
    status = widgets.HTML("<span id='vtx-live-status'>ready</span>")
    transcript = widgets.HTML(layout=widgets.Layout(max_height="320px", overflow_y="auto"))
    lines: list[str] = []

    def show(utterance: Utterance) -> None:
        who = f"<b>{html.escape(utterance.speaker)}</b>: " if utterance.speaker else ""
        lines.append(f"<div>[{utterance.start:7.2f}] {who}{html.escape(utterance.text)} "
                     f"<small style='color:#888'>({utterance.latency_s:.1f} s)</small></div>")
        transcript.value = "".join(lines)

    def on_record(_button) -> None:
        lines.clear()
        transcript.value = ""
        transcriber.on_utterance = show
        try:
            transcriber.start(source_factory())
        except Exception as e:  # shown in the widget; a button callback has no caller to raise to
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"
            return
        record.disabled, stop.disabled, save.disabled = True, False, True
        status.value = "<span id='vtx-live-status'>recording…</span>"

    def on_stop(_button) -> None:
        try:
            session = transcriber.stop()
            status.value = f"stopped: {len(session.utterances)} utterances, {session.duration:.1f} s"
        except Exception as e:
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"
        record.disabled, stop.disabled, save.disabled = False, True, workspace is None

    def on_save(_button) -> None:
        try:
            paths = transcriber.session.save(workspace)
            status.value = f"saved: {html.escape(str(paths.get('vtt')))}"
        except Exception as e:
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"

    record.on_click(on_record)
    stop.on_click(on_stop)
    save.on_click(on_save)
    box = widgets.VBox([widgets.HBox([record, stop, save, status]), transcript])
    box.transcriber = transcriber
    box.session = lambda: transcriber.session
    box.buttons = {"record": record, "stop": stop, "save": save}
    box.transcript = transcript
    box.status = status
    return box


# -- command line ----------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register ``live`` (``python -m vtxlib live``): print utterances as they are recognised."""
    p = subparsers.add_parser("live", help="transcribe the microphone (or a wav replayed live) as you speak")
    p.add_argument("--wav", type=Path, default=None,
                   help="replay this 16 kHz mono wav instead of recording the microphone")
    p.add_argument("--fast", action="store_true", help="with --wav: replay as fast as possible")
    p.add_argument("--labels", action="store_true", help="label speakers by voice (SPEAKER_00, ...)")
    p.add_argument("--min-silence", type=float, default=LiveOptions.min_silence_s,
                   help="seconds of silence that end an utterance (default 0.5)")
    p.add_argument("--asr-model", default=None, help="CTranslate2 Whisper folder (default: bundled tiny.en)")
    p.add_argument("--save", action="store_true", help="save audio + transcript.{vtt,srt,json,...} to the workspace")
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    p.set_defaults(handler=cmd_live)


def cmd_live(args) -> int:
    import sys

    def show(u: Utterance) -> None:
        who = f"{u.speaker}: " if u.speaker else ""
        sys.stdout.write(f"[{u.start:7.2f}-{u.end:7.2f}] {who}{u.text}   ({u.latency_s:.2f} s)\n")
        sys.stdout.flush()

    options = LiveOptions(speaker_labels=args.labels, min_silence_s=args.min_silence)
    transcriber = create_live_transcriber(asr_model=args.asr_model, options=options, on_utterance=show)
    source = (WavFileSource(args.wav, realtime=not args.fast) if args.wav is not None
              else SoundDeviceSource())
    if args.wav is None:
        sys.stderr.write("recording from the microphone; press Ctrl-C to stop\n")
    transcriber.start(source)
    try:
        while transcriber.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    session = transcriber.stop()
    latencies = sorted(session.latencies)
    median = latencies[len(latencies) // 2] if latencies else float("nan")
    sys.stdout.write(f"{len(session.utterances)} utterances, {session.duration:.1f} s of audio, "
                     f"median latency {median:.2f} s\n")
    if args.save:
        from .workspace import Workspace

        paths = session.save(Workspace(args.workspace))
        sys.stdout.write(f"saved: {paths['vtt']}\n")
    return 0
