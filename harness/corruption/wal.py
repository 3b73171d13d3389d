"""WAL damage: torn tails, bad salts, flipped frames, a damaged header, a deleted or foreign
``-wal``, a stale ``-shm``, a ``-wal`` left without its database.

Every kind here needs committed transactions still in the ``-wal``: ``make_wal_state``
produces that (a child process commits and dies without checkpointing). ``lost_commits``
counts what SQLite's WAL recovery will silently drop: it accepts frames up to the first one
whose salts or cumulative checksum disagree, and only up to the last commit frame before it.
The kinds read frame headers only (24 bytes each) and trust the checksums SQLite wrote;
``read_wal(verify=True)`` checks them.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from harness.corruption.catalogue import (
    BENIGN, NEED_OTHER, NEED_WAL, SILENT, DamageSetup, Done, Unsupported, kind, read_at, write_at, xor_at,
)
from harness.sqlite.pages import (
    WAL_HEADER_SIZE, WalMap, frame_checksum_ok, parse_wal_header, read_wal,
)
from harness.tracing import fork

PROBE_TABLE = "harness_wal_probe"


def default_statements(commits: int, label: str = "commit") -> list[str]:
    """``commits`` transactions that each leave a visible trace: the first creates a small
    table of the harness's own, each inserts one row."""
    create = (f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE}"
              "(id INTEGER PRIMARY KEY, commit_no INTEGER NOT NULL, note TEXT NOT NULL)")
    out = []
    for i in range(1, commits + 1):
        insert = f"INSERT INTO {PROBE_TABLE}(commit_no, note) VALUES ({i}, '{label} {i} of {commits}')"
        out.append(f"{create}; {insert}" if i == 1 else insert)
    return out


def make_wal_state(db: Path, commits: int = 3, statements: Sequence[str] | None = None) -> WalMap:
    """Leave ``db`` with committed transactions in its ``-wal`` that the main file lacks.

    A forked child opens the database in WAL mode with ``wal_autocheckpoint=0``, commits
    each statement (a ``;``-separated script is one transaction) and exits with
    ``os._exit`` without closing: no checkpoint runs, so the ``-wal`` (and ``-shm``) stay,
    as after an application crash. Returns the WAL's map.
    """
    db = Path(db)
    scripts = list(statements) if statements is not None else default_statements(commits)

    def commit_and_die() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        for script in scripts:
            conn.executescript(f"BEGIN IMMEDIATE; {script}; COMMIT;")
        os._exit(0)  # without closing: no checkpoint

    report = fork.run_forked(commit_and_die, timeout=60)
    if report.status != fork.EXITED or report.exit_code != 0:
        raise Unsupported(f"could not commit to {db.name} in WAL mode (the child {report.describe()})")
    wal = read_wal(db.with_name(db.name + "-wal"), verify=False)
    if len(wal.commits) < len(scripts):
        raise Unsupported(f"{db.name}-wal holds {len(wal.commits)} commits, {len(scripts)} expected")
    return wal


def make_foreign_database(db: Path, other: Path, commits: int = 2) -> Path:
    """Another database with committed WAL frames, for ``wal-foreign``: a copy of ``db``'s
    main file (another install of the same application) with its own ``commits``."""
    other = Path(other)
    other.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        other.with_name(other.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(db, other)
    make_wal_state(other, statements=default_statements(commits, label="foreign commit"))
    return other


def _wal(setup: DamageSetup) -> WalMap:
    if not setup.wal.is_file():
        raise Unsupported(f"{setup.wal.name} does not exist")
    wal = read_wal(setup.wal, verify=False)
    if not wal.commits:
        raise Unsupported(f"{setup.wal.name} holds no committed frames")
    return wal


def _lost(n: int) -> dict[str, object]:
    return {"lost_commits": n, "content_changed_silently": n > 0}


@kind("wal-torn-tail", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,),
      description="the -wal cut inside its last commit frame (a torn write): the last transaction is "
                  "silently discarded")
def wal_torn_tail(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    last = wal.commits[-1]
    cut = last.offset + rng.randrange(1, wal.frame_size)
    os.truncate(setup.wal, cut)
    return Done(f"{setup.wal.name}: {wal.file_size} -> {cut} bytes, inside frame {last.index} (page {last.page}), "
                f"the commit frame of transaction {len(wal.commits)} of {len(wal.commits)}",
                changed=(setup.wal,), expected=_lost(1))


@kind("wal-bad-salt", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,),
      description="the last commit frame's salt altered: that transaction is silently discarded")
def wal_bad_salt(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    last = wal.commits[-1]
    at = last.offset + 8 + rng.randrange(8)
    old, new = xor_at(setup.wal, at, rng.randrange(1, 256))
    return Done(f"{setup.wal.name}: frame {last.index} (page {last.page}, last commit) salt byte at offset {at}: "
                f"0x{old:02x} -> 0x{new:02x}", changed=(setup.wal,), expected=_lost(1))


@kind("wal-early-frame-flipped", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,),
      description="a byte flipped in an early WAL frame: the cumulative checksum drops that transaction "
                  "and every later one, silently")
