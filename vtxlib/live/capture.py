"""Capture sources: a wav replayed as a stream, a local microphone, the browser microphone in Colab."""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Protocol

import numpy as np

from ..errors import BackendUnavailable, InputError, missing_dependency
from .session import SAMPLE_RATE

log = logging.getLogger("vtxlib.live")

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
    """Replays a media file in ``chunk_ms`` chunks, at real time or as fast as it is consumed.

    A 16 kHz mono 16-bit wav is read as it is; anything else ffmpeg reads (mp3, m4a, a video, a
    wav at another rate) is decoded to that first."""

    def __init__(self, path: Path | str, realtime: bool = True, chunk_ms: int = 100):
        self.samples = read_samples(Path(path))
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


def read_samples(path: Path) -> np.ndarray:
    """PATH as 16 kHz mono float32 samples; raises InputError (one line) for a missing or unreadable file."""
    import tempfile

    from ..audio import decode, load_audio, read_info

    if not path.is_file():
        raise InputError(f"{path}: no such file; expected an audio or video file (wav, mp3, m4a, mp4, ...)")
    try:
        info = read_info(path)
        if info.sample_rate == SAMPLE_RATE and info.channels == 1:
            return load_audio(path)
    except (RuntimeError, EOFError, InputError):  # soundfile's LibsndfileError is a RuntimeError
        pass  # not a 16-bit PCM wav: ffmpeg decodes it
    with tempfile.TemporaryDirectory(prefix="vtx-live-") as folder:
        return load_audio(decode(path, Path(folder) / "audio.wav").path)


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
