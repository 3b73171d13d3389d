"""Scenario files: which engine, which fixtures, which checks with which thresholds.

A scenario is TOML (see ``scenarios/reference.toml``)::

    [suite]            name, description, seed, runbook_base
    [engine]           adapter = "python" | "command" | "sqlfiles" | "alembic" | "dbmate", plus its keys
    [fixtures]         manifest = "../fixtures/manifest.toml"
    [checks.<family>]  severity, only, skip, fixtures, runbooks, severities, thresholds, params

Everything is validated here, structurally, with the file, line and key named in the
error; check and family names are validated against the catalogue when cases are expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness import tomlfile
from harness.engines.formats import HistorySpec, history_spec
from harness.tomlfile import TomlDoc, check_keys, get, get_choice, get_str_list

SEVERITIES = ("error", "warn")
ADAPTERS = ("python", "command", "sqlfiles", "alembic", "dbmate")
OPERATIONS = ("migrate", "open", "diagnostics", "posture", "migrations")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_TOP_KEYS = ("suite", "engine", "fixtures", "checks", "profiles")
_SUITE_KEYS = ("name", "description", "seed", "runbook_base")
_ENGINE_KEYS = {
    "python": ("adapter", "target", "options", "sys_path", "history", "error_codes", "timeout"),
    "command": ("adapter", "commands", "timeout", "error_pattern", "cwd", "env", "history", "error_codes"),
    "sqlfiles": ("adapter", "directory", "format", "setup", "history", "foreign_keys", "timeout"),
    "alembic": ("adapter", "alembic_config", "sys_path", "history"),
    "dbmate": ("adapter", "directory", "binary", "timeout", "setup", "history", "foreign_keys"),
}
_FAMILY_KEYS = ("enabled", "severity", "only", "skip", "fixtures", "runbooks", "severities",
                "thresholds", "params")
_THRESHOLD_KEYS = ("limit", "severity")
DEFAULT_TIMEOUT = 60.0  # seconds one engine operation may take (every adapter)
MAX_TIMEOUT = 24 * 3600.0
DEFAULT_ERROR_PATTERN = r"error[_ ]code[=:]\s*\"?(?P<code>[A-Za-z0-9_.-]+)"


@dataclass(frozen=True)
class Threshold:
    name: str
    limit: float
    severity: str
    line: int | None = None


@dataclass(frozen=True)
class EngineSpec:
    adapter: str
    line: int | None
    target: str | None = None  # python: "module:attr" or "file.py:attr"
    options: Mapping[str, Any] = field(default_factory=dict)
    sys_path: tuple[Path, ...] = ()
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT  # seconds per engine operation, every adapter
    error_pattern: str = DEFAULT_ERROR_PATTERN
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    directory: Path | None = None
    format: str = "auto"
    setup: str | None = None
    history: HistorySpec = None  # the history table: a preset's name, a declared Layout; None = detect
    foreign_keys: bool = True  # sqlfiles: migrate with PRAGMA foreign_keys ON
    error_codes: Mapping[str, str] = field(default_factory=dict)  # the engine's code -> the harness's
    alembic_config: Path | None = None  # alembic: its alembic.ini
    binary: str | None = None  # dbmate: the executable (default: found on PATH or in node_modules/.bin)


@dataclass(frozen=True)
class FamilySpec:
    family: str
    line: int | None
    enabled: bool = True
    severity: str = "error"
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    fixtures: tuple[str, ...] = ()
    runbooks: Mapping[str, str] = field(default_factory=dict)
    severities: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    key_lines: Mapping[str, int] = field(default_factory=dict)  # "only", "runbooks.x" -> line

    def severity_of(self, check: str, default: str | None = None) -> str:
        """The scenario's word for this check, else the check's own default, else the family's."""
        if check in self.severities:
            return self.severities[check]
        if default is not None and "severity" not in self.key_lines:
            return default
        return self.severity


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    description: str
    seed: int
    engine: EngineSpec
    fixtures_manifest: Path | None
    families: tuple[FamilySpec, ...]
    runbook_base: str | None = None
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    profile: str | None = None  # the profile laid over this scenario, if any
    released: tuple[str, ...] = ()  # [fixtures] released: the versions users can hold (default: all)
    released_from_git: bool = False  # [fixtures] released_from_git: those versions from the repository's tags

    @property
    def root(self) -> Path:
        return self.path.parent

    def family(self, name: str) -> FamilySpec | None:
        return next((f for f in self.families if f.family == name), None)


