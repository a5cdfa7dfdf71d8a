"""ASR backend ``nemo``: NVIDIA Parakeet-TDT / Canary through NeMo, with word timestamps.

Model loading (:func:`load_nemo_model`) is separate from transcription (:class:`NemoAsr`). The
``.nemo`` checkpoint is fetched from Hugging Face into ``cache_dir`` (the workspace's model folder,
on Drive under Colab) so it downloads once per workspace, then restored with
``ASRModel.restore_from``; repositories without a single ``.nemo`` file go through
``ASRModel.from_pretrained``.

Long audio: up to ``full_attention_max_seconds`` the file goes through the model in one pass with
full attention (the most accurate setting). Beyond that the default strategy ``local_attention``
switches the FastConformer encoder to limited-context attention, whose memory grows linearly
rather than quadratically with length, and still walks the audio in windows of ``window_seconds``
so that peak memory is bounded by one window however long the recording is. ``chunk`` keeps full
attention and uses short windows instead (the only option for Canary, whose encoder-decoder is
trained on clips under 40 s). Windows overlap and are merged without duplicates or gaps
(:mod:`vtxlib.asr.long_audio`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .. import gpu
from ..errors import BackendUnavailable, InputError, missing_dependency
from ..types import AudioFile, OptionsModel, Segment, Transcript, Word
from .base import ProgressFn
from .long_audio import AsrWindow, merge_windows, plan_windows, shift_segment

log = logging.getLogger("vtxlib.asr")

DEFAULT_MODEL = "nvidia/parakeet-tdt-0.6b-v2"
EUROPEAN_25 = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "hr", "hu", "it", "lt",
               "lv", "mt", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "uk")


@dataclass(frozen=True)
class ModelProfile:
    languages: tuple[str, ...]
    local_attention: bool       # FastConformer encoder that supports rel_pos_local_attn
    max_window_seconds: float   # longest window the model handles well
    prompted: bool = False      # Canary: needs source/target language prompts


KNOWN_MODELS = {
    "nvidia/parakeet-tdt-0.6b-v2": ModelProfile(("en",), True, 1440.0),
    "nvidia/parakeet-tdt-0.6b-v3": ModelProfile(EUROPEAN_25, True, 1440.0),
    "nvidia/canary-1b-flash": ModelProfile(("en", "de", "es", "fr"), False, 40.0, prompted=True),
}
TEXT_ONLY_MODELS = {
    "nvidia/canary-qwen-2.5b": "is a speech-LLM (SALM) whose generate() API returns text only, "
                               "with no word timestamps",
}
DEFAULT_PROFILE = ModelProfile((), True, 1440.0)

# Memory of a full-attention pass: a fixed part plus temporaries of a*s + b*s^2 bytes for s seconds
# of audio (the encoder runs at 12.5 frames/s and its attention holds several frames x frames
# matrices per head, hence the square). Fixed: fp32 weights of 0.6 B parameters (2.4 GB), their
# half-precision copies cached by autocast (1.2 GB) and the CUDA context: 4 GiB.
# fp32 attention: measured with Parakeet-TDT 0.6B's shapes (random weights) on the CPU in fp32,
#   peak RSS at 60/120/240 s (bench/gpu_smoke.py --real-size --jobs asr_full): a = 5.9 MiB/s,
#   b = 14.8 KiB/s^2; times 1.25 for what GPU kernels and allocator add. See docs/gpu_tier.md.
# bf16 attention: 12 GiB of temporaries at 600 s reported for NeMo's (emulated) bf16 attention on a
#   T4 (issue 12), taken as all quadratic. With it the model card's 24 min in one pass on an 80 GB
#   A100 comes out right: 4 GiB + (1440/600)^2 * 12 GiB = 73 GiB.
FULL_ATTENTION_TEMPORARIES = {"fp32": (1.25 * 5.87 * 2**20, 1.25 * 14.8 * 2**10),
                              "bf16": (0.0, 12 * 2**30 / 600**2)}
FIXED_RESERVE_BYTES = 4 * 2**30
USABLE_FRACTION = 0.9  # the allocator's fragmentation and other processes' share
CPU_FULL_ATTENTION_SECONDS = 600.0  # off-GPU the limit is RAM and time, not a device's memory
MIN_RETRY_WINDOW_SECONDS = 60.0  # out of memory below this window: give up with a clear message


def full_attention_limit(total_bytes: Optional[int], attention_precision: str,
                         max_seconds: float = 1440.0) -> float:
    """Longest audio (s) one full-attention pass fits in a GPU of ``total_bytes``; 0 when even a
    short pass does not. ``attention_precision`` is "bf16" or "fp32" (what the attention runs in)."""
    if total_bytes is None:
        return min(CPU_FULL_ATTENTION_SECONDS, max_seconds)
    budget = USABLE_FRACTION * total_bytes - FIXED_RESERVE_BYTES
    if budget <= 0:
        return 0.0
    linear, quadratic = FULL_ATTENTION_TEMPORARIES[attention_precision]
    seconds = (-linear + (linear ** 2 + 4 * quadratic * budget) ** 0.5) / (2 * quadratic)
    return min(max_seconds, float(int(seconds)))


@dataclass(frozen=True)
class Strategy:
    """How one transcription walks the audio: the encoder's attention and the window length
    (None: the whole file in one pass)."""

    attention: str  # "full" | "local"
    window_seconds: Optional[float] = None

    def describe(self) -> str:
        where = "one pass" if self.window_seconds is None else f"{self.window_seconds:.0f} s windows"
        return f"{self.attention} attention, {where}"


class NemoAsrOptions(OptionsModel):
    model: str = DEFAULT_MODEL
    device: str = "auto"                      # auto | cuda | cpu
    half_precision: bool = True               # bf16 autocast where native, fp16 before (T4)
    long_audio: str = "local_attention"       # local_attention | chunk
    # one full-attention pass up to this length; None: from the GPU's memory (full_attention_limit)
    full_attention_max_seconds: Optional[float] = None
    window_seconds: float = 1200.0            # local_attention: window length for longer files
    chunk_seconds: float = 300.0              # chunk: window length (Canary: capped at 40 s)
    overlap_seconds: float = 10.0
    batch_size: int = 1
    language: Optional[str] = None            # Canary source language; None -> first supported
    word_confidence: bool = True              # per-word probability from token max-probs

    def model_post_init(self, _context: Any) -> None:
        if self.long_audio not in ("local_attention", "chunk"):
            raise InputError(f"long_audio must be 'local_attention' or 'chunk', got {self.long_audio!r}")
        if self.model in TEXT_ONLY_MODELS:
            raise BackendUnavailable(
                f"{self.model} {TEXT_ONLY_MODELS[self.model]}, which subtitles and speaker alignment "
                f"need; choose {', '.join(KNOWN_MODELS)}.")

    @property
    def profile(self) -> ModelProfile:
        return KNOWN_MODELS.get(self.model, DEFAULT_PROFILE)


# ---------------------------------------------------------------------------------- loading ----
def load_nemo_model(name: str, cache_dir: Optional[Path] = None, token: Optional[str] = None):
    """Restore an ASR model from a local ``.nemo`` file or a Hugging Face model id (on CPU)."""
    try:
        from nemo.collections.asr.models import ASRModel
    except ImportError as e:
        raise missing_dependency("nemo_toolkit[asr]", "gpu", "The 'nemo' ASR backend") from e
    return restore_nemo(ASRModel, name, cache_dir, token)


def restore_nemo(model_class, name: str, cache_dir: Optional[Path] = None, token: Optional[str] = None):
    """``model_class`` from a local ``.nemo`` file, or from the hub's ``<name>.nemo`` (cached), or
    through NeMo's own ``from_pretrained`` when the repository holds no single ``.nemo`` file."""
    if name.endswith(".nemo"):
        if not Path(name).is_file():
            raise InputError(f"NeMo checkpoint not found: {name}")
        return model_class.restore_from(name, map_location="cpu")
    _fail_fast_when_offline(name, cache_dir)
    checkpoint = fetch_nemo_checkpoint(name, cache_dir, token)
    if checkpoint is None:
        with _hub_errors(name):
            return model_class.from_pretrained(name, map_location="cpu")
    return model_class.restore_from(checkpoint, map_location="cpu")


