"""The ``batch`` command: ``python -m vtxlib batch INPUT [--engine local|ray]``.

Apart from :mod:`vtxlib.batch` (the batch folder, status table and the notebook engine) and
:mod:`vtxlib.batch_ray` (the Ray engine, built on the former) because it picks between the two.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

from . import batch
from .batch import (
    DEFAULT_NOTEBOOKS,
    ENGINES,
    KERNEL_MODES,
    NOTEBOOK_DIR,
    BatchOptions,
    BatchReport,
    parameters_from_args,
    run_batch,
)
from .batch_ray import add_arguments as add_ray_arguments
from .batch_ray import check_engine_arguments, run_from_args
from .cli_options import add_pipeline_arguments
from .workspace import Workspace

DESCRIPTION = (batch.__doc__ or "").split("\n\n")[0]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("batch", help="run the notebooks headless over a list of sources or a playlist",
                              description=DESCRIPTION)
    p.add_argument("input", help="text file (one source a line), CSV file (a 'source' column) or playlist URL")
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("--notebooks", default=",".join(DEFAULT_NOTEBOOKS),
                   help="comma-separated notebook names to run per source, in order")
    p.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR, help="where the notebooks are")
    p.add_argument("--kernel", choices=KERNEL_MODES, default="batch",
                   help="batch: one kernel for all sources, models load once (default); "
                        "notebook: a fresh kernel per notebook")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="extra notebook parameter (VALUE parsed as JSON when it can be), e.g. DRY_RUN=true")
    p.add_argument("--name", default=None, help="batch folder name under <workspace>/batch")
    p.add_argument("--no-retry-failed", action="store_true", help="on a rerun, leave failed sources alone")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds one notebook cell may run")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help="only the final table")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: the notebooks on this machine (default); ray: the pipeline on a Ray cluster")
    add_pipeline_arguments(p)
    add_ray_arguments(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    check_engine_arguments(args, {"notebooks": ",".join(DEFAULT_NOTEBOOKS), "notebook_dir": NOTEBOOK_DIR,
                                  "kernel": "batch", "param": [], "cell_timeout": None})
    echo = (lambda line: None) if args.quiet else (lambda line: sys.stdout.write(line + "\n") or sys.stdout.flush())
    if args.engine == "ray":
        report = run_from_args(args, Workspace(args.workspace), echo)
    else:
        report = _run_notebooks(args, echo)
    sys.stdout.write(report.table() + "\n" + report.throughput() + "\n" + f"status: {report.folder}\n")
    return 1 if report.failed else 0


def _run_notebooks(args: argparse.Namespace, echo: Callable[[str], None]) -> BatchReport:
    notebooks = tuple(n.strip().removesuffix(".ipynb") for n in args.notebooks.split(",") if n.strip())
    options = BatchOptions(notebooks=notebooks, notebook_dir=args.notebook_dir, kernel=args.kernel,
                           parameters=parameters_from_args(args), name=args.name,
                           retry_failed=not args.no_retry_failed, cell_timeout_s=args.cell_timeout)
    # jupyter_client's clients are dropped after each notebook; their "could not destroy zmq context"
    # warnings are noise here
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    return run_batch(args.input, Workspace(args.workspace), options, echo=echo)


if __name__ == "__main__":  # the command is a subcommand of python -m vtxlib
    sys.exit("error: run batches with: python -m vtxlib batch LIST [options] (see --help)")
