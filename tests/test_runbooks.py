"""Runbooks: every check's page exists, has the agreed shape, and the index and links are whole.

A failure links to ``<base>/<runbook id>.md``; a check whose page is missing sends whoever
is on call to a 404 at the worst moment, so the catalogue and ``runbooks/`` are kept in step here.
Besides its check's page, a failing ``drills::handled`` verdict names the page of the damaged
kind's symptom class (``Kind.runbook`` in :mod:`harness.corruption.catalogue`), which is not in
any ``CheckSpec``: those pages are checked from the damage catalogue.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import scenario as scenario_mod
from harness.checks.catalogue import families
from harness.corruption import catalogue as damage
from harness.runner.expand import expand, load_manifest

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "runbooks"
README = RUNBOOKS / "README.md"
REFERENCE_SCENARIO = ROOT / "scenarios" / "reference.toml"
HARNESS_ERROR = "harness-error"
DRILL_CHECK = "drills::handled"  # its failing verdicts link to the page of the kind's symptom class

SECTIONS = ("What it means", "Severity and user impact", "Reproduce locally", "Investigate", "Fix",
            "Escalate when")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REPRO = re.compile(r"harness repro\s+'([^']+)'")


def catalogue_runbooks() -> dict[str, list[str]]:
    """Runbook id -> the ``family::check`` names that link to it."""
    linked: dict[str, list[str]] = {}
    for family in families().values():
        for check in family.checks:
            linked.setdefault(check.runbook, []).append(f"{family.name}::{check.id}")
    return linked


def kind_runbooks() -> dict[str, list[str]]:
    """Runbook id -> the damage kinds whose failing drill verdicts link to it."""
    linked: dict[str, list[str]] = {}
    for kind in damage.kinds():
        linked.setdefault(kind.runbook, []).append(kind.id)
    return linked


def drill_runbooks() -> list[str]:
    """Every runbook a drill verdict can name: the kinds' and the symptom classes' own."""
    return sorted(set(kind_runbooks()) | set(damage.RUNBOOKS.values()) | {damage.SNAPSHOT_RUNBOOK})


def linked_checks() -> dict[str, list[str]]:
    """Runbook id -> every check that can link to it: by its ``CheckSpec`` or by its verdict."""
    linked = {runbook: list(checks) for runbook, checks in catalogue_runbooks().items()}
    for runbook in drill_runbooks():
        checks = linked.setdefault(runbook, [])
        if DRILL_CHECK not in checks:
            checks.append(DRILL_CHECK)
    return linked


def page_files() -> list[Path]:
    return sorted(p for p in RUNBOOKS.glob("*.md") if p.name != README.name)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every Markdown heading outside fenced code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def section(text: str, title: str) -> str:
    """The body of the ``## title`` section (up to the next level-1 or level-2 heading)."""
    lines, inside, fenced = [], False, False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match and len(match.group(1)) <= 2:
            inside = len(match.group(1)) == 2 and match.group(2) == title
            continue
        if inside:
            lines.append(line)
    return "\n".join(lines)


def reference_cases() -> dict[str, set[str]]:
    """Case id -> the runbook ids its failure can link to, for every case of the reference
    scenario: the check's (or the scenario's override), and for a drill the kind's."""
    loaded = scenario_mod.load(REFERENCE_SCENARIO)
    cases: dict[str, set[str]] = {}
    for case in expand(loaded, load_manifest(loaded)):
        runbooks = {case.runbook}
        if f"{case.family}::{case.check}" == DRILL_CHECK and case.param("kind"):
            runbooks.add(damage.get(case.param("kind") or "").runbook)
        cases[case.id] = runbooks
    return cases


PAGES = page_files()
PAGE_IDS = [p.stem for p in PAGES]


def test_runbooks_directory_has_pages() -> None:
    assert README.is_file(), "runbooks/README.md is missing"
    assert PAGES, "runbooks/ holds no pages"


@pytest.mark.parametrize("runbook", sorted(catalogue_runbooks()))
def test_every_catalogue_runbook_has_a_page(runbook: str) -> None:
    page = RUNBOOKS / f"{runbook}.md"
    checks = ", ".join(catalogue_runbooks()[runbook])
    assert page.is_file(), f"{checks} link to runbook '{runbook}' but runbooks/{runbook}.md does not exist"


def test_drill_check_is_in_the_catalogue() -> None:
    checks = {check for linked in catalogue_runbooks().values() for check in linked}
    assert DRILL_CHECK in checks, f"{DRILL_CHECK} is no longer a check: update DRILL_CHECK and the drill pages"


@pytest.mark.parametrize("runbook", drill_runbooks())
def test_every_drill_runbook_has_a_page(runbook: str) -> None:
    page = RUNBOOKS / f"{runbook}.md"
    kinds = ", ".join(kind_runbooks().get(runbook, [])) or "no kind yet (a symptom class's page)"
    assert page.is_file(), f"drill verdicts link to runbook '{runbook}' ({kinds}) but runbooks/{runbook}.md " \
        "does not exist"


