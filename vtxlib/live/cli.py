"""``python -m vtxlib live``: a microphone or a replayed wav, transcribed as it streams."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .capture import SoundDeviceSource, WavFileSource, import_sounddevice
from .session import LiveOptions, Utterance
from .transcriber import create_live_transcriber

log = logging.getLogger("vtxlib.live")

def add_parser(subparsers) -> None:
    """Register ``live`` (``python -m vtxlib live``): print utterances as they are recognised."""
    p = subparsers.add_parser("live", help="transcribe the microphone (or a wav replayed live) as you speak")
    p.add_argument("--wav", type=Path, default=None,
                   help="replay this audio or video file (any format ffmpeg reads) instead of the microphone")
    p.add_argument("--fast", action="store_true", help="with --wav: replay as fast as possible")
    p.add_argument("--labels", action="store_true", help="label speakers by voice (SPEAKER_00, ...)")
    p.add_argument("--min-silence", type=float, default=LiveOptions().min_silence_s,
                   help="seconds of silence that end an utterance (default 0.5)")
    p.add_argument("--language", default=None,
                   help="spoken language, a Whisper code such as en, es, de, ja (default auto: English at first, "
                        "and the first ~10 s of speech are identified: when they are surely another language, the "
                        "rest is transcribed in it)")
    p.add_argument("--asr-model", default=None,
                   help="CTranslate2 Whisper folder (default: bundled tiny.en for English, base for the others)")
    p.add_argument("--save", action="store_true", help="save audio + transcript.{vtt,srt,json,...} to the workspace")
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    p.set_defaults(func=cmd_live)


def cmd_live(args) -> int:
    import sys

    def show(u: Utterance) -> None:
        who = f"{u.speaker}: " if u.speaker else ""
        sys.stdout.write(f"[{u.start:7.2f}-{u.end:7.2f}] {who}{u.text}   ({u.latency_s:.2f} s)\n")
        sys.stdout.flush()

    from ..language import live_language

    options = LiveOptions(speaker_labels=args.labels, min_silence_s=args.min_silence)
    language = live_language(args.language)  # a bad code is one line, before anything opens
    # the input first: a missing file or no PortAudio is one line, before any model loads
    if args.wav is not None:
        source = WavFileSource(args.wav, realtime=not args.fast)
    else:
        import_sounddevice()
        source = SoundDeviceSource()
    transcriber = create_live_transcriber(asr_model=args.asr_model, language=language, options=options,
                                          on_utterance=show)
    if args.wav is None:
        sys.stderr.write("recording from the microphone; press Ctrl-C to stop\n")
    transcriber.start(source)
    try:
        while transcriber.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    session = transcriber.stop()
    p50, p90, worst = latency_percentiles(session.latencies)
    sys.stdout.write(f"{len(session.utterances)} utterances, {session.duration:.1f} s of audio, "
                     f"latency p50 {p50:.2f} s, p90 {p90:.2f} s, max {worst:.2f} s\n")
    if args.save:
        from ..workspace import Workspace

        paths = session.save(Workspace(args.workspace))
        sys.stdout.write(f"saved: {paths['vtt']}\n")
    return 0


def latency_percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """(p50, p90, max) of LATENCIES by the nearest-rank rule; NaNs when there are none."""
    import math

    ordered = sorted(latencies)
    if not ordered:
        return math.nan, math.nan, math.nan

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return rank(0.5), rank(0.9), ordered[-1]
