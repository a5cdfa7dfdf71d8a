"""Live speaker labels against the reference, on the corpus's dev and test halves; prints figures.

    python bench/live_speakers.py [--half dev|test|both] [--files 4] [--max-seconds 150]

Each conversation (2-6 voices, at most ``--max-seconds`` long) is replayed as fast as it is consumed
through :class:`vtxlib.live.LiveTranscriber` with speaker labels, twice: with utterances split where
the voice changes (the default) and without (``phrase_gap_s`` so large no cut is split, the behaviour
before). Per file and in total it prints the speakers found against the true count, the DER of the
live labels (±0.25 s collar), the share of utterances whose speech spans two or more reference
speakers, the longest utterance, and the latency p50 / p90 / max (endpoint delay + processing, the
same work at real time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vtxlib import live, metrics  # noqa: E402
from vtxlib.live.cli import latency_percentiles  # noqa: E402
from vtxlib.testing.corpus import corpus_specs, make_conversation  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / ".fixtures" / "corpus"
NO_SPLIT = 1e9  # phrase_gap_s that never splits a cut


def corpus_files(half: str, count: int, max_seconds: float):
    from vtxlib.testing.corpus import CORPUS_VERSION

    specs = [s for s in corpus_specs(half) if len(s.voices) >= 2 and s.target_seconds <= max_seconds][:count]
    return [make_conversation(DEFAULT_CORPUS / f"v{CORPUS_VERSION}" / s.name, s) for s in specs]


def mixed_share(session, reference) -> float:
    """Share of utterances whose words fall in the turns of two or more reference speakers."""
    mixed = 0
    for u in session.utterances:
        voices = set()
        for w in u.words:
            middle = (w.start + w.end) / 2
            voices |= {t.speaker for t in reference if t.start <= middle <= t.end}
        mixed += len(voices) > 1
    return mixed / max(1, len(session.utterances))


def run(transcriber, corpus_file, phrase_gap_s: float) -> dict:
    transcriber.options.phrase_gap_s = phrase_gap_s
    transcriber.speakers.reset()
    session = transcriber.run(live.WavFileSource(corpus_file.wav, realtime=False))
    reference = corpus_file.reference_turns()
    hypothesis = session.to_diarization().turns
    p50, p90, worst = latency_percentiles(session.latencies)
    return {"true": corpus_file.num_speakers, "found": len({u.speaker for u in session.utterances}),
            "der": metrics.der_collar_025(reference, hypothesis, duration=corpus_file.duration),
            "mixed": mixed_share(session, reference),
            "longest": max((u.end - u.start for u in session.utterances), default=0.0),
            "utterances": len(session.utterances), "p50": p50, "p90": p90, "max": worst}


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--half", choices=("dev", "test", "both"), default="both")
    p.add_argument("--files", type=int, default=4, help="conversations per half")
    p.add_argument("--max-seconds", type=float, default=150.0)
    p.add_argument("--threshold", type=float, default=None, help="the tracker's voice-match threshold "
                   "(default SPEAKER_THRESHOLD); compare values on --half dev only")
    p.add_argument("--split-only", action="store_true", help="skip the no-split comparison")
    args = p.parse_args(argv)
    transcriber = live.create_live_transcriber(options=live.LiveOptions(speaker_labels=True,
                                                                        speaker_threshold=args.threshold))
    print(f"threshold {transcriber.speakers.threshold}")
    halves = ("dev", "test") if args.half == "both" else (args.half,)
    print(f"{'file':<16} {'mode':<8} {'spk':>7} {'DER':>6} {'mixed':>6} {'longest':>7} {'utt':>4} "
          f"{'p50':>5} {'p90':>5} {'max':>5}")
    for half in halves:
        totals: dict[str, list[dict]] = {"split": [], "no-split": []}
        for corpus_file in corpus_files(half, args.files, args.max_seconds):
            modes = (("split", live.LiveOptions().phrase_gap_s),) + (() if args.split_only else (("no-split", NO_SPLIT),))
            for mode, gap in modes:
                r = run(transcriber, corpus_file, gap)
                totals[mode].append(r)
                print(f"{corpus_file.name:<16} {mode:<8} {r['found']:>3}/{r['true']:<3} {100 * r['der']:5.1f}% "
                      f"{100 * r['mixed']:5.1f}% {r['longest']:6.1f}s {r['utterances']:>4} {r['p50']:5.2f} "
                      f"{r['p90']:5.2f} {r['max']:5.2f}")
        for mode, rows in totals.items():
            if rows:
                n = len(rows)
                print(f"{half + ' mean':<16} {mode:<8} {sum(r['found'] - r['true'] for r in rows) / n:+6.2f}  "
                      f"{100 * sum(r['der'] for r in rows) / n:5.1f}% {100 * sum(r['mixed'] for r in rows) / n:5.1f}% "
                      f"{max(r['longest'] for r in rows):6.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