@pytest.mark.parametrize("runbook", sorted(kind_runbooks()))
def test_drill_page_names_every_kind_that_links_to_it(runbook: str) -> None:
    """Whoever lands on a drill page from ``kind=<id>`` finds their kind described there."""
    page = RUNBOOKS / f"{runbook}.md"
    if not page.is_file():
        pytest.skip(f"runbooks/{runbook}.md is missing (reported by test_every_drill_runbook_has_a_page)")
    text = page.read_text(encoding="utf-8")
    missing = [kind for kind in kind_runbooks()[runbook] if f"`{kind}`" not in text]
    assert not missing, f"{page.name} does not name the damage kinds {missing}, whose drills link to it"


def test_harness_error_page_exists() -> None:
    assert (RUNBOOKS / f"{HARNESS_ERROR}.md").is_file(), f"runbooks/{HARNESS_ERROR}.md is missing"


def test_reference_scenario_cases_link_to_existing_pages() -> None:
    """Scenario overrides (``[checks.<family>] runbooks``) must point at real pages too."""
    missing: dict[str, list[str]] = {}
    for case, runbooks in reference_cases().items():
        for runbook in runbooks:
            if not (RUNBOOKS / f"{runbook}.md").is_file():
                missing.setdefault(runbook, []).append(case)
    assert not missing, "runbooks with no page: " + "; ".join(
        f"{rb} (e.g. {cases[0]}, {len(cases)} cases)" for rb, cases in sorted(missing.items()))


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_has_the_sections_in_order(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    found = [(level, title) for level, title in headings(text) if level <= 2]
    assert found, f"{page.name}: no headings"
    assert found[0][0] == 1 and found[0][1], f"{page.name}: must start with '# <Title>', found {found[0]}"
    assert [level for level, _ in found[1:]] == [2] * len(found[1:]) and \
        tuple(title for _, title in found[1:]) == SECTIONS, \
        f"{page.name}: sections are {[t for _, t in found[1:]]}, expected exactly {list(SECTIONS)} in order"
    assert sum(1 for level, _ in found if level == 1) == 1, f"{page.name}: more than one '# ' title"
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("# ") and not lines[1].startswith("#"), \
        f"{page.name}: the title must be followed by a one-line summary"
    for title in SECTIONS:
        assert section(text, title).strip(), f"{page.name}: section '{title}' is empty"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_reproduce_section_has_a_repro_command_for_a_real_case(page: Path) -> None:
    body = section(page.read_text(encoding="utf-8"), "Reproduce locally")
    commands = _REPRO.findall(body)
    assert commands, f"{page.name}: 'Reproduce locally' has no `harness repro '<case id>' …` command"
    assert "--scenario" in body and "--seed" in body, f"{page.name}: the repro command needs --scenario and --seed"
    cases = reference_cases()
    for case_id in commands:
        assert case_id in cases, f"{page.name}: example case '{case_id}' is not a case of {REFERENCE_SCENARIO.name}"
    if page.stem != HARNESS_ERROR:
        assert any(page.stem in cases[c] for c in commands), \
            f"{page.name}: no example case links to this runbook (examples: {commands})"


@pytest.mark.parametrize("runbook", sorted(linked_checks()))
def test_page_names_every_check_that_links_to_it(runbook: str) -> None:
    """A page shared by several checks (``matrix::upgrades`` reuses ``upgrade-failed``…) must
    describe each of them: whoever lands there from any of those failures finds their check."""
    page = RUNBOOKS / f"{runbook}.md"
    if not page.is_file():
        pytest.skip(f"runbooks/{runbook}.md is missing (reported by the page-exists tests)")
    text = page.read_text(encoding="utf-8")
    missing = [check for check in linked_checks()[runbook] if f"`{check}`" not in text]
    assert not missing, f"{page.name} does not name {missing}, which link to it; say what each of them checks"


def index_rows() -> dict[str, str]:
    """Page file name -> the rest of its row, from the README's ``## Index`` table."""
    rows: dict[str, str] = {}
    for line in section(README.read_text(encoding="utf-8"), "Index").splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        links = _LINK.findall(cells[0]) if cells else []
        if links:
            rows[links[0]] = " | ".join(cells[1:])
    return rows


def test_readme_index_lists_exactly_the_pages() -> None:
    listed = set(index_rows())
    present = {p.name for p in PAGES}
    assert not present - listed, f"pages missing from the README index: {sorted(present - listed)}"
    assert not listed - present, f"README index lists pages that do not exist: {sorted(listed - present)}"


def test_readme_index_names_the_checks_that_link_to_each_page() -> None:
    rows = index_rows()
    for runbook, checks in linked_checks().items():
        row = rows.get(f"{runbook}.md", "")
        named = set(re.findall(r"`([a-z0-9_-]+::[a-z0-9_-]+)`", row))
        assert named == set(checks), f"README index row for {runbook}.md names {sorted(named)}, expected {checks}"


@pytest.mark.parametrize("page", [README, *PAGES], ids=["README", *PAGE_IDS])
def test_relative_md_links_resolve(page: Path) -> None:
    text, fenced, prose = page.read_text(encoding="utf-8"), False, []
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            prose.append(line)
    broken = []
    for target in _LINK.findall("\n".join(prose)):
        path = target.split("#", 1)[0]
        if re.match(r"^[a-z][a-z0-9+.-]*:", path, re.IGNORECASE) or not path.endswith(".md"):
            continue  # absolute URLs and non-Markdown targets are not runbook links
        if not (page.parent / path).resolve().is_file():
            broken.append(target)
    assert not broken, f"{page.name} links to runbook files that do not exist: {broken}"
