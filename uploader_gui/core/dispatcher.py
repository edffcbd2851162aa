"""The upload queue: a pool of worker threads that deliver jobs and record every step.

Qt-free. The GUI and the CLI both use it; the GUI listens through
:class:`DispatcherListener` and batches what it hears onto the UI thread.

Rules kept here:
* a job and its attempt are written to the history *before* a byte is sent;
* the file is hashed again before sending: if it changed or vanished since
  it was staged, the job fails and nothing is sent;
* retries follow the target's own rules (``core.retry``), each attempt a fresh
  request;
* cancel aborts an upload in flight by closing its connection;
* a success is recorded as ``sent`` (accepted) first; then a target that can
  prove it (:data:`VERIFY`: REDCap's read-back, Claros's receipt) is asked at once,
  and the job becomes ``verified``, or ``failed`` when the proof shows otherwise.
  Redox's proof comes later, from its delivery logs (``core.delivery``);
* a history that can no longer be written (the disk is full) is a state, not a
  crash: no new upload starts (the queued ones are held, still recorded as
  queued), the outcomes of those in flight are kept in memory and written as soon
  as :meth:`Dispatcher.retry_history` succeeds, and the listener is told once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from uploader_gui.core.convert import discard
from uploader_gui.core.history import HistoryError, HistoryStore
from uploader_gui.core.history_open import has_room
from uploader_gui.core.jobs import (
    CANCELLED,
    FAILED,
    FINAL,
    QUEUED,
    SENT,
    UNKNOWN,
    UPLOADING,
    AttemptRecord,
    Job,
    config_to_json,
    with_connection,
)
from uploader_gui.core.listener import DispatcherListener
from uploader_gui.core.outcome import CancelToken
from uploader_gui.core.recheck import StagedFileError, hash_staged
from uploader_gui.core.retry import Attempt, RetryPolicy, deliver
from uploader_gui.core.targets import Credentials, Document, Target, TargetConfig, make_target
from uploader_gui.core.targets.base import VERIFY
from uploader_gui.core.verification import prove

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 3
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 8

CredentialsFor = Callable[[Job], Credentials]
#: The job's profile's settings as they are now (None: keep the job's own).
SettingsFor = Callable[[Job], "TargetConfig | None"]


@dataclass
class _Running:
    job: Job
    token: CancelToken = field(default_factory=CancelToken)
    sent: int = 0
    total: int = 0


class Dispatcher:
    def __init__(
        self,
        history: HistoryStore,
        credentials_for: CredentialsFor,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        policy: RetryPolicy | None = None,
        listener: DispatcherListener | None = None,
        target_factory: Callable[[TargetConfig, Credentials], Target] = make_target,
        retry_history_every: float | None = None,
        settings_for: SettingsFor | None = None,
    ) -> None:
        self.history = history
        self.credentials_for = credentials_for
        self.settings_for: SettingsFor = settings_for or (lambda _job: None)
        self.policy = policy or RetryPolicy()
        self.listener = listener or DispatcherListener()
        self._target_factory = target_factory
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._waiting: set[int] = set()
        self._cancelled_waiting: set[int] = set()
        self._targets: dict[str, Target] = {}
        self._workers: list[threading.Thread] = []
        self._resume = threading.Event()
        self._resume.set()
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        #: Why the history cannot be written now (None when it can).
        self.history_problem: HistoryError | None = None
        self._held: list[int] = []  # queued jobs not started because of history_problem
        self._unsaved_jobs: dict[int, Job] = {}  # outcomes waiting to be written
        self._unsaved_attempts: dict[int, AttemptRecord] = {}
        #: While the history cannot be written, try again this often (None: only on resume()).
        self.retry_history_every = retry_history_every
        self._retrying = False
        self._concurrency = 0
        self.set_concurrency(concurrency)

    # ------------------------------------------------------------------ control

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def set_concurrency(self, n: int) -> None:
        n = max(MIN_CONCURRENCY, min(MAX_CONCURRENCY, int(n)))
        with self._lock:
            extra = n - self._concurrency
            self._concurrency = n
        if extra > 0:
            for _ in range(extra):
                t = threading.Thread(target=self._work, name="uploader-worker", daemon=True)
                self._workers.append(t)
                t.start()
        else:
            for _ in range(-extra):
                self._queue.put(None)  # one worker retires per sentinel

    def pause(self) -> None:
        """Start no new upload; uploads in flight finish."""
        self._resume.clear()

    def resume(self) -> None:
        if self.history_problem is not None:
            self.retry_history()
        self._resume.set()

    def held_jobs(self) -> list[int]:
        """Jobs held back (still queued in the history) while it cannot be written."""
        with self._lock:
            return list(self._held)

    def retry_history(self) -> bool:
        """Write what was kept in memory; on success, send the held jobs. True if it worked."""
        problem = self.history_problem
        folder = getattr(getattr(self.history, "path", None), "parent", None)
        if problem is not None and problem.disk_full and folder and not has_room(folder):
            return False
        with self._lock:
            jobs = list(self._unsaved_jobs.values())
            attempts = list(self._unsaved_attempts.values())
        try:
            for attempt in attempts:
                if attempt.id is not None:
                    self.history.update_attempt(attempt)
            for job in jobs:
                self.history.update_job(job)
        except HistoryError as exc:
            self.history_problem = exc
            return False
        with self._lock:
            for attempt in attempts:
                self._unsaved_attempts.pop(id(attempt), None)
            for job in jobs:
                if job.id is not None:
                    self._unsaved_jobs.pop(job.id, None)
            held, self._held = self._held, []
            self.history_problem = None
            self._waiting.update(held)
        for job_id in held:
            self._queue.put(job_id)
        return True

    def _history_failed(self, exc: HistoryError) -> None:
        first = self.history_problem is None
        self.history_problem = exc
        log.error("the history cannot be written (%s): no new upload starts", exc.kind)
        if first:
            self.listener.history_failed(exc)
        if self.retry_history_every and not self._retrying:
            self._retrying = True
            threading.Thread(target=self._retry_loop, name="history-retry", daemon=True).start()

    def _retry_loop(self) -> None:
        """Until the history takes writes again (space freed), then the held jobs go."""
        assert self.retry_history_every
        try:
            while not self._stopping and self.history_problem is not None:
                if self._queue_wait(self.retry_history_every):
                    return
                if self.retry_history():
                    log.info("the history can be written again; held uploads resume")
                    return
        finally:
            self._retrying = False

    def _queue_wait(self, seconds: float) -> bool:
        """Sleep; True if the dispatcher is stopping meanwhile."""
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            time.sleep(0.2)
        return self._stopping

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def submit(self, job: Job) -> Job:
        """Record the job (if new) and queue it. Returns it with its history id."""
        if job.id is None:
            job.status = QUEUED
            self.history.add_job(job)
        elif job.status != QUEUED:
            self.history.update_job(job, new_status=QUEUED)
        assert job.id is not None
        with self._lock:
            self._waiting.add(job.id)
        self.listener.job_changed(job)
        self._queue.put(job.id)
        return job

    def record_cancelled(self, job: Job) -> Job:
        """Record a new job as cancelled before it was sent, without queueing it (it was
        still being handed over when the user cancelled, or closed with Stop)."""
        if job.id is None:
            job.status = QUEUED
            self.history.add_job(job)
            self._finish(job, CANCELLED, "Cancelled before it was sent.")
        return job

    def cancel(self, job_id: int) -> None:
        with self._lock:
            running = self._running.get(job_id)
            if running is None and job_id in self._waiting:
                self._cancelled_waiting.add(job_id)
        if running is not None:
            running.token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            self._cancelled_waiting |= self._waiting
            tokens = [r.token for r in self._running.values()]
        for token in tokens:
            token.cancel()

    def active_count(self) -> int:
        with self._lock:
            return len(self._waiting) + len(self._running)

    def progress(self) -> tuple[int, int, int]:
        """(bytes sent, bytes in total, jobs in flight) for the uploads running now."""
        with self._lock:
            runs = list(self._running.values())
        return sum(r.sent for r in runs), sum(r.total for r in runs), len(runs)

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._waiting or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left if left is not None else 0.5)
        return True

    def wait_job(self, job_id: int, stop: threading.Event | None = None) -> Job | None:
        """Block until this job has ended (or ``stop`` is set); return it as recorded."""
        with self._idle:
            while job_id in self._waiting or job_id in self._running:
                if stop is not None and stop.is_set():
                    return None
                self._idle.wait(0.2)
        return self.history.get(job_id)

    def shutdown(self, cancel: bool = True, timeout: float = 5.0) -> None:
        if cancel:
            self.cancel_all()
        self._stopping = True
        self._resume.set()
        for _ in self._workers:
            self._queue.put(None)
        end = time.monotonic() + timeout
        for t in self._workers:
            t.join(max(0.0, end - time.monotonic()))
        for target in self._targets.values():
            target.close()

    # ------------------------------------------------------------------ work

    def _target_for(self, job: Job) -> Target:
        config = with_connection(job.target_config, self.settings_for(job))
        key = config_to_json(config) + "|" + (job.profile or "")
        with self._lock:
            target = self._targets.get(key)
        if target is None:
            target = self._target_factory(config, self.credentials_for(job))
            with self._lock:
                self._targets.setdefault(key, target)
                target = self._targets[key]
        return target

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            while not self._resume.wait(0.2):
                if self._stopping:
                    return
            try:
                self._run(job_id)
            except HistoryError as exc:
                self._hold(job_id)
                self._history_failed(exc)
            except Exception:
                log.exception("upload job %s failed unexpectedly", job_id)
                job = self.history.get(job_id)
                if job is not None and job.status not in FINAL:
                    job.error = "An unexpected problem stopped this upload; see the log."
                    self._finish(job, FAILED)
            finally:
                with self._idle:
                    self._waiting.discard(job_id)
                    self._running.pop(job_id, None)
                    self._cancelled_waiting.discard(job_id)
                    self._idle.notify_all()
                with self._lock:
                    ended = self._unsaved_jobs.get(job_id)
                try:
                    ended = ended or self.history.get(job_id)
                except HistoryError:
                    ended = None
                if ended is not None and ended.status in FINAL:
                    self.listener.job_finished(ended)

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        job.finished = time.time()
        if error is not None:
            job.error = error
        if status == SENT and job.sources:
            self._save(job, status, notify=False)
            discard(Path(job.path))  # the PDF made from the user's images is no longer needed
            self.listener.job_changed(job)
        else:
            self._save(job, status)

    def _save(self, job: Job, status: str | None, notify: bool = True) -> None:
        try:
            self.history.update_job(job, new_status=status)
        except HistoryError as exc:
            # The outcome is known and must not be lost: keep it until it can be written.
            assert job.id is not None
            with self._lock:
                self._unsaved_jobs[job.id] = job
            self._history_failed(exc)
        if notify:
            self.listener.job_changed(job)

    def _hold(self, job_id: int) -> None:
        with self._lock:
            self._held.append(job_id)

    def _run(self, job_id: int) -> None:
        if self.history_problem is not None:
            self._hold(job_id)  # nothing starts that could not be recorded
            return
        job = self.history.get(job_id)
        if job is None or job.status != QUEUED:
            return
        with self._lock:
            if job_id in self._cancelled_waiting:
                cancelled_early = True
            else:
                cancelled_early = False
                run = _Running(job=job, total=job.size)
                self._running[job_id] = run
            self._waiting.discard(job_id)
        if cancelled_early:
            self._finish(job, CANCELLED, "Cancelled before it was sent.")
            return

        # Never send different bytes from the ones that were checked: the re-check opens
        # without blocking, refuses anything but a regular file, and reads at most job.size.
        path = Path(job.path)
        try:
            digest = hash_staged(path, job.size)
        except StagedFileError as exc:
            self._finish(job, FAILED, exc.message)
            return
        if digest != job.sha256:
            self._finish(job, FAILED, f"The file {job.name} changed after it was checked. It was "
                         "not sent; add it again so the new version is checked.")
            return

        job.started = time.time()
        job.error = None
        try:
            self.history.update_job(job, new_status=UPLOADING)
        except HistoryError as exc:  # still queued in the history; nothing was sent
            self._hold(job_id)
            self._history_failed(exc)
            return
        self.listener.job_changed(job)

        target = self._target_for(job)
        document = Document(path=path, file_type=job.file_type, size=job.size,
                            document_id=job.document_id)
        records: dict[int, AttemptRecord] = {}

        def on_attempt(a: Attempt) -> None:
            rec = records.get(a.number)
            if rec is None:
                rec = AttemptRecord(job_id=job_id, number=a.number, started=a.started,
                                    url=target.config.base_url)
                records[a.number] = rec
                job.attempts += 1
                job.began_sending = True
                self.history.add_attempt(rec)  # written before the request goes out
                self.history.update_job(job)
                self.listener.job_changed(job)
                return
            rec.ended, rec.bytes_sent = a.ended, a.bytes_sent
            rec.http_status, rec.error, rec.decision = a.http_status, a.error, a.decision
            try:
                self.history.update_attempt(rec)
            except HistoryError as exc:  # the request is over: keep its record for later
                with self._lock:
                    self._unsaved_attempts[id(rec)] = rec
                self._history_failed(exc)

        def on_progress(sent: int, total: int) -> None:
            run.sent, run.total = sent, total
            job.bytes_sent = sent
            self.listener.job_progress(job_id, sent, total)

        try:
            # on_attempt writes each attempt before its request: if that fails, the
            # HistoryError ends the delivery before anything more is sent.
            result = deliver(target, document, job.destination, self.policy,
                             progress=on_progress, cancelled=run.token, on_attempt=on_attempt,
                             sleep=lambda s, _c: not run.token.wait(s))
        except HistoryError as exc:
            self._history_failed(exc)
            self._finish(job, FAILED, f"{exc.message} The upload was stopped before its next "
                         "attempt could be sent; send it again once there is space.")
            return
        if result.receipt is not None:
            r = result.receipt
            job.remote_id, job.url, job.log_ids = r.remote_id, r.url, list(r.log_ids)
            job.backup_path = r.extra.get("backup_path") or job.backup_path
            job.http_status, job.server_message = r.http_status, r.server_message
        if result.error is not None:
            job.http_status = result.error.http_status
            job.server_message = result.error.server_message
        status = {"sent": SENT, "failed": FAILED, "unknown": UNKNOWN,
                  "cancelled": CANCELLED}[result.status]
        error = None
        if result.error is not None and status != SENT:
            error = result.error.message
        if status == CANCELLED:
            if run.total and run.sent >= run.total:
                status = UNKNOWN
                error = ("Cancelled after the whole file had gone out, so whether it arrived is "
                         "not known. Check in the receiving system before sending it again.")
            else:
                error = "Cancelled while it was being sent; it was not delivered."
        self._finish(job, status, error)
        if status == SENT and result.receipt is not None and target.supports(VERIFY):
            self._save(job, prove(target, job, document, result.receipt))