def _fail_fast_when_offline(name: str, cache_dir: Optional[Path]) -> None:
    """Not cached and the hub unreachable: say so now, not after huggingface_hub's retries."""
    from ..gpu import hub_file_cached
    from ..hub import fail_fast_when_offline

    cached = hub_file_cached(name, name.rsplit("/", 1)[-1] + ".nemo", cache_dir)
    fail_fast_when_offline(f"the NeMo model {name}", cached, cache_dir, "--asr whisper-cpu")


def fetch_nemo_checkpoint(name: str, cache_dir: Optional[Path], token: Optional[str]) -> Optional[str]:
    """Path of ``<name>.nemo`` in the cache, downloading it if needed; None if the repo has none."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    filename = name.rsplit("/", 1)[-1] + ".nemo"
    with _hub_errors(name, cache_dir):
        try:
            return hf_hub_download(repo_id=name, filename=filename, token=token, library_name="nemo",
                                   cache_dir=str(cache_dir) if cache_dir else None)
        except EntryNotFoundError as e:
            if isinstance(e, LocalEntryNotFoundError):
                raise
            return None


def _hub_errors(name: str, cache_dir: Optional[Path] = None):
    """Turn Hugging Face download failures into one actionable line."""
    from ..hub import hub_errors

    known = ", ".join(KNOWN_MODELS)
    return hub_errors(name, "--asr whisper-cpu", f"the NeMo model {name}", cache_dir,
                      not_found=lambda: BackendUnavailable(f"no model named '{name}' on Hugging Face (or it is "
                                                           f"private); known NeMo ASR models: {known}"))


# ------------------------------------------------------------------------------ the backend ----
class NemoAsr:
    name = "nemo"

    def __init__(self, options: Optional[NemoAsrOptions] = None, cache_dir: Optional[Path] = None,
                 model=None, token: Optional[str] = None):
        self.options = options or NemoAsrOptions()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._token = token
        self._model = model
        self._device: Optional[str] = None
        self._attention = "full"
        self.precision = "fp32"  # what really runs: fp32 | fp16 | bf16 (set when the model is placed)

    def options_dict(self) -> dict:
        return self.options.model_dump(mode="json")

    def model_files(self) -> list[Path]:
        """A local ``.nemo`` checkpoint (its checksum is part of the cache key); hub models are
        named by the model option."""
        return [Path(self.options.model)] if str(self.options.model).endswith(".nemo") else []

    # -- model ---------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            log.info("loading NeMo model %s", self.options.model)
            self._model = load_nemo_model(self.options.model, self.cache_dir, self._token)
        if self._device is None:
            self._prepare_model()
        return self._model

    def _prepare_model(self) -> None:
        self._device = gpu.resolve_device(self.options.device)
        self._model.eval()
        self._model.to(self._device)
        if self.options.word_confidence:
            _enable_word_confidence(self._model)
        self.precision = gpu.choose_precision(gpu.compute_capability(self._device), self.options.half_precision)
        log.info("NeMo model on %s, %s", self._device, self.precision_note())

    def precision_note(self) -> str:
        """What really runs, for the log (and the benchmark)."""
        return {"fp32": "fp32",
                "bf16": "bf16 autocast (native bf16)",
                "fp16": "fp16 autocast, attention in fp32 (no native bf16 on this GPU: compute capability "
                        f"{'.'.join(map(str, gpu.compute_capability(self._device or 'cpu') or ()))})"}[self.precision]

    @property
    def _attention_precision(self) -> str:
        return "bf16" if self.precision == "bf16" else "fp32"

    def full_attention_seconds(self) -> float:
        """Longest audio transcribed in one full-attention pass: the option, or what the GPU's memory
        allows (:meth:`memory_limit_seconds`)."""
        limit = self.options.full_attention_max_seconds
        if limit is None:
            limit = self.memory_limit_seconds()
        return min(limit, self.options.profile.max_window_seconds)

    def memory_limit_seconds(self) -> float:
        """Longest full-attention pass this device's memory holds (:func:`full_attention_limit`)."""
        return full_attention_limit(gpu.total_gpu_memory_bytes(self._device or "cpu"), self._attention_precision,
                                    self.options.profile.max_window_seconds)

    def model_version(self) -> str:
        try:
            import nemo
            return f"nemo {nemo.__version__}"
        except ImportError:
            return "nemo"

    # -- transcription -------------------------------------------------------------------
    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None) -> Transcript:
        """Transcribe ``audio``; out of GPU memory, retry with local attention or shorter windows.

        On any other failure the model is released (and the traceback's frames are cleared) so that
        a retry in the same notebook does not find the GPU still full."""
        try:
            self.model  # load and place it first: the strategy depends on the device
            strategy = self.strategy(audio.duration)
            while True:
                failure = None
                try:
                    segments = self._transcribe_with(audio, strategy, progress)
                    break
                except Exception as e:
                    if not gpu.is_out_of_memory(e):
                        raise
                    gpu.drop_traceback_locals(e)
                    failure = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                strategy = self._after_out_of_memory(strategy, audio.duration, failure)
        except BaseException as e:
            self.close()
            gpu.drop_traceback_locals(e)
            raise
        return Transcript(segments=segments, language=self._language(), backend=self.name,
                          model=self.options.model, model_version=self.model_version())

    def _after_out_of_memory(self, strategy: Strategy, duration: float, failure: str) -> Strategy:
        gpu.free_gpu_memory()
        smaller = self.smaller_strategy(strategy, duration)
        if smaller is None:
            raise BackendUnavailable(
                f"NeMo ran out of GPU memory with {strategy.describe()} ({failure}); free the GPU (restart "
                f"the runtime) or use a larger GPU")
        log.warning("NeMo ran out of GPU memory with %s; retrying with %s", strategy.describe(), smaller.describe())
        return smaller

    def _transcribe_with(self, audio: AudioFile, strategy: Strategy,
                         progress: Optional[ProgressFn]) -> list[Segment]:
        model = self.model
        windows = self.plan(audio.duration, strategy)
        self._set_attention(model, strategy.attention)
        log.info("NeMo: %.1f s of audio in %d window(s), %s attention, %s", audio.duration, len(windows),
                 self._attention, self.precision_note())
        per_window = []
        done = 0.0
        for batch in _batched(windows, max(1, self.options.batch_size)):
            hyps = self._run(model, [_read_window(audio.path, w) for w in batch])
            for window, hyp in zip(batch, hyps):
                segments = hypothesis_to_segments(hyp, window.duration)
                per_window.append((window, [shift_segment(s, window.start) for s in segments]))
                done = max(done, window.keep_end)
            if progress:
                progress(min(done, audio.duration), audio.duration)
        return clip_segments(merge_windows(per_window), audio.duration)

    def strategy(self, duration: float) -> Strategy:
        """One full-attention pass up to :meth:`full_attention_seconds`; longer, local-attention
        windows (``long_audio="local_attention"``) or full-attention chunks (``"chunk"``)."""
        opts, profile = self.options, self.options.profile
        limit = self.full_attention_seconds()
        if duration <= limit:
            return Strategy("full")
        if opts.long_audio == "local_attention" and profile.local_attention:
            return Strategy("local", opts.window_seconds)
        # full-attention chunks must fit the device too, whatever the one-pass option says
        return Strategy("full", min(opts.chunk_seconds, profile.max_window_seconds,
                                    max(self.memory_limit_seconds(), 20.0)))

    def smaller_strategy(self, strategy: Strategy, duration: float) -> Optional[Strategy]:
        """What to try after running out of memory with ``strategy`` (None: nothing smaller)."""
        profile = self.options.profile
        if strategy.attention == "full" and strategy.window_seconds is None and profile.local_attention:
            return Strategy("local", min(self.options.window_seconds, max(duration, MIN_RETRY_WINDOW_SECONDS)))
        current = strategy.window_seconds or duration
        smaller = current / 2
        floor = MIN_RETRY_WINDOW_SECONDS if strategy.attention == "local" else 20.0
        return Strategy(strategy.attention, smaller) if smaller >= floor else None

    def plan(self, duration: float, strategy: Optional[Strategy] = None) -> list[AsrWindow]:
        """How the audio will be cut: one pass, local-attention windows or short chunks."""
        strategy = strategy or self.strategy(duration)
        if strategy.window_seconds is None or duration <= strategy.window_seconds:
            return plan_windows(duration, duration + 1.0, 0.0)
        window = strategy.window_seconds
        return plan_windows(duration, window, min(self.options.overlap_seconds, window / 4))

    def _set_attention(self, model, mode: str) -> None:
        if mode == self._attention or not hasattr(model, "change_attention_model"):
            return
        if mode == "local":
            model.change_attention_model("rel_pos_local_attn", [256, 256])
            model.change_subsampling_conv_chunking_factor(1)  # subsampling convs in chunks: less memory
        else:
            model.change_attention_model("rel_pos", [-1, -1])
        self._attention = mode

    def _run(self, model, arrays: list[np.ndarray]) -> list:
        import torch

        kwargs: dict[str, Any] = {"batch_size": len(arrays), "return_hypotheses": True,
                                  "timestamps": True, "verbose": False, "num_workers": 0}
        if self.options.profile.prompted:
            lang = self._language()
            kwargs.update(source_lang=lang, target_lang=lang, pnc="yes")
        with torch.inference_mode(), self._precision_context():
            result = model.transcribe(arrays, **kwargs)
        if isinstance(result, tuple):  # RNNT models of older NeMo: (best, all)
            result = result[0]
        return list(result)

    def _precision_context(self):
        import torch

        if self.precision == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if self.precision == "fp16":
            stack = contextlib.ExitStack()
            stack.enter_context(gpu.native_bf16_only())
            stack.enter_context(torch.autocast(device_type="cuda", dtype=torch.float16))
            return stack
        return contextlib.nullcontext()

    def _language(self) -> Optional[str]:
        languages = self.options.profile.languages
        if self.options.language:
            if languages and self.options.language not in languages:
                raise InputError(f"{self.options.model} supports {', '.join(languages)}; "
                                 f"got language {self.options.language!r}")
            return self.options.language
        return languages[0] if len(languages) == 1 or self.options.profile.prompted else None

    def close(self) -> None:
        self._model = None
        self._device = None
        gpu.free_gpu_memory()


