"""Run a function over many items on several cores, sharing what is already in memory.

`fork_map(work, items, workers)` forks `workers` child processes *after* the caller has built
its expensive read-only state (the day's paper index): each child inherits it as it is, page
by page, instead of receiving a pickled copy. Child k handles items k, k + workers, ... and
streams back `(position, result)` pairs, pickled, through its own pipe; the parent yields
them as they arrive (not in order). Only results cross the pipe, so they should be small or
plain bytes (a finished message). The hand-off is cheap for the parent, which also sends
what the children make: a pipe of 128 kB (so a message comes in one read, not two), a frame
read straight into a reused buffer and unpickled from it (no joining or slicing copies),
and a child writes a frame's length and bytes in one call.

Failure is per item and never silent:
- `work` raising an exception for one item comes back as a `Failed` for that item, and the
  child goes on with the next one: a DigestError as an expected failure (its message), any
  other exception as a bug, with its formatted traceback so the caller can log where;
- a child that dies (killed, out of memory) leaves its unfinished items to come back as
  `Failed` too, after the others are done. Nothing is retried here: the caller decides.

With `workers <= 1` (or fewer than two items) everything runs in this process, in order, with
the same results: the code path tests and small installations take.

The children must not touch shared resources the parent uses (database connections, sockets):
`work` should be a pure function of its item and the inherited state. A child leaves with
`os._exit`, so the parent's atexit handlers and buffered files are not run twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import selectors
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from traceback import format_exc
from typing import Any, Generic, TypeVar

from digest.errors import DigestError

Item = TypeVar("Item")
Result = TypeVar("Result")

_LENGTH = struct.Struct("!I")  # frame: 4-byte length, then a pickle
# The pipe's kernel buffer: room for one ~100 kB message (Linux's default is 64 kB), so the
# parent reads a message in one call, not two. Not more: a child then runs at most about a
# message ahead, and the parent, which also feeds the SMTP connections between results,
# takes results evenly rather than in bursts with idle connections between them.
PIPE_BYTES = 1 << 17
_READ_AREA = 1 << 20  # the parent's buffer per child; grown for a frame larger than this


@dataclass(frozen=True, slots=True)
class Done(Generic[Result]):
    position: int
    result: Result

    def __reduce__(self) -> tuple[type[Done[Result]], tuple[int, Result]]:
        # The constructor's two arguments: cheaper to load than a slots dataclass's state.
        return (Done, (self.position, self.result))


@dataclass(frozen=True, slots=True)
class Failed:
    """An item that did not come back. `expected` is true for a DigestError (bad input the
    item itself carries); anything else is a bug, and `traceback` says where it happened."""

    position: int
    error: str
    expected: bool = True
    traceback: str = ""


def fork_map(
    work: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> Iterator[Done[Result] | Failed]:
    """`work(item)` for every item: a Done or a Failed per item, in completion order.
    With `workers` > 1 the workers are forked at once, before the first result is asked for."""
    if workers <= 1 or len(items) < 2:
        return (_attempt(work, position, item) for position, item in enumerate(items))
    return start_workers(work, items, workers)


def start_workers(
    work: Callable[[Item], Result], items: Sequence[Item], processes: int
) -> Iterator[Done[Result] | Failed]:
    """Fork `processes` workers for `items` now (even one: the caller can work meanwhile)
    and return the iterator of their outcomes."""
    processes = max(1, min(processes, len(items)))
    pipes: dict[int, tuple[int, int]] = {}  # read end -> (child pid, its first position)
    for first in range(processes):
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError):  # a smaller pipe only costs more reads
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the child: work, report, leave without the parent's cleanup
            os.close(read_end)
            _child(work, items, first, processes, write_end)
        os.close(write_end)
        pipes[read_end] = (pid, first)
    return _collect(pipes, len(items), processes)


def _attempt(work: Callable[[Item], Result], position: int, item: Item) -> Done[Result] | Failed:
    try:
        return Done(position, work(item))
    except DigestError as err:  # one bad item never stops the others
        return Failed(position, str(err))
    except Exception as err:  # a bug: keep where it happened, fail this item alone
        return Failed(
            position, f"{type(err).__name__}: {err}", expected=False, traceback=format_exc()
        )


def _child(
    work: Callable[[Item], Result], items: Sequence[Item], first: int, step: int, out: int
) -> None:
    status = 0
    try:
        for position in range(first, len(items), step):
            outcome = _attempt(work, position, items[position])
            try:
                frame = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as err:  # a result that cannot travel is that item's failure
                failed = Failed(position, f"result not picklable: {err}", expected=False)
                frame = pickle.dumps(failed)
            # Written whole before the next item: a worker that dies later loses only that.
            _write_all(out, [_LENGTH.pack(len(frame)), frame])
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Every byte of `parts`, in order, in as few system calls as the pipe allows."""
    views = [memoryview(part) for part in parts]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if views and written:
            views[0] = views[0][written:]


