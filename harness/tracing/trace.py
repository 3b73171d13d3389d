"""The one reader of strace output: each line into a ``Syscall``.

strace (``-f``) prefixes a line with the thread id (``123 `` or ``[pid 123] ``); a call
another thread interrupts is split into ``name(args <unfinished ...>`` and, later,
``<... name resumed>rest) = ret``. ``read_trace`` joins the halves and yields each call when it
completed (what it did to files happened then), with ``started``, its place in the order the
calls began (what strace's ``when=`` counters count); calls that never returned (the process
was killed inside them) come last with ``ret`` None. Signal and exit lines are no calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

_PREFIX = re.compile(r"^(?:\[pid\s+(\d+)\]|(\d+))?\s*(.*)$")
_UNFINISHED = re.compile(r"^(\w+)\((.*?)\s*<unfinished \.\.\.>\)?$")  # ")": killed inside it
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>\s*(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(0x[0-9a-f]+|-?\d+|\?)(?:<([^>]*)>)?(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Syscall:
    """One traced system call."""

    pid: int  # the thread (0 when strace printed none: a single-threaded trace without -f)
    name: str
    args: str  # the argument text between the parentheses, as strace printed it
    ret: int | None  # None: it never returned (killed inside it) or strace printed ``?``
    ret_path: str | None = None  # with -y: the path behind a returned descriptor, as printed
    rest: str = ""  # after the return value: the errno name and text, ``(INJECTED)``
    started: int = 0  # its place in the order the calls began

    @property
    def failed(self) -> bool:
        return self.ret is None or self.ret < 0

    @property
    def injected(self) -> bool:
        """strace injected this call's result (an errno or a return value)."""
        return "(INJECTED)" in self.rest


def read_trace(lines: Iterable[str]) -> Iterator[Syscall]:
    """Every call in ``lines`` (an strace ``-o`` file), in completion order (module docstring)."""
    pending: dict[int, tuple[str, str, int]] = {}  # pid -> (call, arguments so far, started)
    begun = 0
    for line in lines:
        match = _PREFIX.match(line.rstrip("\n"))
        if not match:
            continue
        pid = int(match.group(1) or match.group(2) or 0)
        rest = match.group(3)
        unfinished = _UNFINISHED.match(rest)
        if unfinished:
            pending[pid] = (unfinished.group(1), unfinished.group(2), begun)
            begun += 1
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            started_call = pending.pop(pid, None)
            if started_call is None or started_call[0] != resumed.group(1):
                continue
            name, head, started = started_call
            rest = f"{name}({head}{resumed.group(2)}"
        else:
            started = begun
        call = _CALL.match(rest)
        if not call:
            continue
        if not resumed:
            begun += 1
        name, args, ret, ret_path, tail = call.group(1, 2, 3, 4, 5)
        yield Syscall(pid, name, args, None if ret == "?" else int(ret, 0), ret_path, tail, started)
    for pid, (name, head, started) in sorted(pending.items(), key=lambda item: item[1][2]):
        yield Syscall(pid, name, head, None, None, "", started)


def in_start_order(calls: Iterable[Syscall]) -> list[Syscall]:
    """``calls`` in the order they began (the order strace's per-call counters see)."""
    return sorted(calls, key=lambda call: call.started)


def count(calls: Sequence[Syscall], names: Sequence[str]) -> int:
    return sum(1 for call in calls if call.name in names)


__all__ = ["Syscall", "count", "in_start_order", "read_trace"]
