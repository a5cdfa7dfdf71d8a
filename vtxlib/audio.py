"""audio: one ffmpeg decode to 16 kHz mono PCM wav; every later stage reads that file."""

from __future__ import annotations

import errno
import functools
import json
import logging
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import BackendUnavailable, InputError
from .types import AudioFile, OptionsModel
from .workspace import atomic_path

log = logging.getLogger("vtxlib.audio")

SAMPLE_RATE = 16000


class AudioOptions(OptionsModel):
    sample_rate: int = SAMPLE_RATE
    loudnorm: bool = False  # EBU R128 normalisation; off by default: the models don't need it


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackendUnavailable(f"'{name}' was not found on PATH; install ffmpeg "
                                 f"(Debian/Ubuntu: apt-get install ffmpeg; Colab has it)")
    return path


@functools.lru_cache(maxsize=1)
def ffmpeg_version() -> Optional[str]:
    """ffmpeg's version line (part of the audio stage's cache key), or None without ffmpeg."""
    path = shutil.which("ffmpeg")
    if not path:
        return None
    proc = subprocess.run([path, "-version"], capture_output=True, text=True)
    first = proc.stdout.splitlines()[0] if proc.stdout.strip() else ""
    return first.split(" Copyright")[0].strip() or None


def probe(path: Path) -> dict:
    """ffprobe's view of a file; raises InputError if it is not media."""
    cmd = [_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unreadable"
        if not _starts_like_media(path):
            reason = describe_non_media(path)
        elif "moov atom not found" in proc.stderr:
            reason = "its index (moov atom) is missing: the file is incomplete or truncated"
        raise InputError(f"{path} is not a media file ffmpeg can read ({reason}); "
                         f"expected a video or audio file (mp4, mkv, webm, mp3, m4a, wav, flac, ...)")
    return json.loads(proc.stdout or "{}")


# The first box of an MP4/MOV/M4A (ISO base media) file; a file without one is no such file at all
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")


def _starts_like_media(path: Path) -> bool:
    """False when PATH's first bytes show it is no media file at all (text, or an .mp4/.mov/.m4a
    without an ISO box), so ffmpeg's complaint about a missing index is not passed on as the cause."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return True
    if _is_text(head):
        return False
    if path.suffix.lower() in (".mp4", ".m4a", ".m4v", ".mov", ".3gp") and len(head) >= 8:
        return head[4:8] in _ISO_BOXES
    return True


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a character cut at the end of the sample
            return False
    return True


def describe_non_media(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if _is_text(head):
        return f"it holds text, not audio or video, whatever its name ({path.suffix or 'no extension'}) says"
    return f"its content does not start like a {path.suffix or 'media'} file"


def decode(source: Path, target: Path, options: Optional[AudioOptions] = None) -> AudioFile:
    """Decode SOURCE's first audio stream to a mono PCM wav at TARGET (atomically)."""
    options = options or AudioOptions()
    info = probe(source)
    if not any(s.get("codec_type") == "audio" for s in info.get("streams", [])):
        found = ", ".join(sorted({s.get("codec_type", "?") for s in info.get("streams", [])})) or "nothing"
        raise InputError(f"{source} has no audio stream (found: {found}); expected a video or audio file with sound")
    filters = ["loudnorm"] if options.loudnorm else []
    with atomic_path(target, suffix=".wav") as tmp:
        cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
               "-vn", "-map", "0:a:0", "-ac", "1", "-ar", str(options.sample_rate), "-c:a", "pcm_s16le"]
        if filters:
            cmd += ["-af", ",".join(filters)]
        proc = subprocess.run(cmd + ["-f", "wav", str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0 and "No space left on device" in proc.stderr:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        if proc.returncode != 0:
            reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            raise InputError(f"ffmpeg could not decode {source}: {reason} (the file may be corrupt or truncated)")
        audio = read_info(tmp)
        if audio.duration <= 0:
            raise InputError(f"{source} decoded to 0 seconds of audio; the file is empty or corrupt")
    warn_if_truncated(source, header_duration(source, info), audio.duration)
    log.info("decoded %s -> %s (%.1f s)", source.name, target, audio.duration)
    return AudioFile(path=str(target), sample_rate=audio.sample_rate, duration=audio.duration)


def header_duration(source: Path, info: dict) -> Optional[float]:
    """The length the file's header promises: a WAV's data-chunk size, else what ffprobe reports
    (which for a WAV already shrinks to the bytes present, hence the header is read directly)."""
    promised = wav_header_duration(source)
    if promised is not None:
        return promised
    try:
        return float(info.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        return None


def wav_header_duration(path: Path) -> Optional[float]:
    """Seconds a RIFF/WAVE header declares (data size / byte rate); None for other files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, None
    while offset + 8 <= len(head):
        chunk, size = head[offset:offset + 4], struct.unpack("<I", head[offset + 4:offset + 8])[0]
        if chunk == b"fmt " and offset + 20 <= len(head):
            byte_rate = struct.unpack("<I", head[offset + 16:offset + 20])[0]
        elif chunk == b"data":
            streaming = size in (0, 0xFFFFFFFF)
            return None if streaming or not byte_rate else size / byte_rate
        offset += 8 + size + (size & 1)
    return None


def warn_if_truncated(source: Path, expected: Optional[float], decoded: float) -> None:
    """A warning when the decoded audio is clearly shorter than the header promised."""
    if expected is None or expected <= 0 or decoded >= expected - max(1.0, 0.02 * expected):
        return
    log.warning("%s looks truncated: its header says %.1f s but only %.1f s of audio could be decoded; "
                "the transcript covers the decoded part", Path(source).name, expected, decoded)


def read_info(path: Path) -> AudioFile:
    info = _soundfile().info(str(path))
    return AudioFile(path=str(path), sample_rate=info.samplerate, duration=info.frames / float(info.samplerate),
                     channels=info.channels)


def load_audio(path: Path | str, start: float = 0.0, end: Optional[float] = None) -> np.ndarray:
    """The wav (or a slice of it) as float32 in [-1, 1] (16-bit PCM: sample / 32768), channels averaged."""
    sf = _soundfile()
    with sf.SoundFile(str(path)) as wav:
        rate, frames = wav.samplerate, wav.frames
        first = min(int(max(0.0, start) * rate), frames)
        last = frames if end is None else min(frames, int(end * rate))
        wav.seek(first)
        data = wav.read(max(0, last - first), dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0].copy()


def write_wav(path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE):
    """Write float samples in [-1, 1] as 16-bit mono PCM (clipping anything outside) to PATH (a path,
    returned as a Path, or a binary file object such as ``io.BytesIO``, returned as it is)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    writable = hasattr(path, "write")
    _soundfile().write(path if writable else str(path), pcm, sample_rate, subtype="PCM_16", format="WAV")
    return path if writable else Path(path)


def _soundfile():
    """soundfile (libsndfile), the one WAV reader and writer of vtx (a core dependency)."""
    import soundfile

    return soundfile


def is_silent(samples: np.ndarray, threshold_dbfs: float = -60.0) -> bool:
    """True when the whole signal is below THRESHOLD (digital silence, a muted track)."""
    if samples.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(rms + 1e-12) < threshold_dbfs


def encode_mp3(wav: str | Path, target: Optional[Path] = None, bitrate: str = "32k") -> bytes:
    """MP3 (mono, BITRATE) of WAV for a page's player: written to TARGET atomically, or returned as bytes."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not on PATH (apt-get install ffmpeg)")
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav), "-ac", "1",
               "-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3"]
    if target is None:
        return subprocess.run(command + ["pipe:1"], check=True, capture_output=True).stdout
    with atomic_path(target, suffix=".mp3") as tmp:
        subprocess.run(command + [str(tmp)], check=True, capture_output=True)
    return b""
