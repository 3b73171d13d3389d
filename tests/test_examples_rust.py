"""The Rust example engine (examples/rust-engine, rusqlite) gated through the command adapter:
built offline from Debian's packaged crates, green as written, red with its planted bug
(each migration and its history row committed separately)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tool_binaries import cache_dir, cargo_or_skip

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "rust-engine"
OFFLINE = ("--offline", "--config", 'source.crates-io.replace-with="debian"',
           "--config", 'source.debian.directory="/usr/share/cargo/registry"')


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with its release binary in target/release (the build is cached)."""
    cargo = cargo_or_skip()
    copy = tmp_path_factory.mktemp("rust") / "rust-engine"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("target"))
    target = cache_dir() / "rust-target"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:  # xdist workers build once
        fcntl.flock(lock, fcntl.LOCK_EX)
        run = subprocess.run([cargo, "build", "--release", "--quiet", *OFFLINE], cwd=copy, capture_output=True,
                             text=True, timeout=900, env=_cargo_env(target))
    if run.returncode != 0:
        pytest.skip(f"the example does not build offline here: {(run.stderr.strip().splitlines() or [''])[-1]}")
    binary = copy / "target" / "release" / "notes-db"
    binary.parent.mkdir(parents=True)
    shutil.copy2(target / "release" / "notes-db", binary)
    return copy


def _cargo_env(target: Path) -> dict[str, str]:
    import os

    return {**os.environ, "CARGO_TARGET_DIR": str(target)}


def gate(scenario: Path, reports: Path) -> dict[str, dict]:
    run = subprocess.run([sys.executable, "-m", "harness", "gate", str(scenario), "-n", "0", "--reports", str(reports)],
                         capture_output=True, text=True, timeout=600, cwd=scenario.parent)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return {c["case_id"]: c for c in json.loads((reports / "results.json").read_text(encoding="utf-8"))["cases"]}


def test_the_rust_engine_is_green(built: Path, tmp_path: Path) -> None:
    results = gate(built / "scenario.toml", tmp_path / "reports")
    assert {c: r["outcome"] for c, r in results.items()} == {
        "install::migrates-to-head": "passed", "install::diagnostics-clean": "passed",
        "install::crash-atomic": results["install::crash-atomic"]["outcome"], "posture::pragmas": "passed"}
    from harness.engines.faults import strace_tool

    assert results["install::crash-atomic"]["outcome"] == ("passed" if strace_tool().usable else "skipped")


def test_the_rust_engine_with_history_committed_apart_is_red(built: Path, tmp_path: Path) -> None:
    from harness.engines.faults import strace_tool

    if not strace_tool().usable:
        pytest.skip(f"executables are killed under strace, unusable here: {strace_tool().reason}")
    text = (built / "scenario.toml").read_text(encoding="utf-8")
    bug = built / "bug.toml"
    bug.write_text(text.replace("timeout = 60\n", 'timeout = 60\nenv = { NOTES_DB_BUG = "split-history" }\n'),
                   encoding="utf-8")
    crash = gate(bug, tmp_path / "reports")["install::crash-atomic"]
    assert crash["outcome"] == "failed" and "no whole number of migrations" in crash["summary"], crash
