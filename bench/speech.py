"""One speech-detection pass: which detector's regions whisper-cpu decodes, with the diarizer on the same.

    python bench/speech.py --halves dev                    # choose on the dev half
    python bench/speech.py --halves dev --pads 0.2,0.6     # and the pad decoded around each region
    python bench/speech.py --halves test,text              # report the test half and the text files

Per file, side by side in one process on one thread, with one diarization (the embedded diarizer's
voice count rebuilt from the one-pass regions, as the pipeline does; the script checks it equals the
count segmentation-3.0 gives directly):

* **silero**: whisper-cpu decodes Silero's regions (:mod:`vtxlib.vad`) padded by 0.4 s; the
  diarizer's speech is segmentation-3.0's: two detectors (the speech stage before the one pass);
* **one pass**: whisper-cpu decodes segmentation-3.0's regions, the same the diarizer uses (what
  ``vtxlib run`` does with the embedded diarizer).

It prints minutes of detected speech, words and the share ``align`` leaves UNKNOWN, DER (collar 0,
overlap scored), speaker counts right, pooled WER against the text reference (the corpus's spoken
sentences in order of start, the pyannote sample's transcript, the synthetic conversations of
``bench/run.py``), and the seconds of each step. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib import metrics  # noqa: E402
from vtxlib.align import align  # noqa: E402
from vtxlib.asr.whisper_cpu import WhisperCpuAsr  # noqa: E402
from vtxlib.diarize.base import SpeakerCount  # noqa: E402
from vtxlib.diarize.embedded import (  # noqa: E402
    EmbeddedDiarizerOptions,
    WavReader,
    _speaker_bounds,
    count_of,
    diarize_windows,
    embed_windows,
    segment,
    speaker_count,
    speech_of,
)
from vtxlib.testing import samples, synth  # noqa: E402
from vtxlib.testing.corpus import make_corpus  # noqa: E402
from vtxlib.types import UNKNOWN_SPEAKER, AudioFile  # noqa: E402
from vtxlib.vad import detect_speech  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / ".fixtures"


@dataclass
class Item:
    name: str
    half: str
    wav: Path
    duration: float
    reference_turns: list
    reference_text: str = ""


@dataclass
class Result:
    item: Item
    figures: dict = field(default_factory=dict)  # variant -> {wer, unknown, words, der, speakers, ...}
    seconds: dict = field(default_factory=dict)


def items(halves: list[str], max_seconds: float = float("inf")) -> list[Item]:
    out = []
    for half in [h for h in halves if h in ("dev", "test")]:
        for f in make_corpus(FIXTURES / "corpus", halves=(half,)):
            if f.duration <= max_seconds:
                out.append(Item(f.name, half, Path(f.wav), f.duration, f.reference_turns(), f.text))
    if "text" in halves:
        sample = samples.pyannote_sample()
        out.append(Item("pyannote sample", "text", Path(sample.wav), 30.0, sample.reference_turns(),
                        sample.reference_text()))
        for speakers, seconds in [(2, 60), (3, 60), (4, 200)]:
            conv = synth.make_conversation(FIXTURES, num_speakers=speakers, target_seconds=seconds, seed=speakers)
            out.append(Item(f"synthetic {speakers} spk", "text", Path(conv.wav), conv.duration,
                            conv.reference_turns(), conv.reference_text()))
    return out


def timed(seconds: dict, name: str, fn):
    started = time.perf_counter()
    result = fn()
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
    return result


def run(item: Item, asr: WhisperCpuAsr, skip_asr: bool = False, pads: tuple = ()) -> Result:
    """Both variants on one file; the diarization of ``one pass`` rebuilds its voice count from the
    regions alone, as the pipeline's diarizer does."""
    options = EmbeddedDiarizerOptions()
    bounds = _speaker_bounds(SpeakerCount(), options.max_speakers)
    audio = AudioFile(path=str(item.wav), sample_rate=16000, duration=item.duration)
    res = Result(item)
    sec = res.seconds
    reader = WavReader(str(item.wav))
    silero = timed(sec, "silero", lambda: detect_speech(str(item.wav)))
    voices = timed(sec, "segmentation", lambda: speaker_count(segment(reader, options), reader.duration))
    one_pass = speech_of(voices, reader.duration)
    rebuilt = count_of(one_pass, reader.duration)
    assert (rebuilt.data == voices.data).all(), "the regions must give back the same voice count"

    def diarize(count):
        windows, fine = embed_windows(reader, count, options)
        return diarize_windows(count, windows, fine, options, bounds)

    diarization = timed(sec, "diarize (embeddings on)", lambda: diarize(rebuilt))
    default_pad = asr.options.speech_pad_s
    for variant, speech, pad in variants(silero, one_pass, default_pad, pads):
        asr.options.speech_pad_s = asr.options.silero_pad_s = pad
        transcript = timed(sec, f"asr {variant}", lambda: None if skip_asr else asr.transcribe(audio, speech=speech))
        res.figures[variant] = figures(item, transcript, diarization)
        res.figures[variant]["speech_s"] = speech.speech_seconds
    asr.options.speech_pad_s, asr.options.silero_pad_s = default_pad, SILERO_PAD_S
    reader.close()
    return res


