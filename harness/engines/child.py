"""Run one operation of a python engine in a process of its own, so it can be traced.

``python -m harness.engines.child <target> <operation> <db> [--target N] [--options JSON]
[--sys-path DIR ...] [--scenario PATH]``

``<target>`` is what a scenario's ``engine.target`` holds (``package.module:attr`` or
``relative/file.py:attr``, relative to ``--scenario``'s directory, default the current
directory), imported with ``harness.engines.loader.import_target``: an engine object, or a
class or factory called with ``--options`` (a JSON object) to make one. ``<operation>`` is
``migrate`` (up to ``--target`` when given) or ``open``.

The process is the engine's, with nothing of the harness in between: the python adapter's
``migrate``/``open`` calls it makes are the same as in-process. It exits 0 when the
operation succeeded, 1 when the engine raised (``error_code=<code> <message>`` on stderr,
the code being the exception's string ``code`` attribute, else ``engine_error``), 2 when
the engine could not be built (``error_code=child_setup ...``). Before the operation it
prints one line ``harness-child: {"sqlite_version": ..., "compile_options": [...]}`` on
stdout: the SQLite library this process (so the engine, through stdlib ``sqlite3``) uses.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Sequence

from harness.engines.protocol import CODE_UNSPECIFIED, OP_MIGRATE, OP_OPEN

MARKER = "harness-child: "
CODE_SETUP = "child_setup"
EXIT_OK, EXIT_ENGINE, EXIT_SETUP = 0, 1, 2


def sqlite_build() -> dict[str, object]:
    """The stdlib SQLite library's version and compile options (an in-memory database)."""
    with closing(sqlite3.connect(":memory:")) as conn:
        options = [row[0] for row in conn.execute("PRAGMA compile_options")]
    return {"sqlite_version": sqlite3.sqlite_version, "compile_options": options}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.engines.child",
                                     description="Run one operation of a python engine in this process.")
    parser.add_argument("target", help="package.module:attr or file.py:attr")
    parser.add_argument("operation", choices=(OP_MIGRATE, OP_OPEN))
    parser.add_argument("db", type=Path)
    parser.add_argument("--target", dest="version", type=int, default=None, help="last migration to apply")
    parser.add_argument("--options", default=None, help="JSON object: keyword arguments for a class or factory")
    parser.add_argument("--sys-path", action="append", default=[], help="prepended to sys.path (repeatable)")
    parser.add_argument("--scenario", type=Path, default=None,
                        help="relative file targets are resolved against this file's directory")
    return parser


def _fail(code: str, message: str, status: int) -> int:
    print(f"error_code={code} {message}".rstrip(), file=sys.stderr, flush=True)
    return status


def build_engine(target: str, options: dict[str, object], scenario: Path) -> object:
    """The engine object ``target`` names (calling it with ``options`` when it is a factory)."""
    from harness.engines.loader import import_target  # noqa: PLC0415 - keep `--help` cheap
    from harness.engines.python import is_engine_object  # noqa: PLC0415

    value = import_target(target, scenario, key="engine.target")
    if is_engine_object(value):
        if options:
            raise ValueError(f"options are given but {target} is already an engine object")
        return value
    if not callable(value):
        raise ValueError(f"{target} is a {type(value).__name__}, not an engine object, class or factory")
    engine = value(**options)
    if not is_engine_object(engine):
        raise ValueError(f"{target} returned a {type(engine).__name__}, which lacks migrate() and migrations()")
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sys.path[:0] = [str(Path(entry).resolve()) for entry in args.sys_path]
    try:
        options = json.loads(args.options) if args.options else {}
        if not isinstance(options, dict):
            raise ValueError("--options must be a JSON object")
        engine = build_engine(args.target, options, args.scenario or Path.cwd() / "scenario.toml")
    except Exception as exc:  # noqa: BLE001 - whatever it is, there is no engine to run
        return _fail(CODE_SETUP, f"{type(exc).__name__}: {exc}", EXIT_SETUP)
    print(MARKER + json.dumps(sqlite_build()), flush=True)
    try:
        if args.operation == OP_MIGRATE:
            if args.version is None:
                engine.migrate(args.db)  # type: ignore[attr-defined]
            else:
                engine.migrate(args.db, target=args.version)  # type: ignore[attr-defined]
        else:
            method = getattr(engine, "open", None)
            if not callable(method):
                return _fail(CODE_SETUP, f"{args.target} has no open operation", EXIT_SETUP)
            method(args.db)
    except Exception as exc:  # noqa: BLE001 - an engine failure is a result
        code = getattr(exc, "code", None)
        return _fail(code if isinstance(code, str) else CODE_UNSPECIFIED, str(exc) or type(exc).__name__, EXIT_ENGINE)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
