"""Install time with and without the Drive wheel cache, on this machine; prints figures, asserts nothing.

Each "runtime" is a fresh virtual environment (as every Colab notebook is a fresh runtime). The same
small, representative requirement set is installed three ways, through vtxlib.colab_install:

1. from the package index, pip's own cache off (what every notebook paid before the wheel cache);
2. building the wheel cache into a folder standing for Drive (what 00_setup_gpu pays once);
3. from the wheel cache with --no-index (what every later notebook pays);
4. one requirement added: the cache topped up with just the missing wheels, then --no-index.

    python bench/colab_wheel_cache.py [--requirements FILE] [--keep DIR]

The full requirements-colab.txt (NeMo, pyannote, SpeechBrain: ~2 GB of wheels) needs Colab's torch
and a Colab network to be measured meaningfully; here the set below stands in for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL_SET = """\
faster-whisper==1.2.1
webvtt-py==0.6.0
vaderSentiment==3.3.2
yt-dlp>=2025.1.1
google-genai>=1.30,<3.3
"""
RUNNER = """
import json, sys, time
from pathlib import Path
from vtxlib import colab_install
requirements, cache, stamps, mode = sys.argv[1:5]
colab_install.STAMP_DIR = Path(stamps)
started = time.perf_counter()
if mode == "index":
    result = colab_install.install_requirements(Path(requirements), echo=lambda line: None, restart=lambda: None)
else:
    result = colab_install.install_requirements(Path(requirements), wheel_cache=Path(cache),
                                                echo=lambda line: None, restart=lambda: None)
print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "origin": result.origin}))
"""


def fresh_runtime(folder: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return str(folder / "bin" / "python")


def measure(python: str, requirements: Path, cache: Path, stamps: Path, mode: str, env: dict) -> dict:
    script = stamps.parent / "runner.py"
    script.write_text(RUNNER)
    out = subprocess.run([python, str(script), str(requirements), str(cache), str(stamps), mode],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, help="requirement set (default: a small stand-in)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vtx-wheel-cache-"))
    work.mkdir(parents=True, exist_ok=True)
    requirements = work / "requirements.txt"
    requirements.write_text(args.requirements.read_text() if args.requirements else SMALL_SET)
    cache = work / "drive" / "wheels"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIP_NO_CACHE_DIR": "1"}
    rows = []
    for label, mode in (("index, no pip cache (before)", "index"), ("building the wheel cache (00, once)", "cache"),
                        ("from the wheel cache (later notebooks)", "cache"),
                        ("one requirement added: cache topped up", "cache")):
        if label.startswith("one requirement added"):
            requirements.write_text(requirements.read_text() + "rich\n")
        python = fresh_runtime(work / f"runtime-{len(rows)}")
        result = measure(python, requirements, cache, work / f"stamps-{len(rows)}", mode, env)
        rows.append((label, result["seconds"], result["origin"]))
    wheels = list(cache.glob("*.whl"))
    size_mb = sum(w.stat().st_size for w in wheels) / 1e6
    print(f"requirement set: {', '.join(requirements.read_text().split())}")
    print(f"wheel cache: {len(wheels)} wheels, {size_mb:.0f} MB")
    print(f"{'install':42s} {'seconds':>8s}  origin")
    for label, seconds, origin in rows:
        print(f"{label:42s} {seconds:8.1f}  {origin}")


if __name__ == "__main__":
    main()