def _collect(
    pipes: dict[int, tuple[int, int]], count: int, step: int
) -> Iterator[Done[Any] | Failed]:
    readers = {fd: _FrameReader() for fd in pipes}
    seen: set[int] = set()
    selector = selectors.DefaultSelector()
    for fd in pipes:
        selector.register(fd, selectors.EVENT_READ)
    try:
        while selector.get_map():
            for key, _events in selector.select():
                fd = key.fd
                reader = readers[fd]
                if not reader.read_from(
                    fd
                ):  # the child is done (or died): what it did not send failed
                    selector.unregister(fd)
                    os.close(fd)
                    pid, first = pipes[fd]
                    _, status = os.waitpid(pid, 0)
                    for position in range(first, count, step):
                        if position not in seen:
                            seen.add(position)
                            why = f"worker exited ({_describe(status)})"
                            yield Failed(position, why, expected=False)
                    continue
                while (outcome := reader.next_frame()) is not None:
                    seen.add(outcome.position)
                    yield outcome
    finally:  # the caller stopped early: do not leave children behind
        for key in list(selector.get_map().values()):
            selector.unregister(key.fd)
            os.close(key.fd)
            pid, _first = pipes[key.fd]
            _kill_and_reap(pid)
        selector.close()


class _FrameReader:
    """One child's pipe: bytes read into a reused area, frames unpickled where they lie."""

    def __init__(self) -> None:
        self._area = bytearray(_READ_AREA)
        self._start = 0  # the first byte not yet taken
        self._end = 0  # one past the last byte read

    def read_from(self, fd: int) -> bool:
        """One read into the free end of the area; False at the end of the pipe."""
        if self._end == len(self._area):
            self._make_room(self._end - self._start + 1)
        with memoryview(self._area) as area:
            got = os.readv(fd, [area[self._end :]])
        self._end += got
        return got > 0

    def next_frame(self) -> Done[Any] | Failed | None:
        """The next complete frame, or None until more is read (room made for it)."""
        waiting = self._end - self._start
        if waiting < _LENGTH.size:
            if waiting == 0:
                self._start = self._end = 0  # empty: start again at the front, no copy
            return None
        (size,) = _LENGTH.unpack_from(self._area, self._start)
        begin = self._start + _LENGTH.size
        if self._end < begin + size:
            self._make_room(_LENGTH.size + size)
            return None
        with memoryview(self._area) as area:
            outcome: Done[Any] | Failed = pickle.loads(area[begin : begin + size])
        self._start = begin + size
        return outcome

    def _make_room(self, frame: int) -> None:
        """Room after the bytes waiting for a frame of `frame` bytes: they move to the front
        (only when the area's end is near), and the area grows for a frame larger than it."""
        if len(self._area) - self._start >= frame:
            return
        waiting = self._end - self._start
        self._area[:waiting] = self._area[self._start : self._end]
        self._start, self._end = 0, waiting
        if len(self._area) < frame:
            self._area.extend(bytes(max(frame, len(self._area) + _READ_AREA) - len(self._area)))


def _kill_and_reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"status {os.waitstatus_to_exitcode(status)}"
