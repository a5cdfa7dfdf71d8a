"""The options of a run (:class:`PipelineOptions`): the one list the CLI arguments, the batch
runner's per-row options and the notebook parameters are made from. Re-exported by
:mod:`vtxlib.pipeline`."""

from __future__ import annotations

import typing
from typing import Any, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator

from .diarize.base import SpeakerCount
from .errors import InputError
from .language import AUTO, normalise_language
from .types import OptionsModel

STAGES = ("acquire", "audio", "speech", "language", "asr", "diarize", "align", "emotion", "enhance", "subtitles",
          "translate", "upload")

AsrChoice = Literal["auto", "whisper-cpu", "nemo", "assemblyai", "gemini"]  # vtxlib.asr.ASR_BACKENDS
DiarizerChoice = Literal["auto", "embedded", "pyannote", "sortformer", "assemblyai"]  # vtxlib.diarize.DIARIZERS
EmotionChoice = Literal["auto", "embedded", "speechbrain", "off"]
EnhanceChoice = Literal["off", "auto", "gemini"]
VisibleSpeakerChoice = Literal["auto", "off", "name", "chevrons"]
StageName = Literal[STAGES]  # the same names, as the type --force takes
TranslatorChoice = Literal["auto", "gemini", "whisper", "canary"]  # vtxlib.translate.TRANSLATORS


