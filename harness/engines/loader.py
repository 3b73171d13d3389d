"""Build the engine a scenario's ``[engine]`` table describes.

Everything that can be wrong with the configuration (a target that does not import, a
missing directory, a hook that is not callable) is found here, before any case runs, and
raised as ``InputError`` naming the scenario file and key.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Mapping, Sequence

from harness.engines.command import OP_MIGRATIONS, CommandEngine
from harness.engines.protocol import OP_MIGRATE, Engine
from harness.engines.python import PythonEngine, is_engine_object
from harness.engines.sqlfiles import Setup, SqlFilesEngine
from harness.errors import InputError
from harness.scenario import EngineSpec

_file_modules = itertools.count(1)

#: Builds the engine an ``[engine]`` table describes, its relative paths from the scenario file.
Builder = Callable[[EngineSpec, Path], Engine]
#: The adapter registry: ``adapter = "<name>"`` in a scenario (``register_adapter`` adds one).
ADAPTERS: dict[str, Builder] = {}


def register_adapter(name: str, builder: Builder) -> None:
    """Make ``adapter = "<name>"`` build its engine with ``builder`` (raises InputError itself on bad keys)."""
    ADAPTERS[name] = builder


def load_engine(spec: EngineSpec, scenario_path: Path) -> Engine:
    """The engine for ``spec``; relative paths in it are relative to the scenario's directory."""
    if spec.adapter not in ADAPTERS:
        raise InputError(scenario_path, f"unknown adapter '{spec.adapter}'; expected one of: "
                                        f"{', '.join(ADAPTERS)}", line=spec.line, key="engine.adapter")
    engine = ADAPTERS[spec.adapter](spec, scenario_path)
    return with_error_codes(engine, spec.error_codes) if spec.error_codes else engine


def import_target(target: str, scenario_path: Path, *, key: str, line: int | None = None) -> object:
    """The object ``target`` names: ``package.module:attr`` or ``relative/file.py:attr``.

    A file is imported under a module name of its own, so two engines' ``engine.py`` files
    never collide in ``sys.modules``. ``attr`` may be dotted (``module:Class.factory``).
    """
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise InputError(scenario_path, f"'{target}' must be 'module:attribute' or 'file.py:attribute'",
                         line=line, key=key)
    try:
        if where.endswith(".py") or "/" in where or "\\" in where:
            path = _resolve(scenario_path, where)
            if not path.is_file():
                raise InputError(scenario_path, f"no such file: {path}", line=line, key=key)
            module = _import_file(path)
        else:
            module = importlib.import_module(where)
    except InputError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the module raises (or exits with): unusable
        raise InputError(scenario_path, f"cannot import {where}: {type(exc).__name__}: {exc}",
                         line=line, key=key) from None
    value: object = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise InputError(scenario_path, f"{where} has no attribute '{attr}'", line=line, key=key)
        value = getattr(value, part)
    return value


def _python(spec: EngineSpec, scenario_path: Path) -> Engine:
    target = spec.target or ""

    def bad(problem: str, key: str = "engine.target") -> InputError:
        return InputError(scenario_path, problem, line=spec.line, key=key)

    with _prepended([_resolve(scenario_path, str(entry)) for entry in spec.sys_path]):
        value = import_target(target, scenario_path, key="engine.target", line=spec.line)
        if is_engine_object(value):
            if spec.options:
                raise bad(f"options are given but {target} is already an engine object", "engine.options")
            return PythonEngine(value, target, timeout=spec.timeout)
        if not callable(value):
            raise bad(f"{target} is a {type(value).__name__}, not an engine object, class or factory")
        try:
            engine = value(**spec.options)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a constructor that fails (or exits) is configuration
            raise bad(f"calling {target} with engine.options failed: {type(exc).__name__}: {exc}") from None
    if not is_engine_object(engine):
        raise bad(f"{target} returned a {type(engine).__name__}, which lacks migrate() and migrations()")
    return PythonEngine(engine, target, timeout=spec.timeout)


