"""Peak memory, speaker count and DER against recording length. Prints figures, asserts nothing.

    python bench/memory.py                      # diarization stage alone at 15, 30, 45 and 60 min
    python bench/memory.py --minutes 15         # one length
    python bench/memory.py --pipeline 15,60     # also the whole `vtxlib run` at these lengths (minutes)

Each length is one long conversation of the corpus's test half (``vtxlib/testing/corpus.py``,
``long_spec``: 2-6 voices, text that never repeats, generated once and cached): 15 min with 4
voices, 30 min with 2, 45 min with 6, 60 min with 3, any other length with 4. Each measurement
runs in a fresh interpreter; the figure is that child's peak resident set size (ru_maxrss),
imports and models included. DER is collar 0 with overlap scored, on the turns as transcript.rttm
holds them (``bridge_pauses``), against the conversation's exact reference.
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

from vtxlib.testing.corpus import CORPUS_VERSION, LONG_CONVERSATIONS, CorpusFile, long_spec, make_conversation  # noqa: E402
from vtxlib.testing.samples import read_rttm  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / ".fixtures" / "corpus"
DIARIZE_ONLY = """
import sys, soundfile as sf
from vtxlib.diarize.base import SpeakerCount
from vtxlib.diarize.embedded import EmbeddedDiarizer
from vtxlib.types import AudioFile
info = sf.info(sys.argv[1])
result = EmbeddedDiarizer().diarize(AudioFile(sys.argv[1], 16000, info.frames / 16000), SpeakerCount())
with open(sys.argv[2], "w") as out:
    out.write(result.model_dump_json())
"""


def long_conversation(minutes: float, corpus: Path, half: str = "test") -> CorpusFile:
    """The corpus's long conversation of MINUTES (generated the first time: espeak-ng, minutes)."""
    voices = dict(LONG_CONVERSATIONS).get(minutes, 4)
    spec = long_spec(half, minutes, voices)
    return make_conversation(corpus / f"v{CORPUS_VERSION}" / spec.name, spec)


def speakers_and_der(file: CorpusFile, turns) -> tuple[int, float]:
    """(speakers in TURNS, DER of TURNS against FILE's reference at collar 0, overlap scored)."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(spans) -> Annotation:
        out = Annotation()
        for i, turn in enumerate(spans):
            out[Segment(turn.start, turn.end), i] = turn.speaker
        return out

    der = DiarizationErrorRate(collar=0.0, skip_overlap=False)(annotation(file.reference_turns()), annotation(turns))
    return len({t.speaker for t in turns}), der


def rttm_turns(diarization_json: Path):
    """The diarization's turns as transcript.rttm holds them (overlap kept, short pauses bridged)."""
    from vtxlib.diarize.pauses import bridge_pauses
    from vtxlib.types import Diarization

    result = Diarization.model_validate_json(diarization_json.read_text())
    return bridge_pauses(result.speech_turns or result.turns)


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
    parser.add_argument("--minutes", default="15,30,45,60", help="diarization-only lengths (minutes)")
    parser.add_argument("--pipeline", default="", help="whole-pipeline lengths (minutes)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vtx-memory-") as tmp:
        folder = Path(tmp)
        print("| what | length | voices | speakers found | DER | peak RSS | wall time | real time |\n"
              "|---|---|---|---|---|---|---|---|")
        for minutes in [float(m) for m in args.minutes.split(",") if m]:
            file = long_conversation(minutes, args.corpus)
            found = folder / "diarization.json"
            peak, seconds = peak_rss_mb([sys.executable, "-c", DIARIZE_ONLY, str(file.wav), str(found)])
            speakers, der = speakers_and_der(file, rttm_turns(found))
            print(f"| diarization (embedded) | {minutes:g} min | {file.num_speakers} | {speakers} | "
                  f"{100 * der:.1f}% | {peak:.0f} MB | {seconds:.0f} s | {file.duration / seconds:.0f}x |", flush=True)
        for minutes in [float(m) for m in args.pipeline.split(",") if m]:
            file = long_conversation(minutes, args.corpus)
            out = folder / f"out-{minutes:g}"
            peak, seconds = peak_rss_mb([sys.executable, "-m", "vtxlib", "run", str(file.wav), "--out",
                                         str(out), "--workspace", str(folder / "ws"), "--no-report"])
            speakers, der = speakers_and_der(file, read_rttm(next(out.glob("*/transcript.rttm"))))  # out/<media id>/
            print(f"| vtxlib run (whole pipeline) | {minutes:g} min | {file.num_speakers} | {speakers} | "
                  f"{100 * der:.1f}% | {peak:.0f} MB | {seconds:.0f} s | {file.duration / seconds:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
