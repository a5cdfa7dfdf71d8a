"""Optional diarization backend ``sortformer``: NVIDIA's end-to-end Sortformer through NeMo.

Limits to know before choosing it: at most **4 speakers**, and the model weights
(``nvidia/diar_sortformer_4spk-v1``) are licensed **CC-BY-NC-4.0 — non-commercial use only**. It
needs no Hugging Face token. It cannot be told how many speakers there are: ``--num-speakers`` /
``--min-speakers`` are only checked against the 4-speaker limit.

Sortformer's segments may overlap; overlap regions are reported as such and, for the exclusive
turns, the speaker who was already talking keeps the floor until their segment ends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from .. import gpu
from ..errors import InputError, missing_dependency
from ..types import AudioFile, Diarization, OptionsModel, SpeakerTurn
from .base import ProgressFn, SpeakerCount

log = logging.getLogger("vtxlib.diarize")

DEFAULT_MODEL = "nvidia/diar_sortformer_4spk-v1"
MAX_SPEAKERS = 4
LICENCE_NOTE = "Sortformer weights are CC-BY-NC-4.0 (non-commercial use only) and handle at most 4 speakers"
#: The model card's figure: about 12 minutes of audio in one pass on a 48 GB GPU. Its attention
#: memory grows with the square of the length, so the longest file scales with the square root of
#: the GPU's memory (a 16 GB T4: about 7 minutes). Off-GPU the card's figure is kept as the limit.
CARD_SECONDS, CARD_GPU_BYTES = 12 * 60.0, 48e9


def longest_audio_seconds(total_gpu_bytes: Optional[int]) -> float:
    """Longest recording Sortformer diarizes in its single pass on a GPU of ``total_gpu_bytes``."""
    if total_gpu_bytes is None:
        return CARD_SECONDS
    return round(CARD_SECONDS * (total_gpu_bytes / CARD_GPU_BYTES) ** 0.5)


class SortformerOptions(OptionsModel):
    model: str = DEFAULT_MODEL
    device: str = "auto"
    max_seconds: Optional[float] = None  # longer audio is refused; None: from the GPU's memory


def load_sortformer_model(name: str, cache_dir: Optional[Path] = None):
    """Restore a ``SortformerEncLabelModel`` from a ``.nemo`` path or a Hugging Face id (on CPU)."""
    try:
        from nemo.collections.asr.models import SortformerEncLabelModel
    except ImportError as e:
        raise missing_dependency("nemo_toolkit[asr]", "gpu", "The 'sortformer' diarization backend") from e
    from ..asr.nemo import restore_nemo

    return restore_nemo(SortformerEncLabelModel, name, cache_dir)


class SortformerDiarizer:
    name = "sortformer"

    def __init__(self, options: Optional[SortformerOptions] = None, cache_dir: Optional[Path] = None,
                 model=None):
        self.options = options or SortformerOptions()
        self.cache_dir = cache_dir
        self._model = model
        self._device: Optional[str] = None

    def options_dict(self) -> dict:
        return self.options.model_dump(mode="json")

    @property
    def model(self):
        if self._model is None:
            log.info("loading %s (%s)", self.options.model, LICENCE_NOTE)
            self._model = load_sortformer_model(self.options.model, self.cache_dir)
        if self._device is None:
            self._device = gpu.resolve_device(self.options.device)
            self._model.eval().to(self._device)
        return self._model

    def model_version(self) -> str:
        try:
            import nemo
            return f"nemo {nemo.__version__}"
        except ImportError:
            return "nemo"

    def diarize(self, audio: AudioFile, count: SpeakerCount, progress: Optional[ProgressFn] = None,
                speech=None) -> Diarization:
        """Diarize ``audio`` (``speech`` is unused: Sortformer detects speech itself)."""
        check_speaker_count(count)
        self.check_length(audio.duration)
        import torch

        with torch.inference_mode():
            output = self.model.diarize(audio=[audio.path], batch_size=1, verbose=False)
        if isinstance(output, tuple):  # (segments, tensors) when tensor outputs are requested
            output = output[0]
        raw = parse_segments(output[0] if output else [], audio.duration)
        turns, overlaps = exclusive_turns(raw)
        if progress:
            progress(audio.duration, audio.duration)
        return Diarization(turns=turns, overlaps=overlaps, backend=self.name, model=self.options.model,
                           model_version=self.model_version(),
                           num_speakers_estimated=len({t.speaker for t in raw}))

    def check_length(self, duration: float) -> None:
        """Refuse audio longer than one pass can hold (Sortformer has no windowed mode here)."""
        limit = self.options.max_seconds
        if limit is None:
            limit = longest_audio_seconds(gpu.total_gpu_memory_bytes(gpu.resolve_device(self.options.device)))
        if duration > limit:
            raise InputError(f"the sortformer diarizer takes at most {limit / 60:.1f} min of audio in one pass on "
                             f"this device ({duration / 60:.1f} min given; its memory grows with the square of the "
                             f"length); use --diarizer pyannote or --diarizer embedded")

    def close(self) -> None:
        self._model = None
        self._device = None
        gpu.free_gpu_memory()


def check_speaker_count(count: SpeakerCount) -> None:
    wanted = count.num_speakers or count.min_speakers
    if wanted and wanted > MAX_SPEAKERS:
        raise InputError(f"the sortformer diarizer handles at most {MAX_SPEAKERS} speakers, "
                         f"{wanted} were requested; use --diarizer pyannote")
    if count.num_speakers or count.min_speakers or count.max_speakers:
        log.warning("sortformer estimates the number of speakers itself (up to %d); the requested "
                    "speaker count is not enforced", MAX_SPEAKERS)


def parse_segments(lines: list, duration: float) -> list[SpeakerTurn]:
    """NeMo's ``"begin end speaker_i"`` strings -> turns (``SPEAKER_0i`` labels), clipped, sorted."""
    turns = []
    for line in lines:
        begin, end, label = str(line).split()
        start, stop = max(0.0, float(begin)), min(duration, float(end))
        if stop > start:
            index = int(label.rsplit("_", 1)[-1])
            turns.append(SpeakerTurn(f"SPEAKER_{index:02d}", round(start, 3), round(stop, 3)))
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


def exclusive_turns(turns: list[SpeakerTurn]) -> tuple[list[SpeakerTurn], list[tuple[float, float]]]:
    """Split possibly overlapping turns into exclusive turns and overlap regions.

    In an overlap the turn that started first keeps the time (ties: the speaker label decides)."""
    bounds = sorted({t.start for t in turns} | {t.end for t in turns})
    exclusive: list[SpeakerTurn] = []
    overlaps: list[tuple[float, float]] = []
    for left, right in zip(bounds, bounds[1:]):
        active = [t for t in turns if t.start <= left and t.end >= right]
        if not active:
            continue
        if len(active) > 1:
            _extend_or_append_span(overlaps, left, right)
        owner = min(active, key=lambda t: (t.start, t.speaker)).speaker
        if exclusive and exclusive[-1].speaker == owner and exclusive[-1].end == left:
            exclusive[-1] = SpeakerTurn(owner, exclusive[-1].start, right)
        else:
            exclusive.append(SpeakerTurn(owner, left, right))
    return exclusive, overlaps


def _extend_or_append_span(spans: list[tuple[float, float]], start: float, end: float) -> None:
    if spans and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))
