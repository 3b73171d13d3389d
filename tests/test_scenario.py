"""Scenario files: bad input is one readable line naming the file, line and key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import scenario
from harness.cli import main
from harness.errors import InputError

GOOD = """\
[suite]
name = "demo"
seed = 7

[engine]
adapter = "python"
target = "harness.reference:ReferenceEngine"

[checks.install]
severity = "error"

[checks.install.thresholds]
migrate_seconds = { limit = 5.0, severity = "warn" }
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_scenario_loads(tmp_path: Path) -> None:
    loaded = scenario.load(write(tmp_path, GOOD))
    assert loaded.name == "demo" and loaded.seed == 7
    assert loaded.engine.adapter == "python"
    install = loaded.family("install")
    assert install is not None and install.line == 9
    assert install.thresholds["migrate_seconds"].limit == 5.0
    assert install.thresholds["migrate_seconds"].severity == "warn"
    assert install.thresholds["migrate_seconds"].line == 13


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        ('adapter = "python"', 'adaptor = "python"', 6, "engine.adaptor", "did you mean 'adapter'"),
        ('severity = "error"', 'severty = "error"', 10, "checks.install.severty", "did you mean 'severity'"),
        ("seed = 7", 'seed = "seven"', 3, "suite.seed", "expected an integer, got a string"),
        ('adapter = "python"', 'adapter = "pyhton"', 6, "engine.adapter", "did you mean 'python'"),
        ("limit = 5.0", "limit = true", 13, "checks.install.thresholds.migrate_seconds.limit", "expected an integer or a number"),
        ('severity = "warn"', 'severity = "fatal"', 13, "checks.install.thresholds.migrate_seconds.severity", "expected one of: error, warn"),
    ],
)
def test_bad_key_names_file_line_and_key(tmp_path: Path, old: str, new: str, line: int, key: str, words: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        scenario.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: key '{key}'"), message
    assert words in message
    assert "\n" not in message


def test_missing_engine_table(tmp_path: Path) -> None:
    text = GOOD.split("[engine]")[0] + "[checks.install]\n"
    with pytest.raises(InputError) as info:
        scenario.load(write(tmp_path, text))
    assert "missing required key 'engine'" in str(info.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('name = "demo"', 'name = "demo'))
    with pytest.raises(InputError) as info:
        scenario.load(path)
    assert str(info.value).startswith(f"{path}:2: invalid TOML")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace('severity = "error"', 'severty = "error"'), "key 'checks.install.severty'"),
        (lambda t: t.replace('"harness.reference:ReferenceEngine"', '"harness.nowhere:Engine"'), "key 'engine.target'"),
        (lambda t: t.replace("[checks.install]", "[checks.instal]").replace("[checks.install.thresholds]",
                                                                              "[checks.instal.thresholds]"),
         "unknown check family (did you mean 'install'?)"),
        (lambda t: t + '\n[checks.posture]\nonly = ["pragma"]\n', "'pragma' is not a posture check (did you mean 'pragmas'?)"),
    ],
)
def test_cli_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, expected: str) -> None:
    path = write(tmp_path, edit(GOOD))
    status = main(["gate", str(path), "--reports", str(tmp_path / "reports")])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_cli_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", str(tmp_path / "nope.toml")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_fixture_selector_must_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path, '[[fixture]]\nname = "neg-gap"\nfile = "x.sql"\nsha256 = "0"\n'
                     'tags = ["negative"]\nexpect_error = "migration_gap"\n', "manifest.toml")
    text = GOOD + f'\n[fixtures]\nmanifest = "{manifest.name}"\n\n[checks.continuity]\nfixtures = ["neg-gapp"]\n'
    path = write(tmp_path, text)
    assert main(["list", str(path)]) == 2
    err = capsys.readouterr().err
    assert "checks.continuity.fixtures" in err and "did you mean 'neg-gap'" in err
