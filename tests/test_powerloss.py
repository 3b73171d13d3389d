"""Power loss: traces parsed into exact operations, replayed into the images a power cut at
each sync point leaves (unsynced writes dropped, torn or kept), and judged.

The reference engine must leave a whole number of migrations in every image and its user's
data recoverable during a recovery; two deliberately unsafe engines must be caught. The
parts that need strace are skipped where it (or ptrace) is unavailable.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path
from typing import Callable

import pytest

from harness.checks.states import State, reopened_step, state_of
from harness.engines import powerloss
from harness.engines.child import MARKER
from harness.engines.command import CommandEngine
from harness.engines.faults import strace_tool
from harness.engines.loader import import_target
from harness.engines.powerloss import (
    MODES, Create, Mkdir, PowerLossError, Rename, Sync, Truncate, Unlink, Write, WriteLog, images, parse,
    power_loss_runs, record, supported, sync_points,
)
from harness.engines.protocol import OP_OPEN, Outcome
from harness.sqlite.inspect import reopen_integrity
from harness.engines.python import PythonEngine
from harness.fixtures.manifest import load
from harness.fixtures.store import FixtureStore
from harness.reference import ReferenceEngine

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_TARGET = "harness.reference:ReferenceEngine"
LEGACY = "v1-pre-history"
HEAD = 7

needs_strace = pytest.mark.skipif(not strace_tool().usable,
                                  reason=f"power loss needs strace and ptrace: {strace_tool().reason}")

UNSAFE_ENGINES = textwrap.dedent('''
    import os
    import sqlite3

    from harness.reference import ReferenceEngine


    class MemoryJournal(ReferenceEngine):
        """Keeps its rollback journal in memory: a power cut mid-commit leaves half a migration."""

        def connect(self, db):
            conn = sqlite3.connect(db, isolation_level=None, timeout=0)
            conn.execute("PRAGMA journal_mode=MEMORY").fetchall()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            return conn


    class RenameUnsynced(ReferenceEngine):
        """Migrates a copy, writes the result to a new file and renames it over the database,
        fsyncing the directory but never the new file (ext4's zero-length files)."""

        def migrate(self, db, target=None):
            work = db.with_name(db.name + ".work")
            if db.exists():
                work.write_bytes(db.read_bytes())
            super().migrate(work, target)
            fresh = db.with_name(db.name + ".new")
            fresh.write_bytes(work.read_bytes())
            os.replace(fresh, db)
            fd = os.open(db.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            work.unlink()
''')


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> FixtureStore:
    return FixtureStore(load(ROOT / "fixtures" / "manifest.toml"))


@pytest.fixture(scope="module")
def unsafe_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unsafe") / "unsafe_engines.py"
    path.write_text(UNSAFE_ENGINES, encoding="utf-8")
    return path


def reference() -> PythonEngine:
    return PythonEngine(ReferenceEngine(), REFERENCE_TARGET)


def unsafe(module: Path, name: str) -> PythonEngine:
    target = f"{module}:{name}"
    return PythonEngine(import_target(target, module, key="engine.target")(), target)  # type: ignore[operator]


Start = Callable[[Path], Path]


def starter(store: FixtureStore, fixture: str | None) -> Start:
    """Makes a data directory under the given path holding the starting database."""
    def make(where: Path) -> Path:
        db = where / "data" / "app.sqlite3"
        db.parent.mkdir(parents=True)
        if fixture:
            store.copy_to(store.manifest.get(fixture), db)
        return db
    return make


def legitimate(engine: PythonEngine, start: Start, where: Path, window: Callable[[], tuple[float, float]]
               ) -> list[State]:
    """The start, then the state after each migration (migrate(target=v) on fresh copies)."""
    states = [state_of(start(where / "state-0"), None, window())]
    for version in range(1, HEAD + 1):
        db = start(where / f"state-{version}")
        outcome = engine.migrate(db, version)
        assert outcome.ok, outcome.describe()
        states.append(state_of(db, None, window()))
    return states


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def clock() -> Callable[[], tuple[float, float]]:
    started = time.time()
    return lambda: (started - 1.0, time.time() + 1.0)


def problems(run: powerloss.PowerLossRun, states: list[State], window: Callable[[], tuple[float, float]],
             modes: tuple[str, ...] = MODES) -> tuple[list[str], dict[tuple[str, int], int]]:
    found, steps = [], {}
    for image in run.images(modes):
        step, problem = reopened_step(image.db, states, volatile=window())
        if problem:
            found.append(f"{image.describe()}: {problem}")
        else:
            steps[(image.mode, image.point)] = step  # type: ignore[assignment]
    return found, steps


# -- parsing (no strace needed) ---------------------------------------------------------------


def hexed(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "".join(f"\\x{b:02x}" for b in data)


def test_parser_reads_strace_syntax(tmp_path: Path) -> None:
    root = tmp_path / "data"
    db = hexed(f"{root}/app.db")
    cwd = hexed(str(tmp_path))  # the working directory AT_FDCWD shows; relative paths resolve there
    lines = [
        f'7 openat(AT_FDCWD<{cwd}>, "{hexed("data/app.db")}", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 3<{db}>',
        f'7 pwrite64(3<{db}>, "{hexed("abc")}", 3, 4096) = 3',
        f'7 write(3<{db}>, "{hexed("xy")}", 2 <unfinished ...>',
        f'8 fsync(4<{hexed("/elsewhere/x")}>) = 0',
        '7 <... write resumed>) = 2',
        f'7 writev(3<{db}>, [{{iov_base="{hexed("12")}", iov_len=2}}, {{iov_base="{hexed("345")}", iov_len=3}}], 2) = 4',
        f'7 fdatasync(3<{db}>) = 0',
        f'7 pwrite64(3<{db}>, "{hexed("zz")}", 2, 0) = -1 ENOSPC (No space left on device)',
        f'7 rename("{hexed("data/app.db")}", "{hexed("data/old.db")}") = 0',
        f'7 unlinkat(AT_FDCWD<{cwd}>, "{hexed("data/sub")}", AT_REMOVEDIR) = 0',
        f'7 ftruncate(3<{hexed(f"{root}/old.db")}>(deleted), 10) = 0',
        f'7 openat(AT_FDCWD<{cwd}>, "{hexed("data/app.db-shm")}", O_RDWR|O_CREAT, 0644) = 5<{hexed(f"{root}/app.db-shm")}>',
        f'7 pwrite64(5<{hexed(f"{root}/app.db-shm")}>, "{hexed("s")}", 1, 4095) = 1',
        '7 +++ exited with 0 +++',
    ]
    ops, unmodelled, _ = parse(lines, root, cwd="/nonexistent")
    assert list(ops) == [
        Create("app.db"), Write("app.db", 4096, b"abc"), Write("app.db", 0, b"xy"), Write("app.db", 2, b"1234"),
        Sync("app.db"), Rename("app.db", "old.db"), powerloss.Rmdir("sub"), Truncate("old.db", 10, deleted=True),
    ]  # the failed write is no op; -shm files are left out
    assert unmodelled == ()


def test_parser_refuses_a_write_captured_in_part(tmp_path: Path) -> None:
    root = tmp_path / "data"
    line = f'7 pwrite64(3<{hexed(f"{root}/app.db")}>, "{hexed("abcd")}"..., 4096, 0) = 4096'
    with pytest.raises(PowerLossError, match="captured only in part"):
        parse([line], root, cwd=tmp_path)


def test_parser_flags_what_it_cannot_replay(tmp_path: Path) -> None:
    root = tmp_path / "data"
    db = hexed(f"{root}/app.db")
    lines = [f"7 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, 3<{db}>, 0) = 0x7f0000000000",
             f"7 copy_file_range(4<{hexed('/elsewhere')}>, NULL, 3<{db}>, NULL, 100, 0) = 100"]
    _, unmodelled, _ = parse(lines, root, cwd=tmp_path)
    assert len(unmodelled) == 2
    log = WriteLog(root, "app.db", (), Outcome("run", True), unmodelled=unmodelled)
    with pytest.raises(PowerLossError, match="cannot be replayed"):
        next(images(log, {}, "drop"))


# -- replay rules (no strace needed) ----------------------------------------------------------


def synthetic(*ops: object) -> WriteLog:
    return WriteLog(Path("/nowhere"), "f", tuple(ops), Outcome("run", True))  # type: ignore[arg-type]


def contents(log: WriteLog, start: dict[str, object], mode: str, seed: int = 0) -> list[dict[str, bytes]]:
    return [tree(image.directory) for image in images(log, start, mode, seed)]  # type: ignore[arg-type]


def test_replay_drops_tears_or_keeps_what_is_unsynced() -> None:
    page = bytes(range(256)) * 8  # 2048 bytes: 4 sectors
    log = synthetic(Write("f", 0, b"A" * 1024), Sync("f"), Write("f", 1024, b"B" * 512), Write("f", 0, page),
                    Sync("f"), Truncate("f", 100))
    start = {"f": b"", "sub/": b""}
    assert sync_points(log) == 2
    drop = contents(log, start, "drop")
    assert [d["f"] for d in drop] == [b"", b"A" * 1024, page]
    keep = contents(log, start, "keep")
    assert [d["f"] for d in keep] == [b"A" * 1024, page, page[:100]]
    # tear: every unsynced write but the last lands; the last only in its first half of sectors
    tear = contents(log, start, "tear")
    assert [d["f"] for d in tear] == [b"A" * 512, page[:1024] + b"B" * 512, page[:100]]
    seeded = contents(log, start, "tear", seed=3)[1]["f"]
    assert seeded != keep[1]["f"]  # a proper subset of the sectors, never all of them
    base = b"A" * 1024 + b"B" * 512
    for i in range(0, 2048, 512):
        assert seeded[i:i + 512] in (page[i:i + 512], base[i:i + 512])


def test_replay_names_need_a_directory_sync() -> None:
    log = synthetic(Create("new"), Write("new", 0, b"data"), Sync("new"), Rename("new", "f"), Sync("other"),
                    Mkdir("d"), Sync(""), Unlink("f"), Create("d/x"), Sync("d"))
    start = {"f": b"old", "other": b"o"}
    old = {"f": b"old", "other": b"o"}
    drop = contents(log, start, "drop")
    # the file's data is synced, but its name (creation, rename) waits for the directory sync
    assert drop[:3] == [old, old, old]
    assert drop[3] == {"f": b"data", "other": b"o"}
    # syncing d makes its new entry durable, but not the unlink of f: that entry is the data directory's
    assert drop[4] == {"f": b"data", "d/x": b"", "other": b"o"}
    keep = contents(log, start, "keep")
    assert keep[:2] == [{"f": b"old", "new": b"data", "other": b"o"}, {"f": b"data", "other": b"o"}]
    assert keep[3] == keep[4] == {"d/x": b"", "other": b"o"}
    assert contents(log, start, "tear")[1] == keep[1]  # tear keeps name operations


# -- traced runs ------------------------------------------------------------------------------


@needs_strace
def test_trace_of_a_small_program_is_parsed_into_the_exact_ops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    program = textwrap.dedent("""
        import os, sys
        d = sys.argv[1]
        fd = os.open(os.path.join(d, "app.db"), os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b"hello", 0)
        os.pwrite(fd, bytes(range(256)) * 16, 4096)
        os.fsync(fd)
        os.lseek(fd, 100, os.SEEK_SET)
        os.write(fd, b"AB")
        os.ftruncate(fd, 6000)
        os.fdatasync(fd)
        os.close(fd)
        os.rename(os.path.join(d, "app.db"), os.path.join(d, "old.db"))
        os.mkdir(os.path.join(d, "sub"))
        dfd = os.open(d, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        os.unlink(os.path.join(d, "old.db"))
        with open(os.path.join(sys.argv[2], "outside"), "wb") as f:
            f.write(b"not in the data directory")
            os.fsync(f.fileno())
    """)
    script = tmp_path / "program.py"
    script.write_text(program, encoding="utf-8")
    log = record([sys.executable, str(script), "{data_dir}", str(tmp_path)], data / "app.db", timeout=60)
    assert log.outcome.ok, log.outcome.describe()
    assert list(log.ops) == [
        Create("app.db"), Write("app.db", 0, b"hello"), Write("app.db", 4096, bytes(range(256)) * 16),
        Sync("app.db"), Write("app.db", 100, b"AB"), Truncate("app.db", 6000), Sync("app.db"),
        Rename("app.db", "old.db"), Mkdir("sub"), Sync(""), Unlink("old.db"),
    ]
    assert sync_points(log) == 3
    assert log.trace_bytes > 0 and log.unmodelled == ()


@needs_strace
@pytest.mark.parametrize("fixture", [None, LEGACY], ids=["fresh", LEGACY])
def test_reference_migration_is_whole_in_every_image(tmp_path: Path, store: FixtureStore,
                                                     fixture: str | None) -> None:
    window = clock()
    engine = reference()
    start = starter(store, fixture)
    states = legitimate(engine, start, tmp_path, window)
    db = start(tmp_path / "run")
    run = power_loss_runs(engine, db, None, into=tmp_path / "power")
    assert run.outcome.ok, run.outcome.describe()
    assert run.sync_points >= 4
    found, steps = problems(run, states, window)
    assert found == []
    assert len(steps) == len(MODES) * (run.sync_points + 1)
    # the drill covers the whole range: images before anything is durable, and at head
    assert min(steps.values()) == 0 and max(steps.values()) == HEAD
    assert steps[("keep", run.sync_points + 1)] == HEAD
    # the modes really differ where writes are unsynced (tear is no alias of keep or drop)
    differing = 0
    by_point: dict[int, dict[str, dict[str, bytes]]] = {}
    for image in run.images():
        if image.unsynced:
            by_point.setdefault(image.point, {})[image.mode] = tree(image.directory)
    for point, trees in by_point.items():
        if trees["keep"] != trees["tear"] and trees["keep"] != trees["drop"] and trees["tear"] != trees["drop"]:
            differing += 1
    assert differing >= 2
    if fixture is None:  # seeded tears: a random subset of sectors lands, still whole
        found, _ = problems(dataclasses.replace(run, seed=11), states, window, ("tear",))
        assert found == []


@needs_strace
def test_memory_journal_is_caught_by_a_torn_write(tmp_path: Path, store: FixtureStore,
                                                  unsafe_module: Path) -> None:
    window = clock()
    engine = unsafe(unsafe_module, "MemoryJournal")
    start = starter(store, None)
    states = legitimate(engine, start, tmp_path, window)
    run = power_loss_runs(engine, start(tmp_path / "run"), None, into=tmp_path / "power")
    assert run.outcome.ok, run.outcome.describe()
    found, steps = problems(run, states, window)
    assert found, "a journal kept in memory must leave a torn, half-applied migration somewhere"
    assert all("(tear)" in problem for problem in found), found  # dropped or kept writes stay whole
    assert sum(1 for mode, _ in steps if mode != "tear") == 2 * (run.sync_points + 1)


@needs_strace
def test_rename_over_an_unsynced_file_is_caught_by_dropped_writes(tmp_path: Path, store: FixtureStore,
                                                                  unsafe_module: Path) -> None:
    window = clock()
    engine = unsafe(unsafe_module, "RenameUnsynced")
    start = starter(store, LEGACY)
    states = legitimate(engine, start, tmp_path, window)
    run = power_loss_runs(engine, start(tmp_path / "run"), None, into=tmp_path / "power", modes=("drop", "keep"))
    assert run.outcome.ok, run.outcome.describe()
    found, steps = problems(run, states, window, ("drop", "keep"))
    # a kill never shows it (keep: the page cache held the new file); a power cut does
    assert all(("keep", point) in steps for point in range(1, run.sync_points + 2))
    assert any("(drop) after the run" in problem and "no whole number of migrations" in problem
               for problem in found), found


@needs_strace
def test_recovery_under_power_loss_never_loses_the_users_data(tmp_path: Path, store: FixtureStore) -> None:
    engine = reference()
    db = starter(store, LEGACY)(tmp_path)
    assert engine.migrate(db).ok  # leaves a verified snapshot of the legacy database in backups/
    (snapshot,) = (db.parent / "backups").iterdir()
    wanted = state_of(snapshot)
    with open(db, "r+b") as handle:
        handle.write(b"\x00" * 16)  # clobbered header: SQLITE_NOTADB
    damaged = db.read_bytes()
    run = power_loss_runs(engine, db, operation=OP_OPEN, into=tmp_path / "power")
    assert run.outcome.ok, run.outcome.describe()
    assert state_of(db) == wanted  # the real run restored the snapshot
    kinds: dict[str, int] = {"quarantined": 0, "in place": 0, "restored": 0}
    for image in run.images():
        files = tree(image.directory)
        intact = [name for name, data in files.items() if data == damaged]
        if intact:
            kinds["in place" if intact == [db.name] else "quarantined"] += 1
        restored = (image.db.exists() and image.db.read_bytes() != damaged and reopen_integrity(image.db) == "ok"
                    and state_of(image.db) == wanted)
        kinds["restored"] += restored
        assert intact or restored, f"{image.describe()}: the damaged original and the restored copy are both gone"
        assert files.get(f"backups/{snapshot.name}") == snapshot.read_bytes(), f"{image.describe()}: snapshot lost"
    assert kinds["quarantined"] and kinds["restored"] and kinds["in place"], kinds


@needs_strace
def test_sqlite_build_is_recorded_with_every_result(tmp_path: Path, store: FixtureStore) -> None:
    run = power_loss_runs(reference(), starter(store, None)(tmp_path), 2, into=tmp_path / "power", modes=("drop",))
    with closing(sqlite3.connect(":memory:")) as conn:
        options = tuple(row[0] for row in conn.execute("PRAGMA compile_options"))
    assert run.engine_sqlite.version == sqlite3.sqlite_version
    assert run.engine_sqlite.compile_options == options and options
    assert run.harness_sqlite.version == sqlite3.sqlite_version
    for image in run.images():
        assert {build.role for build in image.sqlite} == {"engine", "harness"}
        assert all(build.version and build.compile_options for build in image.sqlite)
    observed = run.observations()["sqlite"]
    assert [entry["sqlite_version"] for entry in observed] == [sqlite3.sqlite_version] * 2  # type: ignore[index]


@needs_strace
def test_command_engine_is_traced_through_its_own_command(tmp_path: Path, store: FixtureStore) -> None:
    window = clock()
    command = CommandEngine("reference-cli", {
        "migrate": [sys.executable, "-m", "harness.reference", "migrate", "--db", "{db}", "--target", "{target}"],
    }, timeout=60)
    assert supported(command) and not supported(command, OP_OPEN)
    start = starter(store, None)
    states = legitimate(reference(), start, tmp_path, window)
    run = power_loss_runs(command, start(tmp_path / "run"), None, into=tmp_path / "power")
    assert run.outcome.ok, run.outcome.describe()
    found, steps = problems(run, states, window)
    assert found == [] and max(steps.values()) == HEAD
    assert run.engine_sqlite.version is None  # an executable's own library cannot be asked
    assert run.harness_sqlite.compile_options


def test_supported_engines() -> None:
    usable = strace_tool().usable
    assert supported(reference()) == usable
    assert not supported(PythonEngine(ReferenceEngine(), "reference"))  # no import target for the child
    assert supported(PythonEngine(ReferenceEngine(), "reference"), python_target=REFERENCE_TARGET) == usable
    assert not supported(object())


def test_child_runner_reports_engine_errors(tmp_path: Path) -> None:
    db = tmp_path / "app.db"

    def child(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness.engines.child", *args], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)

    refused = child(REFERENCE_TARGET, "migrate", str(db), "--target", "99")
    assert refused.returncode == 1 and "error_code=migration_target_invalid" in refused.stderr
    assert MARKER in refused.stdout
    broken = child("harness.reference:NoSuchEngine", "open", str(db))
    assert broken.returncode == 2 and "error_code=child_setup" in broken.stderr
    done = child(REFERENCE_TARGET, "migrate", str(db), "--target", "3", "--options", '{"snapshot_retention": 2}')
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
