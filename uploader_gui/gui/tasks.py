"""Run work off the UI thread and hand results back on it, in time-boxed batches.

Widgets call :meth:`TaskRunner.run` with a function for a worker thread and a
callback for the UI thread. Worker threads never touch widgets: they put the
outcome on a queue, and a timer on the UI thread drains it for at most a few
milliseconds per tick, so that thousands of results arriving at once cannot
freeze the window (the lesson of Picard's 2,000-file freeze).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

Callback = Callable[[Any, BaseException | None], None]


class TaskRunner(QObject):
    """A thread pool whose results are delivered on the UI thread."""

    def __init__(
        self,
        parent: QObject | None = None,
        workers: int = 2,
        tick_ms: int = 30,
        budget_ms: float = 12.0,
    ) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uploader-task")
        self._done: queue.SimpleQueue[tuple[Callback, Any, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self._budget = budget_ms / 1000.0
        self._pending = 0
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._drain)
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

        return self._pool.submit(work)

    def _drain(self) -> None:
        deadline = time.monotonic() + self._budget
        while time.monotonic() < deadline:
            try:
                callback, result, error = self._done.get_nowait()
            except queue.Empty:
                break
            self._pending -= 1
            try:
                callback(result, error)
            except Exception:
                log.exception("task callback failed")
        if self._pending <= 0 and self._done.empty():
            self._timer.stop()

    def shutdown(self) -> None:
        self._closed = True
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


def preload_network() -> None:
    """Worker thread: import the HTTP stack, so the first Upload click does not pay for it."""
    import importlib

    for name in ("uploader_gui.core.transport", "uploader_gui.core.targets.claros",
                 "uploader_gui.core.targets.redcap", "uploader_gui.core.targets.redox"):
        importlib.import_module(name)
