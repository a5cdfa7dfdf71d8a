"""Command-line flags shared by the commands: one per pipeline option, made from
:class:`~vtxlib.pipeline.PipelineOptions`, and the options read back from them."""

from __future__ import annotations

import argparse
from typing import Optional

from .validate import MAX_SPEAKERS, check_speaker_counts

#: Options whose command-line flag is not ``--name-with-dashes``
CLI_FLAGS = {"report": "--no-report", "upload_video": "--upload", "upload_client_secrets": "--client-secrets"}
#: Help beyond the option's description
EXTRA_HELP = {"asr_model": "auto (default): chosen for the language (docs/languages.md); whisper-cpu: tiny.en "
                           "(English), base (multilingual), large-v3-turbo (downloaded) or a CTranslate2 folder; "
                           "nemo: a NeMo model name; assemblyai: its speech model (universal); gemini: the model",
              "report": "don't write report.html",
              "upload_video": "then upload the VTT (and each translated track, in its language) to this YouTube "
                              "video (id or URL; 'source' = the URL transcribed)",
              "num_speakers": f"exact number of speakers, if known (1-{MAX_SPEAKERS})",
              "min_speakers": f"lower bound on the number of speakers (1-{MAX_SPEAKERS})",
              "max_speakers": f"upper bound on the number of speakers (1-{MAX_SPEAKERS})"}


def add_pipeline_arguments(p: argparse.ArgumentParser, run: bool = False) -> None:
    """One argument per pipeline option, made from :class:`~vtxlib.pipeline.PipelineOptions`."""
    from .pipeline import UPLOAD_OPTIONS, PipelineOptions, option_names

    for name in option_names("cli") + (list(UPLOAD_OPTIONS) if run else []):
        info = PipelineOptions.model_fields[name]
        flag = CLI_FLAGS.get(name, "--" + name.replace("_", "-"))
        kwargs: dict = {"dest": name, "help": EXTRA_HELP.get(name, info.description)}
        if name == "upload_video":
            kwargs["metavar"] = "VIDEO"
        if name == "translate":
            kwargs["metavar"] = "LANG[,LANG...]"
        choices, kind = _choices_and_type(info.annotation)
        if kind is bool:
            kwargs["action"] = "store_false" if info.default else "store_true"
        else:
            kwargs.update(default=info.default, type=kind)
            if name == "force":
                kwargs["choices"] = choices
            elif choices:  # checked by PipelineOptions, with a one-line error (argparse would print usage)
                kwargs["metavar"] = "{" + ",".join(choices) + "}"
                kwargs["help"] += f" (default {info.default})" if info.default else ""
        p.add_argument(flag, **kwargs)


def _choices_and_type(annotation) -> tuple[Optional[tuple], type]:
    """(Literal choices or None, the value type) of an option's annotation, Optional unwrapped."""
    import types
    import typing

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation), str
    return None, annotation if annotation in (bool, int, float) else str


def pipeline_options_from_args(args: argparse.Namespace):
    from .pipeline import PipelineOptions, option_names

    check_speaker_counts(args.num_speakers, args.min_speakers, args.max_speakers)
    return PipelineOptions(**{name: getattr(args, name) for name in option_names() if hasattr(args, name)})

