"""Hostile configuration: every scenario key and command-line value is validated by the one
validator, and a mistake is one line, exit 2, naming the file, line and key with a suggestion.

Each of these was silently accepted before (the run "passed" checking something else than asked)
or ended in a pytest INTERNALERROR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.tomlfile import read_dataclass

from gate_helpers import MANIFEST

BASE = f"""\
[suite]
name = "demo"
seed = 7

[engine]
adapter = "python"
target = "harness.reference:ReferenceEngine"

[fixtures]
manifest = "{MANIFEST.as_posix()}"

[checks.install]
thresholds = {{ migrate_seconds = 5.0 }}

[checks.matrix]
only = ["upgrades"]

[checks.matrix.params]
fault_examples = 8

[profiles.nightly.checks.matrix.params]
fault_examples = 64
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.err


def test_the_base_scenario_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_cli(capsys, "list", str(write(tmp_path, BASE)))
    assert status == 0, err


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        # a misspelt threshold name
        ("migrate_seconds = 5.0", "migrate_secs = 5.0", 13, "checks.install.thresholds.migrate_secs",
         "did you mean 'migrate_seconds'"),
        # a negative threshold
        ("migrate_seconds = 5.0", "migrate_seconds = -1", 13, "checks.install.thresholds.migrate_seconds",
         "cannot be negative"),
        # a misspelt params key of a family that did not declare its params before
        ("fault_examples = 8", "fault_exampels = 8", 19, "checks.matrix.params.fault_exampels",
         "did you mean 'fault_examples'"),
        # a params value of the wrong type, and out of range
        ("fault_examples = 8", 'fault_examples = "8"', 19, "checks.matrix.params.fault_examples",
         "expected an integer"),
        ("fault_examples = 8", "fault_examples = 0", 19, "checks.matrix.params.fault_examples", "at least 1"),
        # only together with skip
        ('only = ["upgrades"]', 'only = ["upgrades"]\nskip = ["integrity"]', 17, "checks.matrix.skip",
         "contradict"),
        # a params key given to a family that takes none
        ("[checks.install]", "[checks.install]\nparams = { speed = 1 }", 13, "checks.install.params.speed",
         "unknown key"),
        # a threshold given to a family that has none
        ('only = ["upgrades"]', 'only = ["upgrades"]\n[checks.posture]\nthresholds = { migrate_seconds = 1 }', 18,
         "checks.posture.thresholds.migrate_seconds", "has no thresholds"),
        # a negative seed
        ("seed = 7", "seed = -7", 3, "suite.seed", "0 or more"),
        # a mistake inside a profile that is not the one being run: named at the profile's line
        ("fault_examples = 64", "fault_exampls = 64", 22, "checks.matrix.params.fault_exampls",
         "did you mean 'fault_examples'"),
        ("[profiles.nightly.checks.matrix.params]", "[profiles.nightly.chekcs.matrix.params]", 21,
         "profiles.nightly.chekcs", "did you mean 'checks'"),
        # a drills policy of the wrong shape
        ('only = ["upgrades"]', 'only = ["upgrades"]\n[checks.drills.params]\ncross = "yes"', 18,
         "checks.drills.params.cross", "expected a boolean"),
        # lint's params, typed
        ('only = ["upgrades"]', 'only = ["upgrades"]\n[checks.lint]\nparams = { min_sqlite = 3.31 }', 18,
         "checks.lint.params.min_sqlite", "expected a string"),
    ],
)
def test_scenario_mistakes_are_exit_2_with_file_line_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, line: int, key: str,
        words: str) -> None:
    text = BASE.replace(old, new, 1)
    assert text != BASE
    path = write(tmp_path, text)
    status, err = run_cli(capsys, "list", str(path))
    assert status == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:{line}:" in err, err
    assert f"key '{key}'" in err, err
    assert words in err, err


def test_unknown_profile_is_exit_2_with_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_cli(capsys, "list", "--profile", "nigthly", str(write(tmp_path, BASE)))
    assert status == 2
    assert "--profile" in err and "did you mean 'nightly'" in err and "Traceback" not in err


def test_a_declared_profile_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_cli(capsys, "list", "--profile", "nightly", str(write(tmp_path, BASE)))
    assert status == 0, err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-k", "matrix and ("], "-k: not a valid expression"),
        (["-k", "a b"], "-k: not a valid expression"),
        (["-n", "many"], "--workers"),
        (["--case", "matrix[fixture=v1]::upgradez"], "no case"),
    ],
)
def test_bad_gate_arguments_are_exit_2_before_pytest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str) -> None:
    status, err = run_cli(capsys, "gate", str(write(tmp_path, BASE)), "--reports", str(tmp_path / "r"), *args)
    assert status == 2, err
    assert words in err and "INTERNALERROR" not in err and "Traceback" not in err
    assert not (tmp_path / "r" / "results.json").exists()


def test_case_suggestion_names_the_closest_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_cli(capsys, "gate", str(write(tmp_path, BASE)), "--reports", str(tmp_path / "r"),
                          "--case", "install::migrates-to-hed")
    assert status == 2 and "did you mean 'install::migrates-to-head'" in err


# -- the validator itself ----------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    count: int = field(default=1, metadata={"min": 1, "max": 10})
    ratio: float = 0.5
    names: tuple[str, ...] = ()
    table: Mapping[str, str] = field(default_factory=dict)
    mode: str = field(default="a", metadata={"choices": ("a", "b")})
    maybe: bool | None = None


def _error(key: str, problem: str) -> InputError:
    return InputError("f.toml", problem, key=key)


def test_read_dataclass_converts_and_defaults() -> None:
    made = read_dataclass(Demo, {"count": 3, "ratio": 2, "names": ["x"], "table": {"k": "v"}, "maybe": True},
                          "p", _error)
    assert made == Demo(3, 2.0, ("x",), {"k": "v"}, "a", True)
    assert read_dataclass(Demo, {}, "p", _error) == Demo()


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"cuont": 1}, "p.cuont", "did you mean 'count'"),
        ({"count": True}, "p.count", "expected an integer, got a boolean"),
        ({"count": 11}, "p.count", "at most 10"),
        ({"names": ["x", 3]}, "p.names[1]", "expected a string"),
        ({"names": "x"}, "p.names", "expected an array"),
        ({"table": {"k": 1}}, "p.table.k", "expected a string"),
        ({"mode": "c"}, "p.mode", "expected one of: a, b"),
        ({"maybe": "yes"}, "p.maybe", "expected a boolean"),
    ],
)
def test_read_dataclass_rejects(table: dict, key: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_dataclass(Demo, table, "p", _error)
    assert info.value.key == key and words in info.value.problem


def test_every_family_declares_typed_params() -> None:
    from dataclasses import is_dataclass

    from harness.checks.catalogue import families

    for family in families().values():
        assert is_dataclass(family.params), family.name


def test_plans_axes_get_the_scenario_explicitly() -> None:
    source = (Path(__file__).resolve().parents[1] / "harness" / "checks" / "plans.py").read_text()
    assert "_getframe" not in source
