"""harness.reporting.html / grid: one self-contained page that shows at a glance what broke.

Checked three ways: the markup as parsed by ``html.parser`` and by ElementTree (the page is
well-formed XML, so hostile data cannot have broken its structure), runs built by hand with
hostile strings everywhere, real failing gate runs, and the DOM as headless Chromium
renders it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from gate_helpers import BROKEN, ROOT, scenario_for
from harness.reporting import artifacts, grid, html, results
from harness.reporting.results import CaseResult, RunResult

RUNBOOK = "https://runbooks.example/sqlite/data-loss.md"
BAD_BYTES = b"caf\xc3 \xff\xfe end".decode("utf-8", "surrogateescape")
HOSTILE = ("<script>alert(1)</script> & \"dq\" 'sq' <img src=x onerror=alert(2)> ]]> <!-- c --> "
           "\x00\x1b[31mred\x1b[0m\x07 lone \ud800 " + BAD_BYTES)
TABLE = "<b>t</b>&amp;\"'"
DIFF = ("table <script>alert(3)</script>: column note missing in upgraded\n"
        "- CREATE TABLE \"x\" (a)\n+ CREATE TABLE \"x\" (a, b)\ncontent: " + HOSTILE)
REPRO = "harness repro 'matrix[fixture=v3]::data-preserved' --scenario scenarios/app.toml --seed 7"

SETUP_CHROMIUM = Path(__file__).resolve().parent / "setup_chromium.sh"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def make_case(case_id: str, family: str, check: str, params: dict, outcome: str = "passed", **overrides) -> CaseResult:
    status = {"passed": "pass", "failed": "fail", "warned": "fail", "errored": "error", "skipped": "skip"}.get(
        outcome, "error")
    values = dict(
        case_id=case_id, suite="app", family=family, check=check, params=params, outcome=outcome, status=status,
        severity="warn" if outcome == "warned" else "error", summary=f"{check} {outcome}", runbook="data-loss",
        runbook_url=RUNBOOK, scenario="scenarios/app.toml", line=12, seed=7,
        repro=f"harness repro {case_id!r} --scenario scenarios/app.toml --seed 7", seconds=0.01,
    )
    values.update(overrides)
    return CaseResult(**values)


def matrix_id(fixture: str, check: str) -> str:
    return f"matrix[fixture={fixture}]::{check}"


def sample_run(*, hostile: bool = True) -> RunResult:
    cases = []
    for fixture in ("fresh", "v3", "v4"):
        for check in ("upgrades", "data-preserved", "integrity"):
            cases.append(make_case(matrix_id(fixture, check), "matrix", check, {"fixture": fixture},
                                   seconds=0.1 + len(cases) / 10))
    failing = matrix_id("v3", "data-preserved")
    cases[4] = make_case(
        failing, "matrix", "data-preserved", {"fixture": "v3"}, "failed",
        summary=f"table {TABLE} lost rows: {HOSTILE}" if hostile else "table notes lost rows",
        measured="3 rows lost" + (f" {HOSTILE}" if hostile else ""), threshold="0 rows",
        details=DIFF if hostile else "- CREATE TABLE x (a)\n+ CREATE TABLE x (a, b)",
        repro=REPRO, seconds=2.5,
        observations={"tables": {TABLE: HOSTILE} if hostile else {"notes": 3}, "workdir": "/tmp/w"},
        artifacts=("artifacts/case-1/MANIFEST.txt", "artifacts/case-1/app db#1.sqlite3"),
    )
    cases.append(make_case("recovery[fixture=v3,snapshots=none]::refuses-without-snapshot", "recovery",
                           "refuses-without-snapshot", {"fixture": "v3", "snapshots": "none"}, "errored",
                           summary="engine crashed: " + (HOSTILE if hostile else "SIGSEGV"),
                           runbook_url="javascript:alert(4)"))
    cases.append(make_case("lint::vacuum-in-transaction", "lint", "vacuum-in-transaction", {}, "warned",
                           measured="1 findings", threshold="0"))
    cases.append(make_case("install::crash-atomic", "install", "crash-atomic", {}, "skipped"))
    if hostile:
        cases.append(make_case(f"matrix[fixture={TABLE}]::upgrades", "matrix", "upgrades", {"fixture": TABLE},
                               "failed", summary=HOSTILE, measured=HOSTILE, threshold=HOSTILE, details=HOSTILE,
                               repro=HOSTILE, scenario=HOSTILE))
    return RunResult(cases=tuple(cases), seed=7, seconds=5.5, started="2026-01-02T03:04:05+00:00",
                     sqlite_version="3.45.1", compile_options=("ENABLE_FTS5", "THREADSAFE=1", HOSTILE),
                     python_version="3.11.7", harness_version="0.1.0", profile="default")


# --- a small DOM from html.parser --------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: "Node | None" = None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


VOID = {"meta", "input", "br", "img", "link", "hr", "col", "area", "base", "source", "wbr", "embed"}


class DomBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(page: str) -> Node:
    builder = DomBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def by_id(dom: Node, ident: str) -> Node:
    found = [n for n in dom.iter() if n.attrs.get("id") == ident]
    assert len(found) == 1, f"{len(found)} elements with id {ident!r}"
    return found[0]


def assert_safe_markup(page: str) -> Node:
    """No live markup from the data; the page is self-contained and well-formed XML."""
    ET.fromstring(page.replace("<!DOCTYPE html>", "", 1))  # raises on broken structure or bad chars
    dom = parse(page)
    tags = [n.tag for n in dom.iter()]
    for forbidden in ("script", "img", "iframe", "object", "embed", "link", "base", "b"):
        assert forbidden not in tags, f"a <{forbidden}> element made it into the page"
    ids = [n.attrs["id"] for n in dom.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for node in dom.iter():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), f"event handler attribute {name} on <{node.tag}>"
            assert name not in ("src", "srcset", "background", "poster"), f"external resource via {name}"
            if name in ("href", "xlink:href"):
                assert not re.match(r"\s*(javascript|data|vbscript|file):", value or "", re.I), value
                assert not (value or "").startswith("//"), value
    styles = [n.text() for n in dom.iter() if n.tag == "style"]
    assert styles and not any("url(" in s or "@import" in s for s in styles)
    for bad in ("\x00", "\x07", "\x1b", "\ud800"):
        assert bad not in page
    return dom


# --- grid ---------------------------------------------------------------------------------------


def test_grid_matrix_rows_are_fixtures_and_columns_checks() -> None:
    run = sample_run(hostile=False)
    matrix = next(g for g in grid.grids(run) if g.family == "matrix")
    assert matrix.rows == ("fresh", "v3", "v4")
    assert matrix.columns == ("upgrades", "data-preserved", "integrity")
    assert (matrix.row_label, matrix.column_label) == ("fixture", "check")
    cell = matrix.cell("v3", "data-preserved")
    assert cell.outcome == "failed" and cell.anchor == grid.anchor(matrix_id("v3", "data-preserved"))
    assert matrix.cell("v4", "integrity").outcome == "passed"
    assert matrix.outcome == "failed"


def test_grid_layouts_per_family() -> None:
    cases = [
        make_case("recovery[fixture=v3,snapshots=none]::refuses", "recovery", "refuses", {"fixture": "v3", "snapshots": "none"}),
        make_case("recovery[fixture=v3,snapshots=one]::restores", "recovery", "restores", {"fixture": "v3", "snapshots": "one"},
                  "failed"),
        # drills: several checks per (kind, snapshots, journal) share a cell; the worst shows
        make_case("drills[kind=torn-page,snapshots=none,journal=wal]::refused", "drills", "refused",
                  {"kind": "torn-page", "snapshots": "none", "journal": "wal"}),
        make_case("drills[kind=torn-page,snapshots=none,journal=wal]::quarantined", "drills", "quarantined",
                  {"kind": "torn-page", "snapshots": "none", "journal": "wal"}, "warned"),
        make_case("drills[kind=bit-flip,snapshots=one,journal=delete]::restored", "drills", "restored",
                  {"kind": "bit-flip", "snapshots": "one", "journal": "delete"}),
        make_case("plans[query=by-user,fixture=big]::uses-index", "plans", "uses-index", {"query": "by-user", "fixture": "big"},
                  "failed"),
        make_case("plans[query=by-user,fixture=small]::uses-index", "plans", "uses-index",
                  {"query": "by-user", "fixture": "small"}),
        make_case("continuity[fixture=neg-gap]::refused", "continuity", "refused", {"fixture": "neg-gap"}),
        make_case("posture::pragmas", "posture", "pragmas", {}),
        # an unknown family with drill-like params gets the drill layout
        make_case("chaos[kind=truncate,snapshots=none]::refused", "chaos", "refused", {"kind": "truncate", "snapshots": "none"}),
    ]
    run = replace(sample_run(hostile=False), cases=tuple(cases))
    grids = {g.family: g for g in grid.grids(run)}
    assert list(grids) == ["recovery", "drills", "plans", "continuity", "posture", "chaos"]

    recovery = grids["recovery"]
    assert recovery.rows == ("v3 / none", "v3 / one") and recovery.columns == ("refuses", "restores")
    assert recovery.cell("v3 / one", "restores").outcome == "failed" and recovery.cell("v3 / none", "restores") is None

    drills = grids["drills"]
    assert drills.rows == ("torn-page", "bit-flip") and drills.columns == ("none / wal", "one / delete")
    assert drills.column_label == "snapshots / journal"
    shared = drills.cell("torn-page", "none / wal")
    assert shared.outcome == "warned" and [e.label for e in shared.entries] == ["refused", "quarantined"]
    assert shared.anchor == grid.anchor("drills[kind=torn-page,snapshots=none,journal=wal]::quarantined")

    plans = grids["plans"]
    assert plans.rows == ("by-user",) and plans.columns == ("uses-index",)
    both = plans.cell("by-user", "uses-index")
    assert both.outcome == "failed" and [e.label for e in both.entries] == ["fixture=big", "fixture=small"]

    assert grids["continuity"].rows == ("fixture=neg-gap",) and grids["continuity"].columns == ("refused",)
    assert grids["posture"].rows == (grid.NO_PARAMS,)
    assert grids["chaos"].rows == ("truncate",) and grids["chaos"].columns == ("none",)


def test_anchor_is_stable_unique_and_a_valid_id() -> None:
    ids = ["matrix[fixture=a]::x", "matrix[fixture=a]:x", HOSTILE, "a" * 500]
    anchors = [grid.anchor(i) for i in ids]
    assert len(set(anchors)) == len(ids)
    assert all(re.fullmatch(r"case-[A-Za-z0-9_.-]+", a) and len(a) < 110 for a in anchors)
    assert grid.anchor(ids[0]) == grid.anchor(ids[0])


# --- rendering, by hand ---------------------------------------------------------------------------


def hostile_run_cases() -> tuple[CaseResult, ...]:
    return sample_run().cases


@pytest.fixture
def hostile_page(tmp_path: Path) -> tuple[str, Node]:
    run = sample_run()
    path = tmp_path / "reports" / "report.html"
    html.write(run, path)
    page = path.read_text(encoding="utf-8")
    return page, assert_safe_markup(page)


def test_hostile_strings_are_escaped_never_live(hostile_page: tuple[str, Node]) -> None:
    page, dom = hostile_page
    # visible as text, escaped in the source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    text = dom.text()
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert TABLE in text  # a hostile table name, shown as written
    # control characters are shown, ANSI sequences dropped, bad bytes replaced
    assert "\\x00" in text and "\\x07" in text and "[31m" not in text and "\ufffd" in text
    # javascript: runbook URLs are shown as text, not linked
    assert "javascript:alert(4)" in text
    assert not any((n.attrs.get("href") or "").lower().startswith("javascript") for n in dom.iter())


def test_failing_cell_links_to_details_with_everything_needed(hostile_page: tuple[str, Node]) -> None:
    page, dom = hostile_page
    failing = matrix_id("v3", "data-preserved")
    anchor = grid.anchor(failing)
    cells = [n for n in dom.iter() if n.tag == "td" and n.attrs.get("data-case") == failing]
    assert len(cells) == 1 and {"cell", "failed"} <= cells[0].classes()
    links = [n for n in cells[0].iter() if n.tag == "a"]
    assert [a.attrs["href"] for a in links] == [f"#{anchor}"]
    passing = next(n for n in dom.iter() if n.tag == "td" and n.attrs.get("data-case") == matrix_id("v4", "integrity"))
    assert "passed" in passing.classes()
    assert any(n.attrs.get("href") == f"#{grid.anchor(matrix_id('v4', 'integrity'))}" for n in passing.iter())
    by_id(dom, grid.anchor(matrix_id("v4", "integrity")))  # passing cells have a target too

    details = by_id(dom, anchor)
    assert details.tag == "article" and "failed" in details.classes()
    text = details.text()
    assert failing in text
    measured = next(n for n in details.iter() if "measured" in n.classes()).text()
    threshold = next(n for n in details.iter() if "threshold" in n.classes()).text()
    assert measured.startswith("3 rows lost") and threshold == "0 rows"
    diff = next(n for n in details.iter() if n.tag == "pre" and "diff" in n.classes())
    assert "table <script>alert(3)</script>: column note missing in upgraded" in diff.text()
    assert {"add", "del"} <= {c for n in diff.iter() for c in n.classes()}
    runbook = [n for n in details.iter() if n.tag == "a" and n.attrs.get("href") == RUNBOOK]
    assert runbook and runbook[0].text() == RUNBOOK
    repro = next(n for n in details.iter() if "repro" in n.classes())
    assert repro.text() == REPRO
    # artifacts as relative links, percent-encoded
    hrefs = [n.attrs["href"] for n in details.iter() if n.tag == "a" and "artifacts/" in (n.attrs.get("href") or "")]
    assert hrefs == ["artifacts/case-1/MANIFEST.txt", "artifacts/case-1/app%20db%231.sqlite3"]


def test_header_verdict_counts_sqlite_seed_and_timing_chart(hostile_page: tuple[str, Node]) -> None:
    page, dom = hostile_page
    header = next(n for n in dom.iter() if n.tag == "header")
    text = " ".join(header.text().split())
    assert "harness gate FAILED" in text and "failed" in header.classes()
    assert "seed 7" in text and "SQLite 3.45.1" in text and "5.5 s" in text
    assert "2 failed" in text and "1 errored" in text and "1 warned" in text and "1 skipped" in text
    assert "ENABLE_FTS5" in text and "THREADSAFE=1" in text
    svg = next(n for n in dom.iter() if n.tag == "svg")
    labels = [n.text() for n in svg.iter() if n.tag == "text"]
    assert "total per family" in labels and any(label.startswith("slowest") for label in labels)
    assert "matrix" in labels and matrix_id("v3", "data-preserved") in labels
    bars = [n for n in svg.iter() if n.tag == "rect"]
    assert len(bars) == 4 + min(len(hostile_run_cases()), html.SLOWEST)  # four families, the slowest cases
    assert float(bars[4].attrs["width"]) > float(bars[5].attrs["width"])  # slowest first


def test_passing_run_is_green_and_lists_nothing_to_look_at() -> None:
    run = sample_run(hostile=False)
    run = replace(run, cases=tuple(c for c in run.cases if c.outcome == "passed"))
    page = html.render(run)
    dom = assert_safe_markup(page)
    assert "harness gate PASSED" in dom.text() and "Nothing failed, errored or warned." in dom.text()
    assert not any(n.tag == "article" for n in dom.iter())


def test_only_relative_and_runbook_links(tmp_path: Path) -> None:
    run = sample_run(hostile=False)
    run = replace(run, cases=tuple(
        replace(c, runbook_url="runbooks/data-loss.md#what-to-do",
                artifacts=(str(tmp_path / "reports" / "artifacts" / "x" / "app.sqlite3"), "https://evil.example/x"))
        if c.outcome == "failed" else c for c in run.cases))
    page = html.render(run, report_dir=tmp_path / "reports", runbook_root=tmp_path)
    dom = assert_safe_markup(page)
    hrefs = {n.attrs["href"] for n in dom.iter() if "href" in n.attrs}
    assert "../runbooks/data-loss.md#what-to-do" in hrefs  # relative to the report's directory
    assert "artifacts/x/app.sqlite3" in hrefs  # absolute artifact path made relative
    assert not any("evil.example" in h for h in hrefs)
    assert all(h.startswith("#") or not re.match(r"[a-z]+:", h) or h.startswith("https://runbooks.example/")
               for h in hrefs)


def test_template_is_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"harness.reporting" = ["templates/*.j2"]' in pyproject
    assert (Path(html.__file__).parent / "templates" / html.TEMPLATE).is_file()


# --- real failing gate runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class RealRun:
    run: RunResult
    reports: Path
    failing: str


def _gate(tmp: Path, engine: str, families: str, failing: str) -> RealRun:
    scenario = scenario_for(tmp, f"{BROKEN.as_posix()}:{engine}", families)
    reports = tmp / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "gate", str(scenario), "--reports", str(reports), "-n", "0",
         "--workdir", str(tmp / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = results.read(reports / "results.json")
    case = next(c for c in run.cases if c.case_id == failing)
    assert case.outcome == "failed"
    # what the CLI will do: keep the failing cases' files beside the reports
    cases = tuple(
        replace(c, artifacts=artifacts.preserve(c, Path(c.observations["workdir"]), reports, 2_000_000))
        if c.breaks_gate and c.observations.get("workdir") else c
        for c in run.cases
    )
    return RealRun(replace(run, cases=cases), reports, failing)


@pytest.fixture(scope="module")
def no_posture(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    return _gate(tmp_path_factory.mktemp("noposture"), "NoPosture", "[checks.posture]\n", "posture::pragmas")


@pytest.fixture(scope="module")
def deleting_recovery(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    return _gate(tmp_path_factory.mktemp("deleting"), "DeletingRecovery",
                 '[checks.recovery]\nfixtures = ["v3-training-flag"]\n',
                 "recovery[fixture=v3-training-flag,snapshots=one-valid]::restores-newest-valid")


@pytest.mark.parametrize("which", ["no_posture", "deleting_recovery"])
def test_real_failing_run_report(which: str, request: pytest.FixtureRequest) -> None:
    real: RealRun = request.getfixturevalue(which)
    path = real.reports / "report.html"
    html.write(real.run, path)
    dom = assert_safe_markup(path.read_text(encoding="utf-8"))
    case = next(c for c in real.run.cases if c.case_id == real.failing)
    anchor = grid.anchor(case.case_id)
    cell = next(n for n in dom.iter() if n.tag == "td" and n.attrs.get("data-case") == case.case_id)
    assert "failed" in cell.classes() and any(n.attrs.get("href") == f"#{anchor}" for n in cell.iter())
    details = by_id(dom, anchor)
    text = details.text()
    assert case.measured in text and case.threshold in text
    assert case.details.splitlines()[0] in text  # the diff / listing
    assert case.repro in text and case.runbook_url in text
    assert any(n.tag == "a" and n.text() == case.runbook_url for n in details.iter())
    # preserved artifacts are linked relative to the report and the files are there
    links = [n.attrs["href"] for n in details.iter() if n.tag == "a" and "artifacts/" in n.attrs.get("href", "")]
    assert links and all((real.reports / unquote(h)).is_file() for h in links)
    assert any(h.endswith("MANIFEST.txt") for h in links)


# --- headless Chromium ------------------------------------------------------------------------------


def _find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    if found:
        return found
    # One installer at a time across xdist workers.
    with open(Path(tempfile.gettempdir()) / "harness-setup-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find_chromium()
        if found:
            return found
        proc = subprocess.run(["bash", str(SETUP_CHROMIUM)], capture_output=True, text=True, timeout=1200)
    found = _find_chromium()
    if found:
        return found
    reason = (f"headless Chromium is not installed and cannot be installed here "
              f"(tests/setup_chromium.sh exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]})")
    if os.environ.get("CI") or os.environ.get("HARNESS_REQUIRE_CHROMIUM"):
        pytest.fail(reason + "; CI / HARNESS_REQUIRE_CHROMIUM is set, so this test must run")
    pytest.skip(reason)


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(profile)},
    )
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def test_chromium_renders_failing_report(chromium: str, deleting_recovery: RealRun, tmp_path: Path) -> None:
    real = deleting_recovery
    case = next(c for c in real.run.cases if c.case_id == real.failing)
    hostile = sample_run()
    run = replace(real.run, cases=real.run.cases + hostile.cases[-1:])  # plus a hostile failing case
    path = real.reports / "chromium-report.html"
    html.write(run, path)

    rendered = dump_dom(chromium, path, tmp_path / "profile")
    dom = parse(rendered)
    assert not any(n.tag == "script" for n in dom.iter()), "a <script> element in the rendered DOM"
    assert not any(n.tag in ("img", "b") for n in dom.iter())
    details = by_id(dom, grid.anchor(case.case_id))
    text = details.text()
    assert case.case_id in text
    assert case.details.splitlines()[0] in text
    assert case.repro in text
    assert any(n.tag == "a" and n.text() == case.runbook_url for n in details.iter())
    cell = next(n for n in dom.iter() if n.tag == "td" and n.attrs.get("data-case") == case.case_id)
    assert "failed" in cell.classes()
    assert "<script>alert(1)</script>" in dom.text()  # the hostile text is shown, inert


def test_timing_chart_shows_family_totals_and_only_the_slowest_cases() -> None:
    cases = [make_case(matrix_id(f"v{n}", "upgrades"), "matrix", "upgrades", {"fixture": f"v{n}"}, seconds=n / 10)
             for n in range(40)]
    cases.append(make_case("posture::pragmas", "posture", "pragmas", {}, seconds=1.0))
    run = replace(sample_run(hostile=False), cases=tuple(cases))
    dom = assert_safe_markup(html.render(run))
    svg = next(n for n in dom.iter() if n.tag == "svg")
    labels = [n.text() for n in svg.iter() if n.tag == "text"]
    slowest = [n.attrs["href"] for n in svg.iter() if n.tag == "a"]
    assert len(slowest) == html.SLOWEST == 15
    assert slowest[0] == f"#{grid.anchor(matrix_id('v39', 'upgrades'))}"
    assert f"#{grid.anchor(matrix_id('v24', 'upgrades'))}" not in slowest  # 16th slowest
    assert labels.index("matrix") < labels.index("posture")  # families by total, largest first
    assert "78.0 s" in labels  # matrix total: 0.0 + 0.1 + … + 3.9


def test_relative_runbook_link_without_a_report_directory() -> None:
    run = sample_run(hostile=False)
    run = replace(run, cases=tuple(replace(c, runbook_url="runbooks/data-loss.md") for c in run.cases))
    dom = assert_safe_markup(html.render(run))
    assert any(n.tag == "a" and n.attrs.get("href") == "runbooks/data-loss.md" for n in dom.iter())
