"""Language identification and multilingual ASR on the espeak-ng corpus (vtxlib.testing.multilingual).

    python bench/language.py --quick            # one voice per half, clips of 3/10/20 s (~5 min on 2 cores)
    python bench/language.py                    # both voices per half, clips of 3/6/10/20 s
    python bench/language.py --halves dev       # choose constants on dev only
    python bench/language.py --detector large-v3-turbo   # the GPU tier's detector (CUDA, hub download)
    python bench/language.py --speakers         # diarization only: one voice, one speaker? (~20 min)

For each half (dev, test: other voices AND other sentences) and each of the ten languages:

* **language identification by clip length**: the pipeline's speech and language stages
  (``Pipeline.run(until="language")``, ``--language auto``) on clips of about 3, 6, 10 and 20 s;
  correct when the detected language is the spoken one. Printed by length bucket, the acoustic
  identification alone (``acoustic_language``) beside the rescored one (the stage's result), with
  every miss and the seconds the rescoring's decoding took;
* **WER per language** (CER for Japanese, written without spaces) on the ~20 s clips: the pipeline
  up to ASR (language detected, model chosen by ``asr_model=auto``: tiny.en for English, base for
  the rest) beside bare faster-whisper with the model for the true language (the same model when the
  language was identified right) and the true language
  (``WhisperModel.transcribe(wav, language=..., vad_filter=True)``), and the ratio of the two;
* **English text from non-English speech**: a non-English clip whose transcript is labelled ``en``
  or whose words are mostly English function words;
* **long files**: ~230 s, one language with ~60 s of another in the middle (only 8 of their ~20
  windows are heard at first): whether the second language is reported and how much of its true
  stretch its spans cover;
* **other languages** (with the test half): twelve more languages, among them Greek, Arabic, Hindi,
  Korean and Ukrainian, read by the test voices (10-14 s): the language identified, each clip;
* **second languages**: on the single-language clips, those reported as holding a second language
  (above ``second_language_share``) and the share of all their speech counted for a language other
  than the main one (false); on mixed clips (the ~20 s clip of one language followed by the ~10 s
  clip of the next language in another voice of the half), those whose second language is found
  with a span of its own;
* **speakers** (``--speakers``, instead of all the above): every single-voice clip of about 10 and
  20 s of both halves and the twelve other languages' clips, diarized with the language given: how
  many are reported as one speaker, per language. Diarization reads no text, so this shows whether
  a language's sound alone makes the embedded diarizer split a voice.

Runs with OpenMP as ``vtxlib run`` does (``OMP_NUM_THREADS`` unset: torch's default threads), whose
arithmetic differs in the last digits from ``OMP_NUM_THREADS=1``: near ties between languages can
go either way (docs/languages.md, **Arithmetic**).

Asserts nothing; prints dev and test.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib import metrics  # noqa: E402
from vtxlib.asr import choose_asr_model  # noqa: E402
from vtxlib.asr.language_id import WhisperLanguageDetector  # noqa: E402
from vtxlib.language import mixed  # noqa: E402
from vtxlib.pipeline import Pipeline, PipelineOptions  # noqa: E402
from vtxlib.testing.multilingual import (  # noqa: E402
    BREADTH_SENTENCES,
    LANGUAGES,
    NO_SPACE_LANGUAGES,
    concatenate,
    make_breadth_clip,
    make_clip,
)
from vtxlib.workspace import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / ".fixtures" / "multilingual"
WER_SECONDS = 20.0
ENGLISH_FUNCTION_WORDS = {"the", "a", "and", "to", "of", "in", "is", "it", "that", "we", "you", "i", "was",
                          "for", "on", "are", "with", "be", "this", "at", "he", "she", "they", "will", "have"}


def english_share(text: str) -> float:
    words = metrics.normalize_text(text).split()
    return sum(w in ENGLISH_FUNCTION_WORDS for w in words) / max(len(words), 1)


def bare_transcript(models: dict, model_name: str, wav: Path, language: str) -> str:
    from vtxlib.asr.whisper_cpu import WhisperCpuOptions, load_whisper_model

    if model_name not in models:
        models[model_name] = load_whisper_model(WhisperCpuOptions(model=model_name))
    segments, _ = models[model_name].transcribe(str(wav), language=language, beam_size=5, vad_filter=True)
    return " ".join(s.text.strip() for s in segments)


class TimedDetector(WhisperLanguageDetector):
    """The language stage's detector, counting the files rescored, the windows checked by decoding (two
    languages forced: the main one and the window's; rescoring forces ``rescore_candidates``) and the
    seconds spent decoding each way."""

    def __init__(self, **settings):
        super().__init__(**settings)
        self.decodes, self.decode_seconds, self.checks, self.check_seconds = 0, 0.0, 0, 0.0

    def decode(self, samples, languages):
        started = time.perf_counter()
        try:
            return super().decode(samples, languages)
        finally:
            if len(languages) == 2:
                self.checks += 1
                self.check_seconds += time.perf_counter() - started
            else:
                self.decodes += 1
                self.decode_seconds += time.perf_counter() - started


def run_mixed(half: str, pipeline: Pipeline, languages: list[str]) -> list[str]:
    """Each language's ~20 s clip (first voice) followed by the next language's ~10 s clip (second voice)."""
    lines = []
    for first, second in zip(languages, languages[1:] + languages[:1]):
        clips = [make_clip(FIXTURES, first, half, 0, WER_SECONDS, first_sentence=3),
                 make_clip(FIXTURES, second, half, 1, 10.0, first_sentence=5)]
        wav = concatenate(FIXTURES / f"mixed-{half}-{first}-{second}.wav", clips)
        detection = pipeline.run(str(wav), until="language").language
        found = second in mixed(detection) and any(s.language == second for s in detection.spans)
        located = next((s.start for s in detection.spans if s.language == second), None) if found else None
        change = "" if located is None else f", change at {located:.1f} s (true {clips[0].duration:.1f} s)"
        lines.append(f"{'found' if found else 'MISSED'} {first}+{second}: main {detection.language}, "
                     f"shares {detection.shares}{change}, spans {[(s.language, s.start, s.end) for s in detection.spans]}")
    return lines


def run_long(half: str, pipeline: Pipeline, pairs=(("es", "de"), ("en", "fr"), ("de", "fr"))) -> list[str]:
    """Long files (~230 s): four ~20 s clips of one language (first voice), three of another (second
    voice), four of the first again. Of their ~20 windows only 8 are heard at first, spread over the
    file: how much of the middle language's true stretch its span covers, and whether it is reported."""
    lines = []
    for first, second in pairs:
        clips = [make_clip(FIXTURES, first, half, 0, WER_SECONDS, first_sentence=i) for i in range(4)]
        clips += [make_clip(FIXTURES, second, half, 1, WER_SECONDS, first_sentence=i) for i in range(3)]
        clips += [make_clip(FIXTURES, first, half, 0, WER_SECONDS, first_sentence=(i + 4) % 6) for i in range(4)]
        wav = concatenate(FIXTURES / f"long-{half}-{first}-{second}.wav", clips)
        start = sum(c.duration for c in clips[:4])
        end = start + sum(c.duration for c in clips[4:7])
        detection = pipeline.run(str(wav), until="language").language
        covered = sum(max(0.0, min(s.end, end) - max(s.start, start)) for s in detection.spans if s.language == second)
        lines.append(f"{'found' if second in mixed(detection) else 'MISSED'} {first}+{second}+{first}: {second} "
                     f"{start:.1f}-{end:.1f} s, its spans cover {100 * covered / (end - start):.0f} % of it; "
                     f"main {detection.language}, shares {detection.shares}")
    return lines


