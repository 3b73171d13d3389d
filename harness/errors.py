"""Errors that end a run with exit status 2: bad input, never a traceback."""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """Configuration or input the harness cannot work with (exit status 2)."""

    exit_status = 2


class InputError(HarnessError):
    """A named file (and where known its line and key) is not what was expected."""

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.key = key
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"key '{key}': {problem}" if key else problem
        super().__init__(f"{where}: {what}")
