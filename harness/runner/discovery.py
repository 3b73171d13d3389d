"""Which files are scenarios: TOML files with a top-level [suite] table."""

from __future__ import annotations

import re
from pathlib import Path

_SCENARIO_MARK = re.compile(rb"^\s*\[suite\]", re.MULTILINE)


def is_scenario_file(path: Path) -> bool:
    if path.suffix != ".toml" or path.name == "pyproject.toml":
        return False
    try:
        with path.open("rb") as handle:
            return bool(_SCENARIO_MARK.search(handle.read(65536)))
    except OSError:
        return False
