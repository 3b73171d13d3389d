"""Environment faults end the gate before any case runs: exit 2, one line naming the path
and what to do (before: tracebacks, exit 1, or every case errored with the same traceback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import MANIFEST, ROOT

INSTALL_ONLY = "[checks.install]\nonly = [\"migrates-to-head\"]\n"


def scenario(tmp_path: Path, manifest: Path = MANIFEST, engine: str | None = None) -> Path:
    engine = engine or '[engine]\nadapter = "python"\ntarget = "harness.reference:ReferenceEngine"\n'
    path = tmp_path / "s.toml"
    path.write_text(f'[suite]\nname = "env"\nseed = 1\n\n{engine}\n[fixtures]\nmanifest = "{manifest.as_posix()}"\n\n'
                    f"{INSTALL_ONLY}", encoding="utf-8")
    return path


def gate(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "harness", "gate", *args, "-n", "0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def one_line_exit_2(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("harness:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "passed" not in proc.stdout  # no case ran


def test_unwritable_reports_directory(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    proc = gate(tmp_path, str(scenario(tmp_path)), "--reports", "blocker/reports")
    one_line_exit_2(proc, "blocker/reports", "cannot write the reports", "--reports")


def test_unwritable_cache_directory(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    proc = gate(tmp_path, str(scenario(tmp_path)), "--reports", "r",
                env={"HARNESS_CACHE_DIR": str(tmp_path / "blocker" / "cache")})
    one_line_exit_2(proc, "fixture cache", "HARNESS_CACHE_DIR")


def test_unwritable_work_directory(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    proc = gate(tmp_path, str(scenario(tmp_path)), "--reports", "r", "--workdir", "blocker/w")
    one_line_exit_2(proc, "blocker/w", "case directories")


def copied_fixtures(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(MANIFEST.parent, target)
    return target / MANIFEST.name


def test_altered_fixture_is_named_before_any_case(tmp_path: Path) -> None:
    manifest = copied_fixtures(tmp_path)
    victim = sorted(manifest.parent.glob("*.sql"))[0]
    victim.write_text(victim.read_text() + "\n-- edited\n")
    proc = gate(tmp_path, str(scenario(tmp_path, manifest)), "--reports", "r")
    one_line_exit_2(proc, str(manifest), "sha256", victim.name)


def test_missing_fixture_is_named_before_any_case(tmp_path: Path) -> None:
    manifest = copied_fixtures(tmp_path)
    victim = sorted(manifest.parent.glob("*.sql"))[0]
    victim.unlink()
    proc = gate(tmp_path, str(scenario(tmp_path, manifest)), "--reports", "r")
    one_line_exit_2(proc, victim.name, "does not exist")


def test_command_engine_whose_migrations_prints_nothing(tmp_path: Path) -> None:
    engine = ('[engine]\nadapter = "command"\n[engine.commands]\n'
              f'migrate = ["{sys.executable}", "-m", "harness.reference", "migrate", "--db", "{{db}}"]\n'
              f'migrations = ["{sys.executable}", "-c", "pass"]\n')
    proc = gate(tmp_path, str(scenario(tmp_path, engine=engine)), "--reports", "r")
    one_line_exit_2(proc, "s.toml", "cannot list its migrations")


def test_engine_module_that_exits_on_import(tmp_path: Path) -> None:
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    engine = '[engine]\nadapter = "python"\ntarget = "exits.py:Engine"\n'
    proc = gate(tmp_path, str(scenario(tmp_path, engine=engine)), "--reports", "r")
    one_line_exit_2(proc, "s.toml", "SystemExit")


def test_unwritable_junit_path_of_zero_config(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a(x);\n")
    (tmp_path / "blocker").write_text("")
    proc = subprocess.run([sys.executable, "-m", "harness", "migrations", str(folder), "--junit",
                           str(tmp_path / "blocker" / "junit.xml"), "--workdir", str(tmp_path / "w")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "JUnit file" in proc.stderr and "--junit" in proc.stderr


@pytest.mark.skipif(shutil.which("mount") is None, reason="needs mount(8) to make a full file system")
def test_full_reports_directory(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (full / "filler").write_bytes(b"\0" * 60 * 1024)
        proc = gate(tmp_path, str(scenario(tmp_path)), "--reports", str(full / "reports"))
        one_line_exit_2(proc, "cannot write the reports")
    finally:
        subprocess.run(["umount", str(full)], capture_output=True)
