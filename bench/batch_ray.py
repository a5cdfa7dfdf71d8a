"""Throughput of ``batch --engine ray`` with 1 and 2 workers on this machine (embedded CPU tier).

    PYTHONPATH=$PWD python bench/batch_ray.py [--files 4] [--seconds 30] [--workers 1,2]

Each run starts a local Ray runtime, uses a fresh workspace (nothing cached) and synthetic
conversations from :mod:`vtxlib.testing.synth`. The wall time covers the whole batch: Ray's start,
each worker loading its models once, and every source. A sampler reads the resident memory (RSS)
of every ``SourceWorker`` process; its peak is what one embedded-tier worker holds.
Prints one line per worker count: files/min and the real-time factor (audio seconds per wall second).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path


def peak_worker_rss(stop: threading.Event, peaks: dict[int, int]) -> None:
    import psutil

    while not stop.is_set():
        for proc in psutil.process_iter(["pid", "name", "cmdline"]):
            try:
                title = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or ""
                if "SourceWorker" in title:
                    peaks[proc.pid] = max(peaks.get(proc.pid, 0), proc.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        stop.wait(0.5)


def run(workers: int, listing: Path, root: Path) -> dict:
    from vtxlib.batch_ray import RayOptions, run_batch_ray
    from vtxlib.pipeline import PipelineOptions
    from vtxlib.workspace import Workspace

    options = PipelineOptions(asr="whisper-cpu", diarizer="embedded", emotion="embedded", report=False)
    stop, peaks = threading.Event(), {}
    sampler = threading.Thread(target=peak_worker_rss, args=(stop, peaks), daemon=True)
    sampler.start()
    try:
        report = run_batch_ray(str(listing), Workspace(root / f"ws-{workers}"), options,
                               RayOptions(workers=workers, name=f"bench-{workers}"))
    finally:
        stop.set()
        sampler.join()
    assert not report.failed, report.table()
    return {"workers": workers, "files": len(report.done), "audio": report.audio_seconds,
            "wall": report.wall_seconds, "rss": max(peaks.values(), default=0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each synthetic conversation")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vtxlib.testing.synth import make_conversation

    root = Path(tempfile.mkdtemp(prefix="vtx-bench-ray-"))
    wavs = [make_conversation(root / "synth", 2, args.seconds, seed=100 + i).wav for i in range(args.files)]
    listing = root / "list.txt"
    listing.write_text("".join(f"{w}\n" for w in wavs))
    print(f"{args.files} files x {args.seconds:.0f} s, embedded tier (whisper-cpu tiny.en, embedded diarizer, "
          f"embedded emotion); {os.cpu_count()} cores on this machine")
    print(f"{'workers':>7} {'files':>5} {'audio s':>8} {'wall s':>7} {'files/min':>9} {'x real time':>11} "
          f"{'peak RSS/worker':>15}")
    for workers in [int(w) for w in args.workers.split(",")]:
        r = run(workers, listing, root)
        print(f"{r['workers']:>7} {r['files']:>5} {r['audio']:>8.1f} {r['wall']:>7.1f} "
              f"{60 * r['files'] / r['wall']:>9.2f} {r['audio'] / r['wall']:>11.2f} {r['rss'] / 2**20:>12.0f} MiB",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
