"""Snapshots that cannot be restored: the newest corrupt, all corrupt, truncated, or gone.

Each kind also damages the database itself (a table leaf page zeroed: quick_check fails),
so startup must recover, and ``expected.restore_from`` names the snapshot a correct engine
restores: the newest one that still verifies (assuming the untouched ones do), or None when
none is left (the reference engine then says ``db_recovery_no_snapshot``).
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import datetime, timedelta, timezone
import sqlite3
from pathlib import Path

from harness.corruption.catalogue import (
    CORRUPT, NEED_SNAPSHOT, NEED_SNAPSHOTS_2, SNAPSHOT_RUNBOOK, DamageSetup, Done, Unsupported, kind,
    require_checkpointed, write_at,
)
from harness.sqlite.pages import Reader


def make_snapshots(setup: DamageSetup, count: int) -> DamageSetup:
    """Take ``count`` snapshots of ``setup.db`` into its backups directory with SQLite's online
    backup API, named so they sort by age, newest last; returns the setup with them."""
    setup.backups.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    for i in range(count):
        stamp = (now - timedelta(seconds=count - i)).strftime("%Y%m%dT%H%M%S%fZ")
        target = setup.backups / f"{setup.db.stem}-{stamp}-{i:03d}{setup.db.suffix or '.sqlite3'}"
        source = sqlite3.connect(f"{setup.db.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    return DamageSetup(setup.db, setup.seed, setup.data_dir, None, setup.other, setup.backups_dirname)


def zero_table_leaf(path: Path, rng: random.Random) -> str:
    """Zero a random leaf page of a random non-empty user table (quick_check then fails)."""
    from harness.corruption.pages_damage import _random_leaf, _user_roots

    with Reader(path) as r:
        roots = _user_roots(r, "table")
        if not roots:
            raise Unsupported(f"{path.name} has no user table")
        name, leaf_path = _random_leaf(r, roots, rng)
        page = leaf_path[-1].number
        write_at(path, r.offset(page), bytes(r.page_size))
    return f"{path.name}: page {page} (a leaf of table {name}) zeroed"


def _damage_database(setup: DamageSetup, rng: random.Random) -> str:
    require_checkpointed(setup)
    return zero_table_leaf(setup.db, rng)


def _need(setup: DamageSetup, count: int) -> tuple[Path, ...]:
    found = setup.snapshots or ()
    if len(found) < count:
        raise Unsupported(f"{len(found)} snapshots in {setup.backups}, {count} needed")
    return found


@kind("snapshot-newest-corrupt", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"), runbook=SNAPSHOT_RUNBOOK,
      needs=(NEED_SNAPSHOTS_2,),
      description="the database corrupt and its newest snapshot too: a correct engine skips that one and "
                  "restores the next")
def snapshot_newest_corrupt(setup: DamageSetup, rng: random.Random) -> Done:
    snaps = _need(setup, 2)
    what = _damage_database(setup, rng)
    bad = zero_table_leaf(snaps[0], rng)
    return Done(f"{what}; newest snapshot {bad}", changed=(setup.db, snaps[0]), expected={"restore_from": snaps[1]})


@kind("snapshot-all-corrupt", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"), runbook=SNAPSHOT_RUNBOOK,
      needs=(NEED_SNAPSHOT,),
      description="the database corrupt and every snapshot too: nothing to restore, nothing may be deleted")
def snapshot_all_corrupt(setup: DamageSetup, rng: random.Random) -> Done:
    snaps = _need(setup, 1)
    what = _damage_database(setup, rng)
    bad = [zero_table_leaf(s, rng) for s in snaps]
    return Done(f"{what}; every snapshot damaged: {'; '.join(bad)}", changed=(setup.db, *snaps),
                expected={"restore_from": None})


@kind("snapshot-missing", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"), runbook=SNAPSHOT_RUNBOOK,
      needs=(NEED_SNAPSHOT,),
      description="the database corrupt and the backups directory gone: nothing to restore")
def snapshot_missing(setup: DamageSetup, rng: random.Random) -> Done:
    _need(setup, 1)
    what = _damage_database(setup, rng)
    deleted = tuple(sorted(p for p in setup.backups.rglob("*") if p.is_file()))
    shutil.rmtree(setup.backups)
    return Done(f"{what}; {setup.backups} removed ({len(deleted)} files)", changed=(setup.db,), deleted=deleted,
                expected={"restore_from": None})


@kind("snapshot-truncated", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"), runbook=SNAPSHOT_RUNBOOK,
      needs=(NEED_SNAPSHOTS_2,),
      description="the database corrupt and its newest snapshot truncated (to zero bytes, as an interrupted "
                  "backup leaves it, or inside a page): a correct engine restores the next")
def snapshot_truncated(setup: DamageSetup, rng: random.Random) -> Done:
    snaps = _need(setup, 2)
    what = _damage_database(setup, rng)
    newest = snaps[0]
    size = newest.stat().st_size
    from harness.corruption.truncation import _last_used_page

    with Reader(newest) as r:
        ps, last = r.page_size, _last_used_page(r)
    if rng.random() < 0.5 or last < 2:
        new = 0
    else:
        new = rng.randrange(1, last) * ps + rng.randrange(1, ps)  # a page in use is cut
    os.truncate(newest, new)
    return Done(f"{what}; newest snapshot {newest.name}: {size} -> {new} bytes", changed=(setup.db, newest),
                expected={"restore_from": snaps[1]})
