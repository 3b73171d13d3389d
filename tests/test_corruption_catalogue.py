"""The catalogue of damage and faults: every kind does what its symptom class says, on the
SQLite this runs with; apply is deterministic and cheaper than a copy; the hypothesis
strategies produce plans that re-apply byte for byte and print their seed.

What SQLite reports is measured here (``PRAGMA quick_check`` on a fresh connection, or the
probe named in a transient kind's description), not assumed: a kind whose ``reports`` or
symptom is wrong on this build fails.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from harness.corruption import (
    BENIGN, CORRUPT, NOT_A_DATABASE, SILENT, SYMPTOMS, TRANSIENT, DamageSetup, Unsupported, get, kinds, prepare,
)
from harness.corruption.catalogue import missing_needs
from harness.corruption.faults import immutable_reason, strace_reason
from harness.corruption.strategies import PLAN_KINDS, damage_strategy, plan_from_seed
from harness.corruption.wal import PROBE_TABLE, default_statements, make_wal_state
from harness.reference import snapshots as reference_snapshots
from harness.sqlite.inspect import content
from harness.sqlite.pages import map_pages, read_wal
from test_pages import build_database

COMMITS = 3
SEEDS = (0, 1, 2, 3, 4, 5)
FILE_KINDS = [k.id for k in kinds() if k.symptom != TRANSIENT]
TRANSIENT_KINDS = [k.id for k in kinds() if k.symptom == TRANSIENT]

# Every row of the reference table (shared/reference/sqlite-corruption.md) and the kinds for it.
REFERENCE_ROWS = {
    "magic string clobbered": ["header-magic"],
    "page-size field invalid": ["header-page-size-invalid"],
    "page-size field valid but wrong": ["header-page-size-wrong"],
    "version / payload-fraction bytes": ["header-version-bytes"],
    "schema format number": ["header-schema-format"],
    "text encoding": ["header-encoding"],
    "reserved bytes per page": ["header-reserved-bytes"],
    "in-header size too large": ["header-size-too-large"],
    "in-header size too small": ["header-size-too-small"],
    "truncation at / inside a used page": ["truncate-page-boundary", "truncate-mid-page"],
    "truncation of a free last page": ["truncate-free-tail"],
    "zero-length file": ["truncate-zero"],
    "text file / page 1 zeroed": ["text-file", "page1-zeroed"],
    "garbage appended": ["appended-garbage"],
    "table leaf page damaged": ["table-leaf-damaged"],
    "table interior page damaged": ["table-interior-damaged"],
    "bit flip in an indexed value": ["bitflip-indexed-value"],
    "bit flip in an unindexed value or overflow data": ["bitflip-unindexed-value"],
    "index page damaged": ["index-page-damaged"],
    "index and table disagree": ["index-table-disagree"],
    "overflow chain broken": ["overflow-chain-broken"],
    "freelist damaged": ["freelist-damaged"],
    "sqlite_schema damaged": ["schema-damaged"],
    "FK orphan": ["fk-orphan"],
    "schema cookie / change counter altered": ["change-counter-altered"],
    "WAL tail torn or last frame's salt wrong": ["wal-torn-tail", "wal-bad-salt"],
    "WAL byte flipped in an early frame": ["wal-early-frame-flipped"],
    "WAL header damaged or -wal deleted": ["wal-header-damaged", "wal-deleted"],
    "WAL from another database": ["wal-foreign"],
    "stale / garbage / missing -shm": ["shm-stale"],
    "database missing, -wal or -journal present": ["wal-orphan", "journal-orphan"],
    "hot rollback journal": ["journal-hot"],
    "hot journal deleted / damaged": ["journal-damaged"],
    "disk full": ["disk-full"],
    "locked": ["busy-locked"],
    "read-only": ["read-only"],
    "cannot open": ["cannot-open"],
    "I/O error on read": ["read-error-transient"],
    "corrupt snapshot": ["snapshot-newest-corrupt", "snapshot-all-corrupt", "snapshot-missing", "snapshot-truncated"],
}


# -- helpers ----------------------------------------------------------------------------------


def outcome(db: Path, pragma: str = "quick_check", *, timeout: float = 5.0) -> str:
    """What a fresh connection's check reports: "ok", "rows: ...", or the error's name."""
    try:
        with closing(sqlite3.connect(db, timeout=timeout)) as conn:
            rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.Error as exc:
        return str(getattr(exc, "sqlite_errorname", None) or type(exc).__name__)
    return "ok" if rows == ["ok"] else "rows: " + " | ".join(rows)[:300]


def matches(observed: str, reports: tuple[str, ...]) -> bool:
    head = "rows" if observed.startswith("rows") else observed
    return any(head == r or head.startswith(r + "_") for r in reports)


def logical_content(db: Path, scratch: Path) -> dict:
    """What SQLite shows for the database and sidecars as they are (on a copy: SQLite may
    replay a WAL or roll a journal back)."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / db.name
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = db.with_name(db.name + suffix)
        if source.is_file():
            shutil.copyfile(source, copy.with_name(copy.name + suffix))
    with closing(sqlite3.connect(copy)) as conn:
        return content(conn)


