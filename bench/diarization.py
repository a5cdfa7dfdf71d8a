"""Diarization on the synthetic corpus, split by voice: vtx's embedded diarizer and senko side by side.

    python bench/diarization.py                 # dev and test halves, vtx and senko, one table each
    python bench/diarization.py --tune          # grid search of the clustering constants, dev half only
    python bench/diarization.py --halves test   # one half
    python bench/diarization.py --fills         # the RTTM pause fill: chosen on dev, DER on every half

The diarizer's speech is segmentation-3.0's, as in ``vtxlib run``, where it is the speech stage
(``--speech silero``: turns over Silero's regions instead, what the diarizer does when it is handed
another detector's regions).
DER is collar 0 with overlapped speech scored, on the diarization stage's output with overlap and
each speaker's short pauses bridged (``RTTM_PAUSE_FILL``: what transcript.rttm holds). Overlap recall/false alarm compare the detected overlap regions with
the reference's (false alarm as a share of reference speech). Both systems run on one thread, one
file after the other, in this one process; RTF is audio seconds per second of wall time.
Every constant is chosen with --tune on the dev half; the README quotes the test half.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib.diarize.base import SpeakerCount  # noqa: E402
from vtxlib.diarize.embedded import EmbeddedDiarizer, EmbeddedDiarizerOptions, WavReader  # noqa: E402
from vtxlib.diarize.pauses import RTTM_PAUSE_FILL, bridge_pauses  # noqa: E402
from vtxlib.testing.corpus import CorpusFile, make_corpus  # noqa: E402
from vtxlib.types import AudioFile, SpeakerTurn  # noqa: E402
from vtxlib.vad import detect_speech  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / ".fixtures" / "corpus"


@dataclass
class Score:
    name: str
    reference_speakers: int
    speakers: int
    der: float
    overlap_recall: float
    overlap_false_alarm: float
    seconds: float
    duration: float


def annotation(turns):
    from pyannote.core import Annotation, Segment
    result = Annotation()
    for i, turn in enumerate(turns):
        result[Segment(turn.start, turn.end), i] = turn.speaker
    return result


def overlap_scores(reference, hypothesis_overlap):
    """(share of reference overlap that was flagged, flagged non-overlap as a share of speech)."""
    ref_overlap = reference.get_overlap()
    ref_speech = reference.get_timeline().support()
    hyp = hypothesis_overlap.support()
    flagged = sum(seg.duration for seg in ref_overlap.crop(hyp, mode="intersection")) if ref_overlap else 0.0
    overlap_total = sum(seg.duration for seg in ref_overlap)
    false_alarm = sum(seg.duration for seg in hyp) - flagged
    speech = sum(seg.duration for seg in ref_speech)
    return (flagged / overlap_total if overlap_total else float("nan")), max(false_alarm, 0.0) / speech


def score(file: CorpusFile, hypothesis_turns: list[SpeakerTurn], overlaps, seconds: float) -> Score:
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference = annotation(file.reference_turns())
    hypothesis = annotation(hypothesis_turns)
    der = DiarizationErrorRate(collar=0.0, skip_overlap=False)(reference, hypothesis)
    recall, false_alarm = overlap_scores(reference, Timeline([Segment(s, e) for s, e in overlaps]))
    return Score(file.name, file.num_speakers, len({t.speaker for t in hypothesis_turns}), der, recall,
                 false_alarm, seconds, file.duration)


def run_vtx(diarizer: EmbeddedDiarizer, file: CorpusFile, speech: str = "segmentation",
            fill: float = RTTM_PAUSE_FILL) -> Score:
    """SPEECH "segmentation": segmentation-3.0's own speech, as ``vtxlib run`` does; "silero": the
    turns over Silero's regions (their detection is timed too). Scored as transcript.rttm holds
    them: pauses shorter than FILL inside a speaker's turn bridged."""
    started = time.perf_counter()
    regions = detect_speech(str(file.wav)) if speech == "silero" else None
    result = diarizer.diarize(AudioFile(str(file.wav), 16000, file.duration), SpeakerCount(), speech=regions)
    seconds = time.perf_counter() - started
    return score(file, bridge_pauses(result.speech_turns or result.turns, fill), result.overlaps, seconds)


