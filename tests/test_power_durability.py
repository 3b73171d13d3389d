"""Power loss judged on what real engines do: in-kernel file copies are replayed (not
refused), and a name is durable only once the directory holding it is synced.

Purpose-made engines (``durability_engines.py``) go green where they are careful and red
where a power cut would lose a snapshot, the WAL's commits or the quarantined original.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gate_helpers import run_gate, scenario_for
from harness.engines.faults import strace_tool
from harness.engines.powerloss import record
from harness.tracing.durability import images
from harness.tracing.fileops import Copy, Create, Mkdir, Rename, Sync, Write, WriteLog
from harness.tracing.recording import parse
from harness.engines.protocol import Outcome

ENGINES = (Path(__file__).resolve().parent / "durability_engines.py").as_posix()
SOURCE = "v3-training-flag"  # a WAL fixture: the drill starts with its last commit only in the -wal
MIGRATE = f"drills[fixture={SOURCE},power=migrate]::power-loss"
OPEN = f"drills[fixture={SOURCE},power=open]::power-loss"

needs_strace = pytest.mark.skipif(not strace_tool().usable, reason=f"power loss needs strace: {strace_tool().reason}")


def hexed(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "".join(f"\\x{b:02x}" for b in data)


def synthetic(*ops: object) -> WriteLog:
    return WriteLog(Path("/nowhere"), "f", tuple(ops), Outcome("run", True))  # type: ignore[arg-type]


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def contents(log: WriteLog, start: dict[str, object], mode: str) -> list[dict[str, bytes]]:
    return [tree(image.directory) for image in images(log, start, mode)]  # type: ignore[arg-type]


# -- in-kernel copies: parsed and replayed (no strace needed) ---------------------------------


def test_kernel_copies_are_parsed_with_their_offsets(tmp_path: Path) -> None:
    root = tmp_path / "data"
    src, dst, pipe = hexed(f"{root}/app.db"), hexed(f"{root}/backups/snap"), hexed("pipe:[77]")
    outside = hexed("/elsewhere/x")
    lines = [
        f'7 openat(AT_FDCWD, "{hexed(f"{root}/app.db")}", O_RDONLY) = 3<{src}>',
        f'7 openat(AT_FDCWD, "{hexed(f"{root}/backups/snap")}", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4<{dst}>',
        f"7 sendfile(4<{dst}>, 3<{src}>, [0] => [100], 8388608) = 100",  # shutil.copyfile: explicit offset
        f"7 sendfile(4<{dst}>, 3<{src}>, [100], 8388608) = 0",  # the end: nothing moved
        f"7 copy_file_range(3<{src}>, NULL, 4<{dst}>, NULL, 1048576, 0) = 50",  # std::fs::copy: positions
        f"7 copy_file_range(3<{src}>, NULL, 4<{dst}>, [500], 10, 0) = 10",
        f"7 splice(3<{src}>, [7], 6<{pipe}>, NULL, 5, 0) = 5",
        f"7 splice(5<{pipe}>, NULL, 4<{dst}>, NULL, 5, 0) = 5",
        f"7 ioctl(4<{dst}>, BTRFS_IOC_CLONE or FICLONE, 3) = 0",
        f"7 ioctl(4<{dst}>, BTRFS_IOC_CLONE_RANGE or FICLONERANGE, {{src_fd=3<{src}>, src_offset=8, "
        f"src_length=0, dest_offset=4096}}) = 0",
        f"7 ioctl(4<{dst}>, TCGETS, 0x7ffe) = -1 ENOTTY (Inappropriate ioctl for device)",
        f"7 sendfile(4<{dst}>, 9<{outside}>, NULL, 10) = 10",
    ]
    ops, unmodelled, _ = parse(lines, root, cwd=tmp_path)
    assert list(ops)[2:] == [  # after the target's Create and Truncate (O_TRUNC)
        Copy("backups/snap", 0, "app.db", 0, 100),
        Copy("backups/snap", 100, "app.db", 0, 50),  # the source's own position was still 0
        Copy("backups/snap", 500, "app.db", 50, 10),
        Copy("backups/snap", 150, "app.db", 7, 5),  # through the pipe
        Copy("backups/snap", 0, "app.db", 0, None, clone=True),
        Copy("backups/snap", 4096, "app.db", 8, None),
    ]
    assert unmodelled == ("sendfile copied 10 bytes into backups/snap from outside the data directory (/elsewhere/x)",)


def test_a_copy_after_a_read_of_its_source_is_not_guessed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    src, dst = hexed(f"{root}/app.db"), hexed(f"{root}/copy")
    lines = [f'7 openat(AT_FDCWD, "{hexed(f"{root}/app.db")}", O_RDONLY) = 3<{src}>',
             "7 read(0x3, 0x55d0, 0x64) = 0x64",
             f"7 copy_file_range(3<{src}>, NULL, 4<{dst}>, NULL, 100, 0) = 100"]
    _, unmodelled, _ = parse(lines, root, cwd=tmp_path)
    assert unmodelled and "after a read()" in unmodelled[0]


def test_a_copy_takes_the_source_as_it_is_then_and_is_unsynced_until_its_target_is_synced() -> None:
    log = synthetic(Write("f", 0, b"old!"), Sync("f"), Create("snap"), Copy("snap", 0, "f", 0, None), Sync("snap"),
                    Write("f", 0, b"new!"), Sync("f"), Copy("snap", 0, "f", 1, 2, clone=True), Sync(""))
    start = {"f": b""}
    keep = contents(log, start, "keep")
    assert keep[-1] == {"f": b"new!", "snap": b"ew"}  # a clone replaces the whole target
    drop = contents(log, start, "drop")
    assert drop[3] == {"f": b"new!"}  # synced data, but the directory was not synced yet
    assert drop[4] == {"f": b"new!", "snap": b"old!"}  # the clone was never synced


def test_a_new_directory_needs_its_parent_synced_and_a_rename_its_target_directory() -> None:
    log = synthetic(Mkdir("backups"), Create("backups/s"), Write("backups/s", 0, b"S"), Sync("backups/s"),
                    Sync("backups"), Sync(""), Mkdir("corrupted/q"), Rename("f", "corrupted/q/f"),
                    Sync("corrupted/q"), Sync("corrupted"), Sync(""))
    start = {"f": b"F", "corrupted/": b""}
    drop = contents(log, start, "drop")  # image k: the cut just before sync k+1
    assert drop[2] == {"f": b"F"}  # backups/s is durable in backups/, but backups/ is not in the data dir
    assert drop[3] == {"f": b"F", "backups/s": b"S"}
    # the rename is durable once corrupted/q is synced, but corrupted/q itself only once corrupted/ is
    assert drop[4] == {"backups/s": b"S"}  # the original is unreachable: lost to this cut
    assert drop[5] == drop[6] == {"backups/s": b"S", "corrupted/q/f": b"F"}


@needs_strace
def test_real_copies_are_recorded_and_replayed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "app.db").write_bytes(bytes(range(256)) * 64)
    program = textwrap.dedent("""
        import os, shutil, sys
        d = sys.argv[1]
        os.mkdir(os.path.join(d, "b"))
        shutil.copyfile(os.path.join(d, "app.db"), os.path.join(d, "b", "one"))
        with open(os.path.join(d, "app.db"), "rb") as src, open(os.path.join(d, "b", "two"), "wb") as dst:
            while os.copy_file_range(src.fileno(), dst.fileno(), 5000):
                pass
            os.fsync(dst.fileno())
        for name in (d, os.path.join(d, "b")):
            fd = os.open(name, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    """)
    script = tmp_path / "copy.py"
    script.write_text(program, encoding="utf-8")
    log = record([sys.executable, str(script), "{data_dir}"], data / "app.db", timeout=60)
    assert log.outcome.ok and log.unmodelled == (), (log.outcome.describe(), log.unmodelled)
    assert sum(isinstance(op, Copy) for op in log.ops) >= 2
    start = {"app.db": (data / "app.db").read_bytes()}
    end = contents(log, start, "keep")[-1]
    assert end["b/one"] == end["b/two"] == start["app.db"]
    final_drop = contents(log, start, "drop")[-1]
    assert final_drop["b/two"] == start["app.db"] and final_drop["b/one"] == b""  # one was never fsynced


def gate(tmp_path: Path, target: str, case_id: str) -> dict:
    scenario = scenario_for(tmp_path, target, "[checks.drills]\n")
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.results, run.stdout + run.stderr
    return run.case(case_id)


# -- the power-loss drill on purpose-made engines ----------------------------------------------


@needs_strace
@pytest.mark.parametrize("engine", ["CopyfileSnapshot", "CopyFileRangeSnapshot"])
def test_a_correct_engine_that_snapshots_with_a_kernel_copy_is_green(tmp_path: Path, engine: str) -> None:
    case = gate(tmp_path, f"{ENGINES}:{engine}", MIGRATE)
    assert case["outcome"] == "passed", case
    assert case["observations"]["snapshots"], case  # the copy was seen and judged
    assert "committed only in" in case["observations"]["start"]


@needs_strace
@pytest.mark.parametrize(("engine", "case_id", "words"), [
    ("WalBlindSnapshot", MIGRATE, "is no copy of the database as it was"),
    ("UnsyncedSnapshotName", MIGRATE, "its name was never made durable"),
    ("UnsyncedBackupsDir", MIGRATE, "the deletion of the journal that committed it was never synced"),
    ("UnsyncedQuarantineDir", OPEN, "neither the damaged original nor a sound restored copy survives"),
])
def test_an_engine_that_a_power_cut_would_betray_is_red(tmp_path: Path, engine: str, case_id: str,
                                                       words: str) -> None:
    case = gate(tmp_path, f"{ENGINES}:{engine}", case_id)
    assert case["outcome"] == "failed", case
    assert words in case["summary"] + case["details"], case


@needs_strace
def test_the_reference_engine_is_green_under_the_per_directory_model(tmp_path: Path) -> None:
    case = gate(tmp_path, "harness.reference:ReferenceEngine", MIGRATE)
    assert case["outcome"] == "passed", case
    assert case["observations"]["snapshots"] and "committed only in" in case["observations"]["start"]