def probe_notes(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = ?", (PROBE_TABLE,)).fetchone():
            return []
        return [r[0] for r in conn.execute(f"SELECT note FROM {PROBE_TABLE} ORDER BY id")]


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def clone(template: Path, dest: Path, seed: int) -> DamageSetup:
    shutil.copytree(template, dest)
    other = dest / "other-app.db"
    return DamageSetup(dest / "app.db", seed, other=other if other.exists() else None)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("catalogue") / "base.db")


_templates: dict[tuple[str, str], Path] = {}


def template(kind_id: str, base: Path, root: Path, statements: list[str] | None = None) -> Path:
    """A directory holding ``base`` brought into the starting state ``kind_id`` needs."""
    key = (kind_id, str(base))
    if key not in _templates:
        directory = root / f"template-{kind_id}"
        directory.mkdir()
        db = directory / "app.db"
        shutil.copyfile(base, db)
        k = get(kind_id)
        if statements is not None and "wal" in k.needs:
            make_wal_state(db, statements=statements)
        prepare(k, db, seed=0, workdir=directory, commits=COMMITS)
        _templates[key] = directory
    return _templates[key]


@pytest.fixture(scope="module")
def templates_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


# -- the registry -----------------------------------------------------------------------------


def test_at_least_thirty_kinds_with_unique_well_formed_ids() -> None:
    all_kinds = kinds()
    ids = [k.id for k in all_kinds]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)
    for k in all_kinds:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", k.id), k.id
        assert k.symptom in SYMPTOMS
        assert k.runbook.startswith("drill-")
        assert k.reports and k.description and "\n" not in k.description
    assert {k.symptom for k in all_kinds} == set(SYMPTOMS)


def test_every_row_of_the_reference_table_has_its_kinds() -> None:
    known = {k.id for k in kinds()}
    missing = {row: [i for i in ids if i not in known] for row, ids in REFERENCE_ROWS.items()}
    assert not {row: ids for row, ids in missing.items() if ids}


def test_ids_named_in_the_issue_exist() -> None:
    named = ("header-magic header-page-size-invalid header-page-size-wrong header-version-bytes header-schema-format "
             "header-encoding header-reserved-bytes header-size-too-large header-size-too-small "
             "truncate-page-boundary truncate-mid-page truncate-free-tail truncate-zero text-file page1-zeroed "
             "appended-garbage table-leaf-damaged table-interior-damaged index-page-damaged overflow-chain-broken "
             "freelist-damaged schema-damaged index-table-disagree bitflip-indexed-value bitflip-unindexed-value "
             "fk-orphan change-counter-altered wal-torn-tail wal-bad-salt wal-early-frame-flipped wal-header-damaged "
             "wal-deleted wal-foreign shm-stale journal-hot journal-damaged journal-orphan disk-full busy-locked "
             "read-only cannot-open read-error-transient snapshot-newest-corrupt snapshot-all-corrupt "
             "snapshot-missing").split()
    assert set(named) <= {k.id for k in kinds()}


# -- symptoms, measured ------------------------------------------------------------------------


def _cases() -> list:
    out = []
    for k in kinds():
        if k.symptom == TRANSIENT:
            continue
        for seed in (SEEDS if k.seeded else SEEDS[:1]):
            out.append(pytest.param(k.id, seed, id=f"{k.id}-{seed}"))
    return out


