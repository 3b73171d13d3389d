"""Before a run: a declared history table is read on every fixture that has one.

A scenario that declares its history table (``[engine.history]`` or a preset) says how the
harness must read the application's databases. When a legacy fixture's table does not fit
(a column ``installed_on`` where ``applied_at`` was declared), that is bad input, found here
with exit 2 and the table and column named, not as errored cases or an engine failure.
"""

from __future__ import annotations

from harness.engines.formats import read_history
from harness.errors import InputError
from harness.fixtures.manifest import Manifest
from harness.fixtures.store import FixtureStore
from harness.scenario import Scenario
from harness.sqlite import inspect


def check_declared_history(scenario: Scenario, manifest: Manifest | None) -> None:
    """Raise ``InputError`` (naming the fixture, table and column) when a fixture's history
    table does not fit the scenario's declaration; nothing when none is declared."""
    if scenario.engine.history is None or manifest is None:
        return
    store = FixtureStore(manifest)
    for fixture in manifest.fixtures:
        if not fixture.history:
            continue
        db = store.materialise(fixture)
        with inspect.reading(db) as conn:
            try:
                read_history(conn, scenario.engine.history)
            except InputError as exc:
                raise InputError(scenario.path, f"fixture '{fixture.name}': {exc.problem}",
                                 line=scenario.engine.line, key="engine.history") from None