# ----------------------------------------------------------------- hypothesis -> Transcript ----
def hypothesis_to_segments(hyp, duration: float) -> list[Segment]:
    """Convert one NeMo ``Hypothesis`` (transcribed with ``timestamps=True``) to segments of words.

    Words come from ``hyp.timestamp['word']`` (seconds), probabilities from ``hyp.word_confidence``
    when it is aligned with them; segments from ``hyp.timestamp['segment']``, each taking the words
    whose centre falls inside it. Times are clipped to ``[0, duration]`` and made monotonic."""
    stamps = getattr(hyp, "timestamp", None) or {}
    words = _words_from_stamps(stamps.get("word") or [], getattr(hyp, "word_confidence", None), duration)
    spans = [(float(s["start"]), float(s["end"]), str(s.get("segment", "")).strip())
             for s in stamps.get("segment") or []]
    return _group_into_segments(words, spans)


def _words_from_stamps(stamps: list[dict], confidence, duration: float) -> list[Word]:
    probs = _as_floats(confidence)
    if probs is not None and len(probs) != len(stamps):
        probs = None
    words: list[Word] = []
    last_start = 0.0
    for i, item in enumerate(stamps):
        text = str(item.get("word", "")).strip()
        if not text:
            continue
        start = min(max(float(item["start"]), last_start, 0.0), duration)
        end = min(max(float(item["end"]), start), duration)
        words.append(Word(text=text, start=round(start, 3), end=round(end, 3),
                          prob=None if probs is None else round(probs[i], 4)))
        last_start = start
    return words


