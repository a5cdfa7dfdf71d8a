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
from typing import Optional

from . import __version__, batch_cli, run_cli, schema_cli, upload_cli
from .cli_options import CLI_FLAGS, EXTRA_HELP, add_pipeline_arguments, pipeline_options_from_args
from .errors import VtxError
from .live import cli as live_cli
from .run_cli import EXIT_INCOMPLETE
from .service import cli as serve_cli
from .validate import describe_os_error, os_error_in_chain

__all__ = ["main", "build_parser", "configure_logging", "COMMANDS", "EXIT_INCOMPLETE", "EXIT_BROKEN_PIPE",
           # the shared flags, for the callers that import them from here
           "CLI_FLAGS", "EXTRA_HELP", "add_pipeline_arguments", "pipeline_options_from_args"]

#: Every command's module, in the order ``--help`` lists them. Each has ``add_parser(subparsers)``,
#: which adds its subcommand and sets ``func``, the function that runs it and returns the exit code.
COMMANDS = (run_cli, schema_cli, upload_cli, batch_cli, live_cli, serve_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vtxlib",
                                     description="Speaker-attributed, precisely timed transcripts and subtitles.")
    parser.add_argument("--version", action="version", version=f"vtxlib {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


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
        code = args.func(args)
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
