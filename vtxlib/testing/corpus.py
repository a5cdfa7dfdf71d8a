"""A varied synthetic diarization corpus, split by voice into a dev half and a test half.

Every constant of the embedded diarizer is chosen on the dev half; the test half's voices are never
used for that, and the benchmark reports both. Each conversation draws its own speaker count (1-6),
length (20 s - 10 min), share of overlapped speech (0-15 %), short interjections (< 1 s, some over
the current speaker), background noise (-45 to -20 dB relative to speech) and, for some, sox
reverberation. Voices are espeak-ng accents x voice variants x pitch x speed; the two halves use
disjoint voice variants, so a test voice differs in timbre, not only in pitch.

The reference turns are the exact sample spans of each dry clip, so scoring at collar 0 is fair.
Everything is seeded and cached by its parameters: ``make_corpus(folder)`` only reads files the
second time.

Long conversations (``long_specs``, ``make_long_corpus``: 15-60 min, 2-6 voices of one half) are for
memory and long-form diarization figures. Their text never repeats: every sentence is drawn once
from a seeded grammar (``fresh_sentences``, tens of millions of distinct sentences) instead of the
50 Harvard sentences, so no stretch of audio is a copy of another (a recording made of repeats is a
degenerate input for any diarizer). Only the sub-second interjections ("Right.", "Yes.") recur, as
they do in real talk.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import BackendUnavailable
from ..types import SpeakerTurn
from .samples import write_rttm
from .synth import BACK_CHANNELS, HARVARD_SENTENCES, SAMPLE_RATE, Voice, _sentences, _speak

log = logging.getLogger("vtxlib.testing")

CORPUS_VERSION = 1  # bump when generated audio or references change
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
# Disjoint voice variants per half: no timbre of the test half is ever heard while tuning.
DEV_VARIANTS = ("m1", "m2", "m3", "f1", "f2", "klatt", "Alicia", "adam", "Andy", "annie", "boris",
                "caleb", "david", "edward", "iven", "john", "linda", "max", "paul", "Mike")
TEST_VARIANTS = ("m4", "m5", "m6", "m7", "f3", "f4", "f5", "klatt2", "klatt3", "Andrea", "belinda",
                 "benjamin", "grandma", "grandpa", "iven2", "norbert", "michel", "Lee", "Hugo", "Denis")
INTERJECTIONS = BACK_CHANNELS + ("Yes.", "No.", "Mm-hmm.", "Exactly.", "Go on.")


@dataclass(frozen=True)
class ConversationSpec:
    name: str
    half: str
    voices: tuple[Voice, ...]
    target_seconds: float
    overlap_share: float  # wanted share of speech time spoken by two at once
    noise_db: float  # noise RMS relative to speech RMS
    reverb: Optional[int]  # sox reverberance 0-100, or None
    seed: int
    text: str = "harvard"  # "harvard": the 50 Harvard sentences in turn; "fresh": never a sentence twice


@dataclass
class CorpusFile:
    name: str
    half: str
    wav: Path
    rttm: Path
    num_speakers: int
    duration: float
    overlap_share: float
    voices: list[str]
    text: str = ""  # every sentence and interjection in order of start (overlapped ones too)

    def reference_turns(self) -> list[SpeakerTurn]:
        from .samples import read_rttm
        return read_rttm(self.rttm)


def voices_for(half: str, seed: int = 0) -> list[Voice]:
    """The half's voices: one per variant, each with its own accent, pitch and speed."""
    variants = DEV_VARIANTS if half == "dev" else TEST_VARIANTS
    rng = random.Random(f"{half}-{seed}")
    return [Voice(f"{rng.choice(ACCENTS)}+{variant}", pitch=rng.randint(15, 85), speed=rng.randint(125, 180))
            for variant in variants]


def corpus_specs(half: str, count: int = 24, seed: int = 0) -> list[ConversationSpec]:
    """``count`` conversations of one half: 1-6 speakers, 20 s - 10 min, 0-15 % overlap."""
    pool = voices_for(half, seed)
    rng = random.Random(f"specs-{half}-{seed}")
    speaker_counts = [1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6]
    specs = []
    for i in range(count):
        k = speaker_counts[i % len(speaker_counts)] if i < len(speaker_counts) else rng.randint(2, 6)
        length = rng.choices([rng.uniform(20, 45), rng.uniform(45, 120), rng.uniform(120, 300),
                              rng.uniform(300, 600)], weights=[30, 45, 17, 8])[0]
        length = max(length, 12.0 * k)  # room for every voice to be heard more than once
        specs.append(ConversationSpec(
            name=f"{half}-{i:02d}-{k}spk", half=half, voices=tuple(rng.sample(pool, k)),
            target_seconds=round(length, 1), overlap_share=rng.choice([0.0, 0.03, 0.07, 0.1, 0.15]),
            noise_db=round(rng.uniform(-45, -20), 1),
            reverb=rng.choice([None, None, rng.randint(20, 70)]), seed=seed * 1000 + i))
    return specs


