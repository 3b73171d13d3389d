"""Startup recovery: a damaged database is quarantined whole and the newest valid snapshot restored.

Black-box throughout: snapshots are whatever new files the engine's own ``migrate`` leaves
in the data directory; the harness damages the database (and plants ``-wal``/``-shm``
sidecars), runs the engine's ``open`` and judges from the files alone:
every original byte is still somewhere in the data directory, the database at the original
path is sound and equals the newest snapshot that was valid, and nothing foreign is left
beside it. The full damage catalogue lives in the drills family; this family proves the
recovery path itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, Params
from harness.checks.context import CaseContext
from harness.engines.protocol import version_index
from harness.fixtures.manifest import Manifest
from harness.scenario import FamilySpec, Scenario
from harness.sqlite import inspect
from harness.sqlite.fileformat import SIDECARS
from harness.sqlite.files import db_files, sha256_file, tree_digest

STATES = ("none", "one-valid", "newest-corrupt", "generations")
NO_SNAPSHOT_ERROR = "db_recovery_no_snapshot"


@dataclass(frozen=True)
class Prepared:
    db: Path
    snapshots: tuple[Path, ...]  # oldest first, as the engine made them
    valid: Path | None  # the newest snapshot that the harness left intact
    expected: dict[str, inspect.TableContent] | None  # its content


def _new_files(root: Path, before: set[Path], db: Path) -> list[Path]:
    ours = {db, *(db.with_name(db.name + s) for s in SIDECARS)}
    return sorted(p for p in root.rglob("*") if p.is_file() and p not in before and p not in ours)


def prepare(ctx: CaseContext, state: str) -> Prepared | v.Verdict:
    """Bring a copy of the source fixture to ``state``; a ``Verdict`` if the engine fails to."""
    db = ctx.fixture_db()
    root = db.parent
    migrations = ctx.migrations()
    fixture = ctx.fixture()
    start = fixture.schema_version or 0
    steps: list[int | None] = []
    if state in ("one-valid",):
        steps = [None]
    elif state in ("generations", "newest-corrupt"):
        pending = [m.version for m in migrations[version_index(migrations, start):]]
        steps = pending[:3] if len(pending) >= 2 else [None]
    snapshots: list[Path] = []
    for target in steps:
        before = {p for p in root.rglob("*") if p.is_file()}
        outcome = ctx.engine.migrate(db, target)
        if not outcome.ok:
            return v.errored(f"setup: migrate(target={target}) failed: {outcome.describe()}")
        snapshots += _new_files(root, before, db)
    if state != "none" and not snapshots:
        return v.failed("the engine took no snapshot before migrating a database that holds data",
                        measured="0 snapshots", threshold=">= 1")
    if state == "newest-corrupt":
        if len(snapshots) < 2:
            return v.errored(f"setup: need 2 snapshot generations, the engine made {len(snapshots)}")
        _clobber(snapshots[-1], ctx.case.seed)
    valid = None
    if snapshots:
        valid = snapshots[-2] if state == "newest-corrupt" else snapshots[-1]
    expected = None
    if valid is not None:
        seen = inspect.observe(valid)
        if not seen.sound:
            return v.failed(f"the engine's snapshot {valid.name} is not sound: {seen.error or seen.integrity}",
                            measured=str(seen.error or seen.integrity), threshold="integrity ok")
        expected = dict(seen.tables)
    return Prepared(db, tuple(snapshots), valid, expected)


def _clobber(path: Path, seed: int, salt: int = 0) -> None:
    """Overwrite the header's magic with seeded garbage: SQLite then says SQLITE_NOTADB."""
    garbage = random.Random(seed * 31 + salt).randbytes(16)
    with path.open("r+b") as handle:
        handle.write(garbage)


def damage(db: Path, seed: int, salt: int = 0) -> None:
    """Damage the database and plant distinctive sidecars, as a crash mid-write would leave."""
    _clobber(db, seed, salt)
    rng = random.Random(seed * 97 + salt)
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).write_bytes(b"harness sidecar " + rng.randbytes(4096))


def _lost(before: dict[str, str], after: dict[str, str]) -> list[str]:
    present = set(after.values())
    return sorted(name for name, digest in before.items() if digest not in present)


