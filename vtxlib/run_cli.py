"""The ``run`` command: ``python -m vtxlib run SOURCE [options]`` transcribes one video/audio file or URL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_options import add_pipeline_arguments, pipeline_options_from_args
from .validate import check_writable_dir

EXIT_INCOMPLETE = 3  # the run finished, but a stage did not do its work (see the summary)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="transcribe one video/audio file or URL into subtitles")
    p.add_argument("source", help="http(s) URL of one video, or a path to a video/audio file")
    p.add_argument("--out", type=Path, default=None, help="write DIR/<media_id>/transcript.* (default: workspace/outputs)")
    add_pipeline_arguments(p, run=True)
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)


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
