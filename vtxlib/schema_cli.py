"""The ``schema`` command: ``python -m vtxlib schema [--out FILE [--check]]``, the JSON Schema of transcript.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import VtxError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("schema", help="write (or --check) the JSON Schema of transcript.json")
    p.add_argument("--out", type=Path, default=None,
                   help="write it to this file (default: standard output)")
    p.add_argument("--check", action="store_true", help="exit 1 when --out differs from the current schema")
    p.set_defaults(func=cmd_schema)


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
