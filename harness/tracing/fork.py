"""The one fork-and-report runner: call a function in a forked child, bounded by a timeout.

Why a fork: the child is the harness's own process, with the engine already imported and
anything patched in it (a counting ``sqlite3.connect``, an strace attached) gone when it
ends, so an engine that crashes, exits, hangs or is killed on purpose takes nothing of the
harness with it. Everything comes back through a pipe as length-prefixed pickles:

- ``note(obj)`` (from code running in the child): sent at once, so it survives an
  ``os._exit`` or a kill right after it (fault injection reports its counters this way);
- the function's return value, or the exception it raised (``BaseException`` too: a
  ``SystemExit`` is reported, not obeyed). An exception that cannot be sent or rebuilt
  whole comes back as ``ChildException`` with its type, message, string ``code`` attribute
  and traceback; a result that cannot be pickled is reported as such an exception.

The child starts a session of its own (so a timeout kills everything it started: the
process group), and, when ``gate`` is given, waits until ``gate(pid)`` returned in the
parent (to attach a tracer first). The report says which of five things happened
(``ChildReport.status``): ``returned``, ``raised``, ``crashed`` (killed by a signal, with
it), ``exited`` (ended without a result: ``os._exit``, with its status) or ``timed_out``
(no result within ``timeout`` seconds; the group was killed).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Literal

Status = Literal["returned", "raised", "crashed", "exited", "timed_out"]
RETURNED: Status = "returned"
RAISED: Status = "raised"
CRASHED: Status = "crashed"
EXITED: Status = "exited"
TIMED_OUT: Status = "timed_out"
_HARNESS_FAILED = 70  # the runner's own code failed in the child (never the function's status)
_FRAME = struct.Struct(">I")


class ChildException(Exception):
    """Stands in for an exception from the child that could not be sent back whole."""

    def __init__(self, type_name: str, message: str, code: str | None = None, trace: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.code = code
        self.trace = trace


@dataclass(frozen=True)
class ChildReport:
    """What became of one forked call (module docstring)."""

    status: Status
    value: object = None  # returned: the function's result
    exception: BaseException | None = None  # raised: the exception (or a ChildException)
    signal: int | None = None  # crashed: the signal that killed the child
    exit_code: int | None = None  # exited: the child's exit status
    notes: tuple[object, ...] = ()  # what the child sent with note(), in order
    seconds: float = 0.0
    timeout: float | None = None

    def describe(self) -> str:
        if self.status == RETURNED:
            return "returned"
        if self.status == RAISED:
            return f"raised {type(self.exception).__name__}: {self.exception}".rstrip(": ")
        if self.status == CRASHED:
            return f"killed by {signal_name(self.signal or 0)}"
        if self.status == EXITED:
            return f"exit status {self.exit_code} without a result"
        return f"no result within the {self.timeout:g} s timeout; the child was killed"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_CHANNEL: int | None = None  # the report pipe, set in the child only


def in_child() -> bool:
    """Whether this code runs in a child of ``run_forked``."""
    return _CHANNEL is not None


def note(obj: object) -> None:
    """Send ``obj`` to the parent now (in a ``run_forked`` child; elsewhere a no-op)."""
    if _CHANNEL is not None:
        _send(_CHANNEL, ("note", obj))


def _send(fd: int, message: tuple[object, ...]) -> None:
    data = pickle.dumps(message)
    data = _FRAME.pack(len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def _summary(exc: BaseException) -> dict[str, object]:
    code = getattr(exc, "code", None)
    return {"type_name": type(exc).__name__, "message": str(exc), "code": code if isinstance(code, str) else None,
            "trace": "".join(traceback.format_exception(exc, limit=12))[-4000:]}


def _child(fn: Callable[[], object], channel: int, go: int | None, new_session: bool) -> None:
    global _CHANNEL
    status = _HARNESS_FAILED
    try:
        _CHANNEL = channel
        if new_session:
            try:
                os.setsid()
            except OSError:  # already a group leader: keep its session
                pass
        if go is not None and not os.read(go, 1):
            return  # the parent gave up before the start
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - every exception is a result to report
            try:
                blob: bytes | None = pickle.dumps(exc)
            except Exception:  # noqa: BLE001 - unpicklable: the summary stands in
                blob = None
            message: tuple[object, ...] = (RAISED, blob, _summary(exc))
        else:
            try:
                message = (RETURNED, pickle.dumps(value))
            except Exception as exc:  # noqa: BLE001 - the result cannot travel: say so
                message = (RAISED, None, {**_summary(exc), "type_name": "UnsendableResult",
                                          "message": f"the {type(value).__name__} returned cannot be sent back: {exc}"})
        _send(channel, message)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stream is no reason to fail
                pass
        status = 0
    except BaseException:  # noqa: BLE001 - e.g. a result that cannot be pickled
        try:
            _send(channel, (RAISED, None, _summary(sys.exc_info()[1] or RuntimeError("unknown"))))
            status = 0
        except BaseException:  # noqa: BLE001, S110 - the pipe is gone: the parent sees the status
            pass
    finally:
        os._exit(status)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # an old kernel: the pipe's end alone tells
        return None


def _read(fd: int, pid: int, deadline: float | None) -> tuple[bytes, bool]:
    """Everything the child sends, until it closes the pipe or exits; (data, timed out).

    A grandchild that keeps the pipe open does not keep the parent waiting once the child
    itself has exited (its pidfd says so)."""
    chunks: list[bytes] = []
    exited_fd = _pidfd(pid)
    try:
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return b"".join(chunks), True
            watched = [fd] if exited_fd is None else [fd, exited_fd]
            ready = select.select(watched, [], [], wait)[0]
            if not ready:
                continue
            if fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b"".join(chunks), False
                chunks.append(chunk)
            elif exited_fd in ready:  # the child is gone: take what is already in the pipe
                while select.select([fd], [], [], 0)[0]:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
                return b"".join(chunks), False
    finally:
        if exited_fd is not None:
            os.close(exited_fd)


def _frames(data: bytes) -> list[tuple[object, ...]]:
    frames, at = [], 0
    while at + _FRAME.size <= len(data):
        (size,) = _FRAME.unpack_from(data, at)
        body = data[at + _FRAME.size:at + _FRAME.size + size]
        if len(body) < size:
            break  # cut short: the child died while sending
        at += _FRAME.size + size
        try:
            frames.append(pickle.loads(body))
        except Exception:  # noqa: BLE001 - a note the parent cannot rebuild is left out
            continue
    return frames


def _kill(pid: int, group: bool) -> None:
    for kill, target in ((os.killpg, pid), (os.kill, pid)) if group else ((os.kill, pid),):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _rebuilt(blob: object, summary: dict[str, object]) -> BaseException:
    if isinstance(blob, bytes):
        try:
            exc = pickle.loads(blob)
            if isinstance(exc, BaseException):
                return exc
        except Exception:  # noqa: BLE001 - e.g. an __init__ that pickle cannot call again
            pass
    return ChildException(str(summary["type_name"]), str(summary["message"]),
                          summary["code"] if isinstance(summary["code"], str) else None, str(summary["trace"]))


def run_forked(fn: Callable[[], object], *, timeout: float | None = None, gate: Callable[[int], None] | None = None,
               new_session: bool = True) -> ChildReport:
    """Call ``fn`` in a forked child and report what became of it (module docstring).

    ``timeout``: seconds from the start of ``fn`` (None: none). ``gate``: called with the
    child's pid before ``fn`` starts; if it raises, the child is killed and the exception
    propagates. ``new_session``: the child leads a session (and process group) of its own.
    """
    read_fd, write_fd = os.pipe()
    go_r, go_w = os.pipe() if gate is not None else (None, None)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; never returns
        os.close(read_fd)
        if go_w is not None:
            os.close(go_w)
        _child(fn, write_fd, go_r, new_session)
    os.close(write_fd)
    try:
        if go_r is not None:
            os.close(go_r)
        if gate is not None and go_w is not None:
            try:
                gate(pid)
                os.write(go_w, b"g")
            except BaseException:
                _kill(pid, new_session)
                os.waitpid(pid, 0)
                raise
            finally:
                os.close(go_w)
        start = time.perf_counter()
        deadline = None if timeout is None else time.monotonic() + timeout
        data, timed_out = _read(read_fd, pid, deadline)
        if timed_out:
            _kill(pid, new_session)
        _, wait_status = os.waitpid(pid, 0)
        seconds = time.perf_counter() - start
    finally:
        os.close(read_fd)
    frames = _frames(data)
    notes = tuple(frame[1] for frame in frames if frame[0] == "note")
    if timed_out:
        return ChildReport(TIMED_OUT, notes=notes, seconds=seconds, timeout=timeout)
    for frame in frames:
        if frame[0] == RETURNED:
            try:
                value = pickle.loads(frame[1])  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - a result the parent cannot rebuild
                return ChildReport(RAISED, exception=ChildException(type(exc).__name__,
                                                                    f"the result could not be read back: {exc}"),
                                   notes=notes, seconds=seconds)
            return ChildReport(RETURNED, value=value, notes=notes, seconds=seconds)
        if frame[0] == RAISED:
            return ChildReport(RAISED, exception=_rebuilt(frame[1], frame[2]), notes=notes,  # type: ignore[arg-type]
                               seconds=seconds)
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        return ChildReport(CRASHED, signal=-code, notes=notes, seconds=seconds)
    return ChildReport(EXITED, exit_code=code, notes=notes, seconds=seconds)


__all__ = ["CRASHED", "EXITED", "RAISED", "RETURNED", "TIMED_OUT", "ChildException", "ChildReport", "Status",
           "in_child", "note", "run_forked", "signal_name"]