def wal_early_frame_flipped(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    assert wal.header is not None
    k = rng.randrange(0, max(1, (wal.valid_frames + 1) // 2))
    frame = wal.frame(k)
    for _ in range(16):
        at = frame.data_offset + rng.randrange(wal.header.page_size)
        mask = 1 << rng.randrange(8)
        old, new = xor_at(setup.wal, at, mask)
        if not frame_checksum_ok(setup.wal, wal, k):
            break
        xor_at(setup.wal, at, mask)  # the checksum happens to survive this flip: undo, try another
    else:  # pragma: no cover - needs 16 checksum-preserving flips in a row
        raise Unsupported("no byte flip broke the frame checksum")
    lost = wal.lost_commits_if_cut_at(k)
    return Done(f"{setup.wal.name}: frame {k} of {wal.frame_count} (page {frame.page}), byte at offset {at}: "
                f"0x{old:02x} -> 0x{new:02x}; {lost} of {len(wal.commits)} committed transactions dropped",
                changed=(setup.wal,), expected=_lost(lost))


@kind("wal-header-damaged", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,),
      description="a byte of the 32-byte WAL header altered: the whole WAL is ignored, every transaction "
                  "in it lost without an error")
def wal_header_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    head = bytearray(read_at(setup.wal, 0, WAL_HEADER_SIZE))
    for _ in range(16):
        at, mask = rng.randrange(WAL_HEADER_SIZE), rng.randrange(1, 256)
        head[at] ^= mask
        parsed = parse_wal_header(bytes(head))
        if parsed is None or not parsed.valid:
            break
        head[at] ^= mask
    write_at(setup.wal, 0, bytes(head))
    return Done(f"{setup.wal.name}: header byte {at} ^ 0x{mask:02x}; all {len(wal.commits)} committed "
                f"transactions in it ignored", changed=(setup.wal,), expected=_lost(len(wal.commits)))


@kind("wal-deleted", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,), seeded=False,
      description="the -wal deleted while it held committed transactions: they are lost, no error")
def wal_deleted(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    setup.wal.unlink()
    return Done(f"{setup.wal.name} deleted ({wal.file_size} bytes, {len(wal.commits)} committed transactions)",
                deleted=(setup.wal,), expected=_lost(len(wal.commits)))


@kind("wal-foreign", symptom=SILENT, reports=("ok",), needs=(NEED_WAL, NEED_OTHER), seeded=False,
      description="another database's -wal copied beside this one: SQLite replays it, contents replaced, "
                  "integrity_check ok")
def wal_foreign(setup: DamageSetup, rng: random.Random) -> Done:
    own = _wal(setup)
    if setup.other is None:
        raise Unsupported("no other database given")
    other_wal = setup.other.with_name(setup.other.name + "-wal")
    if not other_wal.is_file():
        raise Unsupported(f"{other_wal} does not exist")
    theirs = read_wal(other_wal, verify=False)
    if not theirs.commits or theirs.header is None or own.header is None or \
            theirs.header.page_size != own.header.page_size:
        size = own.header.page_size if own.header else None
        raise Unsupported(f"{other_wal.name} has no committed frames of page size {size}")
    shutil.copyfile(other_wal, setup.wal)
    return Done(f"{setup.wal.name} ({len(own.commits)} commits) replaced by {other_wal} "
                f"({len(theirs.commits)} commits of another database)", changed=(setup.wal,),
                expected=_lost(len(own.commits)))


@kind("shm-stale", symptom=BENIGN, reports=("ok",), needs=(NEED_WAL,),
      description="the -shm filled with garbage or zeros: SQLite rebuilds the WAL index from the -wal")
def shm_stale(setup: DamageSetup, rng: random.Random) -> Done:
    _wal(setup)
    existed = setup.shm.is_file()
    size = max(setup.shm.stat().st_size if existed else 0, 32768)
    variant = rng.choice(["garbage", "zeros"])
    data = rng.randbytes(size) if variant == "garbage" else bytes(size)
    with open(setup.shm, "r+b" if existed else "wb") as handle:
        handle.write(data)
    return Done(f"{setup.shm.name}: {size} bytes of {variant}", changed=(setup.shm,) if existed else (),
                created=() if existed else (setup.shm,))


@kind("wal-orphan", symptom=SILENT, reports=("ok",), needs=(NEED_WAL,), seeded=False,
      description="the database deleted, its -wal left behind: SQLite creates a new empty database and "
                  "deletes the -wal")
def wal_orphan(setup: DamageSetup, rng: random.Random) -> Done:
    wal = _wal(setup)
    setup.db.unlink()
    return Done(f"{setup.db.name} deleted; {setup.wal.name} ({len(wal.commits)} commits) left",
                deleted=(setup.db,),
                expected={"database_missing": True, "content_changed_silently": True,
                          "lost_commits": len(wal.commits)})
