"""The upload helper process's side of :mod:`uploader_gui.core.dispatch_service`.

It runs a :class:`~uploader_gui.core.dispatcher.Dispatcher` on the history it is given,
answers the window's requests, obeys its control messages and sends it batches of
events (at most every :data:`EVENT_INTERVAL`), framed with :data:`_HEADER`.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import pickle
import struct
import threading
import time
from typing import Any

from uploader_gui.core.history import HistoryError
from uploader_gui.core.jobs import Job
from uploader_gui.core.listener import DispatcherListener
from uploader_gui.core.retry import RetryPolicy

log = logging.getLogger(__name__)

#: How often the helper sends a batch of events, at most.
EVENT_INTERVAL = 0.05
_HEADER = struct.Struct("!I")
#: The helper's niceness: the window wins the CPU when both want it.
HELPER_NICE = 4

#: profile name -> (TargetConfig, {credential field: secret text})
ProfileTable = dict[str, tuple[Any, dict[str, str]]]


class _Collector(DispatcherListener):
    """The helper's listener: keeps the latest of everything until it is sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.jobs: dict[int, Job] = {}
        self.progress: dict[int, tuple[int, int]] = {}
        self.finished: list[int] = []
        self.history_problem: tuple[str, str] | None = None

    def job_changed(self, job: Job) -> None:
        if job.id is None:
            return
        snapshot = copy.copy(job)  # as it is now: the worker goes on changing its own
        with self.lock:
            self.jobs[job.id] = snapshot
        self.changed.set()

    def job_progress(self, job_id: int, sent: int, total: int) -> None:
        with self.lock:
            self.progress[job_id] = (sent, total)
        self.changed.set()

    def job_finished(self, job: Job) -> None:
        if job.id is None:
            return
        with self.lock:
            self.jobs[job.id] = copy.copy(job)
            self.finished.append(job.id)
        self.changed.set()

    def history_failed(self, error: HistoryError) -> None:
        with self.lock:
            self.history_problem = (str(error), error.kind)
        self.changed.set()

    def take(self) -> dict[str, Any]:
        with self.lock:
            batch = {"jobs": list(self.jobs.values()), "progress": self.progress,
                     "finished": self.finished, "history_failed": self.history_problem}
            self.jobs, self.progress, self.finished = {}, {}, []
            self.history_problem = None
            self.changed.clear()
        return batch


def _open_store(spec: tuple[str, str]) -> Any:
    kind, where = spec
    if kind == "postgres":
        from uploader_gui.core.history_pg import PostgresHistoryStore

        return PostgresHistoryStore(where)
    from pathlib import Path

    from uploader_gui.core.history import HistoryStore

    return HistoryStore(Path(where))


def _credentials(secrets: dict[str, str]) -> Any:
    from uploader_gui.core.targets import Credentials
    from uploader_gui.core.targets.base import Secret

    return Credentials(**{k: Secret(v) for k, v in secrets.items()})


def _write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def _service_main(requests: Any, control: Any, events: Any, spec: tuple[str, str],
                  table: ProfileTable, concurrency: int, policy: RetryPolicy,
                  retry_history_every: float | None) -> None:
    """Body of the helper: run a Dispatcher on the history until told to stop."""
    try:
        os.nice(HELPER_NICE)
    except OSError:
        pass
    from uploader_gui.core.dispatcher import Dispatcher
    from uploader_gui.core.logging_setup import configure_logging

    configure_logging(name="uploader-gui-queue.log")
    profiles = {name: (config, _credentials(secrets)) for name, (config, secrets) in table.items()}
    store = _open_store(spec)
    collector = _Collector()

    def credentials_for(job: Job) -> Any:
        entry = profiles.get(job.profile or "")
        return entry[1] if entry else _credentials({})

    def settings_for(job: Job) -> Any:
        entry = profiles.get(job.profile or "")
        return entry[0] if entry else None

    dispatcher = Dispatcher(store, credentials_for, concurrency=concurrency, policy=policy,
                            listener=collector, retry_history_every=retry_history_every,
                            settings_for=settings_for)
    stop = threading.Event()
    seq = itertools.count(1)  # next() is atomic: the newest picture is the highest number

    def status() -> tuple[int, int, int, int, int, int, bool]:
        number = next(seq)
        sent, total, running = dispatcher.progress()
        return (number, sent, total, running, dispatcher.active_count(),
                len(dispatcher.held_jobs()), dispatcher.paused)

    def send_events() -> None:
        fd = events.fileno()
        last: tuple[Any, ...] | None = None
        while not stop.is_set() or collector.changed.is_set():
            collector.changed.wait(0.5)
            batch = collector.take()
            now = status()
            if batch["jobs"] or batch["progress"] or batch["finished"] \
                    or batch["history_failed"] or now[1:] != (last or (None,))[1:]:
                batch["status"] = last = now
                try:
                    _write_frame(fd, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                except OSError:  # the window is gone: the queue finishes (see below)
                    return
            time.sleep(EVENT_INTERVAL)

    def read_control() -> None:
        while True:
            try:
                message = control.recv()
            except (EOFError, OSError):
                return
            what, args = message[0], message[1:]
            if what == "cancel":
                dispatcher.cancel(args[0])
            elif what == "cancel_all":
                dispatcher.cancel_all()
            elif what == "pause":
                dispatcher.pause()
            elif what == "resume":
                dispatcher.resume()
            elif what == "concurrency":
                dispatcher.set_concurrency(args[0])
            elif what == "profiles":
                profiles.clear()
                profiles.update({n: (c, _credentials(s)) for n, (c, s) in args[0].items()})
            collector.changed.set()  # the counts may have changed: tell the window

    sender = threading.Thread(target=send_events, name="queue-events", daemon=True)
    sender.start()
    threading.Thread(target=read_control, name="queue-control", daemon=True).start()
    cancel_at_end, timeout = False, 5.0
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            break  # the window is gone
        what = request[0]
        if what == "shutdown":
            _, cancel_at_end, timeout = request
            break
        try:
            if what == "submit":
                job = dispatcher.submit(request[1])
                answer: Any = ("ok", job, status())
            elif what == "record_cancelled":
                answer = ("ok", dispatcher.record_cancelled(request[1]), status())
            elif what == "retry_history":
                answer = ("ok", dispatcher.retry_history(), status())
            else:
                answer = ("error", f"unknown request {what!r}", None)
        except HistoryError as exc:
            answer = ("history_error", (str(exc), exc.kind), None)
        except Exception as exc:
            log.exception("queue request %s failed", what)
            answer = ("error", str(exc), None)
        try:
            requests.send(answer)
        except OSError:
            break
    if not cancel_at_end:
        # Closed with "keep sending", or the window died: what is queued is sent and recorded.
        dispatcher.wait_idle()
    dispatcher.shutdown(cancel=cancel_at_end, timeout=timeout)
    stop.set()
    collector.changed.set()
    sender.join(timeout=2)
    try:
        requests.send(("stopped",))
    except OSError:
        pass
    store.close()
