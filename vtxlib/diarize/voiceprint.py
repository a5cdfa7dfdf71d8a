"""Voiceprints of enrolled clips in a diarizer's own embedding space (the voice-embedding capability
a diarizer offers through ``voice_embedder()``); the enrolment itself is :mod:`vtxlib.voices`.

Here, below both the diarizers and :mod:`vtxlib.voices`, so that a diarizer can hand out its
embedder without importing the module that imports it.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import InputError

MAX_CLIP_S = 600.0  # only the first ten minutes of a longer clip are used
#: bench/voices.py on the dev voices: equal-error-rate point of diarized speakers against their own
#: enrolled voice and against the others
CAMPPLUS_THRESHOLD = 0.805
#: Not calibrated here (no pretrained pyannote weights offline): see docs/voices.md to calibrate it.
PYANNOTE_THRESHOLD = 0.5


class VoiceClip(Protocol):
    """What an embedder reads of a checked clip (:class:`vtxlib.voices.ClipCheck`)."""

    path: Path
    speech: list[tuple[float, float]]  # speech regions (seconds)
    campplus: list[float]  # CAM++ voiceprint, computed by the clip check


class VoiceEmbedder(Protocol):
    name: str
    threshold: float

    def checksum(self) -> str:
        ...

    def voiceprint(self, clip: VoiceClip) -> list[float]:
        ...


def read_clip(path: Path) -> np.ndarray:
    """The clip as 16 kHz mono float32 (ffmpeg), at most ``MAX_CLIP_S`` seconds."""
    from ..audio import _tool

    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-t", str(MAX_CLIP_S),
           "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"voice clip {path}: ffmpeg cannot read it ({reason[-1] if reason else 'unreadable'})")
    return np.frombuffer(proc.stdout, dtype="<f4").copy()


def rounded_embedding(vector) -> list[float]:
    """A unit vector as a JSON-friendly list (5 decimals: far below any similarity difference that matters)."""
    vector = np.asarray(vector, dtype=np.float64)
    return [round(float(x), 5) for x in vector / max(float(np.linalg.norm(vector)), 1e-12)]


def campplus_checksum() -> str:
    from .models import CAMPPLUS_FILE, SHA256

    return SHA256[CAMPPLUS_FILE][:16]


class CamppVoiceEmbedder:
    """The embedded diarizer's CAM++: the clip check already computed the voiceprint."""

    name = "campplus"
    threshold = CAMPPLUS_THRESHOLD

    def checksum(self) -> str:
        return campplus_checksum()

    def voiceprint(self, clip: VoiceClip) -> list[float]:
        return clip.campplus


class PyannoteVoiceEmbedder:
    """The pyannote pipeline's own speaker-embedding model (``pipeline._embedding``, the one its
    ``speaker_embeddings`` come from), over the clip's speech in pieces of the segmentation's
    duration (10 s), averaged."""

    name = "pyannote"
    threshold = PYANNOTE_THRESHOLD

    def __init__(self, pipeline, piece_s: float = 10.0):
        self.pipeline = pipeline
        self.piece_s = piece_s
        self._checksum: Optional[str] = None

    @property
    def embedding(self):
        embedding = getattr(self.pipeline, "_embedding", None)
        if embedding is None:
            raise InputError("--voices: this pyannote pipeline has no speaker-embedding model "
                             "(oracle clustering?); use --diarizer embedded")
        return embedding

    def checksum(self) -> str:
        """SHA-256 of the embedding model's weights (the model files live in a hub cache)."""
        if self._checksum is None:
            model = getattr(self.embedding, "model_", None)
            digest = hashlib.sha256(str(getattr(self.embedding, "embedding", "")).encode())
            if model is not None:
                for key, tensor in sorted(model.state_dict().items()):
                    digest.update(key.encode())
                    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            self._checksum = digest.hexdigest()[:16]
        return self._checksum

    def voiceprint(self, clip: VoiceClip) -> list[float]:
        import torch

        samples = read_clip(clip.path)
        speech = np.concatenate([samples[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in clip.speech])
        size = int(self.piece_s * SAMPLE_RATE)
        minimum = max(int(getattr(self.embedding, "min_num_samples", 1)), SAMPLE_RATE)
        pieces = [speech[i:i + size] for i in range(0, speech.size, size)]
        pieces = [p for p in pieces if p.size >= minimum] or [speech]
        vectors, weights = [], []
        for piece in pieces:
            vector = np.asarray(self.embedding(torch.from_numpy(piece)[None, None]), dtype=np.float64)[0]
            if np.isfinite(vector).all() and np.linalg.norm(vector) > 0:
                vectors.append(vector / np.linalg.norm(vector))
                weights.append(piece.size)
        if not vectors:
            raise InputError(f"voice clip {clip.path}: the pyannote embedding model gave no usable embedding")
        return rounded_embedding(np.average(np.array(vectors), axis=0, weights=weights))
