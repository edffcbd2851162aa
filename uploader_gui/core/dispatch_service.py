"""The upload queue in a helper process, so the window's interpreter only draws.

The window used to run :class:`~uploader_gui.core.dispatcher.Dispatcher` on threads of
its own process: hashing, HTTP and history writes then shared one interpreter lock
with the UI thread, and on a loaded PC a worker holding that lock made the window
stall. :class:`DispatcherClient` has the Dispatcher's interface, but the queue runs
in a child process (``spawn``), which opens the same history and is the one that
writes the jobs. Between them:

* **requests** (window → helper, answered): ``submit``, ``retry_history``,
  ``shutdown``. Called from worker threads only; one at a time.
* **control** (window → helper, not answered): cancel, pause, resume, concurrency,
  profiles. Safe to call from the UI thread: a small write to a pipe.
* **events** (helper → window): every 50 ms at most, one batch with the latest copy of
  each job that changed, upload progress, jobs finished and the queue's counts. The
  window reads them without a thread (:meth:`DispatcherClient.drain` on a readable
  :attr:`~DispatcherClient.event_fd`, non-blocking, framed here), and hands them to its
  listener as the in-process Dispatcher would.

The history stays the one record: jobs are written by the helper, with the helper's
owner, so if it dies its jobs are marked interrupted by the usual rule
(:meth:`HistoryStore.mark_interrupted`) and resumed as after a crash. If the window
goes away, the helper finishes what it has (every outcome recorded) and exits.

Secrets never travel as pickled :class:`Secret` objects (they refuse): the profile
table carries their text over the private pipe, and the helper wraps them again, which
registers them with its own log scrubber.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from uploader_gui.core.dispatch_helper import (  # noqa: F401 - HELPER_NICE, EVENT_INTERVAL re-exported
    _HEADER,
    EVENT_INTERVAL,
    HELPER_NICE,
    ProfileTable,
    _service_main,
)
from uploader_gui.core.history import HistoryError
from uploader_gui.core.jobs import Job
from uploader_gui.core.retry import RetryPolicy

log = logging.getLogger(__name__)



class ServiceStopped(RuntimeError):
    """The upload helper is not running (it died, or was shut down)."""

    def __init__(self) -> None:
        super().__init__("The upload helper stopped. The uploads it had are in the history; "
                         "interrupted ones can be resumed from there.")


def profile_table(profiles: dict[str, Any]) -> ProfileTable:
    """{name: Profile} -> what the helper needs of each: its settings and its secrets' text."""
    table: ProfileTable = {}
    for name, profile in profiles.items():
        creds = profile.credentials
        secrets = {f.name: value.reveal() for f in fields(creds)
                   if (value := getattr(creds, f.name)) is not None}
        table[name] = (profile.config, secrets)
    return table


def store_spec(store: Any) -> tuple[str, str]:
    """How the helper opens the same history as the window."""
    dsn = getattr(store, "dsn", None)
    return ("postgres", dsn) if dsn else ("sqlite", str(store.path))


# ---------------------------------------------------------------------- the helper


# ---------------------------------------------------------------------- the window's side


@dataclass
class _Mirror:
    """What the window knows of the helper's queue, from its latest batch."""

    seq: int = 0
    sent: int = 0
    total: int = 0
    running: int = 0
    active: int = 0
    held: int = 0
    paused: bool = False
    finished: set[int] = field(default_factory=set)


