"""What a check is given: its case, the engine, the fixtures and a private directory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.engines.formats import HistorySpec
from harness.engines.protocol import Engine, Migration
from harness.fixtures.manifest import Fixture
from harness.fixtures.store import FixtureStore
from harness.scenario import Scenario, Threshold

DB_NAME = "app.sqlite3"


@dataclass(frozen=True)
class CaseContext:
    case: Case
    scenario: Scenario
    engine: Engine
    store: FixtureStore | None
    workdir: Path  # empty, private to this case; kept for reproduction on failure
    started: float = field(default_factory=time.time)

    def volatile_window(self) -> tuple[float, float]:
        """From the case's start until now: timestamps in it were written by this case."""
        return self.started - 1.0, time.time() + 1.0

    def data_dir(self, name: str = "data") -> Path:
        """A fresh application data directory (the engine may add backups/, corrupted/)."""
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fresh_db(self, name: str = "data") -> Path:
        return self.data_dir(name) / DB_NAME

    def fixture(self) -> Fixture:
        if self.store is None:
            raise LookupError("this scenario declares no [fixtures] manifest")
        return self.store.manifest.get(self.case.param("fixture") or "")

    def fixture_db(self, name: str = "data") -> Path:
        """A private copy of the case's fixture, as the application's database."""
        assert self.store is not None
        return self.store.copy_to(self.fixture(), self.data_dir(name) / DB_NAME)

    def threshold(self, name: str) -> Threshold | None:
        return self.case.thresholds.get(name)

    def option(self, name: str, default: object = None) -> object:
        return self.case.options.get(name, default)

    @property
    def settings(self) -> Any:
        """The family's params as its dataclass (validated when the scenario was expanded)."""
        return self.case.settings

    def history_format(self) -> HistorySpec:
        """The history table format to read: the scenario's word, else the engine's own."""
        return self.scenario.engine.history or getattr(self.engine, "history_format", None)

    def migrations(self) -> tuple[Migration, ...]:
        return tuple(self.engine.migrations())
