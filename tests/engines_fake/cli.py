"""A fake command-line engine for the command adapter's tests.

Usage: cli.py <behaviour> [arguments...]; each behaviour exercises one thing the adapter
must handle (argument passing, error codes, timeouts, JSON reports, bad bytes).
"""

import json
import os
import signal
import subprocess
import sys
import time


def main(behaviour: str, *args: str) -> int:
    if behaviour == "echo":  # print the arguments as received
        print(json.dumps(list(args)))
        return 0
    if behaviour == "fail":  # fail, printing args[1] to the stream named by args[0]
        stream = sys.stderr if args[0] == "stderr" else sys.stdout
        print(args[1], file=stream)
        return 3
    if behaviour == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "hang":  # start a grandchild, write both pids to args[0], never finish
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(args[0], "w") as out:
            out.write(f"{os.getpid()} {grandchild.pid}\n")
        time.sleep(120)
    if behaviour == "json":  # print args[0] verbatim (after an optional log line)
        if len(args) > 1:
            print(args[1])
        print(args[0])
        return 0
    if behaviour == "bytes":  # invalid UTF-8 on both streams
        sys.stdout.buffer.write(b"before \xff\xfe after\n")
        sys.stderr.buffer.write(b"error_code=bad_\x80bytes \xc3\n")
        return int(args[0]) if args else 0
    if behaviour == "flood":  # more output than the adapter keeps
        sys.stdout.write("x" * (3 << 20))
        return 0
    if behaviour == "env":
        print(os.environ.get(args[0], ""))
        return 0
    print(f"unknown behaviour {behaviour}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
