"""Known speakers by voice: short enrolled clips give diarized speakers their names.

``--voices DIR`` holds one audio file per person named after them (``Alice.wav``, ``Bob Smith.mp3``)
or a folder per person with several clips (``Carol/intro.wav``, ``Carol/q-and-a.m4a``).

1. **Checking the clips** (:func:`check_clips`, whatever the diarizer): each clip is decoded to
   16 kHz mono, pyannote segmentation-3.0 finds its speech and CAM++ embeds 1.5 s windows of it, as the
   embedded diarizer does. A clip with no speech is *silent*, one with under ``MIN_SPEECH_S`` of
   speech *too short*, and one whose windows split into two groups less alike than
   ``SEVERAL_VOICES_COSINE`` holds *several voices*; each gets a one-line error naming the file.
2. **Voiceprints** in the diarizer's own embedding space: CAM++ (embedded tier: the mean of the
   clip's window embeddings, the recipe of the diarizer's speaker centroids) or the pyannote
   pipeline's embedding model (GPU tier) over the clip's speech. A person's voiceprint is the mean
   of their clips'. Each clip's result is cached in ``<workspace>/voices/`` under the clip's SHA-256
   and the model's checksum, so a clip is analysed and embedded once.
3. **Matching** (:func:`match_speakers`): cosine similarity of every diarized speaker's centroid
   (``Diarization.speaker_embeddings``) to every person; a one-to-one assignment (Hungarian,
   ``scipy.optimize.linear_sum_assignment``) gives each speaker at most one person and each person
   at most one speaker; a pair below the threshold is dropped, so a voice that was not enrolled
   keeps its anonymous label. Thresholds: ``python bench/voices.py`` (equal-error rate on the dev
   voices of :mod:`vtxlib.testing.corpus`, figures for the test voices).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .audio import SAMPLE_RATE
from .diarize.voiceprint import (  # noqa: F401
    CAMPPLUS_THRESHOLD,
    MAX_CLIP_S,
    PYANNOTE_THRESHOLD,
    CamppVoiceEmbedder,
    PyannoteVoiceEmbedder,
    VoiceEmbedder,
    campplus_checksum,
    read_clip,
    rounded_embedding,
)
from .errors import InputError
from .types import Document, VoiceMatch

log = logging.getLogger("vtxlib.voices")

AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".webm", ".mp4", ".wma", ".aiff")
MIN_SPEECH_S = 3.0  # below this a voiceprint is mostly noise (and one 1.5 s window cannot show two voices)
SILENCE_DBFS = -60.0  # a clip quieter than this throughout is silent without running any model
#: bench/voices.py on the dev voices: rejects at most 1 in 40 single-voice clips (a refused good clip
#: is a dead end; the equal-error-rate point, 0.77, refused 1 in 10)
SEVERAL_VOICES_COSINE = 0.68
CACHE_VERSION = 1  # part of every cached voiceprint's name: bump when the analysis changes


# -- the folder -------------------------------------------------------------------------------------
def enrollment_clips(folder) -> dict[str, list[Path]]:
    """{person: clips} from DIR: ``Name.ext`` files and ``Name/`` folders of clips."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"--voices {folder}: not a folder; expected a folder with one audio file per person "
                         f"(Alice.wav, 'Bob Smith.mp3') or a folder per person")
    people: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            clips = sorted(p for p in entry.rglob("*") if _is_audio(p))
            if not clips:
                raise InputError(f"{entry}: no audio clips in this person's folder (expected "
                                 f"{', '.join(AUDIO_EXTENSIONS[:4])}, ...)")
            people.setdefault(_person(entry.name, entry), []).extend(clips)
        elif _is_audio(entry):
            people.setdefault(_person(entry.stem, entry), []).append(entry)
        else:
            log.info("voices: ignoring %s (not an audio file)", entry)
    if not people:
        raise InputError(f"--voices {folder}: no voice clips found; expected one audio file per person named "
                         f"after them (Alice.wav, 'Bob Smith.mp3') or a folder per person")
    return people


