"""A team's own rule as a plain pytest test, using the harness's fixtures (not collected by the suite)."""

from pathlib import Path


def test_migrating_a_legacy_database_keeps_a_snapshot(harness_engine, harness_fixture_db) -> None:
    db: Path = harness_fixture_db("v3-training-flag")
    assert harness_engine.migrate(db).ok
    backups = db.parent / "backups"
    assert backups.is_dir() and any(backups.iterdir()), "no snapshot was taken before migrating"


def test_fresh_install_reaches_head(harness_engine, harness_fresh_db) -> None:
    assert harness_engine.migrate(harness_fresh_db).ok
    assert harness_fresh_db.is_file()