class DispatcherClient:
    """A :class:`~uploader_gui.core.dispatcher.Dispatcher` in a helper process.

    ``listener`` is called from :meth:`drain`, on whichever thread calls it (the
    window's UI thread, through a socket notifier on :attr:`event_fd`), plus
    ``listener.service_stopped()`` when the helper died; after that the client is
    ready to start a new helper on the next request.
    """

    def __init__(self, history: Any, profiles: ProfileTable, *, concurrency: int = 3,
                 policy: RetryPolicy | None = None, listener: Any = None,
                 retry_history_every: float | None = None) -> None:
        self.history = history
        self.listener = listener
        self._spec = store_spec(history)
        self._profiles = profiles
        self._concurrency = concurrency
        self._policy = policy or RetryPolicy()
        self._retry_every = retry_history_every
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()  # start, and the request pipe
        self._state = threading.Condition()
        self._proc: Any = None
        self._stopped = False  # no new helper: shut down, or finishing in the background
        self._closed = False  # shut down
        self._new_pipes()

    # ------------------------------------------------------------------ plumbing

    def _new_pipes(self) -> None:
        self._requests, self._child_requests = self._ctx.Pipe()
        self._child_control, self._control = self._ctx.Pipe(duplex=False)  # (reader, writer)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._event_read = read_fd
        from multiprocessing.connection import Connection

        self._child_events: Any = Connection(write_fd, readable=False)
        self._buffer = bytearray()
        self._mirror = _Mirror()
        self._proc = None

    @property
    def event_fd(self) -> int:
        """Readable when the helper has sent something (or died): then call :meth:`drain`."""
        return self._event_read

    @property
    def started(self) -> bool:
        return self._proc is not None

    def start(self) -> None:
        """Start the helper now (it starts on the first request anyway). Thread-safe."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._proc is not None:
            return
        if self._stopped:
            raise ServiceStopped()
        self._proc = self._ctx.Process(
            target=_service_main, name="uploader-gui-queue", daemon=False,
            args=(self._child_requests, self._child_control, self._child_events, self._spec,
                  self._profiles, self._concurrency, self._policy, self._retry_every))
        self._proc.start()
        for end in (self._child_requests, self._child_control, self._child_events):
            end.close()  # the helper holds them now: EOF here means it is gone

    def _request(self, *message: Any, timeout: float | None = None) -> Any:
        with self._lock:
            self._start_locked()
            try:
                self._requests.send(message)
                if timeout is not None and not self._requests.poll(timeout):
                    raise TimeoutError
                answer = self._requests.recv()
            except (EOFError, OSError):
                raise ServiceStopped() from None
        if answer == ("stopped",):  # asked to finish and exit: it takes no new request
            raise ServiceStopped()
        kind, value, status = answer
        if status is not None:
            self._update(status)
        if kind == "history_error":
            raise HistoryError(value[0], kind=value[1])
        if kind == "error":
            raise RuntimeError(value)
        return value

    def _tell(self, *message: Any) -> None:
        if self._proc is None:
            return  # nothing is queued yet: nothing to cancel, pause or resize
        try:
            self._control.send(message)
        except (OSError, ValueError):
            pass  # the helper is gone: drain() reports it

    def _update(self, status: tuple[Any, ...]) -> None:
        with self._state:
            if status[0] <= self._mirror.seq:
                return  # an older picture than the one already known
            m = self._mirror
            m.seq, m.sent, m.total, m.running, m.active, m.held, m.paused = status
            self._state.notify_all()

    # ------------------------------------------------------------------ events

    def drain(self) -> bool:
        """Read what the helper sent, without waiting, and tell the listener. False when the
        helper has gone (the listener was told; the next request starts a new one)."""
        while True:
            try:
                chunk = os.read(self._event_read, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self._gone()
                return False
            self._buffer += chunk
        while len(self._buffer) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + n:
                break  # the rest of this batch is on its way
            payload = bytes(self._buffer[_HEADER.size:_HEADER.size + n])
            del self._buffer[:_HEADER.size + n]
            self._deliver(pickle.loads(payload))  # noqa: S301 - our own child, our own pipe
        return True

    def _deliver(self, batch: dict[str, Any]) -> None:
        listener = self.listener
        for job in batch["jobs"]:
            if listener is not None:
                listener.job_changed(job)
        for job_id, (sent, total) in batch["progress"].items():
            if listener is not None:
                listener.job_progress(job_id, sent, total)
        problem = batch["history_failed"]
        if problem is not None and listener is not None:
            message, kind = problem
            listener.history_failed(HistoryError(message, kind=kind))
        with self._state:
            self._mirror.finished.update(batch["finished"])
        self._update(batch["status"])
        if listener is not None:
            jobs = {j.id: j for j in batch["jobs"]}
            for job_id in batch["finished"]:
                if job_id in jobs:
                    listener.job_finished(jobs[job_id])

    def _gone(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.join(timeout=1)
        with self._lock:  # a request waiting on the dead helper has seen EOF by now
            os.close(self._event_read)
            for end in (self._requests, self._control):
                end.close()
            with self._state:
                self._state.notify_all()
            self._new_pipes()
        clean = self._stopped
        if not clean:
            log.error("the upload helper stopped unexpectedly (exit code %s)",
                      getattr(proc, "exitcode", None))
            stopped = getattr(self.listener, "service_stopped", None)
            if stopped is not None:
                stopped()

    # ------------------------------------------------------------------ the Dispatcher's API

    def submit(self, job: Job) -> Job:
        # The helper writes the job and tells the listener (in its next batch of events).
        stored: Job = self._request("submit", job)
        job.id, job.status, job.owner = stored.id, stored.status, stored.owner
        return job

    def record_cancelled(self, job: Job) -> Job:
        """The job into the history, cancelled before it was sent; never queued."""
        stored: Job = self._request("record_cancelled", job)
        job.id, job.status, job.owner = stored.id, stored.status, stored.owner
        return job

    def retry_history(self) -> bool:
        return bool(self._request("retry_history"))

    def cancel(self, job_id: int) -> None:
        self._tell("cancel", job_id)

    def cancel_all(self) -> None:
        self._tell("cancel_all")

    def pause(self) -> None:
        self._tell("pause")

    def resume(self) -> None:
        self._tell("resume")

    def set_concurrency(self, n: int) -> None:
        self._concurrency = n
        self._tell("concurrency", n)

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def set_profiles(self, profiles: ProfileTable) -> None:
        self._profiles = profiles
        self._tell("profiles", profiles)

    @property
    def paused(self) -> bool:
        return self._mirror.paused

    def held_count(self) -> int:
        """How many queued jobs the helper holds back while the history cannot be written
        (the in-process Dispatcher's ``held_jobs()`` lists them; here only the count comes)."""
        return self._mirror.held

    def active_count(self) -> int:
        """Jobs waiting or running in the helper (0 before it starts and after shutdown)."""
        return self._mirror.active if self._proc is not None and not self._closed else 0

    def progress(self) -> tuple[int, int, int]:
        m = self._mirror
        return m.sent, m.total, m.running

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until the helper's queue is empty, as told by its events (someone must drain)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state:
            while self._proc is not None and self._mirror.active:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._state.wait(0.2 if left is None else min(0.2, left))
        return True

    def wait_job(self, job_id: int, stop: threading.Event | None = None) -> Job | None:
        """Until this job has ended (someone must drain), then as the history has it."""
        with self._state:
            while job_id not in self._mirror.finished:
                if (stop is not None and stop.is_set()) or self._proc is None:
                    return None
                self._state.wait(0.2)
        return self.history.get(job_id)

    def shutdown(self, cancel: bool = True, timeout: float = 5.0) -> None:
        """Stop the helper: cancel what runs (``cancel``), or let it finish its queue first."""
        self._stopped = self._closed = True
        proc = self._proc
        if proc is None:
            self._close_ends()
            return
        with self._lock:
            try:
                self._requests.send(("shutdown", cancel, timeout))
                if self._requests.poll(timeout + 5):
                    self._requests.recv()
            except (EOFError, OSError):
                pass
        proc.join(timeout=5)
        if proc.is_alive():
            log.error("the upload helper did not stop; ending it")
            proc.kill()
            proc.join(timeout=2)
        self._close_ends()

    def finish_in_background(self) -> bool:
        """The window closes but the uploads go on: the helper takes no new job, finishes its
        queue (every outcome recorded), and exits; events keep coming until then, and
        :meth:`drain` returns False once it has gone. False if there was no helper."""
        self._stopped = True
        if self._proc is None:
            return False
        with self._lock:
            try:
                self._requests.send(("shutdown", False, 30.0))
            except OSError:
                return False
        return True

    def _close_ends(self) -> None:
        for end in (self._requests, self._control, self._child_requests,
                    self._child_control, self._child_events):
            try:
                end.close()
            except OSError:
                pass
        try:
            os.close(self._event_read)
        except OSError:
            pass
