"""A trial of hostile inputs and faults against the `harness` command, as a user would meet them.

Each input is a small project made in a private temporary directory (scenario, engine,
migrations, fixtures copied from this repository) and one `harness` command run on it as
a child process, bounded in time. For each, the table gives: the exit status, the first
line the user reads, whether a traceback appeared, whether every input file is unchanged
(hashes before and after), and what was left behind (files outside the run's own
directories, processes still running). Run: ``python scripts/hostile_trial.py [-k WORD]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
MARK = "hostile-trial-marker"  # in the command line of every process an input starts in the background
LIMIT = 240.0  # seconds one input may take before the trial calls it a hang

REFERENCE = 'adapter = "python"\ntarget = "harness.reference:ReferenceEngine"\n'
INSTALL = '[checks.install]\nonly = ["migrates-to-head"]\n'


@dataclass
class Project:
    """One input's private directory and the command to run in it."""

    root: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    outside: list[Path] = field(default_factory=list)  # files that must not exist afterwards
    interrupt_after: float | None = None  # send SIGINT after this many seconds
    concurrent: bool = False  # start a second identical run while the first holds the reports

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def scenario(self, engine: str = REFERENCE, checks: str = INSTALL, extra: str = "", manifest: str | None = None,
                 name: str = "s.toml") -> Path:
        manifest = manifest or (self.root / "fixtures" / "manifest.toml").as_posix()
        return self.write(name, f'[suite]\nname = "trial"\nseed = 1\n\n[engine]\n{engine}\n'
                                f'[fixtures]\nmanifest = "{manifest}"\n\n{checks}\n{extra}')

    def gate(self, *args: str) -> None:
        self.argv = ["gate", *args, "--reports", "reports", "-n", "0", "--workdir", "work"]

    def migrations_dir(self, files: dict[str, str | bytes]) -> Path:
        folder = self.root / "migrations"
        for name, text in files.items():
            self.write(f"migrations/{name}", text)
        return folder

    def zero_config(self, files: dict[str, str | bytes], *args: str) -> None:
        self.migrations_dir(files)
        self.argv = ["migrations", "migrations", "--workdir", "work", *args]


def engine_file(project: Project, body: str, cls: str = "Engine") -> str:
    project.write("engine.py", "from harness.reference import ReferenceEngine\n" + textwrap.dedent(body))
    return f'adapter = "python"\ntarget = "engine.py:{cls}"\ntimeout = 3\n'


def migrate_body(code: str) -> str:
    return (f"class Engine(ReferenceEngine):\n    def migrate(self, db, target=None):\n"
            f"{textwrap.indent(textwrap.dedent(code), '        ')}\n")


INIT = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\n"

# ------------------------------------------------------------------------------------ inputs

Maker = Callable[[Project], None]
INPUTS: list[tuple[str, Maker]] = []


def case(name: str) -> Callable[[Maker], Maker]:
    def register(fn: Maker) -> Maker:
        INPUTS.append((name, fn))
        return fn
    return register


def config(name: str, checks: str = INSTALL, engine: str = REFERENCE, extra: str = "", *args: str) -> None:
    """An input that is a scenario mistake: `harness list` must refuse it."""
    def make(p: Project) -> None:
        p.argv = ["list", str(p.scenario(engine=engine, checks=checks, extra=extra)), *args]
    INPUTS.append((name, make))