def load(path: Path, profile: str | None = None) -> Scenario:
    """Read and validate one scenario file; raises ``InputError`` (exit 2) on bad input.

    With ``profile``, the scenario's ``[profiles.<profile>]`` tables (same shape as the
    top level: ``checks.<family>…``) are laid over the base before validation; a scenario
    without that profile runs as it is.
    """
    doc = tomlfile.load(path)
    data = doc.data
    profiles = data.get("profiles", {})
    if profile is not None and isinstance(profiles, dict) and isinstance(profiles.get(profile), dict):
        overlay = profiles[profile]
        check_keys(doc, f"profiles.{profile}", overlay, ("checks",))
        data = _overlay(dict(data), overlay)
        prefix = f"profiles.{profile}."  # a key the profile sets is named at the profile's line
        lines = {**doc.lines, **{k[len(prefix):]: n for k, n in doc.lines.items() if k.startswith(prefix)}}
        doc = TomlDoc(doc.path, data, lines)
    check_keys(doc, "", data, _TOP_KEYS)
    suite = get(doc, "", data, "suite", dict, required=True)
    check_keys(doc, "suite", suite, _SUITE_KEYS)
    name = get(doc, "suite", suite, "name", str, required=True)
    if not _NAME.match(name):
        raise doc.error("suite.name", f"'{name}' must be lower-case letters, digits, '-' or '_'")
    seed = get(doc, "suite", suite, "seed", int, 0)
    if seed < 0:
        raise doc.error("suite.seed", f"expected a seed of 0 or more, got {seed}")
    engine = _engine(doc, get(doc, "", data, "engine", dict, required=True))
    manifest = None
    released: tuple[str, ...] = ()
    released_from_git = False
    if "fixtures" in data:
        fixtures = get(doc, "", data, "fixtures", dict)
        check_keys(doc, "fixtures", fixtures, ("manifest", "released", "released_from_git"))
        raw = get(doc, "fixtures", fixtures, "manifest", str, required=True)
        released = tuple(str(v) for v in get(doc, "fixtures", fixtures, "released", list, []))
        if any(not v.strip() for v in released):
            raise doc.error("fixtures.released", "expected released versions, got an empty one")
        released_from_git = get(doc, "fixtures", fixtures, "released_from_git", bool, False)
        manifest = _resolve(path, raw)
        if not manifest.is_file():
            raise doc.error("fixtures.manifest", f"no such file: {raw}")
    checks = get(doc, "", data, "checks", dict, {})
    families = tuple(_family(doc, fam, checks[fam]) for fam in checks)
    profiles = get(doc, "", data, "profiles", dict, {})
    for declared in profiles:
        check_keys(doc, f"profiles.{declared}", get(doc, "profiles", profiles, declared, dict), ("checks",))
    return Scenario(
        path=path,
        name=name,
        description=get(doc, "suite", suite, "description", str, ""),
        seed=seed,
        engine=engine,
        fixtures_manifest=manifest,
        released=released,
        released_from_git=released_from_git,
        families=families,
        runbook_base=get(doc, "suite", suite, "runbook_base", str),
        profiles=profiles,
        profile=profile,
    )