def _is_audio(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in AUDIO_EXTENSIONS


def _person(name: str, path: Path) -> str:
    name = " ".join(name.replace("_", " ").split())
    if not name:
        raise InputError(f"{path}: the file or folder name must be the person's name")
    return name


# -- one clip ---------------------------------------------------------------------------------------
@dataclass
class ClipCheck:
    """What the clip analysis found in one clip that passed it."""

    path: Path
    digest: str  # SHA-256 of the file
    speech_s: float
    speech: list[tuple[float, float]]  # speech regions (seconds)
    voice_split: float  # cosine of the two halves of a 2-way split of its windows (low: several voices)
    campplus: list[float]  # CAM++ voiceprint


class ArrayReader:
    """The embedded diarizer's reader interface over samples in memory (clips are short)."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.frames = samples.size
        self.duration = samples.size / SAMPLE_RATE

    def read(self, start: float, seconds: float) -> np.ndarray:
        first, length = int(round(start * SAMPLE_RATE)), int(round(seconds * SAMPLE_RATE))
        out = np.zeros(length, dtype=np.float32)
        piece = self.samples[max(first, 0):max(first, 0) + length]
        out[:piece.size] = piece
        return out


@dataclass
class ClipSpeech:
    """A clip's speech regions and the unit CAM++ embeddings of its 1.5 s single-voice windows."""

    speech: list[tuple[float, float]]
    vectors: np.ndarray

    @property
    def speech_s(self) -> float:
        return sum(e - s for s, e in self.speech)


def clip_speech(samples: np.ndarray) -> ClipSpeech:
    """segmentation-3.0's speech and CAM++ windows over a clip, as the embedded diarizer computes them."""
    from .diarize.embedded import EmbeddedDiarizerOptions, _one_torch_thread, embed_windows, segment, speaker_count

    options = EmbeddedDiarizerOptions()
    reader = ArrayReader(samples)
    with _one_torch_thread():
        count = speaker_count(segment(reader, options), reader.duration)
        windows, _ = embed_windows(reader, count, options)
    speech = regions(count.data[:, 0] > 0, count.sliding_window.step, count.sliding_window.start)
    return ClipSpeech(speech=speech, vectors=clean_windows(windows, options.min_cluster_speech_s))


def analyse_clip(path: Path, samples: np.ndarray) -> dict:
    """Speech regions, seconds of speech, the 2-way split similarity and the CAM++ voiceprint of a
    clip, with the checks of the module docstring (InputError naming the file)."""
    from .audio import is_silent

    if samples.size < SAMPLE_RATE * 0.1 or is_silent(samples, SILENCE_DBFS):
        raise InputError(f"voice clip {path} is silent: record a few seconds of this person speaking alone")
    found = clip_speech(samples)
    if found.speech_s == 0:
        raise InputError(f"voice clip {path} is silent (no speech found): record a few seconds of this "
                         f"person speaking alone")
    if found.speech_s < MIN_SPEECH_S or len(found.vectors) == 0:
        raise InputError(f"voice clip {path} is too short: {found.speech_s:.1f} s of speech, at least "
                         f"{MIN_SPEECH_S:.0f} s needed (10-30 s recommended)")
    split = voice_split(found.vectors)
    if split < SEVERAL_VOICES_COSINE:
        raise InputError(f"voice clip {path} contains several voices (its two most different parts match "
                         f"at {split:.2f} < {SEVERAL_VOICES_COSINE}): use a clip of this person alone")
    return {"speech_s": round(found.speech_s, 3), "speech": found.speech, "voice_split": round(split, 4),
            "campplus": unit_mean(found.vectors)}


def clean_windows(windows, min_clean_s: float) -> np.ndarray:
    """The unit embeddings of the windows with ``min_clean_s`` of single-voice speech (all valid
    ones when there are fewer than two such)."""
    valid = ~np.isnan(windows.embeddings).any(axis=1)
    clean = valid & (windows.clean_speech >= min_clean_s)
    return windows.embeddings[clean if clean.sum() >= 2 else valid]


def voice_split(vectors: np.ndarray) -> float:
    """Cosine similarity of the centroids of a 2-means split of the window embeddings: one voice
    splits into two alike halves, two voices into two different ones. 1.0 under 4 windows."""
    if len(vectors) < 4:
        return 1.0
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=2, n_init=4, random_state=0).fit_predict(vectors)
    if min(np.bincount(labels, minlength=2)) < 2:
        return 1.0
    a, b = (np.asarray(unit_mean(vectors[labels == k])) for k in (0, 1))
    return float(a @ b)


def regions(mask: np.ndarray, step: float, start: float = 0.0) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of True in a frame mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(round(start + a * step, 3), round(start + b * step, 3)) for a, b in zip(edges[::2], edges[1::2])]


def unit_mean(vectors) -> list[float]:
    return rounded_embedding(np.mean(np.asarray(vectors, dtype=np.float64), axis=0))


# -- caching ----------------------------------------------------------------------------------------
def _cache_file(cache_dir: Path, digest: str, model: str, checksum: str) -> Path:
    return Path(cache_dir) / f"{digest[:32]}-{model}-{checksum}-v{CACHE_VERSION}.json"


def _read_cached(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_cached(path: Path, data: dict) -> None:
    from .workspace import atomic_write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)


@dataclass
class CacheStats:
    computed: int = 0
    cached: int = 0


def check_clip(path: Path, cache_dir: Optional[Path], stats: Optional[CacheStats] = None) -> ClipCheck:
    """The analysis of one clip, from the cache when this file was analysed before."""
    from .workspace import file_sha256

    stats = stats or CacheStats()
    digest = file_sha256(path)
    cache = _cache_file(cache_dir, digest, "check", campplus_checksum()) if cache_dir else None
    data = _read_cached(cache) if cache else None
    if data is None:
        data = analyse_clip(path, read_clip(path))
        stats.computed += 1
        if cache:
            _write_cached(cache, {**data, "clip": Path(path).name})
    else:
        stats.cached += 1
    return ClipCheck(path=Path(path), digest=digest, speech_s=data["speech_s"],
                     speech=[tuple(r) for r in data["speech"]], voice_split=data["voice_split"],
                     campplus=list(data["campplus"]))