config("threshold name misspelt", "[checks.install]\nthresholds = { migrate_secs = 5 }\n")
config("threshold negative", "[checks.install]\nthresholds = { migrate_seconds = -1 }\n")
config("threshold limit a string", '[checks.install]\nthresholds = { migrate_seconds = { limit = "5" } }\n')
config("threshold severity unknown", '[checks.install]\nthresholds = { migrate_seconds = { limit = 5, severity = "fatal" } }\n')
config("threshold on a family without any", "[checks.posture]\nthresholds = { migrate_seconds = 5 }\n")
config("params key misspelt", "[checks.matrix]\nparams = { fault_exampels = 8 }\n")
config("params value of the wrong type", '[checks.matrix]\nparams = { fault_examples = "many" }\n')
config("params value out of range", "[checks.matrix]\nparams = { fault_examples = 0 }\n")
config("params on a family that takes none", "[checks.install]\nparams = { speed = 1 }\n")
config("drills cross not a boolean", '[checks.drills]\nparams = { cross = "yes" }\n')
config("lint min_sqlite a number", "[checks.lint]\nparams = { min_sqlite = 3.31 }\n")
config("posture busy timeout negative", "[checks.posture]\nparams = { min_busy_timeout_ms = -5 }\n")
config("only and skip together", '[checks.install]\nonly = ["migrates-to-head"]\nskip = ["crash-atomic"]\n')
config("unknown check in only", '[checks.install]\nonly = ["migrate-to-head"]\n')
config("unknown family", "[checks.instal]\n")
config("severity unknown", '[checks.install]\nseverity = "fatal"\n')
config("severities for an unknown check", '[checks.install]\nseverities = { nope = "warn" }\n')
config("runbooks for an unknown check", '[checks.install]\nrunbooks = { nope = "x" }\n')
config("fixture selector unknown", '[checks.matrix]\nfixtures = ["tag:legacyy"]\n')
config("unknown key in a family", '[checks.install]\nseverty = "warn"\n')
config("profile with a misspelt table", INSTALL, REFERENCE, "[profiles.nightly.chekcs.install]\nenabled = true\n")
config("profile params misspelt", INSTALL, REFERENCE, "[profiles.nightly.checks.matrix.params]\nfault_exampls = 9\n")
config("unknown --profile", INSTALL, REFERENCE, "[profiles.nightly.checks.install]\nenabled = true\n",
       "--profile", "nigthly")
config("adapter misspelt", INSTALL, 'adapter = "pyhton"\ntarget = "x:y"\n')
config("engine key misspelt", INSTALL, 'adapter = "python"\ntraget = "x:y"\n')
config("target without a colon", INSTALL, 'adapter = "python"\ntarget = "harness.reference"\n')
config("target module missing", INSTALL, 'adapter = "python"\ntarget = "no_such_module_x:Engine"\n')
config("timeout zero", INSTALL, REFERENCE + "timeout = 0\n")
config("timeout negative", INSTALL, REFERENCE + "timeout = -3\n")
config("command engine timeout absurd", INSTALL, 'adapter = "command"\ntimeout = 1e12\n'
       '[engine.commands]\nmigrate = ["true"]\n')
config("error_pattern invalid regex", INSTALL, 'adapter = "command"\nerror_pattern = "(["\n'
       '[engine.commands]\nmigrate = ["true"]\n')


@case("negative seed")
def _(p: Project) -> None:
    p.write("s.toml", '[suite]\nname = "trial"\nseed = -1\n[engine]\n' + REFERENCE)
    p.argv = ["list", "s.toml"]


@case("invalid TOML")
def _(p: Project) -> None:
    p.write("s.toml", '[suite]\nname = "trial"\nseed = \n')
    p.argv = ["list", "s.toml"]


@case("scenario not UTF-8")
def _(p: Project) -> None:
    p.write("s.toml", b'[suite]\nname = "tr\xffial"\n')
    p.argv = ["list", "s.toml"]


@case("scenario is binary garbage")
def _(p: Project) -> None:
    p.write("s.toml", bytes(range(256)) * 4)
    p.argv = ["list", "s.toml"]


@case("engine module calls sys.exit(3) on import")
def _(p: Project) -> None:
    p.write("engine.py", "import sys\nsys.exit(3)\n")
    p.argv = ["list", str(p.scenario(engine='adapter = "python"\ntarget = "engine.py:Engine"\n'))]


@case("engine module raises on import")
def _(p: Project) -> None:
    p.write("engine.py", "raise RuntimeError('\\x1b[2Jcannot start')\n")
    p.argv = ["list", str(p.scenario(engine='adapter = "python"\ntarget = "engine.py:Engine"\n'))]


@case("engine constructor raises")
def _(p: Project) -> None:
    p.write("engine.py", "class Engine:\n    def __init__(self):\n        raise ValueError('no')\n")
    p.argv = ["list", str(p.scenario(engine='adapter = "python"\ntarget = "engine.py:Engine"\n'))]


@case("fixtures manifest missing")
def _(p: Project) -> None:
    p.argv = ["list", str(p.scenario(manifest=(p.root / "nope.toml").as_posix()))]


# ---- command line


@case("-k expression malformed")
def _(p: Project) -> None:
    p.gate(str(p.scenario()), "-k", "install and (")


