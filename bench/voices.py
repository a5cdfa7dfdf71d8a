"""Known speakers by voice (``--voices``): thresholds chosen on the dev voices, accuracy on the test voices.

    python bench/voices.py                    # both thresholds (dev EER) and the test-half figures
    python bench/voices.py --corpus DIR       # another corpus folder (default tests/.fixtures/corpus)

Enrollment clips are the corpus's espeak-ng voices saying sentences no conversation contains
(:mod:`vtxlib.testing.enroll`): four takes of four sentences (about 10 s) per voice. Matching uses
take 0 (one clip per person), and takes 0 and 1 for the "two clips per person" line.

1. *Several voices in a clip.* Statistic: :func:`vtxlib.voices.voice_split`. Single-voice clips (both
   takes of each voice) against two-voice clips (take 0 of one voice followed by take 1 of another);
   80 single-voice and 40 two-voice clips per half. A good clip refused is a dead end for the user,
   so the threshold is the point that rejects at most 1 in 40 dev single-voice clips (the dev
   equal-error-rate point is printed beside it).
2. *Match threshold.* Each conversation is diarized with the embedded diarizer; every diarized speaker
   is labelled with the reference voice it overlaps most. Target scores: its centroid against that
   voice's enrolled voiceprint; non-target: against every other voice of the half. Dev EER point.
3. *Test half* (conversations up to ``--max-seconds``). Each test conversation is transcribed (whisper-cpu tiny.en), diarized and aligned as
   the pipeline does; a word's reference speaker is the reference turn under its midpoint (words
   in overlapped or unlabelled reference time are left out). With every speaker of the conversation
   enrolled: named-word accuracy (the word shows the right person's name). With every second speaker
   left out: the share of the left-out speakers' words that stay anonymous, and the accuracy of the
   enrolled ones. Also with all 20 test voices enrolled (a roster larger than the conversation).

Diarizations and transcripts are cached under tests/.fixtures/voices/cache (a second run only scores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib import voices  # noqa: E402
from vtxlib.testing.corpus import make_corpus, voices_for  # noqa: E402
from vtxlib.testing.enroll import enrollment_clip  # noqa: E402
from vtxlib.types import AudioFile, Diarization, Transcript  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "tests" / ".fixtures" / "corpus"
FIXTURES = ROOT / "tests" / ".fixtures" / "voices"


def voice_key(voice) -> str:
    return f"{voice.name}/{voice.pitch}/{voice.speed}"


def clips(half: str, take: int) -> dict[str, Path]:
    return {voice_key(v): enrollment_clip(FIXTURES / "clips" / half, v, take) for v in voices_for(half)}


def eer_threshold(positives, negatives, higher_is_positive: bool = True) -> float:
    """The point where both error rates are closest (grid of 0.005 over [-1, 1])."""
    grid = np.arange(-1.0, 1.0001, 0.005)
    pos, neg = np.asarray(positives), np.asarray(negatives)
    gaps = [abs(np.mean(pos < t) - np.mean(neg >= t)) for t in grid]
    return float(grid[int(np.argmin(gaps))])


# -- 1. several voices ----------------------------------------------------------------------------
def split_scores(half: str) -> tuple[list[float], list[float]]:
    """(single-voice splits, two-voice splits) of one half: 4 takes of each of its 20 voices, and
    40 clips of one voice's take followed by another voice's take."""
    import soundfile as sf

    takes = [clips(half, take) for take in range(4)]
    keys = list(takes[0])
    single = [voices.voice_split(voices.clip_speech(voices.read_clip(t[k])).vectors) for t in takes for k in keys]
    double = []
    for i, key in enumerate(keys):
        for shift, (first, second) in ((1 + i % 7, (0, 1)), (3 + i % 11, (2, 3))):
            a, _ = sf.read(takes[first][key], dtype="float32")
            b, _ = sf.read(takes[second][keys[(i + shift) % len(keys)]], dtype="float32")
            double.append(voices.voice_split(voices.clip_speech(np.concatenate([a, b])).vectors))
    return single, double


# -- 2. and 3. conversations ----------------------------------------------------------------------
def cached_json(path: Path, compute):
    if path.is_file():
        return json.loads(path.read_text())
    data = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def diarization_of(f) -> Diarization:
    from vtxlib.diarize.base import SpeakerCount
    from vtxlib.diarize.embedded import EmbeddedDiarizer

    audio = AudioFile(path=str(f.wav), sample_rate=16000, duration=f.duration)
    data = cached_json(FIXTURES / "cache" / f"{f.name}.diarize.json",
                       lambda: EmbeddedDiarizer().diarize(audio, SpeakerCount()).model_dump(mode="json"))
    return Diarization.model_validate(data)


def transcript_of(f, asr) -> Transcript:
    audio = AudioFile(path=str(f.wav), sample_rate=16000, duration=f.duration)
    return Transcript.model_validate(cached_json(FIXTURES / "cache" / f"{f.name}.asr.json",
                                            lambda: asr().transcribe(audio).model_dump(mode="json")))


def reference_voice_of_speakers(f, diarization: Diarization) -> dict[str, str]:
    """Diarized speaker -> the voice key of the reference speaker it overlaps most."""
    keys = [f"{v['name']}/{v['pitch']}/{v['speed']}" for v in f.voices]
    overlap: dict[str, dict[str, float]] = {}
    for turn in diarization.turns:
        for ref in f.reference_turns():
            shared = min(turn.end, ref.end) - max(turn.start, ref.start)
            if shared > 0:
                row = overlap.setdefault(turn.speaker, {})
                row[ref.speaker] = row.get(ref.speaker, 0.0) + shared
    return {s: keys[int(max(row, key=row.get)[3:])] for s, row in overlap.items()}


def match_scores(files, prints: dict[str, np.ndarray]) -> tuple[list[float], list[float]]:
    targets, others = [], []
    for f in files:
        diarization = diarization_of(f)
        truth = reference_voice_of_speakers(f, diarization)
        for speaker, vector in diarization.speaker_embeddings.items():
            if speaker not in truth:
                continue
            for key, voiceprint in prints.items():
                (targets if key == truth[speaker] else others).append(float(np.asarray(vector) @ voiceprint))
    return targets, others


def voiceprints(half: str, takes: tuple[int, ...] = (0,)) -> dict[str, np.ndarray]:
    """Each voice's voiceprint from the clips of TAKES (the mean of the clips', as vtxlib.voices.enroll)."""
    def clip_print(path):
        return voices.unit_mean(voices.clip_speech(voices.read_clip(path)).vectors)

    per_take = [clips(half, take) for take in takes]
    return {key: np.asarray(voices.unit_mean([clip_print(t[key]) for t in per_take])) for key in per_take[0]}


def word_reference(f, words):
    """For each word, the reference voice key under its midpoint (None in overlap or silence)."""
    keys = [f"{v['name']}/{v['pitch']}/{v['speed']}" for v in f.voices]
    turns = f.reference_turns()
    out = []
    for word in words:
        mid = 0.5 * (word.start + word.end)
        here = {t.speaker for t in turns if t.start <= mid < t.end}
        out.append(keys[int(next(iter(here))[3:])] if len(here) == 1 else None)
    return out


def test_figures(files, prints: dict[str, np.ndarray], threshold: float) -> dict:
    from vtxlib.align import AlignOptions, align
    from vtxlib.asr import create_asr

    models = {}

    def asr():
        if "asr" not in models:
            models["asr"] = create_asr("whisper-cpu")
        return models["asr"]

    tallies = {name: [0, 0] for name in ("ceiling", "all_named", "roster_named", "left_out_anonymous",
                                         "partial_named")}
    for f in files:
        diarization = diarization_of(f)
        aligned = align(transcript_of(f, asr), diarization, AlignOptions())
        words = aligned.words
        refs = word_reference(f, words)
        keys = [f"{v['name']}/{v['pitch']}/{v['speed']}" for v in f.voices]
        truth = reference_voice_of_speakers(f, diarization)
        for word, ref in zip(words, refs):  # every diarized speaker named after the voice it overlaps most
            if ref is not None:
                tallies["ceiling"][0] += truth.get(word.speaker) == ref
                tallies["ceiling"][1] += 1
        left_out = set(keys[1::2])
        scenarios = {"all": {k: prints[k] for k in keys}, "roster": prints,
                     "partial": {k: prints[k] for k in keys if k not in left_out}}
        for scenario, enrolled in scenarios.items():
            enrollment = voices.Enrollment(voiceprints=enrolled, model="campplus", threshold=threshold)
            names = voices.names_of(voices.match_speakers(diarization.speaker_embeddings, enrollment))
            for word, ref in zip(words, refs):
                if ref is None:
                    continue
                shown = names.get(word.speaker)
                if scenario == "partial" and ref in left_out:
                    tally = tallies["left_out_anonymous"]
                    tally[0] += shown is None
                else:
                    tally = tallies[f"{scenario}_named"]
                    tally[0] += shown == ref
                tally[1] += 1
    return tallies


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--max-seconds", type=float, default=90.0,
                        help="use the conversations up to this long (default 90: 12 dev, 16 test files)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()

    dev_single, dev_double = split_scores("dev")
    test_single, test_double = split_scores("test")
    # a good clip refused is a dead end for the user: the operating point rejects at most 1 in 40 of
    # the dev single-voice clips (the EER point is printed beside it)
    chosen = float(np.floor(np.percentile(dev_single, 2.5) / 0.005) * 0.005)
    for label, split_threshold in (("dev EER", eer_threshold(dev_single, dev_double)),
                                   ("dev 2.5th percentile of single-voice clips", chosen)):
        for half, (single, double) in (("dev", (dev_single, dev_double)), ("test", (test_single, test_double))):
            print(f"several voices, {half}: threshold {split_threshold:.3f} ({label}): single-voice clips rejected "
                  f"{100 * np.mean(np.asarray(single) < split_threshold):.1f}% ({len(single)}), two-voice clips "
                  f"accepted {100 * np.mean(np.asarray(double) >= split_threshold):.1f}% ({len(double)})")

    files = [f for f in make_corpus(args.corpus) if f.duration <= args.max_seconds]
    for half in ("dev", "test"):
        chosen = [f for f in files if f.half == half]
        print(f"{half}: {len(chosen)} conversations up to {args.max_seconds:.0f} s, {sum(f.duration for f in chosen) / 60:.1f} min, "
              f"{sum(f.num_speakers for f in chosen)} speakers")
    dev_prints, test_prints = voiceprints("dev"), voiceprints("test")
    dev_targets, dev_others = match_scores([f for f in files if f.half == "dev"], dev_prints)
    threshold = eer_threshold(dev_targets, dev_others)
    test_targets, test_others = match_scores([f for f in files if f.half == "test"], test_prints)
    for half, (targets, others) in (("dev", (dev_targets, dev_others)), ("test", (test_targets, test_others))):
        print(f"match, {half}: threshold {threshold:.3f} (dev EER): speaker/own-voice pairs rejected "
              f"{100 * np.mean(np.asarray(targets) < threshold):.1f}% ({len(targets)}), speaker/other-voice "
              f"pairs accepted {100 * np.mean(np.asarray(others) >= threshold):.1f}% ({len(others)})")

    labels = {"ceiling": "ceiling set by diarization (each speaker named after the voice it overlaps most)",
              "all_named": "all speakers enrolled: named-word accuracy",
              "roster_named": "all 20 test voices enrolled: named-word accuracy",
              "partial_named": "every second speaker left out: enrolled speakers' named-word accuracy",
              "left_out_anonymous": "every second speaker left out: their words left anonymous"}
    test_files = [f for f in files if f.half == "test"]
    for clips_per_person, prints in ((1, test_prints), (2, voiceprints("test", (0, 1)))):
        tallies = test_figures(test_files, prints, threshold)
        for name, (good, total) in tallies.items():
            print(f"test, {clips_per_person} clip(s) per person: {labels[name]}: {100 * good / max(total, 1):.1f}% "
                  f"of {total} words")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