def run_senko(diarizer, file: CorpusFile) -> Score:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = diarizer.diarize(str(file.wav))
    segments = (result or {}).get("merged_segments", [])
    turns = [SpeakerTurn(str(s["speaker"]), float(s["start"]), float(s["end"])) for s in segments]
    return score(file, turns, [], time.perf_counter() - started)


def real_sample() -> CorpusFile:
    """The real two-speaker phone call shipped in pyannote.audio's wheel, with its reference."""
    from vtxlib.testing.samples import pyannote_sample
    sample = pyannote_sample(cache_dir=DEFAULT_CORPUS.parent / "pyannote-sample")
    return CorpusFile(name="pyannote sample", half="real", wav=Path(sample.wav), rttm=Path(sample.rttm),
                      num_speakers=2, duration=30.0, overlap_share=float("nan"), voices=[])


def summary(label: str, scores: list[Score]) -> str:
    def fmt(values, pct=True):
        values = [v for v in values if v == v]
        return f"{100 * statistics.median(values):.1f}%" if values else "-"
    right = sum(s.speakers == s.reference_speakers for s in scores)
    multi = [s for s in scores if 2 <= s.reference_speakers <= 6]
    mid = [s for s in scores if 3 <= s.reference_speakers <= 4]
    rtf = sum(s.duration for s in scores) / sum(s.seconds for s in scores)
    return (f"| {label} | {len(scores)} | {right}/{len(scores)} | "
            f"{sum(s.speakers == s.reference_speakers for s in multi)}/{len(multi)} | "
            f"{fmt([s.der for s in scores])} | {100 * max(s.der for s in scores):.1f}% | "
            f"{fmt([s.der for s in mid])} | {fmt([s.overlap_recall for s in scores])} | "
            f"{fmt([s.overlap_false_alarm for s in scores])} | {rtf:.0f}x |")


HEADER = ("| system, half | files | count right | count right (2-6) | median DER | worst DER | "
          "median DER 3-4 spk | overlap recall | overlap FA | RTF |\n|---|---|---|---|---|---|---|---|---|---|")


def evaluate(files: list[CorpusFile], halves: list[str], with_senko: bool, verbose: bool,
             speech: str = "segmentation") -> None:
    import torch
    torch.set_num_threads(1)
    vtx = EmbeddedDiarizer()
    vtx.load()
    peer = None
    if with_senko:
        import senko
        with contextlib.redirect_stdout(io.StringIO()):
            peer = senko.Diarizer(device="cpu", warmup=True, quiet=True)
    rows, versus = [], []
    for half in halves:
        chosen = [f for f in files if f.half == half]
        vtx_scores = [run_vtx(vtx, f, speech) for f in chosen]
        if verbose:
            for s in vtx_scores:
                print(f"  vtx {s.name}: {s.speakers}/{s.reference_speakers} DER {100 * s.der:.1f}% "
                      f"ovl {s.overlap_recall:.2f}/{s.overlap_false_alarm:.3f} {s.duration / s.seconds:.0f}x",
                      flush=True)
        rows.append(summary(f"vtx embedded, {half}", vtx_scores))
        if peer is not None:
            peer_scores = [run_senko(peer, f) for f in chosen]
            rows.append(summary(f"senko 0.2.2, {half}", peer_scores))
            mid = [(a, b) for a, b in zip(vtx_scores, peer_scores) if 3 <= a.reference_speakers <= 4]
            versus.append(f"{half}: vtx's DER below senko's on {sum(a.der < b.der for a, b in zip(vtx_scores, peer_scores))}"
                          f" of {len(chosen)} files ({sum(a.der < b.der for a, b in mid)} of {len(mid)} with 3-4 "
                          f"speakers)")
    print(HEADER)
    print("\n".join(rows))
    print("\n".join(versus))


def speech_errors(file: CorpusFile, voices) -> tuple[float, float, float]:
    """(reference speech frames, false alarm frames, missed frames) of the detected speech."""
    frames = voices.sliding_window
    n = voices.data.shape[0]
    centres = frames.start + frames.duration / 2 + np.arange(n) * frames.step
    reference = np.zeros(n, dtype=bool)
    for turn in file.reference_turns():
        reference |= (centres >= turn.start) & (centres < turn.end)
    detected = voices.data[:, 0] > 0
    return reference.sum(), (detected & ~reference).sum(), (~detected & reference).sum()