@case("-n not a number")
def _(p: Project) -> None:
    p.argv = ["gate", str(p.scenario()), "--reports", "reports", "--workdir", "work", "-n", "lots"]


@case("--case unknown")
def _(p: Project) -> None:
    p.gate(str(p.scenario()), "--case", "install::migrate-to-head")


@case("--shard out of range")
def _(p: Project) -> None:
    p.gate(str(p.scenario()), "--shard", "3/2")


@case("--seed not a number")
def _(p: Project) -> None:
    p.gate(str(p.scenario()), "--seed", "abc")


@case("scenario path missing")
def _(p: Project) -> None:
    p.gate("nowhere.toml")


# ---- environment


@case("reports directory under a file")
def _(p: Project) -> None:
    p.write("blocker", "")
    p.argv = ["gate", str(p.scenario()), "--reports", "blocker/reports", "-n", "0", "--workdir", "work"]


@case("HARNESS_CACHE_DIR unwritable")
def _(p: Project) -> None:
    p.write("blocker", "")
    p.gate(str(p.scenario()))
    p.env["HARNESS_CACHE_DIR"] = str(p.root / "blocker" / "cache")


@case("work directory unwritable")
def _(p: Project) -> None:
    p.write("blocker", "")
    p.argv = ["gate", str(p.scenario()), "--reports", "reports", "-n", "0", "--workdir", "blocker/work"]


@case("reports directory on a full disk")
def _(p: Project) -> None:
    full = p.root / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True).returncode:
        p.argv = []  # not possible here: reported as skipped
        return
    (full / "filler").write_bytes(b"\0" * 60 * 1024)
    p.argv = ["gate", str(p.scenario()), "--reports", str(full / "reports"), "-n", "0", "--workdir", "work"]


@case("fixture file altered")
def _(p: Project) -> None:
    victim = sorted((p.root / "fixtures").glob("v*.sql"))[0]
    victim.write_text(victim.read_text() + "-- edited\n")
    p.gate(str(p.scenario()))


@case("fixture file missing")
def _(p: Project) -> None:
    sorted((p.root / "fixtures").glob("v*.sql"))[0].unlink()
    p.gate(str(p.scenario()))


@case("--junit path unwritable")
def _(p: Project) -> None:
    p.write("blocker", "")
    p.zero_config({"0001_init.sql": INIT}, "--junit", "blocker/junit.xml")


@case("command engine: migrations prints nothing")
def _(p: Project) -> None:
    engine = ('adapter = "command"\n[engine.commands]\n'
              f'migrate = ["{sys.executable}", "-m", "harness.reference", "migrate", "--db", "{{db}}"]\n'
              f'migrations = ["{sys.executable}", "-c", "pass"]\n')
    p.gate(str(p.scenario(engine=engine)))


@case("command engine: program missing")
def _(p: Project) -> None:
    engine = 'adapter = "command"\n[engine.commands]\nmigrate = ["./no-such-program"]\nmigrations = ["./no-such"]\n'
    p.gate(str(p.scenario(engine=engine)))


# ---- engines


def engine_case(name: str, code: str) -> None:
    def make(p: Project) -> None:
        p.gate(str(p.scenario(engine=engine_file(p, migrate_body(code)))))
    INPUTS.append((name, make))


engine_case("python engine: migrate hangs", "import time\nwhile True: time.sleep(1)")
engine_case("python engine: os.abort()", "import os\nos.abort()")
engine_case("python engine: segfault", "import ctypes\nctypes.string_at(0)")
engine_case("python engine: sys.exit(0) in migrate", "import sys\nsys.exit(0)")
engine_case("python engine: os._exit(3) in migrate", "import os\nos._exit(3)")
engine_case("python engine: background child left running",
            f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
            f"'{MARK}'], start_new_session=True)\nsuper().migrate(db, target)")
engine_case("python engine: error text with escapes and ::error",
            "raise RuntimeError('boom\\x1b[2J\\x1b]0;pwned\\x07\\n::error file=a,line=1::forged\\n::add-mask::x')")
engine_case("python engine: prints escapes to stdout",
            "print('\\x1b[2J\\x1b]0;title\\x07\\n::warning::forged', flush=True)\nsuper().migrate(db, target)")
engine_case("python engine: raises KeyboardInterrupt-free BaseException",
            "raise GeneratorExit('odd')")


