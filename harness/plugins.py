"""Extension points a team fills from its own package: check families, engine adapters, formats.

A plugin declares entry points in its own ``pyproject.toml``; the harness finds them with
``importlib.metadata`` at the moment a registry is first read, so installing a plugin is the
whole set-up and nothing in this package is edited::

    [project.entry-points."harness.families"]
    page-size = "myteam_checks:FAMILY"            # a harness.checks.catalogue.Family

    [project.entry-points."harness.adapters"]
    myorm = "myteam_checks:build_engine"          # (EngineSpec, scenario path) -> Engine

    [project.entry-points."harness.formats"]
    numbered-dirs = "myteam_checks:FORMAT"         # a harness.engines.formats.Format

The entry point's name is the registry key (family name, ``engine.adapter`` word, format
name); a plugin may not replace a built-in (a silent override would change what a gate
means), and one that cannot be imported ends the run with exit 2 naming it.
"""

from __future__ import annotations

import importlib.metadata
from functools import cache
from typing import Final

from harness.errors import HarnessError

FAMILIES: Final = "harness.families"
ADAPTERS: Final = "harness.adapters"
FORMATS: Final = "harness.formats"
GROUPS: Final = (FAMILIES, ADAPTERS, FORMATS)


class PluginError(HarnessError):
    """A registered plugin that cannot be loaded or clashes with a built-in name."""


@cache
def registered(group: str) -> dict[str, object]:
    """Every object the installed distributions register under ``group``, by entry-point name."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; expected one of {GROUPS}")
    found: dict[str, object] = {}
    for point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name):
        if point.name in found:
            raise PluginError(f"plugin {point.value!r}: {group} '{point.name}' is registered twice")
        try:
            found[point.name] = point.load()
        except Exception as exc:  # noqa: BLE001 - whatever a plugin raises, it is unusable
            raise PluginError(f"plugin {point.value!r} ({group} '{point.name}') cannot be loaded: "
                              f"{type(exc).__name__}: {exc}") from None
    return found


def merged(group: str, builtins: dict[str, object], kind: type | None = None) -> dict[str, object]:
    """``builtins`` plus the plugins of ``group``; a plugin may add names, never replace one."""
    result = dict(builtins)
    for name, value in registered(group).items():
        if name in builtins:
            raise PluginError(f"{group} '{name}' is built in; a plugin cannot replace it (choose another name)")
        if kind is not None and not isinstance(value, kind):
            raise PluginError(f"{group} '{name}' is a {type(value).__name__}, expected a {kind.__name__}")
        result[name] = value
    return result
