"""The backends of a pipeline: created once per backend choice and shared by its runs (batch runs
over many videos load each model once), or given (a service's preloaded models, a test's stand-ins);
GPU-tier models released after their stage."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Optional

from ..capabilities import Closeable, takes_transcript, uses_gpu
from ..errors import InputError
from ..workspace import Workspace
from .cache import GPU_BACKENDS

if TYPE_CHECKING:
    from .base import RunContext

log = logging.getLogger("vtxlib.pipeline")


class BackendRegistry:
    """Backends by stage: ``given`` ones (stage -> object) replace those the options would create."""

    def __init__(self, workspace: Workspace, given: Optional[dict[str, Any]] = None):
        self.workspace = workspace
        self.given: dict[str, Any] = dict(given or {})
        self._released: set[str] = set()  # given backends closed after their stage (GPU memory)
        self._created: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def get(self, ctx: "RunContext", stage: str):
        if stage in self.given:
            self._released.discard(stage)
            return self.given[stage]
        key = self.key(ctx, stage)
        with self._lock:  # two runs asking at once create one backend
            if key not in self._created:
                self._created[key] = self._create(ctx, stage)
            return self._created[key]

    def loaded(self, stage: str) -> Any:
        """A created backend of STAGE (the language detector), if any."""
        return next((backend for key, backend in self._created.items() if key[0] == stage), None)

    @staticmethod
    def language_tier(ctx: "RunContext") -> str:
        """Where the language is identified: "gpu" (a hub Whisper on CUDA) when the ASR runs on the GPU
        tier (NeMo), else "cpu" (the bundled base)."""
        from ..asr import resolve_asr_name

        return "gpu" if resolve_asr_name(ctx.options.asr) == "nemo" else "cpu"

    def key(self, ctx: "RunContext", stage: str) -> tuple:
        """A backend is shared by runs whose options would create the same one."""
        opts = ctx.options
        if stage == "asr":
            backend, model, language = self.asr_plan(ctx)
            # the speaker count reaches ASR only as AssemblyAI's speaker labels: a local model is shared across counts
            labels = (tuple(opts.speaker_count().model_dump().values()),) \
                if self.diarizer_name(ctx) == "assemblyai" else ()
            # whisper-cpu takes the language with each call (takes_language): one backend for every language
            return (stage, backend, model, None if backend == "whisper-cpu" else language, opts.allow_cloud,
                    opts.cloud_dry_run, *labels)
        chosen = {"emotion": (opts.emotion,), "diarize": (self.diarizer_name(ctx), opts.diarizer_model),
                  "language": (self.language_tier(ctx),)}
        return (stage, *chosen[stage])

    def asr_plan(self, ctx: "RunContext") -> tuple[str, Optional[str], Optional[str]]:
        """(backend, model, language) of the ASR: the model chosen for the language found (or forced)
        when ``asr_model`` is auto or unset; before the language is known, the English default."""
        from ..asr import plan_asr

        return plan_asr(ctx.options.asr, ctx.options.asr_model, ctx.language)

    def _create(self, ctx: "RunContext", stage: str):
        opts = ctx.options
        if stage == "asr":
            from ..asr import CloudSettings, create_asr

            _, backend, model, language = self.key(ctx, "asr")[:4]
            cloud = CloudSettings(allow_cloud=opts.allow_cloud, dry_run=opts.cloud_dry_run,
                                  secrets_dir=self.workspace.secrets_dir,
                                  speaker_labels=self.diarizer_name(ctx) == "assemblyai",
                                  **opts.speaker_count().model_dump())
            name = "auto" if opts.asr == "auto" and (opts.allow_cloud or opts.cloud_dry_run) else backend
            created = create_asr(name, model=model, language=language, cache_dir=self.workspace.models_dir,
                                 cloud=cloud)
            share_detector_model(created, self.loaded("language"))
            return created
        if stage == "language":
            from ..asr import hub_cache
            from ..asr.language_id import WhisperLanguageDetector

            if self.language_tier(ctx) == "gpu":
                return WhisperLanguageDetector.for_gpu(hub_cache(self.workspace.models_dir))
            return WhisperLanguageDetector()
        if stage == "diarize":
            from ..diarize import create_diarizer

            if self.diarizer_name(ctx) == "assemblyai" and opts.asr != "assemblyai" \
                    and not (opts.asr == "auto" and opts.allow_cloud):
                raise InputError("--diarizer assemblyai takes AssemblyAI's speaker labels from its transcript: use it "
                                 "with --asr assemblyai --allow-cloud")
            return create_diarizer(self.diarizer_name(ctx), model=opts.diarizer_model,
                                   secrets_dir=self.workspace.secrets_dir, models_dir=self.workspace.models_dir)
        if stage == "emotion":
            from ..emotion import create_emotion_backend

            return create_emotion_backend(opts.emotion, cache_dir=self.workspace.models_dir)
        raise ValueError(stage)

    def diarizer_name(self, ctx: "RunContext") -> str:
        """The diarizer asked for; ``auto`` with ``--asr assemblyai`` is AssemblyAI's speaker labels."""
        opts = ctx.options
        return "assemblyai" if opts.diarizer == "auto" and opts.asr == "assemblyai" else opts.diarizer

    def diarizer_takes_transcript(self, ctx: "RunContext") -> bool:
        """Whether the diarizer's turns come with the transcript (AssemblyAI's speaker labels), asked
        without creating a backend: a cached diarization needs none."""
        if "diarize" in self.given:
            return takes_transcript(self.given["diarize"])
        return self.diarizer_name(ctx) == "assemblyai"

    def both_on_gpu(self, ctx: "RunContext") -> bool:
        return all(self.get(ctx, stage).name in GPU_BACKENDS for stage in ("asr", "diarize"))

    # -- GPU memory --------------------------------------------------------------------------
    def release_if_gpu(self, ctx: "RunContext", stage: str, failed: bool = False) -> None:
        with self._lock:
            key = self.key(ctx, stage)
            backend = self.given.get(stage, self._created.get(key))
            if backend is None or (backend.name not in GPU_BACKENDS and not uses_gpu(backend)):
                return
            if not (ctx.options.free_gpu_between_stages or failed):
                return
            if stage in self.given:  # a given backend stays: it loads its model again when used
                self._released.add(stage)
            else:
                del self._created[key]
        backend.close()
        log.info("%s: released the %s model (%s)", stage, backend.name,
                 "the stage failed" if failed else "free_gpu_between_stages")

    @contextlib.contextmanager
    def released_after(self, ctx: "RunContext", stage: str):
        """Release the stage's GPU model afterwards, on failure too: a traceback kept by the notebook
        would otherwise keep the model on the GPU and the retry would run out of memory."""
        try:
            yield
        except BaseException as e:
            self.release_if_gpu(ctx, stage, failed=True)
            from ..gpu import drop_traceback_locals, free_gpu_memory

            drop_traceback_locals(e)
            free_gpu_memory()
            raise
        self.release_if_gpu(ctx, stage)

    # -- translation -------------------------------------------------------------------------
    def translator_name(self, ctx: "RunContext", source: Optional[str], target: str) -> str:
        from ..secrets import get_secret
        from ..translate import choose_translator

        if "translate" in self.given:
            return self.given["translate"].name
        return choose_translator(ctx.options.translator, source, target,
                                 gemini_key=bool(get_secret("GEMINI_API_KEY", self.workspace.secrets_dir)),
                                 gpu_tier=gpu_tier_available())

    def translator(self, name: str):
        if "translate" in self.given:
            return self.given["translate"]
        key = ("translate", name)
        with self._lock:
            if key not in self._created:
                from ..secrets import get_secret
                from ..translate import create_translator

                self._created[key] = create_translator(
                    name, api_key=get_secret("GEMINI_API_KEY", self.workspace.secrets_dir),
                    cache_dir=self.workspace.models_dir)
            return self._created[key]

    def release_translator(self, ctx: "RunContext", backend: Any) -> None:
        """Canary holds the GPU: one model at a time (a given translator stays)."""
        if backend.name == "canary" and ctx.options.free_gpu_between_stages and "translate" not in self.given:
            with self._lock:
                self._created.pop(("translate", backend.name), None)
            backend.close()

    # -- all of them -------------------------------------------------------------------------
    def all(self) -> dict[str, Any]:
        """The backends given or created so far, by stage."""
        with self._lock:
            given = {stage: backend for stage, backend in self.given.items() if stage not in self._released}
            return {**{key[0]: backend for key, backend in self._created.items()}, **given}

    def close(self) -> None:
        with self._lock:
            created, self._created = list(self._created.values()), {}
        for backend in created + list(self.given.values()):
            if isinstance(backend, Closeable):
                backend.close()


def gpu_tier_available() -> bool:
    """NeMo installed and a CUDA GPU present (what Canary translation needs)."""
    import importlib.util

    from ..gpu import cuda_available

    return importlib.util.find_spec("nemo") is not None and cuda_available()


def share_detector_model(asr: Any, detector: Any) -> None:
    """An ASR backend that decodes with the language detector's model (the same model and settings:
    base on the CPU, large-v3-turbo on CUDA) takes the model already loaded instead of loading it again."""
    from ..asr.language_id import WhisperLanguageDetector
    from ..asr.whisper_cpu import WhisperCpuAsr

    if not isinstance(asr, WhisperCpuAsr) or not isinstance(detector, WhisperLanguageDetector):
        return
    loaded = detector._model
    settings = ("model", "compute_type", "cpu_threads", "device")
    same = all(getattr(asr.options, k) == getattr(detector.options, k) for k in settings)
    if loaded is not None and same and asr._model is None:
        asr._model = loaded
