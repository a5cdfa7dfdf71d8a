"""Diarization backend ``pyannote``: pyannote.audio 4 pipelines (community-1 by default, or 3.1).

Turns come from the pipeline's ``exclusive_speaker_diarization`` (one speaker at a time, which is
what word-to-speaker alignment needs); overlap regions from the regular ``speaker_diarization``.
The models are gated on Hugging Face: the user must accept every page in :data:`GATED_PAGES` for
the chosen pipeline and provide an ``HF_TOKEN`` (environment, Colab secret or workspace file).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np

from .. import gpu
from ..errors import BackendUnavailable, InputError, missing_dependency
from ..secrets import get_secret
from ..types import AudioFile, Diarization, OptionsModel, SpeakerTurn
from .base import ProgressFn, SpeakerCount

log = logging.getLogger("vtxlib.diarize")

DEFAULT_MODEL = "pyannote/speaker-diarization-community-1"
#: Every gated model page a pipeline loads: access fails (401/403) until all are accepted.
GATED_PAGES = {
    "pyannote/speaker-diarization-community-1": ["pyannote/speaker-diarization-community-1"],
    "pyannote/speaker-diarization-3.1": ["pyannote/speaker-diarization-3.1", "pyannote/segmentation-3.0"],
}
#: Share of the pipeline's work per hook step, to turn step progress into one progress bar.
STEP_WEIGHTS = {"segmentation": 0.25, "speaker_counting": 0.05, "embeddings": 0.65,
                "discrete_diarization": 0.05}


class PyannoteOptions(OptionsModel):
    model: str = DEFAULT_MODEL
    device: str = "auto"  # auto | cuda | cpu
    segmentation_batch_size: int = 32
    embedding_batch_size: int = 32


class AccessRefused(BackendUnavailable):
    """Hugging Face refused the model's files: conditions not accepted, or a token without access."""


def pages_to_accept(model: str) -> list[str]:
    return [f"https://huggingface.co/{page}" for page in GATED_PAGES.get(model, [model])]


def access_help(model: str) -> str:
    return (f"accept the user conditions on {' and '.join(pages_to_accept(model))} (logged in as the "
            f"token's owner), then set HF_TOKEN (a read token from https://huggingface.co/settings/tokens)"
            f" as an environment variable, a Colab secret or <workspace>/secrets/HF_TOKEN")


def _fail_fast_when_offline(model: str, cache_dir: Optional[Path]) -> None:
    """Not cached and the hub unreachable: say so now, not after huggingface_hub's retries."""
    from ..gpu import hub_file_cached
    from ..hub import fail_fast_when_offline

    fail_fast_when_offline(model, Path(model).exists() or hub_file_cached(model, "config.yaml", cache_dir), cache_dir,
                           "--diarizer embedded")


def load_pyannote_pipeline(model: str, token: Optional[str], cache_dir: Optional[Path] = None):
    """``Pipeline.from_pretrained`` with its failures turned into one actionable line."""
    from .models import quiet_pyannote_import

    quiet_pyannote_import()
    try:
        from pyannote.audio import Pipeline
    except ImportError as e:
        raise missing_dependency("pyannote.audio", "gpu", "The 'pyannote' diarization backend") from e
    from ..hub import hub_errors

    _fail_fast_when_offline(model, cache_dir)
    with hub_errors(model, "--diarizer embedded", cache_dir=cache_dir, network_errors=False,
                    refused=lambda status: AccessRefused(f"access to {model} was refused"
                                                         f"{f' ({status})' if status else ''}: {access_help(model)}"),
                    not_found=lambda: _not_found(model, token)):
        pipeline = Pipeline.from_pretrained(model, token=token, cache_dir=cache_dir)
    if pipeline is None:  # pyannote returns None for some access failures instead of raising
        raise AccessRefused(f"could not load {model}: {access_help(model)}")
    return pipeline