@pytest.mark.parametrize(("kind_id", "seed"), _cases())
def test_sqlite_reports_what_the_symptom_class_says(kind_id: str, seed: int, base: Path, templates_root: Path,
                                                    tmp_path: Path) -> None:
    k = get(kind_id)
    setup = clone(template(kind_id, base, templates_root), tmp_path / "case", seed)
    assert missing_needs(k, setup) == []
    before = logical_content(setup.db, tmp_path / "before")
    probe_before = len(probe_notes_copy(setup, tmp_path / "probe"))
    damage = k.apply(setup)
    print(damage.describe())
    observed = outcome(setup.db)
    assert matches(observed, k.reports), f"{damage.describe()}: quick_check says {observed}, recorded {k.reports}"
    if k.symptom == NOT_A_DATABASE:
        assert observed.startswith("SQLITE_NOTADB"), observed
        return
    if k.symptom == CORRUPT:
        assert observed != "ok", damage.describe()
        assert damage.expected.quick_check_fails
        return
    assert observed == "ok", f"{damage.describe()}: {observed}"
    with closing(sqlite3.connect(setup.db)) as conn:
        after = content(conn)
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    integrity = outcome(setup.db, "integrity_check")
    assert (integrity != "ok") == damage.expected.integrity_check_fails, f"{damage.describe()}: {integrity}"
    assert bool(fk) == damage.expected.fk_violations, fk
    if k.symptom == BENIGN:
        assert after == before, damage.describe()
        assert damage.expected.lost_commits == 0 and not damage.expected.content_changed_silently
        return
    assert k.symptom == SILENT
    expected = damage.expected
    # something is wrong that quick_check cannot see
    assert expected.content_changed_silently or expected.integrity_check_fails or expected.fk_violations
    assert (after != before) == expected.content_changed_silently, damage.describe()
    if damage.expected.database_missing:
        assert after == {}  # SQLite made a new, empty database ...
        assert not setup.journal.exists() and not setup.wal.exists()  # ... and deleted the sidecar left beside it
    if "wal" in k.needs:
        notes = probe_notes(setup.db)
        if kind_id == "wal-foreign":
            assert notes and all(n.startswith("foreign commit") for n in notes), notes
        else:
            assert len(notes) == probe_before - damage.expected.lost_commits, (notes, damage.describe())
            assert damage.expected.lost_commits >= 1


def probe_notes_copy(setup: DamageSetup, scratch: Path) -> list[str]:
    scratch.mkdir()
    copy = scratch / setup.db.name
    for suffix in ("", "-wal", "-shm"):
        source = setup.db.with_name(setup.db.name + suffix)
        if source.is_file():
            shutil.copyfile(source, copy.with_name(copy.name + suffix))
    return probe_notes(copy) if copy.exists() else []


def test_wal_kinds_lose_exactly_the_commits_they_say(base: Path, tmp_path: Path) -> None:
    """Five commits; every WAL kind with several seeds: SQLite keeps exactly the others."""
    for kind_id in ("wal-torn-tail", "wal-bad-salt", "wal-early-frame-flipped", "wal-header-damaged", "wal-deleted"):
        for seed in range(6):
            directory = tmp_path / f"{kind_id}-{seed}"
            directory.mkdir()
            db = directory / "app.db"
            shutil.copyfile(base, db)
            make_wal_state(db, statements=default_statements(5))
            damage = get(kind_id).apply(DamageSetup(db, seed))
            kept = probe_notes(db)
            assert len(kept) == 5 - damage.expected.lost_commits, damage.describe()
            assert kept == [f"commit {i} of 5" for i in range(1, len(kept) + 1)]


