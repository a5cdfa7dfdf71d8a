"""``speechbrain`` backend (GPU tier): wav2vec2-base fine-tuned on IEMOCAP, 4 classes.

The model is ``speechbrain/emotion-recognition-wav2vec2-IEMOCAP``, loaded the way its model card
says, through ``foreign_class(..., pymodule_file="custom_interface.py",
classname="CustomEncoderWav2vec2Classifier")``. Its files are cached in the workspace's model
folder; its hyperparameters also fetch ``facebook/wav2vec2-base`` from Hugging Face (cached under
``HF_HOME``, which the workspace points into the same folder). So the first run needs internet;
later runs work offline.

``source`` may also be a local directory in the model card's layout (``hyperparams.yaml``,
``custom_interface.py``, ``wav2vec2.ckpt``, ``model.ckpt``, ``label_encoder.txt``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
from pydantic import Field

from ..errors import BackendUnavailable, missing_dependency
from ..types import AudioFile, Emotion, OptionsModel, Turn
from .base import ProgressFn
from .stage import EmotionWindow, WindowOptions, classify_turns_by_windows

log = logging.getLogger("vtxlib.emotion")

MODEL_ID = "speechbrain/emotion-recognition-wav2vec2-IEMOCAP"
ENCODER_ID = "facebook/wav2vec2-base"
#: The card's label encoder uses IEMOCAP's abbreviations.
CARD_LABELS = {"neu": "neutral", "hap": "happy", "ang": "angry", "sad": "sad"}


class SpeechBrainEmotionOptions(OptionsModel):
    source: str = MODEL_ID
    # "auto" -> cuda when available, else cpu; left out of the cache key: it changes speed, not labels
    device: str = Field(default="auto", exclude=True)
    batch_size: int = 1  # >1 pads shorter windows, which nudges their scores slightly
    windows: WindowOptions = Field(default_factory=WindowOptions)


def _savedir(cache_dir: Optional[Path], source: str) -> Path:
    base = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "vtxlib"
    return base / "speechbrain" / Path(source).name


def load_classifier(source: str, savedir: Path, device: str):
    """The model card's classifier object (a speechbrain ``Pretrained``), ready for inference."""
    try:
        from speechbrain.inference.interfaces import foreign_class
        from speechbrain.utils.fetching import LocalStrategy
    except ImportError as e:
        raise missing_dependency("speechbrain", "gpu", "The speechbrain emotion backend") from e
    savedir.mkdir(parents=True, exist_ok=True)
    from ..hub import fail_fast_when_offline

    fail_fast_when_offline(f"the speechbrain emotion model {source} (with {ENCODER_ID})",
                           Path(source).is_dir() or (savedir / "hyperparams.yaml").exists(), savedir,
                           "--emotion embedded (offline, CPU)")
    _alias_pre_1_0_wav2vec_module()
    try:
        classifier = foreign_class(
            source=source, pymodule_file="custom_interface.py",
            classname="CustomEncoderWav2vec2Classifier", savedir=str(savedir),
            # copies, not symlinks: Google Drive's FUSE mount refuses symlinks (errno 95)
            local_strategy=LocalStrategy.COPY,
            # the card saves wav2vec2 files to a folder relative to the working directory
            overrides={"wav2vec2": {"save_path": str(savedir / "wav2vec2_checkpoints")}},
            run_opts={"device": device})
    except Exception as e:  # speechbrain/transformers/huggingface_hub raise many unrelated types
        log.debug("speechbrain emotion model failed to load", exc_info=True)
        raise BackendUnavailable(_load_failure_message(source, savedir, e)) from e
    encoder = classifier.hparams.label_encoder
    encoder.expect_len(len(encoder.ind2lab))
    return classifier


def _alias_pre_1_0_wav2vec_module() -> None:
    """Let hyperparams written for SpeechBrain < 1.0 (``speechbrain.lobes.models.huggingface_wav2vec.
    HuggingFaceWav2Vec2``, as older revisions of the card have) load on SpeechBrain >= 1.0, which
    renamed that class and dropped its ``pretrain`` argument."""
    import importlib
    import sys
    import types

    legacy = "speechbrain.lobes.models.huggingface_wav2vec"
    try:
        importlib.import_module(legacy)
        return
    except ImportError:
        pass
    from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2

    class HuggingFaceWav2Vec2(Wav2Vec2):
        def __init__(self, source, save_path, pretrain=True, **kwargs):
            super().__init__(source, save_path, **kwargs)

    module = types.ModuleType(legacy)
    module.HuggingFaceWav2Vec2 = HuggingFaceWav2Vec2
    sys.modules[legacy] = module
    parent, _, name = legacy.rpartition(".")
    setattr(importlib.import_module(parent), name, module)  # hyperpyyaml resolves classes via getattr


