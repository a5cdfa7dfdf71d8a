"""Translator ``canary``: NVIDIA Canary's speech translation through NeMo (GPU tier).

``nvidia/canary-1b-flash`` translates speech English -> German, Spanish, French and those three
-> English (:data:`CANARY_PAIRS`, from its model card). Like the Whisper translator it decodes each
cue's own audio span, with the source and target language as Canary's prompt, so the cues keep the
original's times. The model is loaded as the ASR backend loads NeMo models (``.nemo`` from the hub
into the workspace's model folder, ``EncDecMultiTaskModel.restore_from``); it needs a GPU in
practice and is not exercised by the CPU test suite beyond its pair table and call shape.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..audio import SAMPLE_RATE
from ..errors import missing_dependency
from ..types import OptionsModel
from .base import TranslationRequest

log = logging.getLogger("vtxlib.translate")

CANARY_MODEL = "nvidia/canary-1b-flash"
CANARY_PAIRS = frozenset({("en", "de"), ("en", "es"), ("en", "fr"), ("de", "en"), ("es", "en"), ("fr", "en")})


def canary_supports(source: Optional[str], target: str) -> bool:
    """Whether Canary can make SOURCE -> TARGET (an unknown source: whether any pair ends in TARGET)."""
    if source is None:
        return any(t == target for _, t in CANARY_PAIRS)
    return (source, target) in CANARY_PAIRS


def describe_pairs() -> str:
    return ", ".join(f"{s}->{t}" for s, t in sorted(CANARY_PAIRS))


class CanaryTranslateOptions(OptionsModel):
    model: str = CANARY_MODEL
    pad_s: float = 0.15
    batch_size: int = 8


class CanaryTranslator:
    name = "canary"
    uses_audio = True

    def __init__(self, options: Optional[CanaryTranslateOptions] = None, cache_dir: Optional[Path] = None,
                 model=None):
        self.options = options or CanaryTranslateOptions()
        self.cache_dir = cache_dir
        self._model = model

    def options_dict(self) -> dict:
        return {**self.options.model_dump(mode="json"), "task": "ast"}

    def supports(self, source: Optional[str], target: str) -> bool:
        return canary_supports(source, target)

    @property
    def model(self):
        if self._model is None:
            try:
                from nemo.collections.asr.models import EncDecMultiTaskModel
            except ImportError as e:
                raise missing_dependency("nemo_toolkit[asr]", "gpu", "Canary translation") from e
            from .. import gpu
            from ..asr.nemo import restore_nemo

            model = restore_nemo(EncDecMultiTaskModel, self.options.model, self.cache_dir)
            model.eval()
            model.to(gpu.resolve_device("auto"))
            self._model = model
        return self._model

    def translate(self, request: TranslationRequest) -> dict[str, str]:
        from ..audio import load_audio
        from ..errors import InputError

        if not self.supports(request.source, request.target):
            raise InputError(f"Canary does not translate {request.source} into {request.target} "
                             f"(it translates {describe_pairs()})")
        samples = load_audio(request.audio_path)
        spoken = [c for c in request.cues if not c.overlap]
        texts = {c.id: c.text for c in request.cues if c.overlap}
        for first in range(0, len(spoken), self.options.batch_size):
            batch = spoken[first:first + self.options.batch_size]
            arrays = [samples[max(0, int((c.start - self.options.pad_s) * SAMPLE_RATE)):
                              int((c.end + self.options.pad_s) * SAMPLE_RATE)] for c in batch]
            for cue, hypothesis in zip(batch, self._run(arrays, request.source, request.target)):
                text = getattr(hypothesis, "text", hypothesis)
                texts[cue.id] = " ".join(str(text).split()) or cue.text
            if request.progress:
                request.progress(min(first + len(batch), len(spoken)), len(spoken))
        return texts

    def _run(self, arrays, source: str, target: str) -> list:
        import torch

        with torch.inference_mode():
            result = self.model.transcribe(arrays, source_lang=source, target_lang=target, pnc="yes",
                                           batch_size=len(arrays), verbose=False, num_workers=0)
        return list(result[0] if isinstance(result, tuple) else result)

    def close(self) -> None:
        self._model = None
        from .. import gpu

        gpu.free_gpu_memory()
