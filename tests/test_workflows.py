"""The GitHub workflow files cannot run here: parse them and check what they call exists."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from gate_helpers import ROOT
from harness.cli import build_parser

WORKFLOWS = ROOT / ".github" / "workflows"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in doc.get("jobs", {}).values():
        yield from job.get("steps", [])
    yield from doc.get("runs", {}).get("steps", [])


def harness_commands(doc: dict[str, Any]) -> Iterator[list[str]]:
    for step in steps(doc):
        for line in str(step.get("run", "")).splitlines():
            line = re.sub(r"\$\{\{[^}]*\}\}", "X", line)
            match = re.search(r"\bharness (\w+)(.*)", line)
            if match:
                yield [match.group(1), *shlex.split(match.group(2).split(")")[0].split(">>")[0])]


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")) + [ROOT / "action.yml"], ids=lambda p: p.name)
def test_every_harness_command_and_flag_exists(path: Path) -> None:
    doc = load(path)
    commands = list(harness_commands(doc))
    assert commands, f"{path.name} runs no harness command"
    known = subparsers()
    for command, *args in commands:
        assert command in known, f"{path.name}: `harness {command}` is not a command"
        flags = {flag for a in known[command]._actions for flag in a.option_strings}
        for arg in args:
            if arg.startswith("--"):
                assert arg.split("=")[0] in flags, f"{path.name}: `harness {command} {arg}` is not an option"
    for step in steps(doc):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"unpinned action {step['uses']}"


def test_gate_workflow() -> None:
    doc = load(WORKFLOWS / "gate.yml")
    assert {"push", "pull_request"} <= set(doc["on"])
    job = doc["jobs"]["gate"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert any(r.startswith("harness gate") for r in runs)
    assert any("pip install" in r for r in runs)
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"].startswith("reports")
    junit = next(s for s in job["steps"] if "junit" in s.get("uses", ""))
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == "reports/junit.xml"


def test_nightly_workflow_plans_shards_and_merges() -> None:
    doc = load(WORKFLOWS / "nightly.yml")
    assert "workflow_dispatch" in doc["on"]
    cron = doc["on"]["schedule"][0]["cron"]
    assert len(cron.split()) == 5
    plan, gate, merge = doc["jobs"]["plan"], doc["jobs"]["gate"], doc["jobs"]["merge"]
    plan_run = next(s["run"] for s in plan["steps"] if "harness shard" in s.get("run", ""))
    assert "--profile nightly" in plan_run and "GITHUB_OUTPUT" in plan_run
    assert plan["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    assert gate["needs"] == "plan"
    assert gate["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert gate["strategy"]["fail-fast"] is False
    gate_run = next(s["run"] for s in gate["steps"] if "harness gate" in s.get("run", ""))
    assert "--shard ${{ matrix.shard }}" in gate_run and "--profile nightly" in gate_run
    assert any(s.get("uses", "").startswith("actions/cache") for s in gate["steps"])
    upload = next(s for s in gate["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["name"].startswith("results-")
    assert merge["needs"] == "gate" and merge["if"] == "always()"
    download = next(s for s in merge["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["pattern"] == "results-*"
    assert any("harness merge shards/*/results.json" in s.get("run", "") for s in merge["steps"])


def test_composite_action() -> None:
    doc = load(ROOT / "action.yml")
    assert doc["runs"]["using"] == "composite"
    assert {"scenarios", "profile", "reports"} <= set(doc["inputs"])
    for step in doc["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
    assert any("github.action_path" in s.get("run", "") for s in doc["runs"]["steps"])