#: (minutes, voices) of the long conversations of each half
LONG_CONVERSATIONS = ((15, 4), (30, 2), (45, 6), (60, 3))


def long_spec(half: str, minutes: float, num_speakers: int, seed: int = 0) -> ConversationSpec:
    """A conversation of MINUTES with NUM_SPEAKERS voices of HALF (2-6), text never repeated."""
    if not 1 <= num_speakers <= 6:
        raise ValueError(f"a long conversation has 1-6 voices, not {num_speakers}")
    pool = voices_for(half, seed)
    rng = random.Random(f"long-{half}-{minutes:g}-{num_speakers}-{seed}")
    name = f"long-{half}-{minutes:g}min-{num_speakers}spk"
    return ConversationSpec(name=name, half=half, voices=tuple(rng.sample(pool, num_speakers)),
                            target_seconds=60.0 * minutes, overlap_share=rng.choice([0.03, 0.07, 0.1]),
                            noise_db=round(rng.uniform(-40, -25), 1), reverb=rng.choice([None, rng.randint(20, 50)]),
                            seed=10_000 + seed * 1000 + int(minutes) * 10 + num_speakers, text="fresh")


def long_specs(half: str, seed: int = 0) -> list[ConversationSpec]:
    """The half's long conversations (``LONG_CONVERSATIONS``)."""
    return [long_spec(half, minutes, voices, seed) for minutes, voices in LONG_CONVERSATIONS]


def make_long_corpus(folder: Path, halves: tuple[str, ...] = ("dev", "test"), seed: int = 0,
                     max_minutes: float = 60.0) -> list[CorpusFile]:
    """Generate (or read back) the long conversations of HALVES up to MAX_MINUTES under ``folder``."""
    return [make_conversation(Path(folder) / f"v{CORPUS_VERSION}" / spec.name, spec)
            for half in halves for spec in long_specs(half, seed) if spec.target_seconds <= 60.0 * max_minutes]


def make_corpus(folder: Path, count_per_half: int = 24, seed: int = 0,
                halves: tuple[str, ...] = ("dev", "test")) -> list[CorpusFile]:
    """Generate (or read back) the corpus under ``folder``."""
    folder = Path(folder)
    files = []
    for half in halves:
        for spec in corpus_specs(half, count_per_half, seed):
            files.append(make_conversation(folder / f"v{CORPUS_VERSION}" / spec.name, spec))
    return files


def make_conversation(folder: Path, spec: ConversationSpec) -> CorpusFile:
    meta = folder / "reference.json"
    if not meta.is_file() or "text" not in json.loads(meta.read_text()):  # files from before the text reference
        _generate(folder, spec)  # seeded: the same audio again
    data = json.loads(meta.read_text())
    return CorpusFile(name=spec.name, half=spec.half, wav=folder / "audio.wav", rttm=folder / "reference.rttm",
                      num_speakers=data["num_speakers"], duration=data["duration"],
                      overlap_share=data["overlap_share"], voices=data["voices"], text=" ".join(data["text"]))


