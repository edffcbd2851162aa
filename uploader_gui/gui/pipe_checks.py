"""Files checked in the validator's helper processes, their answers read on the UI thread.

No thread of the window waits on the helpers' pipes. A ``QSocketNotifier`` per helper tells
the event loop when an answer is there; reading and unpickling one costs the UI thread a few
tens of microseconds, and the next file goes to that helper at once. (Before, two task
threads blocked in ``conn.poll`` and each answer woke one to unpickle it and queue it: the
threads took the interpreter lock from the window hundreds of times a second, and a paint
that needs it a thousand times waited for them; on a busy PC that made 80-130 ms stalls.)

Only the rare slow paths use the task runner's threads: starting a helper process (a few
milliseconds of fork and exec) and the rejection of a file whose check overran or killed
its helper (it reads the file's size and first bytes). On Windows, where the pipes are
named pipes no event loop can watch, the checks wait on the task runner's threads as before.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QThread, QTimer

from uploader_gui.core.validation import IsolatedValidator, Problem, ValidationResult
from uploader_gui.core.validation.isolation import (
    PIPES_ARE_WATCHABLE,
    HelperLease,
    timeout_problem,
)
from uploader_gui.core.validation.result import memory_problem
from uploader_gui.gui.tasks import TaskRunner, quiet

log = logging.getLogger(__name__)

#: Called on the UI thread with (the verdict, None); never with an error (a check that
#: fails gives a rejection that says why).
Done = Callable[[ValidationResult | None, BaseException | None], None]

#: How often overrunning checks are looked for, and busy helpers asked for again.
TICK_MS = 100
#: How long after the last verdict background preloading still waits.
QUIET_GRACE_MS = 1000


@dataclass
class _Request:
    path: Path
    target: str | None
    done: Done
    started: float = 0.0


class _Busy:
    """A leased helper, the file it is checking and the notifier on its pipe."""

    def __init__(self, lease: HelperLease, notifier: QSocketNotifier) -> None:
        self.lease = lease
        self.notifier = notifier
        self.request: _Request | None = None


class PipeChecks(QObject):
    """Queue files for the validator's helpers; each verdict arrives on the UI thread."""

    def __init__(self, validator: IsolatedValidator, runner: TaskRunner,
                 parent: QObject | None = None, threaded: bool = not PIPES_ARE_WATCHABLE) -> None:
        super().__init__(parent)
        self._validator = validator
        self._runner = runner
        # The window checks in the background: it wins the CPU over its helpers on a busy PC.
        validator.lower_priority()
        #: Wait for the answers on the runner's threads (Windows) instead of watching pipes.
        self._threaded = threaded
        self._on_threads = 0  # checks handed to the runner's threads, not answered yet
        self._queue: deque[_Request] = deque()
        self._busy: dict[int, _Busy] = {}  # by the pipe's file descriptor
        self._starting = False
        self._closed = False
        self._hold = [False]  # tasks.quiet is held while files wait for their verdicts
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(QUIET_GRACE_MS)
        self._grace.timeout.connect(self._let_quiet)
        runner.closing.connect(self.shutdown)  # the window's shutdown stops the checks

    def __repr__(self) -> str:
        return (f"<PipeChecks queued={len(self._queue)} busy={len(self._busy)} "
                f"on_threads={self._on_threads} closed={self._closed}>")

    @property
    def pending(self) -> int:
        """Files queued or being checked."""
        return (len(self._queue) + sum(b.request is not None for b in self._busy.values())
                + self._on_threads)

    def check(self, path: Path, target: str | None, done: Done) -> None:
        """Check ``path`` for ``target``; later ``done(result, None)`` on the UI thread."""
        self.check_many([(path, target, done)])

    def check_many(self, files: list[tuple[Path, str | None, Done]]) -> None:
        """:meth:`check` for many files at once (in this order)."""
        if self._closed:
            return
        if self._threaded:
            for path, target, done in files:
                self._on_threads += 1
                self._runner.run(self._validator.validate, partial(self._answered, done),
                                 path, target)
            self._sync_hold()
            return
        self._queue.extend(_Request(path, target, done) for path, target, done in files)
        self._pump()

    def _answered(self, done: Done, result: ValidationResult | None,
                  error: BaseException | None) -> None:
        """A check that waited on a runner thread answered (the Windows path)."""
        self._on_threads = max(0, self._on_threads - 1)
        self._sync_hold()
        if not self._closed:
            done(result, error)

    def drop_queued(self) -> int:
        """Forget the files not yet sent to a helper (their callbacks never run); how many."""
        dropped = len(self._queue)
        self._queue.clear()
        self._sync_hold()
        return dropped

    def shutdown(self) -> None:
        self._closed = True
        self._on_threads = 0
        self._queue.clear()
        self._timer.stop()
        for fd in list(self._busy):
            self._let_go(fd, broken=True)
        self._sync_hold()

    def _sync_hold(self) -> None:
        """Hold background preloading while files wait for their verdicts, and for a moment
        after the last (the window still puts the last verdicts in and counts them)."""
        if not self._closed and self.pending > 0:
            self._grace.stop()
            if not self._hold[0]:
                self._hold[0] = True
                quiet.hold(self)
        elif self._hold[0]:
            if self._closed:
                self._let_quiet()
            elif not self._grace.isActive():
                self._grace.start()

    def _let_quiet(self) -> None:
        self._grace.stop()
        if self._hold[0] and (self._closed or self.pending == 0):
            self._hold[0] = False
            quiet.release(self)

    # ------------------------------------------------------------------ helpers

    def _pump(self) -> None:
        """Give queued files to idle helpers; start a helper if a slot has none."""
        if self._closed:
            return
        if self._validator.closed:  # closed with no helper lent to us: none will answer
            self.shutdown()
            return
        for fd, busy in list(self._busy.items()):
            if busy.request is None and self._queue:
                self._send(fd, self._queue.popleft())
        while self._queue:
            lease = self._validator.lease()
            if lease is None:
                break
            fd = lease.fileno()
            notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            notifier.activated.connect(lambda *_a, fd=fd: self._readable(fd))
            self._busy[fd] = _Busy(lease, notifier)
            lease.on_close = lambda fd=fd: self._lost(fd)
            self._send(fd, self._queue.popleft())
        if self._queue and not self._starting and self._validator.can_start_helper():
            self._starting = True
            self._runner.run(self._validator.start_helper, self._started)
        if self._queue or self._busy:
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()
        self._sync_hold()

    def _started(self, _result: Any, error: BaseException | None) -> None:
        self._starting = False
        if error is not None and self._queue:
            # No helper could be started (out of memory or processes): say so per file.
            for request in list(self._queue):
                self._fail(request, memory_problem())
            self._queue.clear()
            self._sync_hold()
            return
        self._pump()

    def _send(self, fd: int, request: _Request) -> None:
        busy = self._busy[fd]
        request.started = time.monotonic()
        try:
            busy.lease.send_validate(request.path, request.target)
        except OSError:  # the helper died while idle
            self._let_go(fd, broken=True)
            self._fail(request, memory_problem())
            return
        busy.request = request

    def _readable(self, fd: int) -> None:
        busy = self._busy.get(fd)
        if busy is None or busy.request is None or not busy.lease.answered():
            return
        request, busy.request = busy.request, None
        try:
            result = busy.lease.receive()
        except (EOFError, OSError):  # the helper died: out of memory, or a crash in C
            self._let_go(fd, broken=True)
            self._fail(request, memory_problem())
            self._pump()
            return
        if self._queue:
            self._send(fd, self._queue.popleft())  # keep the helper busy first
        else:
            self._let_go(fd)
            self._sync_hold()
        try:
            request.done(result, None)
        except Exception:
            log.exception("check callback failed")

    def _tick(self) -> None:
        """Kill helpers that overran their time limit; ask again for busy slots."""
        now = time.monotonic()
        limit = self._validator.timeout
        for fd, busy in list(self._busy.items()):
            request = busy.request
            if request is not None and now - request.started > limit \
                    and not busy.lease.answered():
                busy.request = None
                self._let_go(fd, broken=True)
                self._fail(request, timeout_problem(limit))
        self._pump()

    def _let_go(self, fd: int, broken: bool = False) -> None:
        busy = self._busy.pop(fd, None)
        if busy is None:
            return
        busy.notifier.setEnabled(False)
        busy.notifier.deleteLater()
        busy.lease.on_close = None
        self._validator.release(busy.lease, broken=broken)

    def _lost(self, fd: int) -> None:
        """The validator was closed under a lent helper (shutdown): stop watching its pipe,
        and stop checking (no helper will answer again)."""
        busy = self._busy.pop(fd, None)
        if QThread.currentThread() == self.thread():
            if busy is not None:
                busy.notifier.setEnabled(False)
            self.shutdown()

    def _fail(self, request: _Request, problem: Problem) -> None:
        """The rejection that says why the check failed, made off the UI thread."""
        self._runner.run(self._validator.failed_result, request.done, request.path, problem,
                         request.started or None)