def _judge_preserved(before: dict[str, str], after: dict[str, str], damaged: dict[str, str],
                     db: Path) -> list[str]:
    """Every original file's bytes are still in the data directory; none left beside the db."""
    problems = [f"{name} is gone: its bytes are nowhere in the data directory (deleted or overwritten)"
                for name in _lost(before, after)]
    for name, digest in damaged.items():
        beside = db.with_name(name)
        if beside.exists() and beside.is_file() and sha256_file(beside) == digest:
            problems.append(f"{name} was left at the database path instead of being quarantined")
    return problems


def _run_recovery(ctx: CaseContext, state: str, salt: int = 0):  # type: ignore[no-untyped-def]
    prepared = prepare(ctx, state)
    if isinstance(prepared, v.Verdict):
        return prepared, None, None, None
    damage(prepared.db, ctx.case.seed, salt)
    damaged = {p.name: sha256_file(p) for p in db_files(prepared.db)}
    before = tree_digest(prepared.db.parent)
    outcome = ctx.engine.open(prepared.db)
    return prepared, outcome, before, damaged


def restores_newest_valid(ctx: CaseContext) -> v.Verdict:
    state = ctx.case.param("snapshots") or "one-valid"
    prepared, outcome, before, damaged = _run_recovery(ctx, state)
    if isinstance(prepared, v.Verdict):
        return prepared
    after = tree_digest(prepared.db.parent)
    observations = {"snapshots": [p.name for p in prepared.snapshots],
                    "newest_valid": prepared.valid.name if prepared.valid else None,
                    "outcome": outcome.describe(), "files_before": before, "files_after": after}
    problems = _judge_preserved(before, after, damaged, prepared.db)
    if not outcome.ok:
        problems.insert(0, f"open failed although a valid snapshot exists: {outcome.describe()}")
    else:
        state_now = inspect.observe(prepared.db)
        if not state_now.sound:
            problems.append(f"the restored database is not sound: {state_now.error or state_now.integrity}"
                            f"{'; FK violations' if state_now.fk_violations else ''}")
        else:
            diff = inspect.content_diff(prepared.expected or {}, dict(state_now.tables))
            if diff:
                problems.append(f"the restored database does not equal the newest valid snapshot "
                                f"{prepared.valid.name if prepared.valid else ''}: {diff[0]}")
                problems += diff[1:]
    if problems:
        return v.failed(problems[0], measured=f"{len(problems)} problems", threshold="0",
                        details="\n".join(problems), observations=observations)
    return v.passed(f"quarantined every original file and restored {prepared.valid.name if prepared.valid else '?'}",
                    observations=observations)


def refuses_without_snapshot(ctx: CaseContext) -> v.Verdict:
    expected = str(ctx.option("no_snapshot_error", NO_SNAPSHOT_ERROR))
    prepared, outcome, before, damaged = _run_recovery(ctx, "none")
    if isinstance(prepared, v.Verdict):
        return prepared
    after = tree_digest(prepared.db.parent)
    observations = {"outcome": outcome.describe(), "files_before": before, "files_after": after}
    problems = [p for p in _judge_preserved(before, after, damaged, prepared.db)
                if "left at the database path" not in p]  # untouched in place is allowed here
    if outcome.ok:
        state_now = inspect.observe(prepared.db)
        problems.insert(0, f"open succeeded with no snapshot to restore (the database now has "
                           f"{sum(t.rows for t in state_now.tables.values())} rows): it must fail with {expected}")
    elif outcome.error_code != expected:
        problems.insert(0, f"open failed with {outcome.error_code}, expected the deterministic {expected}")
    if problems:
        return v.failed(problems[0], measured=str(outcome.error_code if not outcome.ok else "success"),
                        threshold=expected, details="\n".join(problems), observations=observations)
    return v.passed(f"refused with {expected}; every original byte kept", observations=observations)