@case("python engine: migrations() hangs")
def _(p: Project) -> None:
    body = "import time\nclass Engine(ReferenceEngine):\n    def migrations(self):\n        time.sleep(600)\n"
    p.gate(str(p.scenario(engine=engine_file(p, body))))


@case("command engine: migrate hangs")
def _(p: Project) -> None:
    engine = ('adapter = "command"\ntimeout = 2\n[engine.commands]\n'
              f'migrate = ["{sys.executable}", "-c", "import time; time.sleep(600)", "{MARK}"]\n'
              f'migrations = ["{sys.executable}", "-m", "harness.reference", "migrations"]\n')
    p.gate(str(p.scenario(engine=engine)))


# ---- migration SQL (zero-config and sqlfiles)

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n"


@case("SQL: endless WITH RECURSIVE")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_loop.sql": "CREATE TABLE u(x);\n" + ENDLESS}, "--timeout", "1")


@case("SQL: ATTACH outside the case directory")
def _(p: Project) -> None:
    target = p.root / "escaped-attach.db"
    p.outside.append(target)
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": f"ATTACH '{target}' AS e;\nCREATE TABLE e.z(x);\n",
                   "0003_y.sql": "CREATE TABLE y(x);\n"})


@case("SQL: VACUUM INTO outside the case directory")
def _(p: Project) -> None:
    target = p.root / "escaped-vacuum.db"
    p.outside.append(target)
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": f"VACUUM INTO '{target}';\n",
                   "0003_y.sql": "CREATE TABLE y(x);\n"})


@case("SQL: load_extension()")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": "SELECT load_extension('libz.so');\n",
                   "0003_y.sql": "CREATE TABLE y(x);\n"})


@case("SQL: PRAGMA temp_store_directory")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": f"PRAGMA temp_store_directory = '{p.root}';\n",
                   "0003_y.sql": "CREATE TABLE y(x);\n"})


@case("SQL: syntax error")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": "CREATE TABLE (;\n"})


@case("SQL: error message with escapes")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": "SELECT * FROM \"\x1b[2J::error::x\";\n"})


@case("SQL: file not UTF-8")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002_x.sql": b"CREATE TABLE \xff\xfe(x);\n"})


@case("SQL: misnamed file and a README")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0002-x.sql": "CREATE TABLE x(y);\n", "README.md": "notes\n",
                   "0003_y.sql": "CREATE TABLE y(x);\n"})


@case("SQL: duplicate versions")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT, "0001_again.sql": "CREATE TABLE x(y);\n"})


@case("SQL: empty directory")
def _(p: Project) -> None:
    (p.root / "migrations").mkdir()
    p.argv = ["migrations", "migrations", "--workdir", "work"]


@case("SQL: --timeout negative")
def _(p: Project) -> None:
    p.zero_config({"0001_init.sql": INIT}, "--timeout", "-1")


# ---- reports


@case("SIGINT during a run")
def _(p: Project) -> None:
    p.gate(str(p.scenario(engine=engine_file(p, migrate_body("import time\nwhile True: time.sleep(1)")))))
    p.interrupt_after = 6.0


@case("two runs on one reports directory")
def _(p: Project) -> None:
    p.gate(str(p.scenario(engine=engine_file(p, migrate_body("import time\nwhile True: time.sleep(1)")))))
    p.concurrent = True


# ------------------------------------------------------------------------------------ running


def changed(before: dict[str, str], after: dict[str, str]) -> str:
    """Input files modified or removed (new files are counted as leftovers instead)."""
    bad = [name for name, digest in before.items() if after.get(name) != digest]
    return "yes" if not bad else f"NO: {', '.join(bad)[:60]}"