class PipelineOptions(OptionsModel):
    """Every option of a run: the one list the CLI arguments, the batch runner's per-row options
    and the notebook parameters are made from (see :func:`option_names`)."""

    asr: AsrChoice = Field("auto", description="speech recognition backend (auto: nemo on a GPU, else whisper-cpu; "
                           "with --allow-cloud the hosted ones first, falling back in order: docs/asr_cloud.md)")
    allow_cloud: bool = Field(False, description="allow sending the audio to a hosted recognizer (AssemblyAI, "
                              "Gemini) when its key is set; without it nothing leaves the machine")
    cloud_dry_run: bool = Field(False, description="write and show the requests the hosted recognizers would "
                                "get (cloud-requests.json) and send nothing; needs no --allow-cloud")
    asr_model: Optional[str] = Field(None, description="ASR model name or local path (default or auto: chosen "
                                     "for the language: tiny.en/base on the CPU, Parakeet v2/v3 or Whisper "
                                     "large-v3-turbo on a GPU)")
    language: str = Field(AUTO, description="spoken language: auto (identified from the speech) or a Whisper "
                          "language code such as en, es, de, ja to force it")
    diarizer: DiarizerChoice = Field("auto", description="diarization backend (auto: pyannote on a GPU "
                                     "with an HF token, else embedded; with --asr assemblyai its speaker labels)")
    diarizer_model: Optional[str] = Field(None, description="diarization model name or local path")
    num_speakers: Optional[int] = Field(None, description="exact number of speakers, if known")
    min_speakers: Optional[int] = Field(None, description="at least this many speakers")
    max_speakers: Optional[int] = Field(None, description="at most this many speakers")
    emotion: EmotionChoice = Field("auto", description="emotion backend; off skips the stage")
    enhance: EnhanceChoice = Field("off", description="LLM cleanup/summary: off, auto (gemini when a key "
                                   "is set), gemini (needs a key)")
    enhance_model: Optional[str] = Field(None, description="Gemini model name (default: $VTX_GEMINI_MODEL, else "
                                         "gemini-flash-latest, Google's alias for its current Flash model)")
    report: bool = Field(True, description="write report.html next to the subtitles")
    translate: Optional[str] = Field(None, description="translated caption tracks: target language codes, "
                                     "comma-separated (e.g. en,fr); writes transcript.<lang>.vtt/.srt")
    translator: TranslatorChoice = Field("auto", description="translation backend: auto (gemini with a key, "
                                         "canary on a GPU for its pairs, else whisper for English), gemini, "
                                         "whisper (into English, offline), canary (GPU)")
    speaker_names: dict[str, str] = Field(default_factory=dict, description="SPEAKER_00 -> display name, "
                                          "shown in the outputs")
    voices: Optional[str] = Field(None, description="a folder of enrolled voices (Alice.wav, 'Bob Smith.mp3', "
                                  "Carol/*.wav): matching speakers get those names (docs/voices.md); names "
                                  "in speaker_names take precedence")
    # GPU-tier models are released after their stage (a 15 GB T4 holds ASR, diarization and emotion
    # models one after another); False keeps them loaded across runs, e.g. for a batch on a big GPU.
    free_gpu_between_stages: bool = Field(True, description="release each GPU model after its stage")
    upload_video: Optional[str] = Field(None, description="YouTube video id/URL to upload the captions to, "
                                        "or 'source' for the transcribed URL")
    upload_dry_run: bool = Field(False, description="write the upload request instead of sending it")
    upload_language: Optional[str] = Field(None, description="the original caption track's language (default: "
                                           "the transcript's); translated tracks carry their own")
    upload_client_secrets: Optional[str] = Field(None, description="OAuth client secrets file (default "
                                                 "<workspace>/secrets/client_secret.json)")
    visible_speaker: VisibleSpeakerChoice = Field("auto", description="speaker names as visible VTT text on "
                                                  "a speaker change (players do not show <v> names): name = "
                                                  "'Alice: ...', chevrons = '>> ALICE: ...' (YouTube's style), "
                                                  "auto = chevrons when uploading to YouTube, else off")
    cookies: Optional[str] = Field(None, description="a cookies.txt file (Netscape format, exported from a "
                                   "browser signed in to the site) for yt-dlp, for sites that ask to sign in "
                                   "(YouTube's \"confirm you're not a bot\"); default: <workspace>/secrets/"
                                   "cookies.txt when it exists")
    force: Optional[StageName] = Field(None, description="recompute this stage and every stage after it")

    @field_validator("language", mode="before")
    @classmethod
    def _language_code(cls, value: Any) -> str:
        return normalise_language(value)

    @field_validator("translate", mode="before")
    @classmethod
    def _language_list(cls, value: Any) -> Any:
        if value is None:
            return None
        from .translate import parse_languages

        codes = parse_languages(",".join(value) if isinstance(value, (list, tuple)) else str(value))
        return ",".join(codes) or None

    def translate_targets(self) -> list[str]:
        from .translate import parse_languages

        return parse_languages(self.translate)

    @field_validator("asr", "diarizer", "emotion", "enhance", "translator", "visible_speaker", "force", mode="before")
    @classmethod
    def _known_choice(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = typing.get_args(typing.get_args(cls.model_fields[info.field_name].annotation)[0]) \
            if info.field_name == "force" else typing.get_args(cls.model_fields[info.field_name].annotation)
        if value is not None and value not in allowed:
            what = "--force" if info.field_name == "force" else f"unknown {info.field_name} backend"
            raise InputError(f"{what} {value!r}: expected one of {', '.join(allowed)}")
        return value

    def model_post_init(self, _context: Any) -> None:
        self.speaker_count()  # validates the counts

    def subtitle_options(self):
        from .subtitles import SubtitleOptions

        visible = self.visible_speaker
        if visible == "auto":
            visible = "chevrons" if self.upload_video else "off"
        return SubtitleOptions(visible_speaker=visible)

    def speaker_count(self) -> SpeakerCount:
        return SpeakerCount(num_speakers=self.num_speakers, min_speakers=self.min_speakers,
                            max_speakers=self.max_speakers)

    def replace(self, **changes: Any) -> "PipelineOptions":
        """A validated copy with CHANGES (raises InputError for an unknown or bad option)."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise InputError(f"unknown option(s) {', '.join(unknown)}; expected one of {', '.join(option_names())}")
        return type(self)(**{**self.model_dump(), **changes})


UPLOAD_OPTIONS = ("upload_video", "upload_dry_run", "upload_language", "upload_client_secrets")
CODE_OPTIONS = ("speaker_names", "free_gpu_between_stages")  # set in code, not in a form or on the CLI


def option_names(kind: Literal["all", "cli", "notebook"] = "all") -> list[str]:
    """The pipeline options, in PipelineOptions order: "all"; "cli", those every command takes
    (``run`` adds the upload options), which the batch runner passes on as notebook parameters
    (the name in capitals); "notebook", those a notebook form may set (the CLI's but ``force``,
    which a notebook takes as its own parameter)."""
    names = list(PipelineOptions.model_fields)
    if kind == "all":
        return names
    names = [n for n in names if n not in UPLOAD_OPTIONS + CODE_OPTIONS]
    return names if kind == "cli" else [n for n in names if n != "force"]