def _group_into_segments(words: list[Word], spans: list[tuple[float, float, str]]) -> list[Segment]:
    if not words:
        return []
    if not spans:
        return [_segment_of(words)]
    segments, i = [], 0
    for n, (_, end, _) in enumerate(spans):
        last = n == len(spans) - 1
        group = []
        while i < len(words) and (last or (words[i].start + words[i].end) / 2 <= end):
            group.append(words[i])
            i += 1
        if group:
            segments.append(_segment_of(group))
    return segments


def _segment_of(words: list[Word]) -> Segment:
    return Segment(text=" ".join(w.text for w in words), start=words[0].start, end=words[-1].end,
                   words=list(words))


def clip_segments(segments: list[Segment], duration: float) -> list[Segment]:
    """Final guard after merging: words in time order and inside the audio."""
    out, last = [], 0.0
    for seg in segments:
        words = []
        for w in seg.words:
            start = min(max(w.start, last), duration)
            words.append(Word(w.text, start, min(max(w.end, start), duration), w.prob, w.speaker))
            last = start
        if words:
            out.append(Segment(seg.text, words[0].start, max(w.end for w in words), words))
    return out


def _as_floats(values) -> Optional[list[float]]:
    if values is None:
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _enable_word_confidence(model) -> None:
    """Ask the decoder for per-word confidence: the product of the tokens' max probabilities."""
    from omegaconf import open_dict

    if not hasattr(model, "change_decoding_strategy") or "decoding" not in model.cfg:
        return
    decoding = model.cfg.decoding
    with open_dict(decoding):
        decoding.confidence_cfg = {"preserve_frame_confidence": True, "preserve_token_confidence": True,
                                   "preserve_word_confidence": True, "aggregation": "prod",
                                   "exclude_blank": True,
                                   "method_cfg": {"name": "max_prob", "alpha": 1.0}}
    try:
        model.change_decoding_strategy(decoding, verbose=False)
    except TypeError:  # decoders whose change_decoding_strategy has no `verbose`
        model.change_decoding_strategy(decoding)
    except Exception as e:  # confidence is optional; timings matter more than probabilities
        log.warning("word confidence unavailable for this model (%s); words get no probability", e)


# ---------------------------------------------------------------------------------- audio -----
def _read_window(path: str, window: AsrWindow, sample_rate: int = 16000) -> np.ndarray:
    """Read only this window's samples, so a long file never sits in memory whole."""
    import soundfile as sf

    with sf.SoundFile(path) as f:
        if f.samplerate != sample_rate:
            raise InputError(f"{path} is {f.samplerate} Hz; the nemo backend expects the 16 kHz wav "
                             f"made by the audio stage")
        f.seek(int(round(window.start * sample_rate)))
        frames = int(round(window.duration * sample_rate))
        data = f.read(frames, dtype="float32", always_2d=True)
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]


def _batched(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
