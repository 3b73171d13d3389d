"""How much of a quarantined database a user could get back, per table.

The sqlite3 command-line tool's ``.recover`` reads every page it can and writes SQL that
rebuilds what survived (rows it cannot place go to ``lost_and_found``). It needs the
``sqlite_dbpage`` virtual table, which some builds lack (Debian's 3.40 among them): that is
detected and reported instead of guessed. Recovery always runs on a private copy.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from harness.sqlite.files import copy_db

TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Salvage:
    available: bool
    reason: str = ""  # why not, when unavailable or failed
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows a user could get back

    def describe(self) -> str:
        if not self.available:
            return f"salvage unavailable: {self.reason}"
        listed = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items()))
        return f"salvageable rows: {listed or 'none'}"


@lru_cache(maxsize=8)
def support(cli: str | None = None) -> tuple[str | None, str]:
    """(the CLI's path, '') when ``.recover`` can run here, else (None, why not)."""
    path = cli or shutil.which("sqlite3")
    if path is None:
        return None, "no sqlite3 command-line tool on PATH (apt-get install sqlite3)"
    try:
        probe = subprocess.run([path, ":memory:", "SELECT count(*) FROM sqlite_dbpage;"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{path} could not be run ({exc})"
    if probe.returncode != 0 or "no such table" in probe.stdout + probe.stderr:
        return None, f"{path} was built without sqlite_dbpage, which .recover needs (SQLITE_ENABLE_DBPAGE_VTAB)"
    return path, ""


def salvage(db: Path, cli: str | None = None) -> Salvage:
    path, reason = support(cli)
    if path is None:
        return Salvage(False, reason)
    with tempfile.TemporaryDirectory(prefix="harness-salvage-") as scratch:
        copy = copy_db(db, Path(scratch) / db.name)
        try:
            recovered = subprocess.run([path, str(copy), ".recover"], capture_output=True, timeout=TIMEOUT_SECONDS,
                                       stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Salvage(False, f".recover did not finish ({exc})")
        sql = recovered.stdout.decode("utf-8", "replace")
        if recovered.returncode != 0 and not sql.strip():
            return Salvage(False, f".recover failed: {recovered.stderr.decode('utf-8', 'replace').strip()[:300]}")
        rebuilt = sqlite3.connect(":memory:")
        try:
            rebuilt.executescript(sql)
            tables = [r[0] for r in rebuilt.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
            rows = {t: rebuilt.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        except sqlite3.Error as exc:
            return Salvage(False, f"the SQL .recover wrote does not load ({exc})")
        finally:
            rebuilt.close()
    return Salvage(True, rows=rows)
