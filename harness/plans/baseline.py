"""Plan baselines: one golden text file per query, diffed as trees by the gate.

``<scenario dir>/<baseline_dir>/<query>.plan`` (``baseline_dir`` defaults to
``plans/<suite>``) holds the normalised plan as the ``sqlite3`` shell draws it, after
``#`` comment lines naming the query, its dataset and its SQL (comments are not compared).
``harness plans --update`` rewrites them; review the change like code. The gate's
``plans[query=…]::baseline`` case fails on any difference and shows it node by node
(:func:`harness.sqlite.plans.tree_diff`).
"""

from __future__ import annotations

from pathlib import Path

from harness.plans.spec import PlanSuite, Query
from harness.sqlite.files import write_atomic
from harness.sqlite.plans import PlanTree, render, tree_diff

__all__ = ["path_for", "text_for", "read", "write", "diff"]

SUFFIX = ".plan"


def path_for(suite: PlanSuite, query: Query | str) -> Path:
    name = query if isinstance(query, str) else query.name
    return suite.baseline_dir / f"{name}{SUFFIX}"


def text_for(query: Query, tree: PlanTree) -> str:
    """The file's content: comments (not compared), then the rendered tree."""
    sql = " ".join(query.sql.split())
    lines = [
        f"# plan baseline for query '{query.name}' (dataset '{query.dataset}'); rewrite with `harness plans --update`",
        f"# {sql}",
    ]
    return "\n".join(lines) + "\n" + render(tree)


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(path: Path, text: str) -> bool:
    """Write atomically; returns whether the content changed."""
    if read(path) == text:
        return False
    write_atomic(path, text.encode("utf-8"))
    return True


def diff(expected_text: str, tree: PlanTree) -> list[str]:
    """Node-by-node differences between a baseline file's text and a plan; [] when equal."""
    return tree_diff(expected_text, render(tree))
