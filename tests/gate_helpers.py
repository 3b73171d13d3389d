"""Running ``harness gate`` as a user would (a child process) and reading what it wrote."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "fixtures" / "manifest.toml"
BROKEN = Path(__file__).resolve().parent / "broken_engines.py"


@dataclass(frozen=True)
class GateRun:
    status: int
    stdout: str
    stderr: str
    results: dict

    def outcome(self, case_id: str) -> str:
        for case in self.results.get("cases", []):
            if case["case_id"] == case_id:
                return case["outcome"]
        raise KeyError(f"{case_id} not in results: {[c['case_id'] for c in self.results.get('cases', [])]}")

    def case(self, case_id: str) -> dict:
        return next(c for c in self.results["cases"] if c["case_id"] == case_id)


def scenario_for(tmp_path: Path, target: str, families: str, *, name: str = "under-test") -> Path:
    """A scenario gating ``target`` with the repository's fixtures and the given [checks.*] text."""
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[suite]\nname = "{name}"\nseed = 7\n\n'
        f'[engine]\nadapter = "python"\ntarget = "{target}"\n\n'
        f'[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n{families}\n',
        encoding="utf-8",
    )
    return path


def run_gate(tmp_path: Path, *args: str, timeout: float = 300) -> GateRun:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "gate", *args, "--reports", str(reports), "-n", "0",
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    results_file = reports / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    return GateRun(proc.returncode, proc.stdout, proc.stderr, results)


def query(db: Path, sql: str) -> list[tuple]:
    """Every row ``sql`` returns from ``db``, read on a connection of its own."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