def _load_failure_message(source: str, savedir: Path, error: Exception) -> str:
    reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    refused = _filesystem_refusal(error)
    if refused is not None:
        return (f"could not load the speechbrain emotion model {source}: the folder {savedir} refused a file "
                f"operation ({refused}); use a workspace on a local disk or --emotion embedded")
    if Path(source).is_dir():
        return (f"the speechbrain emotion model in {source} could not be loaded ({reason}); the folder "
                f"needs hyperparams.yaml, custom_interface.py, wav2vec2.ckpt, model.ckpt, label_encoder.txt")
    return (f"could not load the speechbrain emotion model {source} ({reason}). It is downloaded from "
            f"Hugging Face on first use, together with {ENCODER_ID}, and cached in {savedir} and HF_HOME; "
            f"connect to the internet once, or use --emotion embedded (offline, CPU)")


def _filesystem_refusal(error: BaseException) -> Optional[str]:
    """The OSError "operation not supported/permitted" somewhere in ``error``'s chain (a FUSE mount
    such as Drive refusing symlinks), which must not be reported as a download problem."""
    import errno

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.EOPNOTSUPP, errno.EPERM, errno.ENOSYS):
            return f"errno {error.errno}: {error.strerror or error}"
        error = error.__cause__ or error.__context__
    return None


def card_label_columns(classifier) -> list[str]:
    """Our label for each output column of the classifier, from its label encoder."""
    ind2lab = classifier.hparams.label_encoder.ind2lab
    columns = []
    for index in range(len(ind2lab)):
        card_label = ind2lab[index]
        if card_label not in CARD_LABELS:
            raise BackendUnavailable(f"the speechbrain emotion model has an unexpected label {card_label!r}; "
                                     f"expected the IEMOCAP labels {sorted(CARD_LABELS)}")
        columns.append(CARD_LABELS[card_label])
    return columns


class SpeechBrainEmotion:
    name = "speechbrain"

    def __init__(self, options: Optional[SpeechBrainEmotionOptions] = None,
                 cache_dir: Optional[Path] = None):
        self.options = options or SpeechBrainEmotionOptions()
        self.cache_dir = cache_dir
        self._classifier = None
        self._columns: list[str] = []

    def options_dict(self) -> dict:
        return self.options.model_dump(mode="json")

    def load(self) -> None:
        if self._classifier is not None:
            return
        from ..gpu import resolve_device

        device = resolve_device(self.options.device)
        self._classifier = load_classifier(self.options.source, _savedir(self.cache_dir, self.options.source),
                                           device)
        self._columns = card_label_columns(self._classifier)
        log.info("speechbrain emotion model %s loaded on %s", self.options.source, device)

    def classify_turns(self, audio: AudioFile, turns: list[Turn],
                       progress: Optional[ProgressFn] = None) -> list[Optional[Emotion]]:
        self.load()
        return classify_turns_by_windows(audio, turns, self._score_windows, self.options.windows,
                                         self.name, progress)

    def _score_windows(self, pairs: Iterable[tuple[EmotionWindow, np.ndarray]]) -> list[dict[str, float]]:
        scores: list[dict[str, float]] = []
        batch: list[np.ndarray] = []
        for _, samples in pairs:
            batch.append(samples)
            if len(batch) == self.options.batch_size:
                scores.extend(self._score_batch(batch))
                batch = []
        if batch:
            scores.extend(self._score_batch(batch))
        return scores

    def _score_batch(self, batch: list[np.ndarray]) -> list[dict[str, float]]:
        import torch

        longest = max(len(s) for s in batch)
        wavs = torch.zeros(len(batch), longest)
        for row, samples in enumerate(batch):
            wavs[row, : len(samples)] = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        lengths = torch.tensor([len(s) / longest for s in batch])
        with torch.inference_mode():
            probs = self._classifier.classify_batch(wavs, lengths)[0]
        probs = probs.reshape(len(batch), -1).float().cpu().numpy()
        return [{label: float(p) for label, p in zip(self._columns, row)} for row in probs]

    def close(self) -> None:
        if self._classifier is None:
            return
        from ..gpu import free_gpu_memory

        self._classifier = None
        free_gpu_memory()

