"""The harness as an application team uses it after ``pip install``, in its own directory:
``harness migrations`` writes every report to ./reports with repro commands that work from
there, runbook links open files, ids printed by ``harness list`` are accepted back, released
versions restrict the legacy databases, and the pytest plugin stays out of the application's
own test run."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "tests" / "data" / "sqlfiles_plain"
SCENARIO = ROOT / "scenarios" / "reference.toml"


def harness(cwd: Path, *args: str, python: str = sys.executable, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def runbook_links(report: Path) -> list[str]:
    parser = Links()
    parser.feed(report.read_text(encoding="utf-8"))
    return [href for href in parser.hrefs if "runbook" in href or href.endswith(".md")]


def broken_copy(tmp_path: Path) -> Path:
    """The plain migrations with a planted data loss in the last one: a rebuild that leaves rows behind."""
    directory = tmp_path / "app" / "migrations"
    shutil.copytree(PLAIN, directory)
    last = sorted(directory.glob("*.sql"))[-1]
    last.write_text(last.read_text(encoding="utf-8") + LOSSY_REBUILD, encoding="utf-8")
    return directory


LOSSY_REBUILD = """
CREATE TABLE notes_new (id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL,
                        pinned INTEGER NOT NULL DEFAULT 0);
INSERT INTO notes_new SELECT id, body, created_at, pinned FROM notes WHERE id % 2 = 0;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
CREATE INDEX idx_notes_created ON notes (created_at);
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
"""


def test_migrations_writes_every_report_to_reports_and_its_repro_works_from_there(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path)
    app = directory.parent
    run = harness(app, "migrations", "migrations")
    assert run.returncode == 1, run.stdout + run.stderr
    reports = app / "reports"
    for name in ("report.html", "summary.md", "junit.xml", "results.json"):
        assert (reports / name).is_file(), name
    results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    failed = [c for c in results["cases"] if c["outcome"] == "failed"]
    assert failed and any("data-preserved" in c["case_id"] for c in failed)
    case = next(c for c in failed if "data-preserved" in c["case_id"])
    assert case["repro"].startswith("harness repro ") and "reports/migrations/scenario.toml" in case["repro"]
    # the runbook each failure names is a file that exists (copied next to the report)
    page = app / case["runbook_url"]
    assert page.is_file(), case["runbook_url"]
    for href in runbook_links(reports / "report.html"):
        assert (reports / unquote(urlsplit(href).path)).resolve().is_file(), href
    # the printed reproduce command runs from the application's directory
    argv = shlex.split(case["repro"])[1:]
    rerun = harness(app, *argv)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert case["case_id"] in rerun.stdout and "FAILED" in rerun.stdout


def test_ids_that_list_prints_are_accepted_by_case_and_repro(tmp_path: Path) -> None:
    listed = harness(ROOT, "list", str(SCENARIO))
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.endswith("::posture::pragmas"))
    gate = harness(ROOT, "gate", str(SCENARIO), "--case", line, "-n", "0", "--reports", str(tmp_path / "r"))
    assert gate.returncode == 0, gate.stdout + gate.stderr
    cases = json.loads((tmp_path / "r" / "results.json").read_text())["cases"]
    assert [c["case_id"] for c in cases] == ["posture::pragmas"]
    repro = harness(ROOT, "repro", line, "--workdir", str(tmp_path / "repro"))
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert "posture::pragmas PASSED" in repro.stdout


def test_released_versions_restrict_the_legacy_databases(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(PLAIN, app / "migrations")
    versions = sorted(int(p.name.split("_")[0]) for p in (app / "migrations").glob("*.sql"))
    run = harness(app, "migrations", "migrations", "--released", str(versions[0]))
    assert run.returncode == 0, run.stdout + run.stderr
    fixtures = {c["params"].get("fixture") for c in json.loads((app / "reports" / "results.json").read_text())["cases"]}
    assert fixtures - {None, "fresh"} == {f"v{versions[0]}"}
    bad = harness(app, "migrations", "migrations", "--released", "9999")
    assert bad.returncode == 2 and "--released" in bad.stderr and "9999" in bad.stderr
    assert "Traceback" not in bad.stderr


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": "", "GIT_COMMITTER_DATE": ""}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_released_from_git_reads_the_versions_present_at_each_tag(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "migrations").mkdir(parents=True)
    files = sorted(PLAIN.glob("*.sql"))
    assert len(files) >= 3
    git(app, "init", "-q")
    for i, file in enumerate(files):
        shutil.copyfile(file, app / "migrations" / file.name)
        git(app, "add", "-A")
        git(app, "commit", "-q", "-m", f"migration {i}")
        if i == 0:
            git(app, "tag", "v1.0")  # released with the first migration only; the second never shipped alone
    git(app, "tag", "v2.0")
    run = harness(app, "migrations", "migrations", "--released-from-git")
    assert run.returncode == 0, run.stdout + run.stderr
    fixtures = {c["params"].get("fixture") for c in json.loads((app / "reports" / "results.json").read_text())["cases"]}
    first = int(files[0].name.split("_")[0])
    assert fixtures - {None, "fresh"} == {f"v{first}"}  # head (v2.0) needs no legacy database
    untagged = tmp_path / "untagged"
    shutil.copytree(PLAIN, untagged / "migrations")
    git(untagged, "init", "-q")
    bad = harness(untagged, "migrations", "migrations", "--released-from-git")
    assert bad.returncode == 2 and "tags" in bad.stderr, bad.stderr


APP_TEST = "def test_app():\n    assert True\n"
SCENARIO_TEXT = '[suite]\nname = "app"\n\n[engine]\nadapter = "sqlfiles"\ndirectory = "migrations"\n\n' \
                '[checks.install]\nonly = ["migrates-to-head"]\n'


def collected(cwd: Path, *args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
                          "-p", "no:cacheprovider", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_the_plugin_collects_scenarios_only_where_asked(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(PLAIN, app / "migrations")
    (app / "tests").mkdir()
    (app / "tests" / "test_app.py").write_text(APP_TEST, encoding="utf-8")
    (app / "tests" / "gate.toml").write_text(SCENARIO_TEXT.replace('"migrations"', '"../migrations"'),
                                             encoding="utf-8")
    (app / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    assert collected(app) == ["tests/test_app.py::test_app"]  # the application's run is unchanged
    explicit = collected(app, "tests/gate.toml")
    assert explicit == ["tests/gate.toml::install::migrates-to-head"]
    assert "tests/gate.toml::install::migrates-to-head" in collected(app, "tests")  # a folder named explicitly
    (app / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nharness_scenarios = tests/gate.toml\n",
                                    encoding="utf-8")
    assert sorted(collected(app)) == ["tests/gate.toml::install::migrates-to-head", "tests/test_app.py::test_app"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_wheel_installed_outside_the_checkout_writes_reports_whose_runbook_links_open(tmp_path: Path) -> None:
    wheels, source = tmp_path / "wheels", tmp_path / "source"  # built from a copy: the checkout stays as it is
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "reports", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "bench"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("*.whl"))
    env_dir = tmp_path / "venv"
    # a fresh environment; the dependencies already installed here are visible to it, so no download
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "HARNESS_RUNBOOK", "PYTHONPATH", "VIRTUAL_ENV"))}
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=env).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (Path(site) / "deps.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=300, env=env)
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run([str(python), "-c", "import harness; print(harness.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True, env=env).stdout.strip()
    assert str(env_dir) in where and str(ROOT) not in where  # the wheel, not the checkout
    directory = broken_copy(tmp_path)
    app = directory.parent
    run = subprocess.run([str(env_dir / "bin" / "harness"), "migrations", "migrations"], cwd=app,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    report = app / "reports" / "report.html"
    links = runbook_links(report)
    assert links
    for href in links:
        target = (report.parent / unquote(urlsplit(href).path)).resolve()
        assert target.is_file() and target.read_text(encoding="utf-8").startswith("#"), href
    shown = re.findall(r"runbook:? (\S+\.md)", run.stdout)  # per failure, and in the summary
    assert shown and all(page.startswith("reports/runbooks/") and (app / page).is_file() for page in shown), shown


def test_released_as_scenario_keys_restrict_the_legacy_fixtures(tmp_path: Path) -> None:
    from harness import scenario as scenario_mod
    from harness.errors import InputError
    from harness.runner.expand import expand, load_manifest

    manifest = (ROOT / "fixtures" / "manifest.toml").as_posix()
    path = tmp_path / "released.toml"
    body = ('[suite]\nname = "released"\n[engine]\nadapter = "python"\ntarget = "harness.reference:ReferenceEngine"\n'
            f'[fixtures]\nmanifest = "{manifest}"\nreleased = {{RELEASED}}\n[checks.matrix]\nonly = ["upgrades"]\n')
    path.write_text(body.replace("{RELEASED}", '["3", "5"]'), encoding="utf-8")
    loaded = scenario_mod.load(path)
    fixtures = {case.param("fixture") for case in expand(loaded, load_manifest(loaded))}
    held = {f.name for f in load_manifest(loaded).fixtures if "legacy" in f.tags}
    assert held and {f.schema_version for f in load_manifest(loaded).fixtures if f.name in held} == {3, 5}
    assert fixtures - {"fresh"} == held
    path.write_text(body.replace("{RELEASED}", '["3", "99"]'), encoding="utf-8")
    with pytest.raises(InputError, match="99"):
        load_manifest(scenario_mod.load(path))
    path.write_text(body.replace("{RELEASED}", "[]").replace("released = []", "released_from_git = true"),
                    encoding="utf-8")
    with pytest.raises(InputError, match="released_from_git"):
        load_manifest(scenario_mod.load(path))
