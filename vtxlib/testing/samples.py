"""The pyannote.audio sample recording and readers for its reference files (RTTM, STM).

``pyannote.audio``'s wheel ships ``pyannote/audio/sample/sample.wav`` (30 s, two speakers on a
phone line, with overlap), ``sample.rttm`` (reference diarization) and ``sample.stm`` (reference
speaker-attributed transcript). :func:`pyannote_sample` finds them in an installed
``pyannote.audio`` *without importing it* (the import takes ~9 s), else in a cache directory that
:func:`fetch_pyannote_sample` fills from the wheel on PyPI (``pip download --no-deps``; needs
access to PyPI, nothing else).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import BackendUnavailable
from ..types import SpeakerTurn, Word

log = logging.getLogger("vtxlib.testing")

PYANNOTE_AUDIO_VERSION = "4.0.7"
SAMPLE_FILES = ("sample.wav", "sample.rttm", "sample.stm")
ENV_CACHE = "VTX_SAMPLES_DIR"


@dataclass
class StmUtterance:
    """One STM line: a speaker's utterance with its time span."""

    speaker: str
    start: float
    end: float
    text: str


@dataclass
class Sample:
    wav: Path
    rttm: Path
    stm: Path

    def reference_turns(self) -> list[SpeakerTurn]:
        return read_rttm(self.rttm)

    def reference_utterances(self) -> list[StmUtterance]:
        return read_stm(self.stm)

    def reference_text(self) -> str:
        return " ".join(u.text for u in self.reference_utterances())

    def reference_text_by_speaker(self) -> dict[str, str]:
        return text_by_speaker(self.reference_utterances())


def default_cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    return Path.home() / ".cache" / "vtx" / f"pyannote-audio-{PYANNOTE_AUDIO_VERSION}-sample"


def installed_sample_dir() -> Optional[Path]:
    """``pyannote/audio/sample`` of an installed pyannote.audio, found without importing it."""
    try:
        spec = importlib.util.find_spec("pyannote.audio")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "sample"
        if all((folder / name).is_file() for name in SAMPLE_FILES):
            return folder
    return None


def pyannote_sample(cache_dir: Optional[Path] = None, fetch: bool = True) -> Sample:
    """The pyannote sample files: from the installed package, the cache, or (``fetch``) PyPI."""
    folder = installed_sample_dir()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if folder is None and all((cache_dir / n).is_file() for n in SAMPLE_FILES):
        folder = cache_dir
    if folder is None:
        if not fetch:
            raise BackendUnavailable(f"the pyannote sample is neither installed nor cached in {cache_dir}")
        folder = fetch_pyannote_sample(cache_dir)
    return Sample(*(folder / name for name in SAMPLE_FILES))


def fetch_pyannote_sample(cache_dir: Path, version: str = PYANNOTE_AUDIO_VERSION) -> Path:
    """Download the pyannote.audio wheel (no dependencies) and extract only the three sample files."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vtx-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--dest", tmp, f"pyannote.audio=={version}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("pyannote_audio-*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel found"]
            raise BackendUnavailable(f"could not download pyannote.audio=={version} from PyPI to get "
                                     f"its sample recording: {last[0]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in SAMPLE_FILES:
                member = f"pyannote/audio/sample/{name}"
                target = cache_dir / name
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(wheel.read(member))
                partial.replace(target)
    log.info("extracted the pyannote sample into %s", cache_dir)
    return cache_dir


def read_rttm(path: Union[str, Path]) -> list[SpeakerTurn]:
    """Speaker turns from an RTTM file (``SPEAKER`` lines only), sorted by start."""
    turns = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns.append(SpeakerTurn(speaker=parts[7], start=start, end=round(start + duration, 6)))
    return sorted(turns, key=lambda t: (t.start, t.end))


def write_rttm(path: Union[str, Path], turns: list[SpeakerTurn], uri: str) -> None:
    lines = [f"SPEAKER {uri} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
             for t in turns]
    Path(path).write_text("\n".join(lines) + "\n")


def read_stm(path: Union[str, Path]) -> list[StmUtterance]:
    """Utterances from an STM file: ``uri channel speaker start end [<label>] text``."""
    utterances = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        parts = line.split(maxsplit=5)
        if len(parts) < 5:
            continue
        text = parts[5] if len(parts) > 5 else ""
        if text.startswith("<"):
            text = text.split(">", 1)[-1].strip()
        utterances.append(StmUtterance(parts[2], float(parts[3]), float(parts[4]), text))
    return utterances


def text_by_speaker(utterances: list[StmUtterance]) -> dict[str, str]:
    """Each speaker's utterances concatenated in time order (the input of cpWER)."""
    out: dict[str, list[str]] = {}
    for u in sorted(utterances, key=lambda u: u.start):
        out.setdefault(u.speaker, []).append(u.text)
    return {speaker: " ".join(texts) for speaker, texts in out.items()}


def words_by_speaker(words: list[Word]) -> dict[str, str]:
    """Hypothesis words grouped by their speaker (unattributed words under ``"UNKNOWN"``)."""
    out: dict[str, list[str]] = {}
    for w in sorted(words, key=lambda w: w.start):
        out.setdefault(w.speaker or "UNKNOWN", []).append(w.text.strip())
    return {speaker: " ".join(texts) for speaker, texts in out.items()}


def main(argv: Optional[list[str]] = None) -> int:
    """Print the path of the pyannote sample wav, fetching it from PyPI first if needed."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vtxlib.testing.samples", description=main.__doc__)
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"where to keep it (default {default_cache_dir()})")
    args = parser.parse_args(argv)
    try:
        sample = pyannote_sample(args.cache_dir)
    except BackendUnavailable as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    sys.stdout.write(f"{sample.wav}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
