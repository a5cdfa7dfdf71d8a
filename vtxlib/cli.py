"""Command line: ``python -m vtxlib run SOURCE ...`` and friends.

Expected failures (bad input, offline, missing credentials, a full disk or an unwritable folder)
print one line and exit 1; a run that finished with a stage that did not do its work (it is named
in the summary) exits 3; ``serve`` on a port already in use exits 4; output cut short by a closed
pipe (``run ... | head -1``) ends quietly; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from . import __version__
from .errors import VtxError
from .validate import MAX_SPEAKERS, check_speaker_counts, check_writable_dir, describe_os_error, os_error_in_chain

log = logging.getLogger("vtxlib.cli")

EXIT_INCOMPLETE = 3  # the run finished, but a stage did not do its work (see the summary)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vtxlib",
                                     description="Speaker-attributed, precisely timed transcripts and subtitles.")
    parser.add_argument("--version", action="version", version=f"vtxlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub.add_parser("run", help="transcribe one video/audio file or URL into subtitles"))
    _add_schema(sub.add_parser("schema", help="write (or --check) the JSON Schema of transcript.json"))
    for module in _EXTRA_COMMANDS:
        module_commands = _load(module)
        if module_commands is not None:
            module_commands.add_parser(sub)
    return parser


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


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


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="http(s) URL of one video, or a path to a video/audio file")
    p.add_argument("--out", type=Path, default=None, help="write DIR/<media_id>/transcript.* (default: workspace/outputs)")
    add_pipeline_arguments(p, run=True)
    _add_common(p)
    p.set_defaults(handler=cmd_run)


def _add_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None,
                   help="write it to this file (default: standard output)")
    p.add_argument("--check", action="store_true", help="exit 1 when --out differs from the current schema")
    p.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from .types import transcript_schema_text

    text = transcript_schema_text()
    if args.check:
        if args.out is None:
            raise VtxError("--check needs --out FILE")
        if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"error: {args.out} is not the current schema; run "
                             f"`python -m vtxlib schema --out {args.out}`\n")
            return 1
        return 0
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline
    from .progress import TqdmHook
    from .workspace import Workspace

    options = pipeline_options_from_args(args)
    if args.out is not None:  # before any work: a bad --out must not cost a whole run
        check_writable_dir(args.out, "--out")
    workspace = Workspace(args.workspace)
    check_writable_dir(workspace.root, "the workspace")
    with Pipeline(workspace, options, hook=TqdmHook(disable=args.quiet or not sys.stderr.isatty())) as pipeline:
        result = pipeline.run(args.source, out_dir=args.out)
    sys.stdout.write(result.summary() + "\n")
    for name, path in sorted(result.outputs.items()):
        sys.stdout.write(f"  {name:<6} {path}\n")
    return EXIT_INCOMPLETE if result.incomplete else 0


_EXTRA_COMMANDS: list[str] = ["upload_cli", "batch_cli", "live", "service"]


def _load(module: str):
    import importlib

    try:
        return importlib.import_module(f".{module}", __package__)
    except ImportError as e:  # an optional command whose libraries are absent
        log.debug("command module %s unavailable: %s", module, e)
        return None


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("vtxlib").setLevel(level)
    if verbose == 0:
        # warnings from vtxlib itself are worth seeing; third-party chatter is not
        logging.getLogger("vtxlib").setLevel(logging.WARNING)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away


def _detach_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout: nothing to flush at exit either
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "verbose", 0))
    try:
        code = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe can still be caught, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader stopped early (`run ... | head -1`): the work is done
        _detach_stdout()
        return EXIT_BROKEN_PIPE
    except VtxError as e:
        sys.stderr.write(f"error: {e}\n")
        return getattr(e, "exit_code", 1)
    except Exception as e:  # a full disk or an unwritable folder is the machine's problem, not a bug
        disk = os_error_in_chain(e)
        if disk is None:
            raise
        sys.stderr.write(f"error: {describe_os_error(disk)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished stages are cached; rerun the same command to resume\n")
        return 130
