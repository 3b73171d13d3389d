"""Error codes: the names the harness judges by, and an engine's own names mapped onto them.

Checks compare an engine's refusal with a code: a negative fixture's ``expect_error``, a
drill's transient codes (``db_busy`` while the database is locked …). An engine that says
``database_locked`` where the harness expects ``db_busy`` declares the mapping once in its
scenario, ``[engine] error_codes = { database_locked = "db_busy" }``, rather than changing
its own error names: ``RenamedCodes`` renames every code the engine returns (outcomes,
fault runs, and the continuity code of its diagnostics).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from harness.engines.protocol import Diagnostics, Fault, FaultRun, Outcome

class RenamedCodes:
    """``engine`` with its error codes renamed by ``codes`` (engine's name -> harness's name)."""

    def __init__(self, engine: Any, codes: Mapping[str, str]) -> None:
        self._engine = engine
        self._codes = dict(codes)

    def __getattr__(self, name: str) -> Any:  # name, operations, faults, history_format, notes …
        return getattr(self._engine, name)

    def _outcome(self, outcome: Outcome) -> Outcome:
        if outcome.error_code in self._codes:
            return dataclasses.replace(outcome, error_code=self._codes[outcome.error_code])
        return outcome

    def _result(self, result: Any) -> Any:
        if isinstance(result, Outcome):
            return self._outcome(result)
        if isinstance(result, Diagnostics) and result.continuity in self._codes:
            return dataclasses.replace(result, continuity=self._codes[result.continuity])
        return result

    def migrations(self) -> Any:
        return self._engine.migrations()

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        return self._outcome(self._engine.migrate(db, target))

    def open(self, db: Path) -> Outcome:
        return self._outcome(self._engine.open(db))

    def diagnostics(self, db: Path) -> Any:
        return self._result(self._engine.diagnostics(db))

    def posture(self, db: Path) -> Any:
        return self._result(self._engine.posture(db))

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun:
        run: FaultRun = self._engine.count_points(db, target, kind)
        return dataclasses.replace(run, outcome=self._outcome(run.outcome))

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun:
        run: FaultRun = self._engine.migrate_with_fault(db, target, fault)
        return dataclasses.replace(run, outcome=self._outcome(run.outcome))
