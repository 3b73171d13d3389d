"""A check family registered by a package outside the harness, through entry points only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "data" / "plugin"


def harness(*args: str, cwd: Path, plugin_path: Path | None = PLUGIN) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if plugin_path is not None:
        env["PYTHONPATH"] = str(plugin_path)
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def scenario(tmp_path: Path, page_size: int) -> Path:
    """The reference engine gated by the plugin's family only."""
    path = tmp_path / "page-size.toml"
    path.write_text('[suite]\nname = "plugin"\nseed = 7\n\n[engine]\nadapter = "python"\n'
                    'target = "harness.reference:ReferenceEngine"\n\n'
                    f'[checks.page-size]\nparams = {{ page_size = {page_size} }}\n', encoding="utf-8")
    return path


def test_plugin_family_is_listed_only_when_installed(tmp_path: Path) -> None:
    with_plugin = harness("list", "--checks", cwd=ROOT)
    without = harness("list", "--checks", cwd=ROOT, plugin_path=None)
    assert with_plugin.returncode == 0, with_plugin.stderr
    assert "page-size" in with_plugin.stdout
    assert "page-size" not in without.stdout


def run(tmp_path: Path, page_size: int) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    reports = tmp_path / "reports"
    proc = harness("gate", str(scenario(tmp_path, page_size)), "--reports", str(reports), "-n", "0",
                   "--workdir", str(tmp_path / "work"), cwd=ROOT)
    results = json.loads((reports / "results.json").read_text()) if (reports / "results.json").is_file() else {}
    return proc, results


def test_plugin_family_green_on_the_page_size_in_use(tmp_path: Path) -> None:
    proc, results = run(tmp_path, 4096)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cases = {c["case_id"]: c for c in results["cases"]}  # type: ignore[index, union-attr]
    assert cases["page-size::fresh"]["status"] == "pass"


def test_plugin_family_red_when_the_engine_uses_another_page_size(tmp_path: Path) -> None:
    proc, results = run(tmp_path, 8192)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    case = next(c for c in results["cases"] if c["case_id"] == "page-size::fresh")  # type: ignore[union-attr]
    assert case["status"] == "fail"
    assert (case["measured"], case["threshold"]) == ("4096", "8192")


def test_misspelt_plugin_param_is_an_input_error(tmp_path: Path) -> None:
    path = scenario(tmp_path, 4096)
    path.write_text(path.read_text().replace("page_size =", "page_sise ="), encoding="utf-8")
    proc = harness("gate", str(path), "--reports", str(tmp_path / "r"), "-n", "0", cwd=ROOT)
    assert proc.returncode == 2
    assert "page_sise" in proc.stderr and "Traceback" not in proc.stderr


def broken_plugin(tmp_path: Path, entry: str) -> Path:
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[harness.families]\n{entry}\n")
    (site / "broken_plugin.py").write_text("from harness.checks.posture import FAMILY\n")
    return site


def test_a_plugin_that_cannot_load_is_exit_2_naming_it(tmp_path: Path) -> None:
    proc = harness("list", "--checks", cwd=ROOT, plugin_path=broken_plugin(tmp_path, "nope = broken_plugin:MISSING"))
    assert proc.returncode == 2
    assert "broken_plugin:MISSING" in proc.stderr and "Traceback" not in proc.stderr


def test_a_plugin_cannot_replace_a_builtin_family(tmp_path: Path) -> None:
    proc = harness("list", "--checks", cwd=ROOT, plugin_path=broken_plugin(tmp_path, "posture = broken_plugin:FAMILY"))
    assert proc.returncode == 2
    assert "posture" in proc.stderr and "built in" in proc.stderr