def _generate(folder: Path, spec: ConversationSpec) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise BackendUnavailable("the corpus needs espeak-ng and sox: apt-get install -y espeak-ng sox")
    import soundfile as sf

    rng = random.Random(spec.seed)
    with tempfile.TemporaryDirectory(prefix="vtx-corpus-") as tmp:
        placed = _place_clips(spec, rng, Path(tmp))
        total = max(start + clip.size for start, clip, _, _ in placed) + SAMPLE_RATE // 2
        mix = np.zeros(total, dtype=np.float32)
        for start, clip, _, _ in placed:
            mix[start:start + clip.size] += clip
        turns = [SpeakerTurn(speaker, start / SAMPLE_RATE, (start + clip.size) / SAMPLE_RATE)
                 for start, clip, speaker, _ in placed]
        placed = [(start, None, speaker, text) for start, _, speaker, text in placed]  # the clips are mixed
        if spec.reverb is not None:
            mix = _reverberate(mix, spec.reverb, Path(tmp))[:total]
        mix = _add_noise(mix, spec.noise_db, rng)
    mix *= 0.9 / max(float(np.abs(mix).max()), 1e-6)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".audio.wav.part"
    sf.write(partial, mix, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    partial.replace(folder / "audio.wav")
    write_rttm(folder / "reference.rttm", turns, uri=spec.name)
    data = {"num_speakers": len(spec.voices), "duration": mix.size / SAMPLE_RATE,
            "overlap_share": round(_overlap_share(turns), 4), "voices": [asdict(v) for v in spec.voices],
            "text": [text for _, text in sorted(((start, text) for start, _, _, text in placed), key=lambda p: p[0])],
            "spec": {**asdict(spec), "voices": None}}
    tmp_meta = folder / ".reference.json.part"
    tmp_meta.write_text(json.dumps(data, indent=1))
    tmp_meta.replace(folder / "reference.json")  # written last: its presence marks a complete file
    log.info("generated %s (%.1f s, %d speakers)", spec.name, data["duration"], data["num_speakers"])


def _place_clips(spec: ConversationSpec, rng: random.Random, tmp: Path) -> list[tuple[int, np.ndarray, str, str]]:
    """(start sample, dry clip, speaker, text) for every sentence and interjection of the conversation."""
    sentences = list(HARVARD_SENTENCES)
    rng.shuffle(sentences)
    fresh = fresh_sentences(random.Random(f"text-{spec.seed}")) if spec.text == "fresh" else None
    k = len(spec.voices)
    placed: list[tuple[int, np.ndarray, str, str]] = []
    cursor, used, speaker, turns_by_speaker = int(0.4 * SAMPLE_RATE), 0, 0, [0] * k

    def speak(index: int, text: str) -> np.ndarray:
        clip = _speak(spec.voices[index], text, tmp / f"{len(placed)}.wav")
        return clip * rng.uniform(0.5, 1.0)

    while cursor < spec.target_seconds * SAMPLE_RATE:
        count = rng.choice((1, 1, 2, 3))
        said = [next(fresh) for _ in range(count)] if fresh is not None else \
            [sentences[(used + i) % len(sentences)] for i in range(count)]
        for j, sentence in enumerate(_sentences(" ".join(said))):
            used += 1
            clip = speak(speaker, sentence)
            if clip.size == 0:
                continue
            if j == 0 and placed and k > 1 and rng.random() < spec.overlap_share * 4:
                start = cursor - int(rng.uniform(0.3, 1.2) * SAMPLE_RATE)  # cut in over the last speaker
            else:
                start = cursor + int(rng.uniform(0.1, 0.9 if j == 0 else 0.35) * SAMPLE_RATE)
            start = max(start, 0)
            placed.append((start, clip, f"spk{speaker}", sentence))
            cursor = max(cursor, start + clip.size)
        turns_by_speaker[speaker] += 1
        others = [s for s in range(k) if s != speaker] or [speaker]
        if k > 1 and rng.random() < 0.25:
            listener = rng.choice(others)
            interjection = rng.choice(INTERJECTIONS)
            clip = speak(listener, interjection)[: int(0.95 * SAMPLE_RATE)]
            over = rng.random() < spec.overlap_share * 4  # said over the speaker's last words
            start = cursor - int(rng.uniform(0.3, 0.8) * SAMPLE_RATE) if over else \
                cursor + int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
            placed.append((max(start, 0), clip, f"spk{listener}", interjection))
            cursor = max(cursor, start + clip.size)
        fewest = min(turns_by_speaker[s] for s in others)
        speaker = rng.choice([s for s in others if turns_by_speaker[s] == fewest])
    return placed


# A small grammar for sentences that never repeat: 8 frames x 20 names x 25 verbs x 30 adjectives x
# 40 nouns x 20 places (tens of millions of sentences; a 60-minute conversation says about 1,500).
_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Irene", "James", "Karin",
          "Liam", "Maria", "Noah", "Olga", "Peter", "Rosa", "Samuel", "Tina", "Victor")
_ADJECTIVES = ("old", "new", "small", "large", "quiet", "busy", "bright", "dark", "cheap", "heavy",
               "narrow", "wide", "wooden", "broken", "famous", "local", "early", "late", "simple", "strange",
               "yellow", "green", "frozen", "crowded", "empty", "tall", "short", "warm", "cold", "careful")
