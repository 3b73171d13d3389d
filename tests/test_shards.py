"""Sharding: every case in exactly one shard; shards merged equal one run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from gate_helpers import MANIFEST, ROOT
from harness.runner.shards import shard_members


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_shard_members_partition_any_set() -> None:
    nodeids = [f"s.toml::case-{i:03d}" for i in range(37)]
    for count in (1, 2, 3, 5, 37, 40):
        shards = [shard_members(nodeids, i, count) for i in range(1, count + 1)]
        flat = [n for shard in shards for n in shard]
        assert sorted(flat) == sorted(nodeids) and len(flat) == len(set(flat))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shard_members(list(reversed(nodeids)), 2, 3) == shard_members(nodeids, 2, 3)


def test_shards_merged_equal_one_run(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[suite]\nname = "sharded"\nseed = 5\n\n[engine]\nadapter = "python"\n'
        'target = "harness.reference:ReferenceEngine"\n\n'
        f'[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n'
        "[checks.install]\nskip = [\"crash-atomic\"]\n[checks.posture]\n[checks.continuity]\n[checks.lint]\n",
        encoding="utf-8")
    plan = harness("shard", str(scenario), "--count", "3")
    assert plan.returncode == 0, plan.stderr
    matrix = json.loads(plan.stdout)
    assert matrix == {"shard": ["1/3", "2/3", "3/3"]}
    total, sizes_text = re.match(r"(\d+) cases in 3 shards: (.*)", plan.stderr).groups()
    matrix["sizes"] = [int(n) for n in sizes_text.split(", ")]
    assert sum(matrix["sizes"]) == int(total)

    single = harness("gate", str(scenario), "-n", "0", "--reports", str(tmp_path / "single"))
    assert single.returncode == 0, single.stdout + single.stderr
    parts = []
    for shard in matrix["shard"]:
        out = tmp_path / f"shard-{shard.replace('/', '-')}"
        run = harness("gate", str(scenario), "-n", "0", "--shard", shard, "--reports", str(out))
        assert run.returncode == 0, run.stdout + run.stderr
        parts.append(str(out / "results.json"))
    sizes = [len(json.loads(Path(p).read_text())["cases"]) for p in parts]
    assert sizes == matrix["sizes"]
    merged = harness("merge", *parts, "--reports", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stdout + merged.stderr

    def outcomes(folder: str) -> dict[str, tuple[str, int, str]]:
        body = json.loads((tmp_path / folder / "results.json").read_text())
        return {c["case_id"]: (c["outcome"], c["seed"], c["severity"]) for c in body["cases"]}

    assert outcomes("merged") == outcomes("single")
    overlap = harness("merge", parts[0], parts[0], "--reports", str(tmp_path / "bad"))
    assert overlap.returncode == 2 and "must not overlap" in overlap.stderr
