"""Run work off the UI thread and hand results back on it, in time-boxed batches.

Widgets call :meth:`TaskRunner.run` with a function for a worker thread and a
callback for the UI thread. Worker threads never touch widgets: they put the
outcome on a queue, and a timer on the UI thread drains it for at most a few
milliseconds per tick, so that thousands of results arriving at once cannot
freeze the window (the lesson of Picard's 2,000-file freeze).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)

Callback = Callable[[Any, BaseException | None], None]


class TaskRunner(QObject):
    """A thread pool whose results are delivered on the UI thread."""

    #: :meth:`shutdown` was called: whatever hands work to this runner stops too.
    closing = Signal()
    #: A worker put the first result in an empty queue: drain now, not at the next tick.
    _woken = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        workers: int = 2,
        tick_ms: int = 30,
        budget_ms: float = 12.0,
    ) -> None:
        super().__init__(parent)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None  # made with the first task
        self._done: SimpleQueue[tuple[Callback, Any, BaseException | None]] = SimpleQueue()
        self._budget = budget_ms / 1000.0
        self._pending = 0
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._drain)
        self._woken.connect(self._drain)  # queued: emitted from the worker's thread
        self._closed = False

    @property
    def pending(self) -> int:
        """Tasks submitted whose callbacks have not run yet."""
        return self._pending

    def run(self, func: Callable[..., Any], callback: Callback, *args: Any) -> Future[Any] | None:
        """Run ``func(*args)`` on a worker; later call ``callback(result, error)`` on the UI thread."""
        if self._closed:
            return None
        self._pending += 1
        if not self._timer.isActive():
            self._timer.start()

        def work() -> None:
            try:
                outcome = func(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the UI thread
                self._done.put((callback, None, exc))
            else:
                self._done.put((callback, outcome, None))
            if self._done.qsize() == 1 and not self._closed:  # the rest wait for the tick
                try:
                    self._woken.emit()
                except RuntimeError:  # the window (and this runner) is gone already
                    pass

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self._workers,
                                            thread_name_prefix="uploader-task")
        return self._pool.submit(work)

    def _drain(self) -> None:
        deadline = time.monotonic() + self._budget
        while time.monotonic() < deadline:
            try:
                callback, result, error = self._done.get_nowait()
            except Empty:
                break
            self._pending -= 1
            try:
                callback(result, error)
            except Exception:
                log.exception("task callback failed")
        if self._pending <= 0 and self._done.empty():
            self._timer.stop()

    def shutdown(self, cancel: bool = True) -> None:
        """No more tasks or callbacks. ``cancel``: drop the tasks not started yet; else the
        worker still runs them, in order (their callbacks do not run)."""
        if not self._closed:
            self.closing.emit()
        self._closed = True
        self._timer.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=cancel)


class _Quiet:
    """Whether the window is in a burst of work of its own (2,000 files being checked).

    Background work that only saves time later (preloading the HTTP stack) waits for the
    burst to end: importing holds the interpreter lock for a long time, and the window
    needs it for every paint.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[int, object] = {}  # by id()
        self._event = threading.Event()
        self._event.set()

    def hold(self, holder: object) -> None:
        with self._lock:
            self._holders[id(holder)] = holder
            self._event.clear()

    def release(self, holder: object) -> None:
        with self._lock:
            self._holders.pop(id(holder), None)
            if not self._holders:
                self._event.set()

    def holders(self) -> list[str]:
        """Who holds the window busy now (empty when quiet)."""
        with self._lock:
            return [repr(holder) for holder in self._holders.values()]

    def wait(self, timeout: float) -> bool:
        """Worker thread: wait until no burst is on (at most ``timeout`` seconds)."""
        return self._event.wait(timeout)


#: Held while files are being checked (see :class:`uploader_gui.gui.pipe_checks.PipeChecks`).
quiet = _Quiet()
#: The longest a preload waits for the window to be quiet before it goes ahead anyway.
PRELOAD_WAIT_S = 60.0


def preload_network() -> None:
    """Worker thread: import the HTTP stack, so the first Upload click does not pay for it
    (module by module, each once the window is not busy checking files)."""
    import importlib

    for name in ("uploader_gui.core.transport", "uploader_gui.core.targets.claros",
                 "uploader_gui.core.targets.redcap", "uploader_gui.core.targets.redox"):
        quiet.wait(PRELOAD_WAIT_S)
        importlib.import_module(name)