def run_breadth(pipeline: Pipeline) -> list[str]:
    """Twelve languages outside the corpus (:data:`BREADTH_SENTENCES`), each read by the test half's two
    voices (10-14 s): the language the stage identifies, and how sure it was."""
    lines = []
    for language in BREADTH_SENTENCES:
        for voice in (0, 1):
            clip = make_breadth_clip(FIXTURES, language, voice)
            detection = pipeline.run(str(clip.wav), until="language").language
            mark = "ok  " if detection.language == language else "MISS"
            lines.append(f"{mark} {language} {clip.voice} {clip.duration:.1f}s -> {detection.language} "
                         f"(p={detection.probability}{', unsure' if detection.low_confidence else ''})")
    return lines


def run_speakers(workspace: Workspace, halves: list[str], languages: list[str]) -> None:
    """Single-voice clips of about 10 and 20 s (every sentence start, both voices) and the other
    languages' clips, each diarized with its true language given (no identification): speakers reported."""
    clips = defaultdict(list)  # (group, language) -> clips
    for half in halves:
        for language in languages:
            for voice in (0, 1):
                for first in range(6):
                    for length in (10.0, WER_SECONDS):
                        clips[(half, language)].append(make_clip(FIXTURES, language, half, voice, length, first))
    if "test" in halves:
        for language in BREADTH_SENTENCES:
            clips[("other", language)] += [make_breadth_clip(FIXTURES, language, voice) for voice in (0, 1)]
    totals = defaultdict(lambda: [0, 0])
    splits = []
    for (group, language), group_clips in clips.items():
        options = PipelineOptions(emotion="off", report=False, language=language, free_gpu_between_stages=False)
        with Pipeline(workspace, options) as pipeline:
            for clip in group_clips:
                turns = pipeline.run(str(clip.wav), until="diarize").diarization.turns
                speakers = len({t.speaker for t in turns})
                totals[(group, language)][0] += speakers == 1
                totals[(group, language)][1] += 1
                if speakers != 1:
                    splits.append(f"{group} {language} {clip.voice} {clip.duration:.1f}s: {speakers} speakers")
    for group in dict.fromkeys(g for g, _ in totals):
        rows = {lang: v for (g, lang), v in totals.items() if g == group}
        one, n = sum(v[0] for v in rows.values()), sum(v[1] for v in rows.values())
        print(f"\n== {group}: single-voice clips reported as one speaker: {one}/{n} = {100 * one / n:.1f} % ==")
        print("  " + ", ".join(f"{lang} {v[0]}/{v[1]}" for lang, v in rows.items()))
    for line in splits:
        print(f"  split: {line}")


