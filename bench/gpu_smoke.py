"""GPU-tier smoke benchmark: the real NeMo and pyannote backends on a CUDA machine.

    python bench/gpu_smoke.py [--audio FILE] [--asr-model NAME] [--diarizer-model NAME]
    python bench/gpu_smoke.py --tiny-long-audio [--minutes 10.5]

Default mode needs CUDA and the model weights (downloaded into ``$VTX_WORKSPACE/models`` on first
use; pyannote needs HF_TOKEN with its model pages accepted). It prints load time, processing time,
real-time factor and peak GPU memory per stage as JSON lines. Without CUDA it exits with status 2
and says so.

``--tiny-long-audio`` runs anywhere (CPU included): a tiny random-weight FastConformer-TDT (from
tests/gpu_models.py) transcribes a synthetic recording of ``--minutes`` with each long-audio
strategy, each in a fresh process, and reports wall time and peak memory (RSS on CPU, CUDA peak
allocation on GPU) to show how memory scales with the strategy rather than the duration.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

STRATEGIES = {
    "full_attention_single_pass": {"full_attention_max_seconds": 1e9},
    "local_attention_windows": {"full_attention_max_seconds": 60, "long_audio": "local_attention",
                                "window_seconds": 300},
    "chunk_full_attention": {"full_attention_max_seconds": 60, "long_audio": "chunk",
                             "chunk_seconds": 120},
}


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ real models on CUDA -------
def run_real(args) -> int:
    from vtxlib import gpu

    if not gpu.cuda_available():
        print("gpu_smoke: no CUDA device here; run it on Colab (GPU runtime) or a GPU machine, or "
              "use --tiny-long-audio for the CPU check", file=sys.stderr)
        return 2
    import soundfile as sf
    import torch

    from vtxlib.asr.nemo import NemoAsr, NemoAsrOptions
    from vtxlib.diarize.base import SpeakerCount
    from vtxlib.diarize.pyannote import PyannoteDiarizer, PyannoteOptions
    from vtxlib.types import AudioFile
    from vtxlib.workspace import Workspace

    workspace = Workspace(args.workspace)
    workspace.configure_model_caches()
    path = args.audio or str(_pyannote_sample())
    audio = AudioFile(path=path, sample_rate=16000, duration=sf.info(path).duration)
    emit({"device": torch.cuda.get_device_name(0), "audio": path, "duration_s": round(audio.duration, 2)})

    hub_cache = workspace.models_dir / "huggingface" / "hub"
    asr = NemoAsr(NemoAsrOptions(model=args.asr_model), cache_dir=hub_cache)
    _timed_stage("asr", audio, lambda: asr.model, lambda: asr.transcribe(audio),
                 lambda t: {"words": len(t.words), "model": t.model, "version": t.model_version})
    asr.close()

    diarizer = PyannoteDiarizer(PyannoteOptions(model=args.diarizer_model),
                                secrets_dir=workspace.secrets_dir,
                                cache_dir=hub_cache)
    _timed_stage("diarize", audio, lambda: diarizer.pipeline,
                 lambda: diarizer.diarize(audio, SpeakerCount()),
                 lambda d: {"turns": len(d.turns), "speakers": len(d.speakers), "overlaps": len(d.overlaps)})
    diarizer.close()
    return 0


def _timed_stage(stage, audio, load, run, summary) -> None:
    from vtxlib import gpu

    gpu.peak_gpu_memory_mb(reset=True)
    t0 = time.perf_counter()
    load()
    t1 = time.perf_counter()
    result = run()
    t2 = time.perf_counter()
    emit({"stage": stage, "load_s": round(t1 - t0, 2), "run_s": round(t2 - t1, 2),
          "rtf": round((t2 - t1) / audio.duration, 4), "peak_gpu_mb": round(gpu.peak_gpu_memory_mb() or 0),
          **summary(result)})


def _pyannote_sample() -> Path:
    import pyannote.audio

    return Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"


# ------------------------------------------------------------- tiny model, long audio -------
def run_tiny_long_audio(args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        _synthetic_long_wav(wav, args.minutes)
        for name in args.strategies.split(","):
            result = subprocess.run([sys.executable, __file__, "--_one-strategy", name, "--audio", str(wav),
                                     "--_tmp", tmp], capture_output=True, text=True)
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode != 0 or not lines:
                emit({"strategy": name, "error": (result.stderr.strip().splitlines() or ["?"])[-1]})
            else:
                print(lines[-1], flush=True)
    return 0


def _synthetic_long_wav(path: Path, minutes: float) -> None:
    """Speech-like noise bursts with pauses (content is irrelevant to a random model)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    sr, total = 16000, int(minutes * 60 * 16000)
    envelope = np.repeat(rng.uniform(0, 1, total // 4000 + 1) > 0.3, 4000)[:total]
    sf.write(path, (0.1 * rng.standard_normal(total) * envelope).astype("float32"), sr, subtype="PCM_16")


def run_one_strategy(args) -> int:
    import soundfile as sf
    import torch

    from gpu_models import build_tdt_model, train_tokenizer
    from vtxlib import gpu
    from vtxlib.asr.nemo import NemoAsr, NemoAsrOptions
    from vtxlib.types import AudioFile

    torch.set_num_threads(int(os.environ.get("VTX_BENCH_THREADS", "1")))
    model = build_tdt_model(train_tokenizer(Path(args._tmp) / "tokenizer"))
    options = NemoAsrOptions(model="tiny-tdt", word_confidence=False, **STRATEGIES[args._one_strategy])
    backend = NemoAsr(options, model=model)
    audio = AudioFile(args.audio, 16000, sf.info(args.audio).duration)
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    transcript = backend.transcribe(audio)
    seconds = time.perf_counter() - t0
    emit({"strategy": args._one_strategy, "device": backend._device, "audio_min": round(audio.duration / 60, 2),
          "windows": len(backend.plan(audio.duration)), "attention": backend._attention,
          "seconds": round(seconds, 1), "words": len(transcript.words),
          "peak_rss_mb": round(peak_rss_mb()), "rss_before_mb": round(rss_before),
          "peak_gpu_mb": gpu.peak_gpu_memory_mb()})
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="GPU-tier smoke benchmark")
    parser.add_argument("--audio", help="16 kHz mono wav (default: pyannote's sample.wav)")
    parser.add_argument("--asr-model", default="nvidia/parakeet-tdt-0.6b-v2")
    parser.add_argument("--diarizer-model", default="pyannote/speaker-diarization-community-1")
    parser.add_argument("--workspace", default=None, help="workspace root (model caches, HF_TOKEN file)")
    parser.add_argument("--tiny-long-audio", action="store_true", help="CPU-capable long-audio memory check")
    parser.add_argument("--minutes", type=float, default=10.5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help=f"comma-separated subset of {', '.join(STRATEGIES)}")
    parser.add_argument("--_one-strategy", dest="_one_strategy", help=argparse.SUPPRESS)
    parser.add_argument("--_tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one_strategy:
        return run_one_strategy(args)
    if args.tiny_long_audio:
        return run_tiny_long_audio(args)
    return run_real(args)


if __name__ == "__main__":
    sys.exit(main())
