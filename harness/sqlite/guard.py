"""Bounds on SQL the harness itself runs: a time budget and a sandbox.

Migration SQL under test runs on the harness's own connections (the sqlfiles adapter, the
zero-config gate, fixture builds). It is input, and it may be hostile or just wrong:

* **Budget.** A progress handler interrupts a statement once the connection has run longer
  than its budget (an endless ``WITH RECURSIVE``, a cross join of large tables), so a
  runaway migration is named as a hang of its file and line instead of hanging the run.
* **Confinement.** An authorizer refuses ``ATTACH`` and ``VACUUM INTO`` (which SQLite
  authorizes as an attach of the target file) of any file outside the database's own
  directory, ``load_extension()``, and the PRAGMAs that change process-wide directories.
  SQL under test then cannot create or read files elsewhere on the machine, nor leave a
  file behind that changes what a later case sees.

Each refusal is remembered, so the error can say what was refused and why rather than
SQLite's bare "not authorized".
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BUDGET_SECONDS = 60.0
PROGRESS_EVERY = 10_000  # VM instructions between two looks at the clock
_UNSCOPED_PRAGMAS = frozenset({"temp_store_directory", "data_store_directory"})
_MEMORY = ("", ":memory:")


@dataclass
class Guard:
    """The budget and sandbox of one connection; ``install`` it, then ask why a statement failed."""

    root: Path  # files inside it may be attached
    budget: float = DEFAULT_BUDGET_SECONDS  # seconds the connection may run SQL, from install()
    refusals: list[str] = field(default_factory=list)
    expired: bool = False
    _deadline: float = 0.0

    def install(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        self._deadline = time.monotonic() + self.budget
        self.root = Path(os.path.realpath(self.root))
        conn.set_authorizer(self._authorize)
        conn.set_progress_handler(self._progress, PROGRESS_EVERY)
        return conn

    def restart(self) -> None:
        """A fresh budget (one per migration file)."""
        self._deadline = time.monotonic() + self.budget
        self.expired = False
        self.refusals.clear()

    def _progress(self) -> int:
        if time.monotonic() > self._deadline:
            self.expired = True
            return 1
        return 0

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None,
                   trigger: str | None) -> int:
        if action == sqlite3.SQLITE_ATTACH:
            target = arg1 or ""
            if target in _MEMORY or target.startswith("file::memory:"):
                return sqlite3.SQLITE_OK
            if not self._inside(target):
                self.refusals.append(f"attaching (ATTACH or VACUUM INTO) {target!r}, outside the database's "
                                     "directory")
                return sqlite3.SQLITE_DENY
        elif action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
            self.refusals.append("load_extension(): loading native code")
            return sqlite3.SQLITE_DENY
        elif action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _UNSCOPED_PRAGMAS:
            self.refusals.append(f"PRAGMA {arg1}: a process-wide directory")
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def _inside(self, target: str) -> bool:
        path = target
        if path.startswith("file:"):  # a URI filename (when URIs are enabled): judge its path part
            path = urllib.parse.unquote(urllib.parse.urlparse(path).path) or "."
        resolved = Path(os.path.realpath(os.path.abspath(path)))
        return resolved == self.root or self.root in resolved.parents

    def explain(self, error: BaseException) -> str | None:
        """Why ``error`` happened, if this guard caused it: a hang or a refusal; else None."""
        if self.expired:
            return (f"still running after the {self.budget:g} s budget and interrupted: a hang (an endless "
                    "WITH RECURSIVE or an unbounded join?)")
        if self.refusals:
            return f"refused by the harness's sandbox: {self.refusals[-1]}"
        return None