def repeated_damage_kept(ctx: CaseContext) -> v.Verdict:
    prepared, outcome, before, damaged = _run_recovery(ctx, "one-valid")
    if isinstance(prepared, v.Verdict):
        return prepared
    if not outcome.ok:
        return v.failed(f"first recovery failed: {outcome.describe()}")
    damage(prepared.db, ctx.case.seed, salt=1)  # different bytes: a second, distinct damaged file
    second = {p.name: sha256_file(p) for p in db_files(prepared.db)}
    again = ctx.engine.open(prepared.db)
    after = tree_digest(prepared.db.parent)
    wanted = {f"first {n}": d for n, d in damaged.items()} | {f"second {n}": d for n, d in second.items()}
    lost = _lost(wanted, after)
    observations = {"outcomes": [outcome.describe(), again.describe()], "files_after": after}
    if lost:
        return v.failed(f"two damaged opens in a row lost {', '.join(lost)}: a quarantine overwrote an earlier one",
                        measured=f"{len(lost)} files lost", threshold="0", details="\n".join(lost),
                        observations=observations)
    if not again.ok:
        return v.failed(f"second recovery failed: {again.describe()}", observations=observations)
    return v.passed("both damaged generations kept byte-identical in quarantine", observations=observations)


def snapshot_before_migrate(ctx: CaseContext) -> v.Verdict:
    db = ctx.fixture_db()
    original = inspect.observe(db)
    files = {p for p in db.parent.rglob("*") if p.is_file()}
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        return v.errored(f"migrate failed: {outcome.describe()}")
    made = _new_files(db.parent, files, db)
    if not made:
        return v.failed("no snapshot was taken before migrating a database with pending migrations",
                        measured="0 snapshots", threshold=">= 1")
    problems = []
    for snap in made:
        seen = inspect.observe(snap)
        if not seen.sound:
            problems.append(f"snapshot {snap.name} is not sound: {seen.error or seen.integrity}")
        elif inspect.content_diff(dict(original.tables), dict(seen.tables)):
            problems.append(f"snapshot {snap.name} differs from the database before migration: "
                            + "; ".join(inspect.content_diff(dict(original.tables), dict(seen.tables))[:3]))
    if problems:
        return v.failed(problems[0], details="\n".join(problems), measured=f"{len(problems)} bad snapshots",
                        threshold="0")
    return v.passed(f"snapshot {made[-1].name} taken, sound and equal to the pre-migration database")


def _axes(scenario: Scenario, spec: FamilySpec, manifest: Manifest | None) -> list[Params]:
    if manifest is None:
        return []
    sources = manifest.select(spec.fixtures or ("tag:snapshot-source",))
    return [(("fixture", f.name), ("snapshots", s)) for f in sources for s in STATES]


def _state(*states: str):  # type: ignore[no-untyped-def]
    return lambda params: dict(params).get("snapshots") in states


@dataclass(frozen=True)
class RecoveryParams:
    """``[checks.recovery.params]``."""

    no_snapshot_error: str = NO_SNAPSHOT_ERROR  # the engine's error code when nothing can be restored


FAMILY = Family(
    name="recovery",
    description="The startup path quarantines a damaged database with its sidecars, never deletes, never "
                "overwrites an earlier quarantine, restores the newest valid snapshot or fails deterministically.",
    checks=(
        CheckSpec("snapshot-before-migrate", "migrating a database with data first takes a sound, equal snapshot",
                  "unverified-snapshot", snapshot_before_migrate, applies=_state("one-valid")),
        CheckSpec("restores-newest-valid", "damaged db + sidecars quarantined byte-identical; newest valid "
                  "snapshot restored exactly", "recovery-restore", restores_newest_valid,
                  needs=frozenset({"migrate", "open"}), applies=_state("one-valid", "newest-corrupt", "generations")),
        CheckSpec("refuses-without-snapshot", "no snapshot: deterministic error, every byte kept",
                  "recovery-refused", refuses_without_snapshot, needs=frozenset({"migrate", "open"}),
                  applies=_state("none")),
        CheckSpec("repeated-damage-kept", "two damaged opens in a row keep both quarantined copies",
                  "quarantine-overwrite", repeated_damage_kept, needs=frozenset({"migrate", "open"}),
                  applies=_state("one-valid")),
    ),
    axes=_axes,
    params=RecoveryParams,
    default_fixtures=("tag:snapshot-source",),
)