def _command(spec: EngineSpec, scenario_path: Path) -> Engine:
    def bad(problem: str, key: str) -> InputError:
        return InputError(scenario_path, problem, line=spec.line, key=key)

    if not spec.commands.get(OP_MIGRATE):
        raise bad("a migrate command is required", "engine.commands.migrate")
    for placeholder in ("{db}", "{data_dir}"):
        if any(placeholder in arg for arg in spec.commands.get(OP_MIGRATIONS, ())):
            raise bad(f"{placeholder} cannot be used: migrations are listed without a database",
                      f"engine.commands.{OP_MIGRATIONS}")
    cwd = _resolve(scenario_path, str(spec.cwd)) if spec.cwd else None
    if cwd is not None and not cwd.is_dir():
        raise bad(f"no such directory: {cwd}", "engine.cwd")
    return CommandEngine(_program_name(spec.commands[OP_MIGRATE]), spec.commands, spec.timeout,
                         spec.error_pattern, cwd, spec.env)


def _sqlfiles(spec: EngineSpec, scenario_path: Path) -> Engine:
    if spec.directory is None:
        raise InputError(scenario_path, "missing the migrations directory", line=spec.line,
                         key="engine.directory")
    directory = _resolve(scenario_path, str(spec.directory))
    if not directory.is_dir():
        raise InputError(scenario_path, f"no such directory: {directory}", line=spec.line,
                         key="engine.directory")
    return SqlFilesEngine(directory, spec.format, _setup_hook(spec, scenario_path), foreign_keys=spec.foreign_keys,
                          history=spec.history, timeout=spec.timeout)


def _dbmate(spec: EngineSpec, scenario_path: Path) -> Engine:
    from harness.engines.dbmate import dbmate_engine, find_binary

    directory = spec.directory or _resolve(scenario_path, "db/migrations")
    binary = find_binary(spec.binary, scenario_path.parent.resolve())
    if spec.binary and binary is None:
        raise InputError(scenario_path, f"no such executable: {spec.binary}", line=spec.line, key="engine.binary")
    return dbmate_engine(directory, binary, timeout=spec.timeout, setup=_setup_hook(spec, scenario_path),
                         foreign_keys=spec.foreign_keys)


def _alembic(spec: EngineSpec, scenario_path: Path) -> Engine:
    from harness.engines.alembic import AlembicEngine

    config = spec.alembic_config or _resolve(scenario_path, "alembic.ini")
    with _prepended([_resolve(scenario_path, str(entry)) for entry in spec.sys_path]):
        return AlembicEngine(config, sys_path=tuple(_resolve(scenario_path, str(e)) for e in spec.sys_path))


def _setup_hook(spec: EngineSpec, scenario_path: Path) -> Setup | None:
    if not spec.setup:
        return None
    found = import_target(spec.setup, scenario_path, key="engine.setup", line=spec.line)
    if not callable(found):
        raise InputError(scenario_path, f"{spec.setup} is a {type(found).__name__}, not a callable",
                         line=spec.line, key="engine.setup")
    return found


def with_error_codes(engine: Engine, codes: Mapping[str, str]) -> Engine:
    """``engine`` with its own error codes renamed to the harness's (``engine.error_codes``:
    ``{ database_locked = "db_busy" }``), so its transient and refusal codes are judged."""
    from harness.engines.codes import RenamedCodes

    return RenamedCodes(engine, codes)  # type: ignore[return-value]


def _program_name(argv: Sequence[str]) -> str:
    """The engine's name: its program, or the script or module ``{harness_python}`` runs."""
    program = argv[0]
    if program == "{harness_python}":
        program = next((arg for arg in argv[1:] if not arg.startswith("-")), program)
    return Path(program).name


def _resolve(scenario_path: Path, raw: str) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else (scenario_path.parent / path).resolve()


def _import_file(path: Path) -> ModuleType:
    name = f"_harness_engine_{next(_file_modules)}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickle look classes up by module name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@contextmanager
def _prepended(entries: Sequence[Path]) -> Iterator[None]:
    """``entries`` at the front of ``sys.path`` while the engine is imported and built."""
    added = [str(entry) for entry in entries]
    sys.path[:0] = added
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)


for _name, _builder in (("python", _python), ("command", _command), ("sqlfiles", _sqlfiles), ("alembic", _alembic),
                        ("dbmate", _dbmate)):
    register_adapter(_name, _builder)