def _not_found(model: str, token: Optional[str]) -> AccessRefused:
    if token:  # gated repositories also answer "not found" to tokens without access
        return AccessRefused(f"{model} not found or not accessible with this HF_TOKEN: check the name, and "
                             f"{access_help(model)}")
    return AccessRefused(f"{model} needs a Hugging Face token: {access_help(model)}")


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, options: Optional[PyannoteOptions] = None, token: Optional[str] = None,
                 pipeline=None, cache_dir: Optional[Path] = None, secrets_dir: Optional[Path] = None):
        self.options = options or PyannoteOptions()
        self._token = token
        self._secrets_dir = secrets_dir
        self.cache_dir = cache_dir
        self._pipeline = pipeline
        self._device: Optional[str] = None

    def options_dict(self) -> dict:
        return self.options.model_dump(mode="json")

    def load(self) -> None:
        """Fetch and build the pipeline (on the CPU; it moves to the device on first use), so that
        refused access shows before the stage starts."""
        if self._pipeline is None:
            token = self._token or get_secret("HF_TOKEN", self._secrets_dir)
            if not token:
                log.warning("no HF_TOKEN found; %s is gated and will likely refuse access", self.options.model)
            log.info("loading pyannote pipeline %s", self.options.model)
            self._pipeline = load_pyannote_pipeline(self.options.model, token, self.cache_dir)

    @property
    def pipeline(self):
        self.load()
        if self._device is None:
            self._prepare_pipeline()
        return self._pipeline

    def _prepare_pipeline(self) -> None:
        import torch

        self._device = gpu.resolve_device(self.options.device)
        self._pipeline.to(torch.device(self._device))
        for attribute, value in (("segmentation_batch_size", self.options.segmentation_batch_size),
                                 ("embedding_batch_size", self.options.embedding_batch_size)):
            if hasattr(self._pipeline, attribute):
                setattr(self._pipeline, attribute, value)
        log.info("pyannote pipeline on %s", self._device)

    def model_version(self) -> str:
        from ..versions import package_version

        version = package_version("pyannote.audio")
        return f"pyannote.audio {version}" if version else "pyannote.audio"

    def diarize(self, audio: AudioFile, count: SpeakerCount, progress: Optional[ProgressFn] = None,
                speech=None) -> Diarization:
        """Diarize ``audio``. ``speech`` (regions from another VAD) is not used: pyannote's
        segmentation model detects speech itself."""
        pipeline = self.pipeline
        output = pipeline(_load_waveform(audio), hook=ProgressBridge(audio.duration, progress),
                          **_count_kwargs(count))
        regular = getattr(output, "speaker_diarization", output)
        exclusive = getattr(output, "exclusive_speaker_diarization", None)
        if exclusive is None:  # legacy pipelines (bare Annotation): derive exclusive turns ourselves
            exclusive = _exclusive_from(regular)
        turns = annotation_to_turns(exclusive, audio.duration)
        if progress:
            progress(audio.duration, audio.duration)
        return Diarization(turns=turns, overlaps=annotation_overlaps(regular, audio.duration),
                           backend=self.name, model=self.options.model, model_version=self.model_version(),
                           num_speakers_estimated=len({t.speaker for t in turns}),
                           speaker_embeddings=speaker_embeddings_of(regular,
                                                                    getattr(output, "speaker_embeddings", None)))

    def voice_embedder(self):
        """The pipeline's own speaker-embedding model, for enrolled voices (:mod:`vtxlib.voices`)."""
        from .voiceprint import PyannoteVoiceEmbedder

        return PyannoteVoiceEmbedder(self.pipeline)

    def close(self) -> None:
        self._pipeline = None
        self._device = None
        gpu.free_gpu_memory()


class ProgressBridge:
    """pyannote hook ``hook(step, artifact, file=, total=, completed=)`` -> ``progress(done, total)``
    in seconds of audio, weighting each step by its usual share of the run time."""

    def __init__(self, duration: float, progress: Optional[ProgressFn]):
        self.duration = duration
        self.progress = progress
        self.step_fraction: dict[str, float] = {}

    def __call__(self, step_name, step_artifact, file=None, total=None, completed=None):
        if self.progress is None:
            return
        fraction = 1.0 if completed is None or not total else min(1.0, completed / total)
        self.step_fraction[step_name] = max(self.step_fraction.get(step_name, 0.0), fraction)
        overall = sum(STEP_WEIGHTS.get(step, 0.0) * f for step, f in self.step_fraction.items())
        self.progress(round(min(overall, 1.0) * self.duration, 3), self.duration)


def _count_kwargs(count: SpeakerCount) -> dict:
    return {k: v for k, v in count.model_dump().items() if v is not None}


