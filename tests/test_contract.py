"""docs/contract.md names every key, tag and error code the code accepts: collected from the
validators and catalogues that own them, so a new key without documentation fails here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from harness import scenario
from harness.checks import recovery
from harness.checks.catalogue import families
from harness.corruption import catalogue as damage
from harness.engines import alembic, loader, protocol, sqlfiles
from harness.engines.command import OP_MIGRATIONS
from harness.engines.formats import base as formats_base
from harness.engines.formats import history as formats_history
from harness.fixtures import manifest, recipe
from harness.plans import spec as plans_spec
from harness.reference import errors as reference_errors
from harness.sqlite import cost

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "contract.md"
TEXT = CONTRACT.read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"`([^`]+)`", TEXT))  # every code span; keys are named as `key`


def documented(name: str) -> bool:
    return name in DOCUMENTED or f"`{name}`" in TEXT or re.search(rf"`[^`]*\b{re.escape(name)}\b[^`]*`", TEXT)


def scenario_keys() -> set[str]:
    keys = set(scenario._TOP_KEYS) | set(scenario._SUITE_KEYS) | set(scenario._FAMILY_KEYS)
    keys |= set(scenario._THRESHOLD_KEYS) | {"manifest"} | set(scenario.OPERATIONS)
    for adapter_keys in scenario._ENGINE_KEYS.values():
        keys |= set(adapter_keys)
    keys |= set(formats_history.DECLARATION_KEYS)  # [engine.history] and --history
    return keys


def family_params() -> set[str]:
    found: set[str] = set()
    for family in families().values():
        found |= {f.name for f in dataclasses.fields(family.params)}  # a family's params are a dataclass
    for path in (ROOT / "harness" / "checks").glob("*.py"):  # families read the rest with ctx.option("…")
        found |= set(re.findall(r'\boption\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    found |= {"orphan_fixes", "policy", "cross", "kinds"}  # read from the params mapping directly
    return found


def error_codes() -> set[str]:
    codes = {protocol.CODE_TIMEOUT, protocol.CODE_CRASH, protocol.CODE_UNSPECIFIED, sqlfiles.CODE_FAILED,
             alembic.CODE_FAILED, alembic.CODE_UNKNOWN, recovery.NO_SNAPSHOT_ERROR}
    codes |= {value for name, value in vars(formats_base).items() if name.startswith("CODE_") and isinstance(value, str)}
    codes |= {value for name, value in vars(reference_errors).items()
              if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+", value)}
    return codes


def transient_codes() -> set[str]:
    """The codes each transient fault kind accepts (``expected={"transient_codes": …}``), from its source."""
    assert damage.kinds()
    source = (ROOT / "harness" / "corruption" / "faults.py").read_text(encoding="utf-8")
    found = set(re.findall(r'"(db_[a-z_]+)"', source))
    assert "db_busy" in found
    return found


def fixture_tags() -> set[str]:
    tags = {manifest.NEGATIVE, "captured"}
    for family in families().values():
        tags |= {s.removeprefix("tag:") for s in family.default_fixtures if s.startswith("tag:")}
    return tags


@pytest.mark.parametrize("key", sorted(scenario_keys()))
def test_every_scenario_key_is_documented(key: str) -> None:
    assert documented(key), f"scenario key '{key}' is accepted but not in {CONTRACT.name}"


@pytest.mark.parametrize("param", sorted(family_params()))
def test_every_family_parameter_is_documented(param: str) -> None:
    assert documented(param), f"family parameter '{param}' is read but not in {CONTRACT.name}"


@pytest.mark.parametrize("code", sorted(error_codes() | transient_codes()))
def test_every_error_code_is_documented(code: str) -> None:
    assert documented(code), f"error code '{code}' is used but not in {CONTRACT.name}"


@pytest.mark.parametrize("tag", sorted(fixture_tags()))
def test_every_fixture_tag_with_a_role_is_documented(tag: str) -> None:
    assert documented(tag), f"fixture tag '{tag}' has a role but is not in {CONTRACT.name}"


def test_manifest_recipe_plans_adapters_and_placeholders_are_documented() -> None:
    names = set(manifest._FIXTURE_KEYS) | set(manifest._INVARIANT_KEYS) | set(recipe.TAMPERS)
    names |= set(plans_spec._QUERY_KEYS) | set(plans_spec._EXPECT_KEYS) | set(plans_spec._DATASET_KEYS)
    names |= set(cost.METRICS) | set(plans_spec.STATS)
    names |= {"baseline_dir", "expert", "expected_indexes", "datasets", "queries"}
    names |= set(loader.ADAPTERS) | {OP_MIGRATIONS, "{db}", "{data_dir}", "{target}", "{harness_python}"}
    names |= {f.name for f in protocol.Diagnostics.__dataclass_fields__.values() if f.name != "extra"}
    names |= {"version", "name", "checksum", "sql", "source"}  # the migrations JSON
    missing = sorted(n for n in names if not documented(n))
    assert not missing, f"not in {CONTRACT.name}: {missing}"


def test_the_readme_links_the_contract() -> None:
    assert "docs/contract.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_check_detects_an_undocumented_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test can fail: a key the validator accepts and the page lacks is caught."""
    monkeypatch.setattr(scenario, "_SUITE_KEYS", (*scenario._SUITE_KEYS, "retention_policy"))
    assert "retention_policy" in scenario_keys() and not documented("retention_policy")


def test_a_negative_capture_names_its_error_code_and_verify_accepts_it(tmp_path: Path) -> None:
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "user.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, "
                       "applied_at TEXT); INSERT INTO schema_migrations VALUES (1, 'a', 'x', '2025-01-01'), "
                       "(3, 'c', 'z', '2025-01-02'); CREATE TABLE t (id INTEGER PRIMARY KEY);")
    conn.close()
    manifest_path = tmp_path / "fixtures" / "manifest.toml"
    manifest_path.parent.mkdir()

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", "fixtures", *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    refused = harness("capture", str(db), "--version", "3", "--tag", "negative", "--manifest", str(manifest_path))
    assert refused.returncode == 2 and "--expect-error" in refused.stderr and not manifest_path.exists()
    made = harness("capture", str(db), "--version", "3", "--tag", "negative", "--expect-error", "migration_gap",
                   "--manifest", str(manifest_path))
    assert made.returncode == 0, made.stderr
    assert 'expect_error = "migration_gap"' in manifest_path.read_text(encoding="utf-8")
    verified = harness("verify", "--manifest", str(manifest_path))
    assert verified.returncode == 0 and "1 of 1 fixtures match" in verified.stdout, verified.stdout + verified.stderr


def test_a_family_that_expands_to_no_case_is_an_input_error(tmp_path: Path) -> None:
    from harness.errors import InputError
    from harness.runner.expand import expand, load_manifest

    path = tmp_path / "s.toml"
    path.write_text(f'[suite]\nname = "s"\n[engine]\nadapter = "python"\ntarget = "harness.reference:ReferenceEngine"\n'
                    f'[fixtures]\nmanifest = "{(ROOT / "fixtures" / "manifest.toml").as_posix()}"\n'
                    '[checks.recovery]\nfixtures = ["!tag:snapshot-source", "tag:snapshot-source"]\n', encoding="utf-8")
    loaded = scenario.load(path)
    with pytest.raises(InputError, match="expands to no case.*snapshot-source"):
        expand(loaded, load_manifest(loaded))