def tree_hashes(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    hashes = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not path.is_symlink() and not rel.startswith(skip):
            try:
                hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                pass
    return hashes


def stray_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if MARK.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def run_one(name: str, make: Maker, base: Path) -> dict[str, str]:
    root = Path(tempfile.mkdtemp(prefix="input-", dir=base))
    shutil.copytree(ROOT / "fixtures", root / "fixtures")
    tmp = root / "tmp"  # the harness's temporary directories go here, so leftovers can be counted
    tmp.mkdir()
    project = Project(root)
    make(project)
    if not project.argv:
        return {"input": name, "exit": "-", "first line": "(not possible on this machine)", "traceback": "-",
                "unchanged": "-", "leftovers": "-"}
    outputs = ("reports", "work", "tmp", "full")
    before = tree_hashes(root, outputs)
    env = {**os.environ, "TMPDIR": str(tmp), "HARNESS_CACHE_DIR": str(base / "cache"), "PYTHONPATH": str(ROOT),
           "GITHUB_ACTIONS": "", **project.env}
    argv = [sys.executable, "-m", "harness", *project.argv]
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = None
    if project.concurrent:
        deadline = time.monotonic() + 60
        lock = root / "reports" / ".harness.lock"
        while (not lock.exists() or not lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        second = subprocess.run(argv, cwd=root, env=env, capture_output=True, timeout=LIMIT)
        proc.send_signal(signal.SIGINT)
    elif project.interrupt_after is not None:
        time.sleep(project.interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=LIMIT)
        status = str(proc.returncode)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        status = "HUNG"
    seconds = time.monotonic() - start
    if second is not None:  # what the second run said is the point of this input
        out, err, status = second.stdout, second.stderr, f"{second.returncode} (1st: {status})"
    text = (err + out).decode("utf-8", "replace")
    shown = [line for line in err.decode("utf-8", "replace").splitlines() if line.startswith("harness")]
    shown = shown or [line for line in out.decode("utf-8", "replace").splitlines()
                      if line.startswith(("harness gate", "harness:"))]
    first = (shown or [line for line in text.splitlines() if line.strip()] or [""])[0]
    first = first.replace(f"{root}/", "").replace(str(root), ".").replace(str(base), "…")
    raw_control = any(ch in text for ch in ("\x1b", "\x07")) or any(
        line.lstrip().startswith("::") for line in text.splitlines())
    after = tree_hashes(root, outputs)
    unchanged = changed(before, after)
    left = []
    new = sorted({name.split("/")[0] for name in set(after) - set(before)})
    if new:
        left.append(f"new in the project: {', '.join(new)}")
    escaped = [p.name for p in project.outside if p.exists()]
    if escaped:
        left.append(f"outside files: {', '.join(escaped)}")
    strays = stray_processes()
    if strays:
        left.append(f"{len(strays)} processes")
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    temp_left = [p.name for p in tmp.iterdir()]
    if temp_left:
        kept = [n for n in temp_left if n.startswith("harness-migrations-")]
        other = [n for n in temp_left if n not in kept]
        runs = [n for n in other if n.startswith("harness-run-")]
        other = [n for n in other if n not in runs]
        if kept:
            left.append(f"zero-config workdir kept ({len(kept)})")
        if runs:
            left.append("failing cases' files kept (harness-run-…)")
        if other:
            left.append(f"temp: {', '.join(sorted(other))[:60]}")
    subprocess.run(["umount", str(root / "full")], capture_output=True)
    return {"input": name, "exit": status, "first line": first.strip()[:110] + (" [RAW CONTROL]" if raw_control else ""),
            "traceback": "YES" if "Traceback" in text or "Fatal Python error" in text or "INTERNALERROR" in text
            else "no", "unchanged": unchanged, "leftovers": "; ".join(left) or "none",
            "seconds": f"{seconds:.1f}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", help="only inputs whose name contains this")
    args = parser.parse_args()
    chosen = [(n, m) for n, m in INPUTS if not args.k or args.k.lower() in n.lower()]
    base = Path(tempfile.mkdtemp(prefix="hostile-trial-"))
    rows = []
    try:
        for number, (name, make) in enumerate(chosen, 1):
            row = run_one(name, make, base)
            rows.append(row)
            print(f"{number:3} {row['exit']:>12}  tb={row['traceback']:3}  unchanged={row['unchanged']:4}  "
                  f"left={row['leftovers']}  {name}: {row['first line']}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    columns = ("input", "exit", "first line", "traceback", "unchanged", "leftovers")
    print("| # | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for number, row in enumerate(rows, 1):
        cells = [row[c].replace("|", "\\|") for c in columns]
        print(f"| {number} | " + " | ".join(cells) + " |")
    bad = [r for r in rows if r["traceback"] == "YES" or r["exit"] == "HUNG" or r["unchanged"].startswith("NO")
           or "processes" in r["leftovers"] or "outside" in r["leftovers"] or "temp:" in r["leftovers"]
           or "RAW CONTROL" in r["first line"]]
    print(f"\n{len(rows)} inputs; {len(bad)} with a traceback, a hang, a changed input, an escape, a process "
          "left running or raw control text")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