_NOUNS = ("report", "garden", "bridge", "market", "kitchen", "train", "letter", "meeting", "river", "window",
          "budget", "library", "engine", "festival", "harbour", "museum", "contract", "village", "bicycle",
          "printer", "lecture", "painting", "station", "island", "factory", "concert", "recipe", "mountain",
          "hospital", "schedule", "building", "project", "camera", "orchard", "ladder", "notebook", "forest",
          "tunnel", "theatre", "warehouse")
_VERBS = ("moved", "painted", "repaired", "visited", "described", "measured", "cleaned", "ordered", "checked",
          "opened", "closed", "found", "lost", "sold", "bought", "finished", "started", "photographed",
          "explained", "delivered", "packed", "borrowed", "returned", "designed", "tested")
_PLACES = ("near the harbour", "behind the school", "after lunch", "before the storm", "on Tuesday",
           "last winter", "in the morning", "at the end of the month", "across town", "by the lake",
           "next to the station", "during the holiday", "in the north", "after the rain", "on the top floor",
           "under the old bridge", "in the afternoon", "at the weekend", "outside the city", "last spring")
_FRAMES = ("{name} {verb} the {adj} {noun} {place}.",
           "I think the {adj} {noun} was {verb} {place}.",
           "Did {name} say the {noun} was {verb} {place}?",
           "We {verb} the {adj} {noun} together {place}.",
           "As far as I know, {name} never {verb} that {adj} {noun}.",
           "The {noun} that {name} {verb} {place} looked rather {adj}.",
           "Nobody expected the {adj} {noun} to be {verb} so soon.",
           "Honestly, the {adj} {noun} {place} surprised {name}.")


def fresh_sentences(rng: random.Random):
    """An endless stream of distinct sentences drawn with RNG (an iterator; never the same twice)."""
    seen: set[str] = set()
    while True:
        sentence = rng.choice(_FRAMES).format(
            name=rng.choice(_NAMES), verb=rng.choice(_VERBS), adj=rng.choice(_ADJECTIVES),
            noun=rng.choice(_NOUNS), place=rng.choice(_PLACES))
        if sentence not in seen:
            seen.add(sentence)
            yield sentence


def _reverberate(mix: np.ndarray, reverberance: int, tmp: Path) -> np.ndarray:
    import soundfile as sf

    dry, wet = tmp / "dry.wav", tmp / "wet.wav"
    sf.write(dry, mix / max(float(np.abs(mix).max()), 1e-6) * 0.5, SAMPLE_RATE, subtype="FLOAT")
    subprocess.run(["sox", str(dry), str(wet), "reverb", str(reverberance), "50", "60"], check=True,
                   capture_output=True)
    out, _ = sf.read(wet, dtype="float32")
    return out if out.ndim == 1 else out.mean(axis=1)


def _add_noise(mix: np.ndarray, noise_db: float, rng: random.Random) -> np.ndarray:
    """Pink-ish noise (white noise through a one-pole low-pass) at ``noise_db`` below speech RMS."""
    from scipy.signal import lfilter

    generator = np.random.default_rng(rng.randrange(2 ** 32))
    noise = lfilter([1.0], [1.0, -0.9], generator.standard_normal(mix.size)).astype(np.float32)
    speech = mix[np.abs(mix) > 0.02 * np.abs(mix).max()]
    speech_rms = float(np.sqrt(np.mean(speech ** 2))) if speech.size else 1e-3
    noise *= speech_rms * 10 ** (noise_db / 20) / max(float(np.sqrt(np.mean(noise ** 2))), 1e-9)
    return mix + noise


def _overlap_share(turns: list[SpeakerTurn]) -> float:
    """Seconds with two or more speakers over seconds with at least one."""
    edges = sorted([(t.start, 1) for t in turns] + [(t.end, -1) for t in turns])
    active, last, speech, overlap = 0, 0.0, 0.0, 0.0
    for time, delta in edges:
        if active >= 1:
            speech += time - last
        if active >= 2:
            overlap += time - last
        active, last = active + delta, time
    return overlap / speech if speech else 0.0


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="generate the dev/test diarization corpus")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=24, help="conversations per half")
    parser.add_argument("--long", type=float, default=0.0, metavar="MINUTES",
                        help="the long conversations up to MINUTES (15, 30, 45 or 60) instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = make_long_corpus(args.folder, max_minutes=args.long) if args.long else make_corpus(args.folder, args.count)
    for half in ("dev", "test"):
        chosen = [f for f in files if f.half == half]
        print(f"{half}: {len(chosen)} files, {sum(f.duration for f in chosen) / 60:.1f} min, "
              f"{len({v['name'] + str(v['pitch']) for f in chosen for v in f.voices})} voices")


if __name__ == "__main__":
    main()