def _load_waveform(audio: AudioFile) -> dict:
    """The wav as pyannote's in-memory input, so decoding does not depend on torchcodec/ffmpeg.

    pyannote.audio 4 accepts a path (it then decodes the whole file with torchcodec) or a
    ``{"waveform": (channel, time) tensor, "sample_rate"}`` dict, and keeps that waveform for the whole
    run (segmentation slides over it, embeddings crop it). So it gets one float32 array and no copies
    (4 bytes per sample: 0.69 GB for 3 hours at 16 kHz); when that would not fit in the memory
    available, the array is a memory-mapped temporary file on local disk, paged in as read."""
    import soundfile as sf
    import torch

    info = sf.info(audio.path)
    if info.frames == 0:
        raise InputError(f"{audio.path} contains no audio")
    needed, available = estimated_ram_bytes(info.frames), available_ram_bytes()
    mapped = available is not None and needed > available
    if mapped:
        log.warning("diarize: pyannote needs about %.1f GB of RAM for %.1f h of audio and %.1f GB are available; "
                    "its waveform is memory-mapped from a temporary file, and the run may still exhaust memory "
                    "(--diarizer embedded reads the file in chunks)", needed / 1e9,
                    info.frames / info.samplerate / 3600, available / 1e9)
        data = _mapped_mono(audio.path, info.frames, info.channels)
    else:
        data, _ = sf.read(audio.path, dtype="float32", always_2d=False)
        if data.ndim > 1:
            data = data.mean(axis=1, dtype=np.float32)
    waveform = torch.from_numpy(data)[None]  # (1, time): a view, not a copy
    return {"waveform": waveform, "sample_rate": info.samplerate, "uri": Path(audio.path).stem}


#: pyannote's own arrays per hour of audio besides the waveform (segmentation scores of 589 frames x
#: 3 speakers per 1 s step, their binarised, aggregated and clustered copies, embeddings), estimated from
#: those shapes; plus the models, torch and the interpreter.
PYANNOTE_BYTES_PER_HOUR = 0.3e9
PYANNOTE_FIXED_BYTES = 1.5e9


def estimated_ram_bytes(frames: int, sample_rate: int = 16000) -> float:
    """RAM pyannote needs for a file of ``frames`` samples (mono, 16 kHz)."""
    return 4 * frames + PYANNOTE_BYTES_PER_HOUR * frames / sample_rate / 3600 + PYANNOTE_FIXED_BYTES


def available_ram_bytes() -> Optional[int]:
    """Memory the system can still give this process (None when unknown)."""
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def _mapped_mono(path: str, frames: int, channels: int, block: int = 1 << 16):
    """The file as a float32 mono array backed by an unlinked temporary file (page cache, not RAM)."""
    import tempfile

    import soundfile as sf

    with tempfile.NamedTemporaryFile(suffix=".f32", delete=True) as handle:
        mapped = np.memmap(handle.name, dtype=np.float32, mode="w+", shape=(frames,))
    # the name is gone; the mapping keeps the space until the array is freed
    offset = 0
    for chunk in sf.blocks(path, blocksize=block, dtype="float32", always_2d=True):
        mapped[offset:offset + len(chunk)] = chunk.mean(axis=1) if channels > 1 else chunk[:, 0]
        offset += len(chunk)
    mapped.flush()
    return mapped


def speaker_embeddings_of(annotation, embeddings) -> dict[str, list[float]]:
    """pyannote's ``DiarizeOutput.speaker_embeddings`` (rows in the order of ``labels()``) by speaker;
    the all-zero rows pyannote pads with for speakers it has no centroid for are left out."""
    import numpy as np

    from .voiceprint import rounded_embedding

    if embeddings is None:
        return {}
    rows = np.asarray(embeddings, dtype=np.float64)
    return {str(label): rounded_embedding(row) for label, row in zip(annotation.labels(), rows)
            if np.isfinite(row).all() and np.linalg.norm(row) > 0}


def annotation_to_turns(annotation, duration: float) -> list[SpeakerTurn]:
    """Sorted, clipped turns from a pyannote ``Annotation``; empty turns dropped."""
    turns = []
    for segment, _, label in annotation.itertracks(yield_label=True):
        start, end = max(0.0, float(segment.start)), min(duration, float(segment.end))
        if end > start:
            turns.append(SpeakerTurn(speaker=str(label), start=round(start, 3), end=round(end, 3)))
    return sorted(turns, key=lambda t: (t.start, t.end))


def annotation_overlaps(annotation, duration: float) -> list[tuple[float, float]]:
    """Regions where two or more speakers are active."""
    overlaps = []
    for segment in annotation.get_overlap().support():
        start, end = max(0.0, float(segment.start)), min(duration, float(segment.end))
        if end > start:
            overlaps.append((round(start, 3), round(end, 3)))
    return overlaps


def _exclusive_from(annotation):
    """Drop overlapped regions from a legacy ``Annotation`` (pyannote 3 style output)."""
    overlap = annotation.get_overlap()
    return annotation.extrude(overlap) if len(overlap) else annotation