def tune(files: list[CorpusFile], steps: list[float], thresholds=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
         score_window: float = 1.0, grid=None) -> None:
    """Two-stage search on the dev half only: first the speech threshold (false alarm + missed
    speech of the detected speech), then the clustering constants (speaker count, then DER) with
    the speech detection and window embeddings of each file computed once."""
    import torch

    from vtxlib.diarize import embedded as E

    torch.set_num_threads(1)
    dev = [f for f in files if f.half == "dev"]
    base = EmbeddedDiarizerOptions(step_s=steps[0])
    speech = []
    for threshold in thresholds:
        options = replace(base, speech_threshold=threshold)
        totals = np.zeros(3)
        for f in dev:
            reader = WavReader(str(f.wav))
            totals += speech_errors(f, E.speaker_count(E.segment(reader, options), reader.duration))
            reader.close()
        speech.append((totals[1] + totals[2]) / totals[0])
        print(f"speech threshold {threshold}: false alarm {100 * totals[1] / totals[0]:.1f}% + missed "
              f"{100 * totals[2] / totals[0]:.1f}%", flush=True)
    base = replace(base, speech_threshold=thresholds[int(np.argmin(speech))], score_window_s=score_window)
    cache = {}
    started = time.perf_counter()
    for f in dev:
        reader = WavReader(str(f.wav))
        voices = E.speaker_count(E.segment(reader, base), reader.duration)
        cache[f.name] = (voices, *E.embed_windows(reader, voices, base))
        reader.close()
    rtf = sum(f.duration for f in dev) / (time.perf_counter() - started)
    results = []
    grid = grid or itertools.product([0.02, 0.04, 0.08, 0.12], [0.8, 0.85, 0.9, 1.0], [2, 4, 8], [0.0, 0.3])
    for pval, merge, min_size, off in grid:
        options = replace(base, pval=pval, merge_cosine=merge, min_cluster_size=int(min_size), min_duration_off=off)
        scores = []
        for f in dev:
            voices, windows, fine = cache[f.name]
            d = E.diarize_windows(voices, windows, fine, options, {"min_speakers": 1, "max_speakers": 20})
            scores.append(score(f, d.speech_turns, d.overlaps, 1.0))
        right = sum(s.speakers == s.reference_speakers for s in scores)
        results.append((right, -statistics.mean(s.der for s in scores), pval, merge, min_size, off,
                        statistics.median(s.der for s in scores)))
    results.sort(reverse=True)
    print(f"speech threshold {base.speech_threshold}; speech + embeddings {rtf:.0f}x real time")
    print("count right | mean DER | median DER | pval | merge cosine | min cluster | min off")
    for right, neg_mean, pval, merge, min_size, off, median in results[:12]:
        print(f"{right}/{len(dev)} | {-100 * neg_mean:.1f}% | {100 * median:.1f}% | {pval} | {merge} | "
              f"{min_size} | {off}", flush=True)


#: Reference annotation practice joins a speaker's segments separated by less than 0.3 s (the NIST
#: RT evaluations' convention); the corpus's exact reference splits at every sentence instead.
ANNOTATED_PAUSE = 0.3


def der_parts(reference: list[SpeakerTurn], turns: list[SpeakerTurn]) -> np.ndarray:
    """(DER, reference speech, missed, false alarm) at collar 0 with overlap scored, seconds."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    parts = DiarizationErrorRate(collar=0.0, skip_overlap=False)(annotation(reference), annotation(turns),
                                                                  detailed=True)
    return np.array([parts["diarization error rate"], parts["total"], parts["missed detection"],
                     parts["false alarm"]])


def cached_speech_turns(vtx: EmbeddedDiarizer, file: CorpusFile, cache: Path) -> list[SpeakerTurn]:
    """The diarizer's turns with overlap for FILE, kept under CACHE (by file and options)."""
    import hashlib
    import json

    key = hashlib.sha1(vtx.options.model_dump_json().encode()).hexdigest()[:10]
    path = cache / f"{file.name}-{key}.json"
    if not path.is_file():
        d = vtx.diarize(AudioFile(str(file.wav), 16000, file.duration), SpeakerCount())
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([t.model_dump() for t in (d.speech_turns or d.turns)]))
        print(f"  diarized {file.name}", file=sys.stderr, flush=True)
    return [SpeakerTurn(**t) for t in json.loads(path.read_text())]


