"""The default gate on the bundled engine and fixtures: green, complete, and inputs untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from gate_helpers import ROOT, run_gate


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def listed_cases() -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "harness", "list"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return [line.split("::", 1)[1] for line in proc.stdout.splitlines()]


def test_default_gate_is_green_and_complete(tmp_path: Path) -> None:
    before = digests(ROOT / "fixtures")
    run = run_gate(tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert "harness gate PASSED" in run.stdout
    assert digests(ROOT / "fixtures") == before, "a fixture file changed during the gate"

    cases = listed_cases()
    assert len(cases) == len(set(cases)) >= 10
    tree = ET.parse(tmp_path / "reports" / "junit.xml")
    testcases = tree.getroot().findall(".//testcase")
    assert sorted(tc.get("name") for tc in testcases) == sorted(cases)
    for tc in testcases:
        assert tc.get("file") == "scenarios/reference.toml"
        assert int(tc.get("line")) > 0 and tc.get("time") is not None
        assert tc.get("classname").startswith("reference.")
        assert tc.find("failure") is None and tc.find("error") is None
        assert tc.find("skipped") is None, f"{tc.get('name')} did not run: every drill kind must run at least once"
    families = {tc.get("classname").split(".")[1] for tc in testcases}
    assert {"install", "posture", "continuity", "recovery"} <= families


def test_list_checks_prints_the_catalogue() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "list", "--checks"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert "install::crash-atomic" in proc.stdout and "runbook non-atomic-migration" in proc.stdout
