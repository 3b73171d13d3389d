"""Command line: the same engine, gated as an external executable.

``python -m harness.reference {migrate,open,diagnostics,posture,migrations} --db PATH
[--target N]``. Exit 0 on success (JSON on stdout where there is a result), 1 with
``error_code=<code> <message>`` on stderr when the engine refuses, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.reference.engine import ReferenceEngine
from harness.reference.errors import StorageError

COMMANDS = {
    "migrate": "apply pending migrations (up to --target)",
    "open": "startup path: check, quarantine and restore if corrupt",
    "diagnostics": "print the self-report as one JSON object",
    "posture": "print the pragma values of the application's connection",
    "migrations": "print the shipped migrations as a JSON array",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.reference", description="The reference engine, from the command line."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command, summary in COMMANDS.items():
        sub = commands.add_parser(command, help=summary, description=summary)
        sub.add_argument("--db", type=Path, required=command != "migrations", help="database file")
        if command == "migrate":
            sub.add_argument("--target", type=int, help="last version to apply (default: head)")
    return parser


def run(engine: ReferenceEngine, args: argparse.Namespace) -> object:
    """Do ``args.command``; return what to print as JSON (None: print nothing)."""
    if args.command == "migrate":
        engine.migrate(args.db, args.target)
    elif args.command == "open":
        engine.open(args.db)
    elif args.command == "diagnostics":
        return dataclasses.asdict(engine.diagnostics(args.db))
    elif args.command == "posture":
        return engine.posture(args.db)
    elif args.command == "migrations":
        return [{"version": m.version, "name": m.name, "checksum": m.checksum} for m in engine.migrations()]
    return None


def main(argv: Sequence[str] | None = None, engine: ReferenceEngine | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(engine or ReferenceEngine(), args)
    except StorageError as exc:
        print(f"error_code={exc.code} {' '.join(exc.message.split())}", file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result))
    return 0
