"""Peak memory against recording length: 10 minutes, 1 hour, 3 hours. Prints figures, asserts nothing.

    python bench/memory.py                      # diarization stage alone at 10 min, 1 h, 3 h
    python bench/memory.py --pipeline 10,60     # also the whole `vtxlib run` at these lengths (minutes)

Long recordings are test-half corpus conversations played one after another (written block by block,
so the benchmark itself stays small). Each measurement runs in a fresh interpreter; the figure is
that child's peak resident set size (ru_maxrss), imports and models included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vtxlib.testing.corpus import make_corpus  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / ".fixtures" / "corpus"
DIARIZE_ONLY = """
import sys, soundfile as sf
from vtxlib.diarize.base import SpeakerCount
from vtxlib.diarize.embedded import EmbeddedDiarizer
from vtxlib.types import AudioFile
info = sf.info(sys.argv[1])
result = EmbeddedDiarizer().diarize(AudioFile(sys.argv[1], 16000, info.frames / 16000), SpeakerCount())
print(result.num_speakers_estimated, len(result.turns))
"""


def long_recording(minutes: float, folder: Path, corpus: Path) -> Path:
    import soundfile as sf

    path = folder / f"long-{int(minutes)}min.wav"
    if path.exists():
        return path
    parts = [f.wav for f in make_corpus(corpus) if f.half == "test"]
    target = int(minutes * 60 * 16000)
    written = 0
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as out:
        while written < target:
            for part in parts:
                for block in sf.blocks(str(part), blocksize=160000, dtype="float32"):
                    block = block[:target - written]
                    out.write(block)
                    written += len(block)
                    if written >= target:
                        return path
    return path


MEASURE = ("import resource, subprocess, sys\n"
           "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "sys.stderr.write(done.stderr)\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "sys.exit(done.returncode)\n")


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of ``cmd`` alone, measured by a fresh wrapper process."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {result.stderr.strip().splitlines()[-1:]}")
    return int(result.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="10,60,180", help="diarization-only lengths")
    parser.add_argument("--pipeline", default="", help="whole-pipeline lengths (minutes)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vtx-memory-") as tmp:
        folder = Path(tmp)
        print("| what | length | peak RSS | wall time | real time |\n|---|---|---|---|---|")
        for minutes in [float(m) for m in args.minutes.split(",") if m]:
            wav = long_recording(minutes, folder, args.corpus)
            peak, seconds = peak_rss_mb([sys.executable, "-c", DIARIZE_ONLY, str(wav)])
            print(f"| diarization (embedded) | {minutes:.0f} min | {peak:.0f} MB | {seconds:.0f} s | "
                  f"{minutes * 60 / seconds:.0f}x |", flush=True)
        for minutes in [float(m) for m in args.pipeline.split(",") if m]:
            wav = long_recording(minutes, folder, args.corpus)
            peak, seconds = peak_rss_mb([sys.executable, "-m", "vtxlib", "run", str(wav), "--out",
                                            str(folder / "out"), "--workspace", str(folder / "ws"),
                                            "--no-report"])
            print(f"| vtxlib run (whole pipeline) | {minutes:.0f} min | {peak:.0f} MB | {seconds:.0f} s | "
                  f"{minutes * 60 / seconds:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
