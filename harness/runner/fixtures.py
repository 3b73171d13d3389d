"""pytest fixtures for a team's own checks, written as plain pytest tests.

The built-in catalogue covers what every SQLite application needs; a rule of one
application ("migrating keeps a snapshot in backups/", "the search index is rebuilt") is
a test function that asks for the scenario's engine and a private copy of a fixture::

    def test_migrate_keeps_a_snapshot(harness_engine, harness_fixture_db):
        db = harness_fixture_db("v3-training-flag")
        assert harness_engine.migrate(db).ok
        assert any((db.parent / "backups").iterdir())

The scenario comes from the ``harness_scenario`` ini option (``pytest.ini`` /
``pyproject.toml``) or ``--harness-scenario``, or from overriding the
``harness_scenario_path`` fixture in a ``conftest.py`` (as pytest-alembic's
``alembic_config``). Every database handed out is a copy in the test's own ``tmp_path``:
the fixtures and the cache are never written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from harness import scenario as scenario_mod
from harness.engines.loader import load_engine
from harness.engines.protocol import Engine
from harness.fixtures import manifest as manifest_mod
from harness.fixtures.store import FixtureStore
from harness.scenario import Scenario

INI = "harness_scenario"
DB_NAME = "app.sqlite3"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "scenario file whose engine and fixtures the harness_* fixtures provide", default="")
    parser.getgroup("harness").addoption("--harness-scenario", metavar="FILE",
                                         help="scenario for the harness_* fixtures (overrides the ini option)")


@pytest.fixture(scope="session")
def harness_scenario_path(pytestconfig: pytest.Config) -> Path:
    """The scenario file; override this fixture in a conftest.py to choose it in code."""
    raw = pytestconfig.getoption("harness_scenario") or pytestconfig.getini(INI)
    if not raw:
        raise pytest.UsageError(f"the harness_* fixtures need a scenario: set the '{INI}' ini option, pass "
                                "--harness-scenario FILE, or override the harness_scenario_path fixture")
    path = Path(str(raw))
    return path if path.is_absolute() else pytestconfig.rootpath / path


@pytest.fixture(scope="session")
def harness_scenario(harness_scenario_path: Path) -> Scenario:
    """The loaded, validated scenario (bad keys fail with file, line and key)."""
    return scenario_mod.load(harness_scenario_path)


@pytest.fixture(scope="session")
def harness_engine(harness_scenario: Scenario) -> Engine:
    """The scenario's engine through its adapter, as the built-in checks drive it."""
    return load_engine(harness_scenario.engine, harness_scenario.path)


@pytest.fixture(scope="session")
def harness_fixture_store(harness_scenario: Scenario) -> FixtureStore:
    """The scenario's fixtures, materialised once per content hash in the shared cache."""
    if harness_scenario.fixtures_manifest is None:
        raise pytest.UsageError(f"{harness_scenario.path}: the scenario declares no [fixtures] manifest")
    return FixtureStore(manifest_mod.load(harness_scenario.fixtures_manifest))


@pytest.fixture
def harness_fixture_db(harness_fixture_store: FixtureStore, tmp_path: Path) -> Callable[[str], Path]:
    """``harness_fixture_db(name)``: a private copy of fixture ``name`` in its own data directory."""

    def copy(name: str) -> Path:
        fixture = harness_fixture_store.manifest.get(name)
        data_dir = tmp_path / name
        data_dir.mkdir(parents=True, exist_ok=True)
        return harness_fixture_store.copy_to(fixture, data_dir / DB_NAME)

    return copy


@pytest.fixture
def harness_fresh_db(tmp_path: Path) -> Path:
    """Where a fresh install's database goes: an empty data directory, no file yet."""
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    return data_dir / DB_NAME
