"""Real tools some tests drive, found or installed once per machine, else skipped with the reason.

``dbmate``: ``$HARNESS_DBMATE``, ``$PATH``, or ``npm install dbmate`` (the npm package ships
the binary) into the harness's cache directory. ``cargo``: for the Rust example engine,
built offline from Debian's packaged crates (``librust-rusqlite-dev``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.engines.dbmate import find_binary

ROOT = Path(__file__).resolve().parents[1]
CACHE_ENV = "HARNESS_CACHE_DIR"


def cache_dir() -> Path:
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sqlite-harness")
    base.mkdir(parents=True, exist_ok=True)
    return base


def dbmate_or_skip() -> str:
    """The dbmate executable, installed from npm into the cache when missing; else skip."""
    found = find_binary(None, ROOT)
    if found:
        return found
    prefix = cache_dir() / "npm"
    local = prefix / "node_modules" / ".bin" / "dbmate"
    npm = shutil.which("npm")
    if not local.exists():
        if npm is None:
            pytest.skip("no dbmate binary ($HARNESS_DBMATE, PATH) and no npm to install it (npm install dbmate)")
        prefix.mkdir(parents=True, exist_ok=True)
        with open(prefix / ".lock", "w") as lock:  # xdist workers install once
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not local.exists():
                try:
                    run = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                                          "dbmate"], capture_output=True, text=True, timeout=300)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    pytest.skip(f"npm install dbmate failed: {exc}")
                if run.returncode != 0:
                    last = (run.stderr.strip().splitlines() or ["no output"])[-1]
                    pytest.skip(f"npm install dbmate failed (registry unreachable?): {last}")
    try:
        subprocess.run([str(local), "--version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"the dbmate binary from npm does not run here: {exc}")
    return str(local)


def cargo_or_skip() -> str:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("no cargo: the Rust example engine cannot be built")
    if not Path("/usr/share/cargo/registry").is_dir():
        pytest.skip("no Debian crate registry (/usr/share/cargo/registry): apt-get install librust-rusqlite-dev")
    return cargo
