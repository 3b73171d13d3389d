"""`harness migrations DIR`: zero-config gating of a migration directory in each format."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gate_helpers import ROOT

DATA = Path(__file__).resolve().parent / "data"
FORMATS = ("plain", "refinery", "flyway", "sqlx", "golang-migrate", "goose", "dbmate")
UPGRADE_CHECKS = ("upgrades", "schema-converges", "path-equivalent", "data-preserved", "integrity", "idempotent",
                  "history-continuous")
FRESH_ONLY_SKIPS = {"schema-converges", "data-preserved"}  # nothing to compare on a fresh install


#: The harness's own dbmate emulation is under test here, not a dbmate binary the machine may have.
EMULATED = {k: v for k, v in os.environ.items() if k != "HARNESS_DBMATE"}


def migrations(tmp_path: Path, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "migrations", str(directory), "--workdir",
                           str(tmp_path / "work"), "--reports", str(tmp_path / "reports"), "--junit", str(tmp_path / "junit.xml"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=EMULATED)


def migration_versions(directory: Path) -> list[int]:
    from harness.engines.loader import load_engine
    from harness.scenario import EngineSpec

    engine = load_engine(EngineSpec("sqlfiles", None, directory=directory), ROOT / "x.toml")
    return [m.version for m in engine.migrations()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_passes_with_one_case_per_version_and_check(tmp_path: Path, fmt: str) -> None:
    directory = DATA / "formats" / fmt / "migrations"
    run = migrations(tmp_path, directory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"({fmt} format)" in run.stdout
    names = {tc.get("name") for tc in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    versions = migration_versions(directory)
    starts = ["fresh"] + [f"v{v}" for v in versions[:-1]]
    expected = {f"matrix[fixture={s}]::{c}" for s in starts for c in UPGRADE_CHECKS
                if not (s == "fresh" and c in FRESH_ONLY_SKIPS)}
    assert {n for n in names if n.startswith("matrix")} == expected
    assert any(n.startswith("lint::") for n in names)


def test_a_real_upgrade_bug_exits_1_with_the_failing_version(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "migrations_bugs" / "default_now")
    assert run.returncode == 1, run.stdout + run.stderr
    causes = [line.strip() for line in run.stdout.splitlines() if line.strip().startswith("FAILED   ")]
    assert len(causes) == 1, run.stdout  # one root cause: the upgrade; its six dependent checks are blocked
    assert causes[0].startswith("FAILED   default_now/0002_updated_at.sql line 2: upgrade fails: Cannot add a column "
                                "with non-constant default"), run.stdout
    assert causes[0].endswith("matrix::upgrades at v1 (1 case, 6 blocked)"), run.stdout
    root = ET.parse(tmp_path / "junit.xml").getroot()
    failed = {tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None}
    assert "matrix[fixture=v1]::upgrades" in failed


@pytest.mark.parametrize(("target", "words"), [
    ("no/such/dir", "is not a directory of migration files"),
    ("tests/data/formats", "holds no migration files"),
])
def test_bad_input_exits_2(tmp_path: Path, target: str, words: str) -> None:
    run = migrations(tmp_path, ROOT / target)
    assert run.returncode == 2, run.stdout + run.stderr
    assert words in run.stderr and "Traceback" not in run.stderr
