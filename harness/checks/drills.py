"""Corruption drills: damage a copy, run the engine's startup path, judge from the files alone.

A drill is fixture × damage kind (``harness.corruption``) × snapshot state × journal mode.
The harness brings a copy of the fixture to the snapshot state with the engine's own
``migrate`` (snapshots are whatever new files it leaves), sets the journal mode, damages the
copy, runs ``open`` and judges by the policy for the kind's symptom class:

- ``recover`` (not-a-database, corrupt, database missing): with a valid snapshot, the
  database at the original path is sound and equals the newest valid snapshot exactly, and
  every original file is still in the data directory byte-identical (not at the path);
  without one, the deterministic error (``db_recovery_no_snapshot``) and every byte kept;
- ``benign``: opened normally, content intact, nothing quarantined;
- ``transient`` (busy, read-only, full, read error): reported as such, never quarantined,
  never restored over good data, and a later open works;
- ``detect`` (silent damage): the content is compared with what was there before; what the
  engine let through is reported with the policy's severity (``warn`` by default).

A scenario overrides per kind: ``[checks.drills.params.policy] wal-deleted = "detect"`` or
``{ expect = "detect", severity = "error" }``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.checks import drills_power
from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, Params
from harness.checks.context import CaseContext
from harness.checks.recovery import NO_SNAPSHOT_ERROR, STATES, prepare
from harness.corruption import catalogue
from harness.corruption.catalogue import BENIGN, CORRUPT, NOT_A_DATABASE, SILENT, TRANSIENT, Kind
from harness.engines.capabilities import Traceable
from harness.engines.protocol import Outcome
from harness.fixtures.manifest import Manifest
from harness.scenario import FamilySpec
from harness.sqlite import inspect, salvage
from harness.sqlite.files import copy_db, db_files, sha256_file, tree_digest

JOURNALS = ("wal", "delete")
RECOVER, BENIGN_POLICY, TRANSIENT_POLICY, DETECT = "recover", "benign", "transient", "detect"
DEFAULT_POLICY = {NOT_A_DATABASE: RECOVER, CORRUPT: RECOVER, BENIGN: BENIGN_POLICY, TRANSIENT: TRANSIENT_POLICY,
                  SILENT: DETECT}
DEFAULT_SEVERITY = {DETECT: "warn"}
SOURCES = ("tag:snapshot-source",)


@dataclass(frozen=True)
class Policy:
    expect: str
    severity: str | None


def policy_for(kind: Kind, options: Mapping[str, Any]) -> Policy:
    override = dict(options.get("policy", {}) or {}).get(kind.id)
    if isinstance(override, str):
        return Policy(override, DEFAULT_SEVERITY.get(override))
    if isinstance(override, Mapping):
        expect = str(override.get("expect", DEFAULT_POLICY[kind.symptom]))
        return Policy(expect, override.get("severity", DEFAULT_SEVERITY.get(expect)))
    expect = DEFAULT_POLICY[kind.symptom]
    return Policy(expect, DEFAULT_SEVERITY.get(expect))


def _journals(kind: Kind) -> tuple[str, ...]:
    if catalogue.NEED_WAL in kind.needs or kind.id.startswith(("wal-", "shm-")):
        return ("wal",)
    if catalogue.NEED_JOURNAL in kind.needs or kind.id.startswith("journal-"):
        return ("delete",)
    return JOURNALS


def _states(kind: Kind) -> tuple[str, ...]:
    if catalogue.NEED_FK in kind.needs:  # foreign keys exist only at head (0007 in the reference app)
        return ("one-valid",)
    if catalogue.NEED_SNAPSHOTS_2 in kind.needs:
        return ("generations",)
    if catalogue.NEED_SNAPSHOT in kind.needs:
        return ("one-valid", "generations")
    return STATES


def _axes(spec: FamilySpec, manifest: Manifest | None) -> list[Params]:
    """Default: each kind once, snapshot states rotating so every state is drilled; with
    ``cross = true`` (the nightly profile) every kind × state × journal mode."""
    if manifest is None:
        return []
    sources = manifest.select(spec.fixtures or SOURCES)
    cross = bool(spec.params.get("cross", False))
    only = set(spec.params.get("kinds", []) or [])
    combos: list[Params] = []
    for f_index, fixture in enumerate(sources if cross else sources[:1]):
        for kind in (k for k in catalogue.kinds() if not only or k.id in only):
            states, journals = _states(kind), _journals(kind)
            if cross:
                pairs = [(s, j) for s in states for j in journals]
            else:  # by a stable hash of the id: adding a kind never renames another kind's case
                turn = int(hashlib.sha256(f"{kind.id}/{f_index}".encode()).hexdigest(), 16)
                pairs = [(states[turn % len(states)], journals[(turn // 7) % len(journals)])]
            for state, journal in pairs:
                combos.append((("fixture", fixture.name), ("kind", kind.id), ("snapshots", state),
                               ("journal", journal)))
        if not only:
            combos += [(("fixture", fixture.name), ("power", "migrate")), (("fixture", fixture.name), ("power", "open")),
                       (("fixture", fixture.name), ("random", "page-damage"))]
    return combos


def _has(name: str):  # type: ignore[no-untyped-def]
    return lambda params: name in dict(params)


def committed(db: Path) -> inspect.DbState:
    """What the database holds as SQLite itself resolves it (a hot journal rolled back, the
    WAL replayed), read from a private copy so the original stays as it is."""
    with tempfile.TemporaryDirectory(prefix="harness-committed-") as scratch:
        copy = copy_db(db, Path(scratch) / db.name)
        conn = sqlite3.connect(copy)
        try:
            conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError:
            pass  # observe() below reports what it can
        finally:
            conn.close()
        return inspect.observe(copy)


def _set_journal(db: Path, mode: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode = {'WAL' if mode == 'wal' else 'DELETE'}")
    finally:
        conn.close()


def _moved_elsewhere(damaged: Mapping[str, str], after: Mapping[str, str], db: Path) -> list[str]:
    """Damaged files whose bytes now sit somewhere other than where they were (quarantined)."""
    where = {digest: name for name, digest in after.items()}
    root = db.parent
    moved = []
    for name, digest in damaged.items():
        found = where.get(digest)
        if found is not None and found != (root / name).relative_to(root).as_posix():
            moved.append(name)
    return moved


def _lost(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    present = set(after.values())
    return sorted(name for name, digest in before.items() if digest not in present)


def _run_open(ctx: CaseContext, damage: catalogue.Damage, db: Path) -> Outcome | v.Verdict:
    if damage.process is not None:
        reason = damage.process.available()
        if reason:
            return v.skipped(f"{damage.kind} needs a fault in the engine's system calls: {reason}")
        if isinstance(ctx.engine, Traceable):  # it runs its own process, not a forked copy of this one
            return v.skipped(f"{damage.kind}: system-call faults are drilled on in-process engines")
        engine = ctx.engine
        try:
            result = damage.process.run(lambda: engine.open(db))
        except Exception as exc:  # noqa: BLE001 - the child's own failure is the engine's outcome
            return Outcome("open", False, "engine_error", f"{type(exc).__name__}: {exc}")
        return result if isinstance(result, Outcome) else Outcome("open", True)
    with damage.hold():
        return ctx.engine.open(db)


def handled(ctx: CaseContext) -> v.Verdict:
    kind = catalogue.get(ctx.case.param("kind") or "")
    state = ctx.case.param("snapshots") or "none"
    policy = policy_for(kind, ctx.case.options)
    prepared = prepare(ctx, state)
    if isinstance(prepared, v.Verdict):
        return prepared
    db = prepared.db
    _set_journal(db, ctx.case.param("journal") or "wal")
    newest_first = tuple(reversed(prepared.snapshots))
    try:
        setup = catalogue.prepare(kind, db, seed=ctx.case.seed, snapshots=newest_first,
                                  workdir=ctx.data_dir("other"))
    except catalogue.Unsupported as exc:
        return v.skipped(f"{kind.id} cannot be drilled on this fixture or machine: {exc}")
    before = committed(db)
    damage = kind.apply(setup)
    # What a correct engine restores: the kind says so when it damages snapshots, else the
    # newest snapshot the harness left valid. The damage never touches that file.
    target = damage.expected.restore_from if kind.area == "snapshots" else prepared.valid
    expected_content = dict(inspect.observe(target).tables) if target is not None else None
    damaged = {p.name: sha256_file(p) for p in db_files(db)}
    tree_before = tree_digest(db.parent)
    started = time.perf_counter()
    outcome = _run_open(ctx, damage, db)
    seconds = time.perf_counter() - started
    if isinstance(outcome, v.Verdict):
        return outcome
    tree_after = tree_digest(db.parent)
    facts = _Facts(ctx, kind, damage, policy, before, target, expected_content, damaged, tree_before, tree_after,
                   outcome, seconds, db)
    return facts.judge()


@dataclass
class _Facts:
    ctx: CaseContext
    kind: Kind
    damage: catalogue.Damage
    policy: Policy
    before: inspect.DbState
    target: Path | None
    expected_content: dict[str, inspect.TableContent] | None
    damaged: dict[str, str]
    tree_before: dict[str, str]
    tree_after: dict[str, str]
    outcome: Outcome
    seconds: float
    db: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def salvage(self) -> str:
        """What a user could get back from the quarantined original, where .recover can run."""
        digest = self.damaged.get(self.db.name)
        where = next((name for name, d in self.tree_after.items() if d == digest), None)
        if digest is None or where is None:
            return "salvage: the damaged original is not in the data directory"
        return salvage.salvage(self.db.parent / where).describe()

    def observations(self) -> dict[str, Any]:
        return {"kind": self.kind.id, "symptom": self.kind.symptom, "policy": self.policy.expect,
                "damage": self.damage.describe(), "outcome": self.outcome.describe(),
                "open_seconds": round(self.seconds, 4),
                "restore_from": self.target.name if self.target else None,
                "files_damaged": self.damaged, "files_before": self.tree_before, "files_after": self.tree_after,
                "sqlite_version": sqlite3.sqlite_version, **self.extra}

    def files(self) -> list[str]:
        return [f"damaged file {name}: sha256 {digest}" for name, digest in sorted(self.damaged.items())]

    def fail(self, problems: list[str], measured: str | None = None) -> v.Verdict:
        return v.failed(f"{self.kind.id}: {problems[0]}", measured=measured or f"{len(problems)} problems",
                        threshold="0", details="\n".join([self.damage.describe(), *problems, *self.files()]),
                        observations=self.observations(), severity=self.policy.severity, runbook=self.kind.runbook)

    def judge(self) -> v.Verdict:
        expect = self.policy.expect
        if expect == RECOVER:
            return self.recovered() if self.target is not None else self.refused()
        if expect == BENIGN_POLICY:
            return self.benign()
        if expect == TRANSIENT_POLICY:
            return self.transient()
        if expect == DETECT:
            return self.detected()
        return v.errored(f"unknown drill policy '{expect}' for {self.kind.id}")

    def _timing(self) -> list[str]:
        limit = self.ctx.threshold("recovery_seconds")
        if limit and self.seconds > limit.limit:
            return [f"recovery took {self.seconds:.3f}s, over the {limit.limit}s threshold"]
        return []

    def recovered(self) -> v.Verdict:
        self.extra["salvage"] = self.salvage()
        problems = [f"{n} is gone: its bytes are nowhere in the data directory" for n in
                    _lost(self.damaged, self.tree_after)]
        if not self.outcome.ok:
            problems.insert(0, f"open failed although a valid snapshot exists: {self.outcome.describe()}")
        else:
            now = inspect.observe(self.db)
            if not now.sound:
                problems.append(f"the database at the original path is not sound: {now.error or now.integrity}")
            elif inspect.content_diff(self.expected_content or {}, dict(now.tables)):
                diff = inspect.content_diff(self.expected_content or {}, dict(now.tables))
                problems.append(f"the database does not equal the newest valid snapshot: {diff[0]}")
            for name in self.damaged:
                beside = self.db.with_name(name)
                if beside.is_file() and sha256_file(beside) == self.damaged[name]:
                    problems.append(f"{name} was left at the database path instead of being quarantined")
        if problems:
            return self.fail(problems)
        slow = self._timing()
        if slow:  # only too slow: judged at the threshold's own severity
            limit = self.ctx.threshold("recovery_seconds")
            return v.failed(f"{self.kind.id}: {slow[0]}", measured=f"{self.seconds:.3f}s",
                            threshold=f"{limit.limit}s" if limit else None, observations=self.observations(),
                            severity=limit.severity if limit else None, runbook=self.kind.runbook)
        return v.passed(f"{self.kind.id}: quarantined byte-identical, restored {self.target.name if self.target else ''}"
                        f" in {self.seconds:.3f}s", observations=self.observations())

    def refused(self) -> v.Verdict:
        self.extra["salvage"] = self.salvage()
        expected = str(self.ctx.option("no_snapshot_error", NO_SNAPSHOT_ERROR))
        problems = [f"{n} is gone: its bytes are nowhere in the data directory" for n in
                    _lost(self.damaged, self.tree_after)]
        if self.outcome.ok:
            problems.insert(0, f"open succeeded with no valid snapshot to restore: it must fail with {expected}")
        elif self.outcome.error_code != expected:
            problems.insert(0, f"open failed with {self.outcome.error_code}, expected the deterministic {expected}")
        if problems:
            return self.fail(problems, measured=str(self.outcome.error_code or "success"))
        return v.passed(f"{self.kind.id}: refused with {expected}, every byte kept", observations=self.observations())

    def _content_problems(self) -> list[str]:
        now = inspect.observe(self.db)
        if not now.readable:
            return [f"the database is unreadable after open: {now.error}"]
        diff = inspect.content_diff(dict(self.before.tables), dict(now.tables))
        return [f"content changed: {line}" for line in diff]

    def benign(self) -> v.Verdict:
        problems = []
        if not self.outcome.ok:
            problems.append(f"open failed on damage SQLite copes with: {self.outcome.describe()}")
        moved = _moved_elsewhere(self.damaged, self.tree_after, self.db)
        if moved:
            problems.append(f"quarantined although harmless: {', '.join(moved)} moved away")
        problems += self._content_problems()
        if problems:
            return self.fail(problems)
        return v.passed(f"{self.kind.id}: opened normally, content intact", observations=self.observations())

    def transient(self) -> v.Verdict:
        problems = []
        codes = self.damage.expected.transient_codes
        if not self.outcome.ok and codes and self.outcome.error_code not in codes:
            problems.append(f"reported {self.outcome.error_code}, expected a transient code "
                            f"({', '.join(sorted(codes))})")
        moved = _moved_elsewhere(self.damaged, self.tree_after, self.db)
        if moved:
            problems.append(f"quarantined on a transient fault: {', '.join(moved)} moved away")
        problems += [p.replace("content changed", "good data replaced") for p in self._content_problems()]
        again = self.ctx.engine.open(self.db)
        if not again.ok:
            problems.append(f"once the fault was gone, open still failed: {again.describe()}")
        if problems:
            return self.fail(problems)
        return v.passed(f"{self.kind.id}: {self.outcome.describe()}; nothing quarantined, data intact",
                        observations=self.observations())

    def detected(self) -> v.Verdict:
        if _moved_elsewhere(self.damaged, self.tree_after, self.db):
            return v.passed(f"{self.kind.id}: the engine detected the silent damage and quarantined it",
                            observations=self.observations())
        problems = self._content_problems()
        now = inspect.observe(self.db, with_content=False)
        if not problems and now.readable and now.integrity != "ok":  # quick_check passed, the full check does not
            problems = [f"integrity_check fails after open: {now.integrity}"]
        lost = self.damage.expected.lost_commits
        if problems or lost:
            lines = problems or [f"{lost} committed transaction(s) silently dropped"]
            return v.failed(f"{self.kind.id}: silent damage let through: {lines[0]}", measured=f"{len(lines)} differences",
                            threshold="0", details="\n".join([self.damage.describe(), *lines, *self.files()]),
                            observations=self.observations(), severity=self.policy.severity,
                            runbook=self.kind.runbook)
        return v.passed(f"{self.kind.id}: content unchanged after open", observations=self.observations())


FAMILY = Family(
    name="drills",
    description="Damage and faults from the catalogue on a copy: the startup path recovers, refuses "
                "deterministically, copes, reports transient faults, and silent damage is reported.",
    checks=(
        CheckSpec("handled", "the engine's open handles the damage as the policy for its symptom says",
                  "drill-corrupt", handled, needs=frozenset({"migrate", "open"}), applies=_has("kind")),
        CheckSpec("power-loss", "a power cut at any sync point of a migration or a recovery (unsynced writes "
                  "dropped, torn or kept) leaves whole migrations, the user's data, and a restart that finishes",
                  "crash-inconsistency", drills_power.power_loss, needs=frozenset({"migrate", "open"}),
                  applies=_has("power")),
        CheckSpec("random-damage", "hypothesis-drawn page-aware damage never makes open claim success over an "
                  "unsound database or destroy the only copy of the data", "drill-corrupt",
                  drills_power.random_damage, needs=frozenset({"migrate", "open"}), applies=_has("random")),
    ),
    axes=_axes,
    default_fixtures=SOURCES,
)
