"""A database full of hostile bytes, failing a check: the reports stay valid XML and escaped HTML."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from gate_helpers import ROOT

TABLE = '<script>alert("x")</script>&\x1b[31m\x07'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self.tags.append(tag)


def test_hostile_names_and_values_end_to_end(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    quoted = '"' + TABLE.replace('"', '""') + '"'
    (migrations / "0001_init.sql").write_text(
        f"CREATE TABLE {quoted} (id INTEGER PRIMARY KEY, v TEXT);\n"
        f"INSERT INTO {quoted} (v) VALUES ('<b>bold</b> & \"q\"'), (CAST(X'FF FE 41 00 42' AS TEXT)), "
        "(char(0, 27, 91, 51, 49, 109, 7));\n".replace("X'FF FE 41 00 42'", "X'FFFE41004200'"),
        encoding="utf-8")
    (migrations / "0002_lose_rows.sql").write_text(  # the upgrade silently loses data
        f"CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT);\n"
        f"INSERT INTO t_new SELECT id, v FROM {quoted} WHERE id > 1;\n"
        f"DROP TABLE {quoted};\nALTER TABLE t_new RENAME TO {quoted};\n", encoding="utf-8")
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "harness", "migrations", str(migrations), "--workdir",
                           str(tmp_path / "work"), "--reports", str(reports)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    root = ET.parse(reports / "junit.xml").getroot()  # valid XML whatever the database held
    failures = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert any("data-preserved" in tc.get("name") for tc in failures)
    text = " ".join((f.find("failure").get("message") or "") + (f.find("failure").text or "") for f in failures)
    assert "<script>" in text  # the name survives, as text
    assert "\x1b" not in text and "\x07" not in text
    rendered = subprocess.run([sys.executable, "-m", "harness", "report", str(reports /
                               "results.json"), "--reports", str(tmp_path / "html")], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert rendered.returncode == 1, rendered.stdout + rendered.stderr  # the run failed: so does its report
    html = (tmp_path / "html" / "report.html").read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    assert "script" not in parser.tags and "b" not in parser.tags
    assert "&lt;script&gt;" in html
    ET.fromstring(html.encode("utf-8"))  # the report is well-formed markup too
