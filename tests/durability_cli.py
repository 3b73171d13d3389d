"""One of ``durability_engines`` behind the reference engine's command line:
``python durability_cli.py ENGINE [--state DIR] COMMAND ...``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import durability_engines  # noqa: E402 - after the path it lives on

from harness.reference.cli import main  # noqa: E402

if __name__ == "__main__":
    name, rest = sys.argv[1], sys.argv[2:]
    options = {}
    if rest[:1] == ["--state"]:
        options, rest = {"state": rest[1]}, rest[2:]
    sys.exit(main(rest, getattr(durability_engines, name)(**options)))