def test_stale_index_entry_is_what_an_update_then_old_index_pages_leaves(base: Path, tmp_path: Path) -> None:
    """The recipe behind index-table-disagree, done by SQLite (UPDATE in WAL mode, then the
    index pages written back as they were) leaves exactly the bytes the kind writes."""
    checked = 0
    for seed in range(12):
        damaged = tmp_path / f"kind-{seed}" / "app.db"
        damaged.parent.mkdir()
        shutil.copyfile(base, damaged)
        damage = get("index-table-disagree").apply(DamageSetup(damaged, seed))
        if not damage.expected.content_changed_silently:
            continue  # the other variant: an index entry dropped
        rows = {}
        for label, path in (("base", base), ("damaged", damaged)):
            with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as conn:
                rows[label] = dict(conn.execute("SELECT rowid, name FROM items NOT INDEXED"))
        (rowid, new), = {(r, v) for r, v in rows["damaged"].items() if rows["base"][r] != v}
        oracle = tmp_path / f"oracle-{seed}" / "app.db"
        oracle.parent.mkdir()
        shutil.copyfile(base, oracle)
        with closing(sqlite3.connect(oracle, isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("UPDATE items SET name = ? WHERE rowid = ?", (new, rowid))
            wal = read_wal(oracle.with_name("app.db-wal"))
            touched = set(wal.pages[:wal.valid_frames])
            with open(oracle, "rb") as handle:
                old_pages = {p: (handle.seek((p - 1) * 4096), handle.read(4096))[1] for p in touched}
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index_pages = {p: data for p, data in old_pages.items() if data[0] in (0x02, 0x0A)}
        assert index_pages and len(index_pages) < len(touched)  # the table leaf changed too
        with open(oracle, "r+b") as handle:
            for p, data in index_pages.items():
                handle.seek((p - 1) * 4096)
                handle.write(data)
        assert oracle.read_bytes() == damaged.read_bytes(), damage.describe()
        checked += 1
    assert checked >= 3


def test_snapshot_kinds_leave_only_the_expected_snapshot_restorable(base: Path, templates_root: Path,
                                                                    tmp_path: Path) -> None:
    for kind_id in ("snapshot-newest-corrupt", "snapshot-all-corrupt", "snapshot-missing", "snapshot-truncated"):
        for seed in range(3):
            setup = clone(template(kind_id, base, templates_root), tmp_path / f"{kind_id}-{seed}", seed)
            damage = get(kind_id).apply(setup)
            valid = [p for p in (setup.snapshots or ()) if p.exists() and reference_snapshots.verify(p)]
            expected = damage.expected.restore_from
            assert (valid[0] if valid else None) == expected, damage.describe()
            assert damage.expected.should_quarantine


def test_the_hot_journal_helper_leaves_a_journal_sqlite_rolls_back(base: Path, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    shutil.copyfile(base, db)
    before = logical_content(db, tmp_path / "before")
    setup = prepare("journal-hot", db, seed=0)
    assert setup.journal.exists()
    # opened read-only, SQLite cannot roll it back
    uri = f"file:{db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn, pytest.raises(sqlite3.Error) as caught:
        conn.execute("PRAGMA quick_check").fetchall()
    assert caught.value.sqlite_errorname == "SQLITE_READONLY_ROLLBACK"
    with closing(sqlite3.connect(db)) as conn:
        assert content(conn) == before
    assert not setup.journal.exists()


# -- transient faults -------------------------------------------------------------------------


def _write(db: Path) -> str:
    try:
        with closing(sqlite3.connect(db, timeout=0)) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS harness_probe_write(x)")
            conn.execute("INSERT INTO harness_probe_write VALUES (zeroblob(100000))")
            conn.commit()
    except sqlite3.Error as exc:
        return str(exc.sqlite_errorname)
    return "ok"


def _transient_setup(base: Path, tmp_path: Path, seed: int = 0) -> DamageSetup:
    db = tmp_path / "app.db"
    shutil.copyfile(base, db)
    return DamageSetup(db, seed)


def test_busy_locked_holds_an_exclusive_lock_while_held(base: Path, tmp_path: Path) -> None:
    setup = _transient_setup(base, tmp_path)
    before = tree(tmp_path)
    damage = get("busy-locked").apply(setup)
    with damage.hold():
        observed = outcome(setup.db, timeout=0)
        assert matches(observed, get("busy-locked").reports), observed
    assert outcome(setup.db, timeout=0) == "ok"
    assert tree(tmp_path) == before
    assert damage.expected.transient_codes == {"db_busy"}


def test_read_only_lets_reads_through_and_fails_writes(base: Path, tmp_path: Path) -> None:
    if immutable_reason(tmp_path):
        pytest.skip(immutable_reason(tmp_path))
    setup = _transient_setup(base, tmp_path)
    digest = tree(tmp_path)["app.db"]
    damage = get("read-only").apply(setup)
    with damage.hold():
        assert outcome(setup.db) == "ok"
        observed = _write(setup.db)
        assert matches(observed, get("read-only").reports), observed
        with pytest.raises(OSError):
            os.rename(setup.db, tmp_path / "moved.db")  # nor can it be quarantined
    assert tree(tmp_path)["app.db"] == digest
    assert _write(setup.db) == "ok"  # released


def test_cannot_open_puts_a_directory_in_place_and_back(base: Path, tmp_path: Path) -> None:
    setup = _transient_setup(base, tmp_path)
    before = tree(tmp_path)
    damage = get("cannot-open").apply(setup)
    with damage.hold():
        assert setup.db.is_dir()
        observed = outcome(setup.db)
        assert matches(observed, get("cannot-open").reports), observed
    assert tree(tmp_path) == before and setup.db.is_file()


needs_strace = pytest.mark.skipif(bool(strace_reason()), reason=strace_reason() or "-")


@needs_strace
def test_disk_full_fails_writes_with_sqlite_full_and_keeps_the_file(base: Path, tmp_path: Path) -> None:
    setup = _transient_setup(base, tmp_path)
    before = tree(tmp_path)
    damage = get("disk-full").apply(setup)
    assert damage.process is not None
    observed = damage.process.run(lambda: _write(setup.db))  # an in-process engine, forked and traced
    assert matches(observed, get("disk-full").reports), observed
    assert tree(tmp_path)["app.db"] == before["app.db"]
    assert outcome(setup.db) == "ok"
    # a command engine: the same fault around its argv
    script = ("import sqlite3, sys\ntry:\n    c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t2(x)'); "
              "c.commit(); print('ok')\nexcept sqlite3.Error as e:\n    print(e.sqlite_errorname)")
    run = subprocess.run(damage.process.wrap([sys.executable, "-c", script, str(setup.db)]),
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "SQLITE_FULL", run.stderr
    assert outcome(setup.db) == "ok"


@needs_strace
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_read_error_is_transient_a_fresh_connection_reads_fine(seed: int, base: Path, tmp_path: Path) -> None:
    setup = _transient_setup(base, tmp_path, seed)
    damage = get("read-error-transient").apply(setup)
    assert damage.process is not None
    first, second = damage.process.run(lambda: (outcome(setup.db), outcome(setup.db)))
    assert matches(first, get("read-error-transient").reports), first
    assert second == "ok"


def test_process_faults_report_the_childs_exception(base: Path, tmp_path: Path) -> None:
    if strace_reason():
        pytest.skip(strace_reason())
    damage = get("disk-full").apply(_transient_setup(base, tmp_path))
    assert damage.process is not None
    with pytest.raises(ZeroDivisionError):
        damage.process.run(lambda: 1 // 0)


# -- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind_id", FILE_KINDS)
def test_apply_is_deterministic_for_a_seed(kind_id: str, base: Path, templates_root: Path, tmp_path: Path) -> None:
    k = get(kind_id)
    source = template(kind_id, base, templates_root)
    digests = []
    for run in range(2):
        setup = clone(source, tmp_path / f"same-{run}", 11)
        first = k.apply(setup)
        digests.append(tree(tmp_path / f"same-{run}"))
    assert digests[0] == digests[1], first.describe()
    if not k.seeded:
        return
    for seed in range(12, 24):
        setup = clone(source, tmp_path / f"other-{seed}", seed)
        other = k.apply(setup)
        if tree(tmp_path / f"other-{seed}") != digests[0]:
            assert other.summary != first.summary or other.seed != first.seed
            return
    pytest.fail(f"{kind_id}: seeds 12..23 all damage exactly like seed 11")


# -- cost -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = build_database(tmp_path_factory.mktemp("big") / "base.db", rows=55000)
    assert 4_000_000 < db.stat().st_size < 7_000_000
    return db


REPS = 5


def clock() -> float:
    """CPU time of this process, user and system (a copy is mostly system time): unlike
    wall time it does not count the time other processes on a shared CI machine take."""
    return time.process_time()


def _copy_cost(path: Path, scratch: Path) -> float:
    gc.disable()
    try:
        start = clock()
        shutil.copyfile(path, scratch)
        elapsed = clock() - start
    finally:
        gc.enable()
    scratch.unlink()
    return elapsed


@pytest.fixture(scope="module")
def page_map(base: Path):
    return map_pages(base)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_strategy_plans_reapply_byte_for_byte_and_print_their_seed(data, base: Path, page_map, tmp_path: Path) -> None:
    plan = data.draw(damage_strategy(page_map))
    note(plan.describe())
    assert f"seed={plan.seed}" in plan.describe() and plan.kind in plan.describe()
    assert plan_from_seed(page_map, plan.seed, plan.kind) == plan
    results = []
    for run in range(2):
        copy = tmp_path / f"plan-{plan.seed}-{plan.kind}-{run}.db"
        shutil.copyfile(base, copy)
        plan.apply(copy)
        results.append(copy.read_bytes())
        copy.unlink()
    assert results[0] == results[1]
    assert results[0] != base.read_bytes(), plan.describe()


def test_a_swap_never_exchanges_two_free_pages(page_map) -> None:
    """Free pages are often all zero, and SQLite reads none of them: exchanging two is no damage."""
    free = [n for n in range(2, page_map.page_count + 1) if page_map.role(n) == "freelist-leaf"]
    assert len(free) >= 2, "the base database has free pages to choose from"
    plans = [plan_from_seed(page_map, seed, "swap") for seed in range(600)]
    assert any(op.roles[0] == "freelist-leaf" for p in plans for op in p.ops)
    assert not [p.describe() for p in plans for op in p.ops if op.roles == ("freelist-leaf", "freelist-leaf")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_strategy_flips_land_in_pages_of_the_chosen_role(data, page_map) -> None:
    role = data.draw(st.sampled_from(["leaf-table", "interior-index", "overflow", "freelist-leaf"]))
    plan = data.draw(damage_strategy(page_map, kinds=("flip",), roles=(role,)))
    for op in plan.ops:
        assert op.role == role and page_map.role(op.page) == role
        assert (op.page - 1) * page_map.page_size <= op.offset < op.page * page_map.page_size


def test_plan_kinds_each_describe_their_operations(page_map) -> None:
    for kind in PLAN_KINDS:
        plan = plan_from_seed(page_map, 1234, kind)
        text = plan.describe()
        words = {"flip": "flip page", "truncate": "truncate to", "swap": "swap page"}[kind]
        assert "seed=1234" in text and words in text


def test_unsupported_when_the_starting_state_lacks_what_a_kind_needs(base: Path, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    shutil.copyfile(base, db)
    with pytest.raises(Unsupported):
        get("wal-torn-tail").apply(DamageSetup(db, 0))  # no -wal
    with pytest.raises(Unsupported):
        get("journal-hot").apply(DamageSetup(db, 0))  # no journal
    make_wal_state(db, commits=1)
    with pytest.raises(Unsupported):
        get("table-leaf-damaged").apply(DamageSetup(db, 0))  # a -wal would hide the damage


def test_a_free_tail_is_made_even_when_the_file_already_has_free_pages(tmp_path: Path) -> None:
    """SQLite reuses free pages before it grows the file: a fixture whose migrations left a
    freelist got no free tail, and its truncate-free-tail drill was skipped."""
    from harness.corruption import needs
    from harness.corruption.catalogue import NEED_FREE_TAIL, DamageSetup

    db = tmp_path / "app.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE keep(x)")
        conn.execute("CREATE TABLE gone(x)")
        conn.execute("INSERT INTO gone VALUES (zeroblob(40000))")
        conn.execute("INSERT INTO keep VALUES (zeroblob(20000))")  # after it: the freed pages are not at the end
        conn.execute("DROP TABLE gone")
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] >= 8
    setup = DamageSetup(db, 0)
    assert not needs.met(NEED_FREE_TAIL, setup)
    needs.make(NEED_FREE_TAIL, setup, workdir=tmp_path)
    assert needs.met(NEED_FREE_TAIL, setup)