def run_half(half: str, pipeline: Pipeline, quick: bool, languages: list[str], wer: bool = True,
             counts=dict) -> dict:
    """COUNTS() gives the detector's decoding counters so far (reset before each half)."""
    lengths = (3.0, 10.0, WER_SECONDS) if quick else (3.0, 6.0, 10.0, WER_SECONDS)
    voices = (0,) if quick else (0, 1)
    lid = defaultdict(list)  # length bucket -> [(acoustic correct, rescored correct, said unsure)]
    misses, wer_rows, english_out = [], [], []
    bare_models: dict = {}
    timing = defaultdict(float)
    second = [0, 0.0, 0.0]  # clips reported with a second language, seconds of speech, seconds counted for another
    for language in languages:
        for voice in voices:
            for n, length in enumerate(lengths):
                clip = make_clip(FIXTURES, language, half, voice, length, first_sentence=(n + 3 * voice) % 6)
                until = "asr" if length == WER_SECONDS and wer else "language"
                started = time.perf_counter()
                result = pipeline.run(str(clip.wav), until=until)
                timing["pipeline " + until] += time.perf_counter() - started
                detected = result.language.language if result.language else None
                acoustic = (result.language.acoustic_language or detected) if result.language else None
                bucket = "<5 s" if clip.duration < 5 else "5-10 s" if clip.duration < 10 else ">=10 s"
                unsure = bool(result.language and result.language.low_confidence)
                lid[bucket].append((acoustic == language, detected == language, unsure))
                if result.language and result.language.language:
                    if mixed(result.language):
                        second[0] += 1
                        misses.append(f"{language} {clip.voice} {clip.duration:.1f}s: second language "
                                      f"reported, shares {result.language.shares}")
                    second[1] += result.language.speech_seconds
                    second[2] += result.language.speech_seconds * (1 - result.language.shares.get(detected, 0.0))
                if detected != language or acoustic != language:
                    misses.append(f"{language} {clip.voice} {clip.duration:.1f}s -> {detected} "
                                  f"(p={result.language.probability if result.language else None}"
                                  f"{', unsure' if unsure else ''}; acoustic {acoustic})")
                if until != "asr":
                    continue
                transcript = result.transcript
                hyp = " ".join(w.text for w in transcript.words)
                model = "tiny.en" if "tiny.en" in transcript.model else "base"
                peer = choose_asr_model([language], "cpu").model  # the model for the true language
                started = time.perf_counter()
                bare = bare_transcript(bare_models, peer, clip.wav, language)
                timing["bare faster-whisper"] += time.perf_counter() - started
                by_chars = language in NO_SPACE_LANGUAGES
                wer_rows.append((language, clip.voice, f"{model}/{peer}" if model != peer else model,
                                 metrics.error_rate(clip.text, hyp, by_chars),
                                 metrics.error_rate(clip.text, bare, by_chars), transcript.language))
                if language != "en" and (transcript.language == "en" or english_share(hyp) > 0.25):
                    english_out.append(f"{language} {clip.voice}: {hyp[:80]}")
    decoding = counts()  # the single-language clips' decoding, before the mixed and long files add theirs
    started = time.perf_counter()
    mixed_lines = run_mixed(half, pipeline, languages)
    timing["mixed clips"] += time.perf_counter() - started
    started = time.perf_counter()
    long_lines = run_long(half, pipeline)
    timing["long files"] += time.perf_counter() - started
    return {"lid": lid, "misses": misses, "wer": wer_rows, "english_out": english_out, "timing": timing,
            "second": second, "mixed": mixed_lines, "long": long_lines, **decoding}


