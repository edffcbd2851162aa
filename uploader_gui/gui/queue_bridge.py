"""From the upload queue to Qt signals, in batches.

The queue (in its helper process, ``core.dispatch_service``; or a Dispatcher's
worker threads) calls the listener methods; they only put small records on a
thread-safe queue. A timer on the UI thread drains it every 100 ms and emits
one signal per batch, so 500 jobs finishing at once are one repaint, not 500.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from uploader_gui.core.dispatch_service import DispatcherClient
from uploader_gui.core.history import HistoryError
from uploader_gui.core.jobs import Job
from uploader_gui.core.listener import DispatcherListener


@dataclass
class Throughput:
    """Overall progress of the uploads in flight, with speed and time left."""

    sent: int = 0
    total: int = 0
    running: int = 0
    waiting: int = 0
    speed: float = 0.0  # bytes per second
    eta: float | None = None  # seconds

    @property
    def fraction(self) -> float:
        return self.sent / self.total if self.total else 0.0


class QueueBridge(QObject, DispatcherListener):
    """Listens to a Dispatcher on its threads; speaks Qt signals on the UI thread."""

    #: The latest copy of each job that changed since the last batch.
    jobsChanged = Signal(list)
    #: {job id: (sent, total)} for uploads in flight.
    progressChanged = Signal(object)
    throughputChanged = Signal(object)
    #: The history stopped taking writes (disk full…): the sentence to show.
    historyFailed = Signal(str)
    #: The upload helper process died (see ``DispatcherClient``).
    helperStopped = Signal()

    def __init__(self, parent: QObject | None = None, interval_ms: int = 100) -> None:
        QObject.__init__(self, parent)
        self._events: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._progress: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._history_message: str | None = None
        self.dispatcher: DispatcherClient | None = None
        self._samples: list[tuple[float, int]] = []
        self._finished_bytes = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # Worker threads ------------------------------------------------------

    def job_changed(self, job: Job) -> None:
        self._events.put(job)

    def job_progress(self, job_id: int, sent: int, total: int) -> None:
        with self._lock:
            self._progress[job_id] = (sent, total)
            self._dirty = True

    def history_failed(self, error: HistoryError) -> None:
        with self._lock:
            self._history_message = (f"{error} Uploads not started yet are held and go on "
                                     "their own once the history can be written again.")

    # UI thread -----------------------------------------------------------

    def service_stopped(self) -> None:
        self.helperStopped.emit()

    def flush(self) -> None:
        latest: dict[int, Job] = {}
        while True:
            try:
                job = self._events.get_nowait()
            except queue.Empty:
                break
            if job.id is not None:
                latest[job.id] = job
        with self._lock:
            for job_id, job in latest.items():
                if job.status != "uploading":
                    sent_total = self._progress.pop(job_id, None)
                    if sent_total and job.status in ("sent", "verified"):
                        self._finished_bytes += sent_total[1]
            progress = dict(self._progress) if (self._dirty or latest) else None
            self._dirty = False
            history_message, self._history_message = self._history_message, None
        if history_message:
            self.historyFailed.emit(history_message)
        if latest:
            self.jobsChanged.emit(list(latest.values()))
        if progress is not None:
            self.progressChanged.emit(progress)
        if self.dispatcher is not None:
            self.throughputChanged.emit(self._throughput())

    def _throughput(self) -> Throughput:
        assert self.dispatcher is not None
        sent, total, running = self.dispatcher.progress()
        waiting = max(0, self.dispatcher.active_count() - running)
        now = time.monotonic()
        done = self._finished_bytes + sent
        self._samples.append((now, done))
        self._samples = [(t, b) for t, b in self._samples if now - t <= 5.0]
        speed = 0.0
        if len(self._samples) >= 2:
            t0, b0 = self._samples[0]
            if now > t0:
                speed = max(0.0, (done - b0) / (now - t0))
        eta = (total - sent) / speed if speed > 0 and total > sent else None
        if running == 0 and waiting == 0:
            self._samples.clear()
        return Throughput(sent=sent, total=total, running=running, waiting=waiting,
                          speed=speed, eta=eta)

    def stop(self) -> None:
        self._timer.stop()
