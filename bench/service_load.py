"""A small, bounded load test of the HTTP service on loopback; prints figures, asserts nothing.

Starts the service (real pipeline, embedded CPU tier) in a child process on 127.0.0.1 and a free
port, then sends ``--requests`` uploads from ``--concurrency`` client threads, stopping early at
``--max-seconds``. ``--distinct`` different clips are used (each is computed once; repeats hit the
workspace cache), so the figures mix fresh runs and cache hits. With more concurrent clients than
``--max-pending`` the server answers some requests 503 (busy) by design; those are counted apart
from errors.

    python bench/service_load.py [--requests 20] [--concurrency 4] [--distinct 3] [--max-pending 2]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--distinct", type=int, default=3, help="different clips (the rest are cache hits)")
    p.add_argument("--max-pending", type=int, default=2, help="server's queue bound (queued + running)")
    p.add_argument("--max-seconds", type=float, default=180.0, help="stop sending after this long")
    p.add_argument("--clip-seconds", type=float, default=20.0, help="length of the synthetic clips")
    p.add_argument("--no-retry", action="store_true", help="count a 503 as the request's outcome "
                                                          "(default: wait 0.5 s and send it again)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # child process mode
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--workspace", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def serve(args) -> int:
    import torch
    import uvicorn

    from vtxlib.pipeline import PipelineOptions
    from vtxlib.service import ServiceOptions, create_app
    from vtxlib.workspace import Workspace

    torch.set_num_threads(1)
    app = create_app(Workspace(args.workspace), ServiceOptions(port=args.port, max_pending_jobs=args.max_pending),
                     PipelineOptions(report=False))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """Distinct clips: one synthetic conversation, each copy with its own faint noise."""
    import numpy as np

    from vtxlib.audio import load_audio, write_wav
    from vtxlib.testing import synth

    base = load_audio(synth.make_conversation(ROOT / "tests" / ".fixtures" / "bench", 2, seconds).wav)
    clips = []
    for i in range(count):
        noise = np.random.default_rng(i).normal(0, 1e-3, base.size).astype(np.float32)
        path = folder / f"clip{i}.wav"
        write_wav(path, base + noise)
        clips.append(path)
    return clips


def wait_ready(client, deadline: float) -> dict:
    while time.time() < deadline:
        try:
            status = client.get("/status").json()
            if status.get("ready"):
                return status
        except Exception:  # not listening yet
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready in time")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve(args)
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(tmp, max(1, args.distinct), args.clip_seconds)
        port = free_port()
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--workspace",
                                   str(tmp / "ws"), "--max-pending", str(args.max_pending)])
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=300) as client:
                wait_ready(client, time.time() + 120)
                startup = time.perf_counter() - started
                figures = run_load(base, clips, args)
                figures["startup_seconds"] = round(startup, 2)
                figures["server_handled"] = client.get("/status").json()["jobs"]["handled"]
        finally:
            server.terminate()
            server.wait(20)
    for name, value in figures.items():
        print(f"{name:<24} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


def run_load(base: str, clips: list[Path], args) -> dict:
    import httpx

    payloads = [(c.name, c.read_bytes()) for c in clips]
    deadline = time.time() + args.max_seconds
    lock = threading.Lock()
    next_index = [0]
    outcomes: list[tuple[int | str, float]] = []
    busy_answers = [0]

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=args.max_seconds + 60) as client:
            while time.time() < deadline:
                with lock:
                    if next_index[0] >= args.requests:
                        return
                    index = next_index[0]
                    next_index[0] += 1
                name, data = payloads[index % len(payloads)]
                t0 = time.perf_counter()
                while True:
                    try:
                        status: int | str = client.post("/transcribe",
                                                        files={"file": (name, data, "audio/wav")}).status_code
                    except httpx.HTTPError as e:
                        status = type(e).__name__
                    if status != 503 or args.no_retry or time.time() > deadline:
                        break
                    with lock:
                        busy_answers[0] += 1
                    time.sleep(0.5)
                with lock:
                    outcomes.append((status, time.perf_counter() - t0))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(max(1, args.concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    counts = Counter(status for status, _ in outcomes)
    ok = sorted(seconds for status, seconds in outcomes if status in (200, 202))
    errors = sum(n for status, n in counts.items() if status not in (200, 202, 503))
    return {
        "requests_sent": len(outcomes), "handled_ok": len(ok), "busy_503_final": counts.get(503, 0),
        "busy_503_retried": busy_answers[0],
        "errors": errors, "status_counts": dict(sorted((str(k), v) for k, v in counts.items())),
        "wall_seconds": round(wall, 2), "throughput_per_s": round(len(ok) / wall, 3) if wall else None,
        "latency_median_s": round(statistics.median(ok), 3) if ok else None,
        "latency_p95_s": round(ok[min(len(ok) - 1, int(0.95 * (len(ok) - 1) + 0.5))], 3) if ok else None,
        "latency_max_s": round(ok[-1], 3) if ok else None,
        "distinct_clips": len(clips), "concurrency": args.concurrency,
    }


if __name__ == "__main__":
    raise SystemExit(main())