def choose_fill(files: list[CorpusFile], halves: list[str], fills: list[float], cache: Path) -> None:
    """Diarize every file once, then score its turns with each pause FILL against two references:
    the corpus's exact one and the same with a speaker's pauses under ``ANNOTATED_PAUSE`` joined, as
    annotators do (the real call's reference is a human annotation: used as it is for both). The
    fill with the lowest mean DER against the annotated reference on the dev half is the one to use;
    the other halves are printed with it and without."""
    import torch
    torch.set_num_threads(1)
    vtx = EmbeddedDiarizer()
    vtx.load()
    results = [(f, cached_speech_turns(vtx, f, cache)) for f in files if f.half in halves or f.half == "dev"]

    def references(f: CorpusFile) -> tuple[list[SpeakerTurn], list[SpeakerTurn]]:
        exact = f.reference_turns()
        return exact, (exact if f.half == "real" else bridge_pauses(exact, ANNOTATED_PAUSE))

    refs = {f.name: references(f) for f, _ in results}

    def row(half: str, fill: float) -> list[float]:
        chosen = [(f, bridge_pauses(turns, fill)) for f, turns in results if f.half == half]
        out = []
        for which in (0, 1):
            parts = np.array([der_parts(refs[f.name][which], turns) for f, turns in chosen])
            out += [parts[:, 0].mean(), float(np.median(parts[:, 0])), parts[:, 2].sum() / parts[:, 1].sum(),
                    parts[:, 3].sum() / parts[:, 1].sum()]
        return out

    print("| half | pause fill | exact reference: mean DER | median DER | missed | false alarm | "
          f"annotated (pauses < {ANNOTATED_PAUSE} s joined): mean DER | median DER | missed | false alarm |\n"
          "|---|---|---|---|---|---|---|---|---|---|")

    def show(half: str, fill: float, values: list[float], mark: str = "") -> None:
        cells = " | ".join(f"{100 * v:.1f}%" for v in values)
        print(f"| {half} | {fill:.2f} s{mark} | {cells} |", flush=True)

    dev = {fill: row("dev", fill) for fill in fills}
    best = min(fills, key=lambda fill: dev[fill][4])
    for fill in fills:
        show("dev", fill, dev[fill], " (chosen)" if fill == best else "")
    for half in [h for h in halves if h != "dev"]:
        for fill in sorted({0.0, best}):
            show(half, fill, row(half, fill))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--count", type=int, default=24, help="conversations per half")
    parser.add_argument("--halves", default="dev,test,real")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--steps", default="5.0", help="segmentation hop used by --tune")
    parser.add_argument("--speech-thresholds", default="0.5,0.6,0.7,0.8,0.9,0.95")
    parser.add_argument("--score-window", type=float, default=1.0)
    parser.add_argument("--grid", default="", help="pval:merge:min_cluster:min_off,... (default: the full grid)")
    parser.add_argument("--no-senko", action="store_true")
    parser.add_argument("--speech", choices=("segmentation", "silero"), default="segmentation",
                        help="the speech of the turns: segmentation-3.0's (as vtxlib run) or Silero's")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--fills", nargs="?", const="0,0.1,0.2,0.3,0.4,0.5,0.6,0.8,1.0,1.5",
                        help="choose the RTTM pause fill on the dev half among these (s, comma-separated)")
    args = parser.parse_args()
    files = make_corpus(args.corpus, args.count) + [real_sample()]
    if args.fills:
        choose_fill(files, args.halves.split(","), [float(x) for x in args.fills.split(",")],
                    args.corpus / "fill-cache")
    elif args.tune:
        tune(files, [float(s) for s in args.steps.split(",")],
             thresholds=tuple(float(t) for t in args.speech_thresholds.split(",")), score_window=args.score_window,
             grid=[tuple(float(x) for x in g.split(":")) for g in args.grid.split(",")] if args.grid else None)
    else:
        evaluate(files, args.halves.split(","), not args.no_senko, args.verbose, args.speech)


if __name__ == "__main__":
    main()
