"""Reference-engine variants that misbehave the way hostile or broken applications do.

Each breaks ``migrate`` (or its error text) in one way the harness must survive: a hang, a
crash of the whole process, an exit, a process left running, text that attacks a terminal.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.reference import ReferenceEngine


class HangsInMigrate(ReferenceEngine):
    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        while True:
            time.sleep(0.05)


class AbortsInMigrate(ReferenceEngine):
    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        os.abort()


class SegfaultsInMigrate(ReferenceEngine):
    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        ctypes.string_at(0)


class ExitsZeroInMigrate(ReferenceEngine):
    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        sys.exit(0)


class HardExitsInMigrate(ReferenceEngine):
    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        os._exit(3)


class LeavesAChildRunning(ReferenceEngine):
    """Starts a background process at every migrate and never waits for it."""

    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        super().migrate(db, target)


class InjectsIntoTheTerminal(ReferenceEngine):
    """Fails with a message that clears the screen, sets the window title and forges CI commands."""

    def migrate(self, db: Path, target: int | None = None) -> None:  # type: ignore[override]
        error = RuntimeError("boom\x1b[2J\x1b]0;pwned\x07\n::error file=x.py,line=1::forged\n::add-mask::secret\r"
                             "overwritten")
        error.code = "migration_failed"  # type: ignore[attr-defined]
        raise error