SILERO_PAD_S = 0.4  # what whisper-cpu decoded around Silero's regions before the one pass


def variants(silero, one_pass, default_pad: float, pads: tuple) -> list[tuple[str, object, float]]:
    """(name, regions, pad): Silero's regions as decoded before, the one pass as ``vtxlib run``
    decodes it, and both with each of PADS."""
    out = [("silero", silero, SILERO_PAD_S), ("one pass", one_pass, default_pad)]
    return out + [(f"{name}, pad {p}", regions, p) for p in pads
                  for name, regions in (("silero", silero), ("one pass", one_pass))]


def figures(item: Item, transcript, diarization) -> dict:
    words = align(transcript, diarization).words if transcript is not None else []
    out = {"words": len(words), "unknown": sum(w.speaker == UNKNOWN_SPEAKER for w in words),
           "der": metrics.der(item.reference_turns, diarization.speech_turns or diarization.turns, collar=0.0),
           "speakers": len({t.speaker for t in diarization.turns}),
           "true_speakers": len({t.speaker for t in item.reference_turns})}
    if item.reference_text and transcript is not None:
        out["wer"] = metrics.wer(item.reference_text, " ".join(w.text for w in words))
        out["ref_words"] = len(item.reference_text.split())
    return out


def table(results: list[Result], variants: list[str]) -> None:
    for half in sorted({r.item.half for r in results}):
        chosen = [r for r in results if r.item.half == half]
        print(f"\n{half}: {len(chosen)} files, {sum(r.item.duration for r in chosen) / 60:.1f} min")
        print("| variant | speech (min) | words | UNKNOWN words | median DER | mean DER | count right | WER (pooled) |")
        print("|---|---|---|---|---|---|---|---|")
        for v in variants:
            figs = [r.figures[v] for r in chosen]
            words = sum(f["words"] for f in figs)
            unknown = sum(f["unknown"] for f in figs)
            scored = [f for f in figs if "wer" in f]
            pooled = sum(f["wer"] * f["ref_words"] for f in scored) / max(sum(f["ref_words"] for f in scored), 1)
            print(f"| {v} | {sum(f['speech_s'] for f in figs) / 60:.1f} | {words} | "
                  f"{unknown} ({100 * unknown / max(words, 1):.2f}%) | "
                  f"{100 * statistics.median(f['der'] for f in figs):.1f}% | "
                  f"{100 * statistics.mean(f['der'] for f in figs):.1f}% | "
                  f"{sum(f['speakers'] == f['true_speakers'] for f in figs)}/{len(figs)} | "
                  f"{'-' if not scored else f'{100 * pooled:.1f}%'} |")
        steps = sorted({k for r in chosen for k in r.seconds})
        print("seconds: " + ", ".join(f"{k} {sum(r.seconds.get(k, 0) for r in chosen):.1f}" for k in steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--halves", default="dev", help="dev, test and/or text (files with a text reference)")
    parser.add_argument("--max-seconds", type=float, default=float("inf"), help="only corpus files this short")
    parser.add_argument("--no-asr", action="store_true", help="diarization only")
    parser.add_argument("--pads", default="", help="also decode both detectors' regions with these pads (s), e.g. 0.2,0.6")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    pads = tuple(float(p) for p in args.pads.split(",") if p)
    print(f"halves {args.halves}, files up to {args.max_seconds} s")
    asr = WhisperCpuAsr()
    results = []
    for item in items(args.halves.split(","), args.max_seconds):
        results.append(run(item, asr, args.no_asr, pads))
        if args.verbose:
            print(item.name, {k: {n: round(x, 3) for n, x in v.items()} for k, v in results[-1].figures.items()},
                  flush=True)
    table(results, [name for name, _, _ in variants(None, None, 0.0, pads)])


if __name__ == "__main__":
    main()
