"""Live transcription latency on the embedded CPU tier; prints figures, asserts nothing.

Replays a recording through :class:`vtxlib.live.WavFileSource` (at real time by default, as a
microphone would deliver it) into :class:`vtxlib.live.LiveTranscriber` and reports, per utterance,
the latency from the end of speech to the text being emitted, plus WER (and cpWER with speaker
labels) against the reference. Default input: a synthetic espeak-ng conversation
(``vtxlib.testing.synth``) of about 60 s.

    python bench/live_latency.py [--seconds 60] [--speakers 2] [--fast] [--labels] [--wav FILE] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vtxlib import live, metrics  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wav", type=Path, default=None, help="16 kHz mono wav (default: a synthetic conversation)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic conversation")
    p.add_argument("--speakers", type=int, default=2, help="voices in the synthetic conversation")
    p.add_argument("--fast", action="store_true", help="replay as fast as possible (latency is then "
                                                       "endpoint delay + processing, not wall clock)")
    p.add_argument("--labels", action="store_true", help="speaker labels by voice embedding")
    p.add_argument("--chunk-ms", type=int, default=100)
    p.add_argument("--min-silence", type=float, default=0.5, help="trailing silence that ends an utterance")
    p.add_argument("--beam-size", type=int, default=1)
    p.add_argument("--cache", type=Path, default=ROOT / "tests" / ".fixtures" / "bench")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    return p.parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    args = parse_args(argv)
    reference = None
    if args.wav is None:
        from vtxlib.testing import synth

        conversation = synth.make_conversation(args.cache, args.speakers, args.seconds)
        wav, reference = conversation.wav, conversation
    else:
        wav = args.wav
    started = time.perf_counter()
    transcriber = live.create_live_transcriber(
        options=live.LiveOptions(speaker_labels=args.labels, min_silence_s=args.min_silence),
        beam_size=args.beam_size)
    load_s = time.perf_counter() - started
    source = live.WavFileSource(wav, realtime=not args.fast, chunk_ms=args.chunk_ms)
    started = time.perf_counter()
    session = transcriber.run(source)
    wall = time.perf_counter() - started

    print(f"{'#':>3} {'start':>7} {'end':>7} {'latency':>8} {'asr':>6}  speaker     text")
    for u in session.utterances:
        print(f"{u.index:>3} {u.start:7.2f} {u.end:7.2f} {u.latency_s:8.2f} {u.processing_s:6.2f}  "
              f"{(u.speaker or '-'):<11} {u.text[:70]}")
    latencies = session.latencies
    figures = {
        "audio_seconds": round(session.duration, 2), "wall_seconds": round(wall, 2),
        "model_load_seconds": round(load_s, 2), "realtime_replay": not args.fast,
        "utterances": len(session.utterances),
        "latency_p50_s": round(percentile(latencies, 0.5), 3) if latencies else None,
        "latency_p90_s": round(percentile(latencies, 0.9), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "share_within_2s": round(sum(v <= 2.0 for v in latencies) / len(latencies), 3) if latencies else None,
        "processing_median_s": round(statistics.median(u.processing_s for u in session.utterances), 3)
        if latencies else None,
    }
    if reference is not None:
        figures["wer"] = round(metrics.wer(reference.reference_text(), session.text), 4)
        if args.labels:
            hyp: dict[str, list[str]] = {}
            for u in session.utterances:
                hyp.setdefault(u.speaker or "?", []).append(u.text)
            figures["cpwer"] = round(metrics.cpwer(reference.reference_text_by_speaker(),
                                                   {k: " ".join(v) for k, v in hyp.items()}), 4)
            figures["speakers_found"] = len(hyp)
            figures["speakers_true"] = reference.num_speakers
    print()
    for name, value in figures.items():
        print(f"{name:<22} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    with tempfile.TemporaryDirectory() as tmp:  # the session exports like any transcript
        from vtxlib.workspace import Workspace

        paths = session.save(Workspace(tmp), media_id="live-bench")
        print(f"{'vtt_cues':<22} {paths['vtt'].read_text().count(' --> ')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