def report(half: str, out: dict) -> None:
    print(f"\n== {half} half ==")
    print("language identification (pipeline speech + language stages), correct / clips: "
          "acoustic only | rescored (the stage's result)")
    for bucket in ("<5 s", "5-10 s", ">=10 s"):
        hits = out["lid"].get(bucket, [])
        if hits:
            acoustic, rescored = sum(h[0] for h in hits), sum(h[1] for h in hits)
            missed = [h for h in hits if not h[1]]
            print(f"  {bucket:7s} {acoustic}/{len(hits)} = {100 * acoustic / len(hits):5.1f} % | "
                  f"{rescored}/{len(hits)} = {100 * rescored / len(hits):5.1f} %  (misses said unsure: "
                  f"{sum(h[2] for h in missed)}/{len(missed)}; right but said unsure: "
                  f"{sum(h[2] for h in hits if h[1])})")
    print(f"  rescored {out['decodes']} of {sum(len(h) for h in out['lid'].values())} clips, decoding "
          f"{out['decode_seconds']:.1f} s in all ({out['decode_seconds'] / max(out['decodes'], 1):.2f} s per rescored clip)")
    print(f"  windows heard as another language checked by decoding: {out['checks']}, {out['check_seconds']:.1f} s in all")
    for miss in out["misses"]:
        print(f"  miss: {miss}")
    print("error rate per language on the ~20 s clips (CER for ja): pipeline | bare faster-whisper "
          "(same model, true language) | ratio")
    by_language = defaultdict(list)
    for language, voice, model, pipe, bare, labelled in out["wer"]:
        by_language[(language, model)].append((pipe, bare, labelled))
    ratios = []
    for (language, model), rows in by_language.items():
        pipe, bare = statistics.mean(r[0] for r in rows), statistics.mean(r[1] for r in rows)
        ratio = pipe / bare if bare > 0 else (1.0 if pipe == 0 else float("inf"))
        ratios.append(ratio)
        labels = ",".join(sorted({r[2] or "?" for r in rows}))
        print(f"  {language:3s} {model:8s} {100 * pipe:6.1f} % | {100 * bare:6.1f} % | {ratio:5.2f}x  "
              f"(labelled {labels})")
    if ratios:
        print(f"  worst ratio {max(ratios):.2f}x; languages within 1.1x: "
              f"{sum(r <= 1.1 for r in ratios)}/{len(ratios)}")
    clips, seconds, other = out["second"]
    print(f"single-language clips reported with a second language: {clips}/{sum(len(h) for h in out['lid'].values())}; "
          f"speech counted for another language than the main one: {100 * other / max(seconds, 1e-9):.1f} %")
    print(f"mixed clips whose second language is found: {sum(x.startswith('found') for x in out['mixed'])}/{len(out['mixed'])}")
    for line in out["mixed"]:
        print(f"  {line}")
    print(f"long files with a second language in the middle, reported: "
          f"{sum(x.startswith('found') for x in out['long'])}/{len(out['long'])}")
    for line in out["long"]:
        print(f"  {line}")
    if out["wer"]:
        print(f"non-English clips that came out as English text: {len(out['english_out'])}")
        for line in out["english_out"]:
            print(f"  {line}")
    else:
        print("non-English clips that came out as English text: not measured (--no-wer: no transcripts)")
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in out["timing"].items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice per half, three clip lengths")
    parser.add_argument("--halves", default="dev,test")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--no-wer", action="store_true", help="the language stage only (no ASR)")
    parser.add_argument("--workspace", default=str(ROOT / "tests" / ".fixtures" / "bench-language-ws"))
    parser.add_argument("--detector", default="base",
                        help="the language detector's Whisper model: base (bundled, CPU) or a hub model on CUDA, "
                             "e.g. large-v3-turbo (the GPU tier's; downloaded once)")
    parser.add_argument("--speakers", action="store_true",
                        help="only diarize the single-voice clips of about 10 and 20 s: how many come out as one speaker")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    # OpenMP's threads change CTranslate2's last digits and can flip near ties between languages
    # (docs/languages.md): measured as `vtxlib run` runs unless the variable is set
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, detector {args.detector}")
    started = time.perf_counter()
    if args.speakers:
        run_speakers(Workspace(args.workspace), args.halves.split(","), args.languages.split(","))
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
        return 0
    # the stage computed, timed; a GPU detector stays loaded from clip to clip
    options = PipelineOptions(emotion="off", report=False, force="language", free_gpu_between_stages=False)
    detector = TimedDetector() if args.detector == "base" else \
        TimedDetector(model_name=args.detector, device="cuda", compute_type="float16")
    with Pipeline(Workspace(args.workspace), options, backends={"language": detector}) as pipeline:
        for half in args.halves.split(","):
            detector.decodes, detector.decode_seconds, detector.checks, detector.check_seconds = 0, 0.0, 0, 0.0
            out = run_half(half, pipeline, args.quick, args.languages.split(","), wer=not args.no_wer,
                           counts=lambda: {"decodes": detector.decodes, "decode_seconds": detector.decode_seconds,
                                           "checks": detector.checks, "check_seconds": detector.check_seconds})
            report(half, out)
        if "test" in args.halves.split(",") and not args.quick:
            lines = run_breadth(pipeline)
            print(f"\n== other languages (test voices; outside the corpus, nothing chosen on them): "
                  f"{sum(line.startswith('ok') for line in lines)}/{len(lines)} identified ==")
            for line in lines:
                print(f"  {line}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