def _overlay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _overlay(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _resolve(scenario: Path, raw: str) -> Path:
    candidate = Path(raw)
    return candidate if candidate.is_absolute() else (scenario.parent / candidate).resolve()


def _engine(doc: TomlDoc, table: Mapping[str, Any]) -> EngineSpec:
    if "adapter" not in table:  # name a misspelt key before complaining that adapter is missing
        check_keys(doc, "engine", table, sorted({k for keys in _ENGINE_KEYS.values() for k in keys}))
    adapter = get_choice(doc, "engine", table, "adapter", ADAPTERS, required=True)
    check_keys(doc, "engine", table, _ENGINE_KEYS[adapter])
    line = doc.line("engine")
    history = _history(doc, table)
    timeout = float(get(doc, "engine", table, "timeout", (int, float), DEFAULT_TIMEOUT))
    if not 0 < timeout <= MAX_TIMEOUT:
        raise doc.error("engine.timeout", f"expected seconds between 0 and {MAX_TIMEOUT:g} (one engine operation), "
                        f"got {timeout:g}")
    error_codes = get(doc, "engine", table, "error_codes", dict, {})
    for key, value in error_codes.items():
        if not isinstance(value, str) or not value:
            raise doc.error(f"engine.error_codes.{key}", f"expected the harness's error code (a string), got {value!r:.40}")
    if adapter == "alembic":
        config = get(doc, "engine", table, "alembic_config", str, "alembic.ini")
        resolved_config = _resolve(doc.path, config)
        if not resolved_config.is_file():
            raise doc.error("engine.alembic_config" if "alembic_config" in table else "engine",
                            f"no such file: {config} (alembic's configuration)")
        return EngineSpec(
            adapter, line, alembic_config=resolved_config, history=history,
            sys_path=tuple(_resolve(doc.path, p) for p in get_str_list(doc, "engine", table, "sys_path")),
        )
    if adapter == "dbmate":
        directory = get(doc, "engine", table, "directory", str, "db/migrations")
        resolved = _resolve(doc.path, directory)
        if not resolved.is_dir():
            raise doc.error("engine.directory" if "directory" in table else "engine",
                            f"no such directory: {directory} (dbmate's migrations)")
        timeout = get(doc, "engine", table, "timeout", (int, float), 60.0)
        if timeout <= 0:
            raise doc.error("engine.timeout", f"expected a positive number of seconds, got {timeout}")
        return EngineSpec(
            adapter, line, directory=resolved, format="dbmate", binary=get(doc, "engine", table, "binary", str),
            timeout=float(timeout), setup=get(doc, "engine", table, "setup", str), history=history,
            foreign_keys=get(doc, "engine", table, "foreign_keys", bool, False),
        )
    if adapter == "python":
        target = get(doc, "engine", table, "target", str, required=True)
        if ":" not in target:
            raise doc.error("engine.target", f"'{target}' must be 'module:attribute' or 'file.py:attribute'")
        return EngineSpec(
            adapter, line, target=target,
            options=get(doc, "engine", table, "options", dict, {}),
            sys_path=tuple(_resolve(doc.path, p) for p in get_str_list(doc, "engine", table, "sys_path")),
            history=history, error_codes=error_codes, timeout=timeout,
        )
    if adapter == "command":
        raw_commands = get(doc, "engine", table, "commands", dict, required=True)
        check_keys(doc, "engine.commands", raw_commands, OPERATIONS)
        commands: dict[str, tuple[str, ...]] = {}
        for op in raw_commands:
            argv = get_str_list(doc, "engine.commands", raw_commands, op)
            if not argv:
                raise doc.error(f"engine.commands.{op}", "expected a non-empty array of strings (program and arguments)")
            commands[op] = argv
        if "migrate" not in commands:
            raise doc.error("engine.commands", "missing required key 'engine.commands.migrate'")
        pattern = get(doc, "engine", table, "error_pattern", str, DEFAULT_ERROR_PATTERN)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise doc.error("engine.error_pattern", f"not a valid regular expression ({exc})") from None
        if "code" not in compiled.groupindex and compiled.groups < 1:
            raise doc.error("engine.error_pattern", "needs a group (?P<code>...) that captures the error code")
        env = get(doc, "engine", table, "env", dict, {})
        for key, value in env.items():
            if not isinstance(value, str):
                raise doc.error(f"engine.env.{key}", f"expected a string, got {value!r:.40}")
        cwd = get(doc, "engine", table, "cwd", str)
        return EngineSpec(
            adapter, line, commands=commands, timeout=float(timeout), error_pattern=pattern,
            cwd=_resolve(doc.path, cwd) if cwd else doc.path.parent.resolve(), env=env, history=history,
            error_codes=error_codes,
        )
    directory = get(doc, "engine", table, "directory", str, required=True)
    resolved = _resolve(doc.path, directory)
    if not resolved.is_dir():
        raise doc.error("engine.directory", f"no such directory: {directory}")
    return EngineSpec(
        adapter, line, directory=resolved,
        format=get(doc, "engine", table, "format", str, "auto"),
        setup=get(doc, "engine", table, "setup", str),
        history=history, timeout=timeout,
        foreign_keys=get(doc, "engine", table, "foreign_keys", bool, True),
    )


def _history(doc: TomlDoc, engine: Mapping[str, Any]) -> HistorySpec:
    """``history = "flyway"`` (a preset) or ``[engine.history]`` (a declared table)."""
    if "history" not in engine:
        return None
    value = engine["history"]
    if isinstance(value, str):
        return history_spec(value, lambda key, problem: doc.error("engine.history", problem))
    body = get(doc, "engine", engine, "history", dict)
    return history_spec(body, lambda key, problem: doc.error(f"engine.history.{key}" if key in body
                                                               else "engine.history", problem))


def _family(doc: TomlDoc, family: str, body: Any) -> FamilySpec:
    where = f"checks.{family}"
    if not isinstance(body, dict):
        raise doc.error(where, f"expected a table [checks.{family}], got {body!r:.40}")
    check_keys(doc, where, body, _FAMILY_KEYS)
    severity = get_choice(doc, where, body, "severity", SEVERITIES, "error")
    runbooks = get(doc, where, body, "runbooks", dict, {})
    for check, runbook in runbooks.items():
        get(doc, f"{where}.runbooks", runbooks, check, str)
    severities = get(doc, where, body, "severities", dict, {})
    for check in severities:
        get_choice(doc, f"{where}.severities", severities, check, SEVERITIES)
    thresholds: dict[str, Threshold] = {}
    raw_thresholds = get(doc, where, body, "thresholds", dict, {})
    for tname, value in raw_thresholds.items():
        tkey = f"{where}.thresholds.{tname}"
        if isinstance(value, dict):
            check_keys(doc, tkey, value, _THRESHOLD_KEYS)
            limit = get(doc, tkey, value, "limit", (int, float), required=True)
            tsev = get_choice(doc, tkey, value, "severity", SEVERITIES, severity)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            limit, tsev = value, severity
        else:
            raise doc.error(tkey, f"expected a number or {{ limit = N, severity = \"warn\" }}, got {value!r:.40}")
        if limit < 0:
            raise doc.error(tkey, f"a threshold's limit cannot be negative, got {limit}")
        thresholds[tname] = Threshold(tname, float(limit), tsev, doc.line(tkey))
    lines = {k[len(where) + 1:]: v for k, v in doc.lines.items() if k.startswith(where + ".")}
    return FamilySpec(
        family=family,
        line=doc.line(where),
        enabled=get(doc, where, body, "enabled", bool, True),
        severity=severity,
        only=get_str_list(doc, where, body, "only"),
        skip=get_str_list(doc, where, body, "skip"),
        fixtures=get_str_list(doc, where, body, "fixtures"),
        runbooks=runbooks,
        severities=severities,
        thresholds=thresholds,
        params=get(doc, where, body, "params", dict, {}),
        key_lines=lines,
    )
