"""WER and speed of each ASR backend on the same files, and how precise Gemini's aligned word times are.

    python bench/asr_backends.py                 # local backend + loopback fakes of the hosted APIs
    python bench/asr_backends.py --real          # the real services for each key that is set
                                                 # (ASSEMBLYAI_API_KEY, GEMINI_API_KEY): uploads the files!

Files: the pyannote sample (30 s of real telephone speech, reference STM) and three synthetic espeak-ng
conversations (2-3 voices, exact sentence times). Per backend and file: WER against the reference
text, seconds and real-time factor (audio seconds per wall-clock second).

Without ``--real`` the hosted backends run against the loopback fakes of ``tests/cloud_fakes.py``,
which answer with the *reference* text: their WER then only checks that nothing is lost or doubled
between upload, chunking, parsing and alignment (it must be 0), and their time is the SDK's and vtx's
overhead plus, for Gemini, the local recognizer pass that times its words. It says nothing about the
services' accuracy; that needs ``--real``.

Gemini word-time precision (always from the fakes' reference text, so the text is right and only the
times are judged):

* words anchored: share of Gemini's words whose time is a local (whisper-cpu) word of the same text;
* leave-one-out: each anchored word is timed again as if the local recognizer had missed it
  (interpolated between its neighbours); the error against its own local time is what an
  interpolated word costs;
* turn edges against the ground truth of the synthetic files (exact sentence spans): |first word start
  - turn start| and |last word end - turn end|, for whisper-cpu's own words and for the aligned Gemini
  words. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from vtxlib import metrics  # noqa: E402
from vtxlib.asr.word_times import TextSegment, align_text_to_words, normalise  # noqa: E402
from vtxlib.audio import read_info  # noqa: E402
from vtxlib.testing import samples, synth  # noqa: E402
from vtxlib.types import Word  # noqa: E402


@dataclass
class BenchFile:
    name: str
    wav: Path
    script: list[tuple[str, float, float, str]]  # (speaker, start, end, text)
    exact: bool  # sentence spans are exact (synthetic)

    @property
    def text(self) -> str:
        return " ".join(t for *_, t in self.script)


def bench_files(cache: Path) -> list[BenchFile]:
    files = []
    sample = samples.pyannote_sample(fetch=False)
    files.append(BenchFile("pyannote-sample", sample.wav,
                           [(u.speaker, u.start, u.end, u.text) for u in sample.reference_utterances()], False))
    for speakers, seconds, seed in ((2, 30, 11), (3, 45, 12), (2, 60, 13)):
        conv = synth.make_conversation(cache, speakers, seconds, seed=seed)
        files.append(BenchFile(f"synth-{speakers}spk-{seconds}s", conv.wav,
                               [(t.speaker, t.start, t.end, t.text) for t in conv.turns], True))
    return files


def local_backend():
    from vtxlib.asr.whisper_cpu import WhisperCpuAsr

    return WhisperCpuAsr()


def hosted_backend(name: str, real: bool, file: BenchFile, aligner, fakes: dict):
    from vtxlib.asr.assemblyai import AssemblyAIAsr, AssemblyAIOptions
    from vtxlib.asr.cloud import api_key
    from vtxlib.asr.gemini import GeminiAsr

    if real:
        key = api_key(name, None)
        if not key:
            return None
    else:
        from cloud_fakes import FakeAssemblyAI, FakeGemini

        info = read_info(file.wav)
        fake = FakeAssemblyAI(file.script, info.duration) if name == "assemblyai" else FakeGemini(file.script)
        fakes[name] = fake
        os.environ[f"VTX_{name.upper()}_BASE_URL"] = fake.url
        key = "bench-fake-key"
    if name == "assemblyai":
        return AssemblyAIAsr(AssemblyAIOptions(poll_first_s=0.05 if not real else 1.0), api_key=key, allow_cloud=True)
    return GeminiAsr(api_key=key, allow_cloud=True, aligner=aligner)


def run_backend(backend, file: BenchFile) -> tuple[float, float, list[Word]]:
    audio = read_info(file.wav)
    started = time.perf_counter()
    transcript = backend.transcribe(audio)
    seconds = time.perf_counter() - started
    wer = metrics.wer(file.text, " ".join(w.text for w in transcript.words))
    return wer, seconds, transcript.words


def leave_one_out(segments: list[TextSegment], local: list[Word]) -> list[float]:
    """For each local word the aligner anchors a Gemini word to: the start error when it is missing."""
    aligned = align_text_to_words(segments, local)
    gemini_words = [w for s in aligned.segments for w in s.words]
    errors = []
    by_start = {(round(w.start, 3), normalise(w.text)): i for i, w in enumerate(local)}
    for word in gemini_words:
        j = by_start.get((round(word.start, 3), normalise(word.text)))
        if j is None:
            continue
        again = align_text_to_words(segments, local[:j] + local[j + 1:])
        redone = [w for s in again.segments for w in s.words]
        k = gemini_words.index(word)
        errors.append(abs(redone[k].start - local[j].start))
    return errors


def edge_errors(script, words: list[Word]) -> list[float]:
    """|first word start - turn start| and |last word end - turn end| per reference turn (words by centre)."""
    errors = []
    for _, start, end, _ in script:
        inside = [w for w in words if start - 0.3 <= (w.start + w.end) / 2 <= end + 0.3]
        if inside:
            errors += [abs(inside[0].start - start), abs(inside[-1].end - end)]
    return errors


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms (n={len(values)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="use the real services whose keys are set (uploads!)")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "asr_backends")
    args = parser.parse_args(argv)
    files = bench_files(args.cache)
    local = local_backend()
    rows, loo, anchored, edges = [], [], [], {"whisper-cpu": [], "gemini+align": []}

    class Cached:  # the local words once per file: the Gemini aligner reuses them
        name, takes_speech = "whisper-cpu", False

        def __init__(self, words):
            self.words = words

        def transcribe(self, audio, progress=None, **_):
            from vtxlib.types import Segment, Transcript

            return Transcript([Segment("", 0, 0, self.words)])

        def close(self):
            pass

    for file in files:
        duration = read_info(file.wav).duration
        wer, seconds, local_words = run_backend(local, file)
        rows.append((file.name, "whisper-cpu", duration, wer, seconds))
        if file.exact:
            edges["whisper-cpu"] += edge_errors(file.script, local_words)
        for name in ("assemblyai", "gemini"):
            fakes: dict = {}
            aligner = Cached(local_words) if name == "gemini" and not args.real else None
            backend = hosted_backend(name, args.real, file, aligner, fakes)
            if backend is None:
                continue
            try:
                wer, seconds_hosted, words = run_backend(backend, file)
            finally:
                for fake in fakes.values():
                    fake.close()
            if name == "gemini" and aligner is not None:
                seconds_hosted += seconds  # the local pass that times the words (cached here, paid once)
                segments = [TextSegment(t, s, e) for _, s, e, t in file.script]
                loo += leave_one_out(segments, local_words)
                anchored.append(align_text_to_words(segments, local_words).anchored / max(len(words), 1))
                if file.exact:
                    edges["gemini+align"] += edge_errors(file.script, words)
            rows.append((file.name, name + ("" if args.real else " (fake)"), duration, wer, seconds_hosted))

    print(f"{'file':<20} {'backend':<18} {'audio s':>8} {'WER':>7} {'seconds':>8} {'x real time':>11}")
    for name, backend, duration, wer, seconds in rows:
        print(f"{name:<20} {backend:<18} {duration:8.1f} {wer:7.1%} {seconds:8.2f} {duration / seconds:11.1f}")
    if anchored:
        print(f"\nGemini words anchored to a local word: {statistics.mean(anchored):.1%} (mean over files)")
        print(f"leave-one-out start error of an interpolated word (vs whisper-cpu's time): {describe(loo)}")
    for name, values in edges.items():
        print(f"turn-edge error against the synthetic ground truth, {name}: {describe(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