def check_clips(folder, cache_dir: Optional[Path] = None) -> "CheckedClips":
    """Every clip of DIR checked (first bad clip raises); ``cache_dir`` keeps the results."""
    stats = CacheStats()
    people = {name: [check_clip(p, cache_dir, stats) for p in clips]
              for name, clips in enrollment_clips(folder).items()}
    log.info("voices: %d person(s), %d clip(s) (%d analysed, %d cached)", len(people),
             sum(len(c) for c in people.values()), stats.computed, stats.cached)
    return CheckedClips(people=people, cache_dir=cache_dir, stats=stats)


@dataclass
class CheckedClips:
    people: dict[str, list[ClipCheck]]
    cache_dir: Optional[Path] = None
    stats: CacheStats = field(default_factory=CacheStats)


@dataclass
class Enrollment:
    """Each person's voiceprint (unit vector) in one embedder's space, and its threshold."""

    voiceprints: dict[str, np.ndarray]
    model: str
    threshold: float
    stats: CacheStats = field(default_factory=CacheStats)


def enroll(checked: CheckedClips, embedder: VoiceEmbedder) -> Enrollment:
    """Voiceprints of every checked clip in EMBEDDER's space (cached per clip), averaged per person."""
    stats = CacheStats()
    prints = {}
    for name, clips in checked.people.items():
        vectors = [_clip_voiceprint(clip, embedder, checked.cache_dir, stats) for clip in clips]
        prints[name] = np.asarray(unit_mean(vectors))
    log.info("voices: %d voiceprint(s) with %s (%d computed, %d cached)", len(prints), embedder.name,
             stats.computed, stats.cached)
    return Enrollment(voiceprints=prints, model=embedder.name, threshold=embedder.threshold, stats=stats)


def _clip_voiceprint(clip: ClipCheck, embedder: VoiceEmbedder, cache_dir: Optional[Path], stats: CacheStats):
    if embedder.name == CamppVoiceEmbedder.name:  # computed by the clip check and cached with it
        return embedder.voiceprint(clip)
    cache = _cache_file(cache_dir, clip.digest, embedder.name, embedder.checksum()) if cache_dir else None
    data = _read_cached(cache) if cache else None
    if data is not None:
        stats.cached += 1
        return data["embedding"]
    vector = embedder.voiceprint(clip)
    stats.computed += 1
    if cache:
        _write_cached(cache, {"embedding": vector, "clip": clip.path.name})
    return vector


# -- matching ---------------------------------------------------------------------------------------
def match_speakers(speaker_embeddings: dict[str, list[float]], enrollment: Enrollment,
                   threshold: Optional[float] = None) -> list[VoiceMatch]:
    """One VoiceMatch per diarized speaker: a one-to-one assignment maximising total similarity,
    names kept only at or above the threshold."""
    from scipy.optimize import linear_sum_assignment

    threshold = enrollment.threshold if threshold is None else threshold
    speakers = sorted(speaker_embeddings)
    names = sorted(enrollment.voiceprints)
    if not speakers:
        return []
    if not names:
        return [VoiceMatch(speaker=s, threshold=threshold) for s in speakers]
    a = np.array([speaker_embeddings[s] for s in speakers], dtype=np.float64)
    b = np.array([enrollment.voiceprints[n] for n in names], dtype=np.float64)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"--voices: the diarization's speaker embeddings have {a.shape[1]} dimensions but the "
                         f"{enrollment.model} voiceprints {b.shape[1]}; rerun with --force diarize")
    similarity = _unit(a) @ _unit(b).T
    rows, cols = linear_sum_assignment(-similarity)
    assigned = {speakers[r]: (names[c], float(similarity[r, c])) for r, c in zip(rows, cols)}
    matches = []
    for speaker in speakers:
        candidate, score = assigned.get(speaker, (None, None))
        accepted = score is not None and score >= threshold
        matches.append(VoiceMatch(speaker=speaker, name=candidate if accepted else None, candidate=candidate,
                                  score=None if score is None else round(score, 4), threshold=threshold))
    return matches


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def names_of(matches: list[VoiceMatch], speakers: Optional[list[str]] = None) -> dict[str, str]:
    """{speaker: name} of the accepted matches (only SPEAKERS when given)."""
    return {m.speaker: m.name for m in matches if m.name and (speakers is None or m.speaker in speakers)}


def voice_match_table(document: Document) -> list[dict]:
    """Rows for a notebook or report: speaker, shown as, best enrolled voice, score, matched."""
    return [{"speaker": m.speaker, "shown as": document.display_name(m.speaker), "enrolled voice": m.candidate or "",
             "score": m.score, "matched": m.name is not None}
            for m in document.voice_matches if m.speaker in document.speakers]
