"""Synthetic multi-speaker conversations with exact ground truth, spoken by ``espeak-ng``.

Each speaker is a distinct espeak-ng voice (language variant, voice variant, pitch, speed). Turns
are one to three Harvard sentences (IEEE 1969 "Recommended Practice for Speech Quality
Measurements", public domain), separated by seeded random gaps, with a few short back-channel
turns ("Right.", "Okay.") from another speaker. Reference turns are the exact sample spans of the
synthesized speech (leading/trailing silence of each clip trimmed), so a diarizer can be scored
at collar 0.

Everything is deterministic for given parameters, and the result is cached in a folder named by
them, so a rerun only reads files.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Union

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import BackendUnavailable
from ..types import SpeakerTurn, VtxModel
from .samples import write_rttm

log = logging.getLogger("vtxlib.testing")

FORMAT_VERSION = 4  # bump when the generated audio or references change

HARVARD_SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
    "A king ruled the state in the early days.",
    "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.",
    "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.",
    "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.",
    "Hop over the fence and plunge in.",
    "The friendly gang left the drug store.",
    "Mesh wire keeps chicks inside.",
)

BACK_CHANNELS = ("Right.", "Okay.", "Yes, I see.", "Really?", "Sure.")


@dataclass(frozen=True)
class Voice:
    """espeak-ng settings for one synthetic speaker."""

    name: str  # -v argument, e.g. "en-us+m3"
    pitch: int  # -p, 0-99
    speed: int  # -s, words per minute

    def command(self, text: str, wav_path: Path) -> list[str]:
        return ["espeak-ng", "-v", self.name, "-p", str(self.pitch), "-s", str(self.speed),
                "-w", str(wav_path), text]


# Distinct voices that faster-whisper tiny.en still transcribes well (the fixtures of the end-to-end
# tests and the speed benchmark; diarization accuracy is measured on vtxlib.testing.corpus).
VOICES = (
    Voice("en-us-nyc+m5", pitch=20, speed=140),
    Voice("en-gb-x-rp+f4", pitch=80, speed=140),
    Voice("en+klatt2", pitch=40, speed=140),
    Voice("en-us+m7", pitch=55, speed=140),
    Voice("en+Alicia", pitch=60, speed=150),
    Voice("en-gb-scotland+m1", pitch=30, speed=150),
)


class ReferenceTurn(VtxModel):
    speaker: str
    start: float
    end: float
    text: str


@dataclass
class SynthConversation:
    wav: Path
    rttm: Path
    text_path: Path
    turns: list[ReferenceTurn]
    duration: float
    num_speakers: int

    def reference_turns(self) -> list[SpeakerTurn]:
        return [SpeakerTurn(t.speaker, t.start, t.end) for t in self.turns]

    def reference_text(self) -> str:
        return " ".join(t.text for t in self.turns)

    def reference_text_by_speaker(self) -> dict[str, str]:
        out: dict[str, list[str]] = {}
        for t in self.turns:
            out.setdefault(t.speaker, []).append(t.text)
        return {speaker: " ".join(texts) for speaker, texts in out.items()}


def make_conversation(out_dir: Union[str, Path], num_speakers: int, target_seconds: float,
                      seed: int = 0) -> SynthConversation:
    """A conversation of about ``target_seconds`` among ``num_speakers`` voices (cached)."""
    if not 1 <= num_speakers <= len(VOICES):
        raise ValueError(f"num_speakers must be between 1 and {len(VOICES)}, got {num_speakers}")
    folder = Path(out_dir) / f"conv-v{FORMAT_VERSION}-{num_speakers}spk-{int(target_seconds)}s-seed{seed}"
    meta = folder / "reference.json"
    if not meta.is_file():
        _generate(folder, num_speakers, target_seconds, seed)
    return _load(folder)


def _load(folder: Path) -> SynthConversation:
    data = json.loads((folder / "reference.json").read_text())
    return SynthConversation(wav=folder / "audio.wav", rttm=folder / "reference.rttm",
                             text_path=folder / "reference.txt",
                             turns=[ReferenceTurn(**t) for t in data["turns"]],
                             duration=data["duration"], num_speakers=data["num_speakers"])


def _script(num_speakers: int, target_seconds: float, seed: int) -> list[tuple[int, str, float]]:
    """(speaker index, text, gap before it in seconds); about 2.3 s of speech per sentence.

    The next speaker is drawn among those who have spoken least, so every voice gets turns even
    in a short conversation."""
    rng = random.Random(seed)
    sentences = list(HARVARD_SENTENCES)
    rng.shuffle(sentences)
    script: list[tuple[int, str, float]] = []
    speaker, used, estimated = 0, 0, 0.0
    turns_by_speaker = [0] * num_speakers
    while estimated < target_seconds:
        count = rng.choice((1, 1, 2, 2, 3))
        text = " ".join(sentences[(used + i) % len(sentences)] for i in range(count))
        used += count
        gap = rng.uniform(0.25, 0.9) if script else 0.5
        script.append((speaker, text, gap))
        estimated += gap + 2.3 * count
        turns_by_speaker[speaker] += 1
        others = [s for s in range(num_speakers) if s != speaker] or [speaker]
        if num_speakers > 1 and rng.random() < 0.2:
            listener = rng.choice(others)
            script.append((listener, rng.choice(BACK_CHANNELS), rng.uniform(0.2, 0.5)))
            estimated += 1.0
        fewest = min(turns_by_speaker[s] for s in others)
        speaker = rng.choice([s for s in others if turns_by_speaker[s] == fewest])
    return script


def _generate(folder: Path, num_speakers: int, target_seconds: float, seed: int) -> None:
    if shutil.which("espeak-ng") is None:
        raise BackendUnavailable("synthetic fixtures need espeak-ng: apt-get install -y espeak-ng")
    import soundfile as sf

    pieces, turns, cursor = [], [], 0
    rng = random.Random(seed + 1)
    with tempfile.TemporaryDirectory(prefix="vtx-synth-") as tmp:
        for i, (speaker, text, gap) in enumerate(_script(num_speakers, target_seconds, seed)):
            # One clip per sentence, so the reference has the real pauses inside a turn.
            for j, sentence in enumerate(_sentences(text)):
                clip = _speak(VOICES[speaker], sentence, Path(tmp) / f"{i}-{j}.wav")
                pause = gap if j == 0 else rng.uniform(0.15, 0.35)
                silence = int(round(pause * SAMPLE_RATE))
                pieces += [np.zeros(silence, dtype=np.float32), clip]
                start = cursor + silence
                cursor = start + clip.size
                turns.append(ReferenceTurn(f"spk{speaker}", round(start / SAMPLE_RATE, 4),
                                           round(cursor / SAMPLE_RATE, 4), sentence))
    pieces.append(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
    audio = np.concatenate(pieces)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".audio.wav.part"
    sf.write(partial, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    partial.replace(folder / "audio.wav")
    write_rttm(folder / "reference.rttm", [SpeakerTurn(t.speaker, t.start, t.end) for t in turns],
               uri=folder.name)
    (folder / "reference.txt").write_text("\n".join(f"{t.speaker}: {t.text}" for t in turns) + "\n")
    data = {"num_speakers": num_speakers, "duration": audio.size / SAMPLE_RATE, "seed": seed,
            "voices": [asdict(v) for v in VOICES[:num_speakers]],
            "turns": [t.model_dump(mode="json") for t in turns]}
    tmp_meta = folder / ".reference.json.part"
    tmp_meta.write_text(json.dumps(data, indent=1))
    tmp_meta.replace(folder / "reference.json")  # written last: its presence marks a complete fixture
    log.info("generated %s (%.1f s)", folder, data["duration"])


def _sentences(text: str) -> list[str]:
    return [part.strip() + "." if not part.strip().endswith(("?", "!")) else part.strip()
            for part in re.split(r"(?<=[.?!])\s+", text) if part.strip()] if text else []


def _speak(voice: Voice, text: str, wav_path: Path) -> np.ndarray:
    """espeak-ng output resampled to 16 kHz, silence trimmed at both ends."""
    import soundfile as sf
    from scipy.signal import resample_poly

    subprocess.run(voice.command(text, wav_path), check=True, capture_output=True)
    audio, rate = sf.read(wav_path, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
    audio = 0.5 * audio / max(float(np.abs(audio).max()), 1e-6)
    return _trim(audio)


def _trim(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0]:loud[-1] + 1]
