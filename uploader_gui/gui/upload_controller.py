"""Turns "upload these staged files there" into jobs on the queue, and reports back.

Owns the upload queue (``core.dispatcher``) and its bridge to Qt. Everything
slow (the target's network checks, writing the jobs to the history) runs on a
worker thread; results come back as signals on the UI thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QWidget

from uploader_gui.core.dispatch_service import DispatcherClient, profile_table
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import FINAL, INTERRUPTED, STATE_LABELS, Job
from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import remember
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.staging import StagedFile
from uploader_gui.core.targets import Credentials, Destination
from uploader_gui.core.validation import REMOVE_SCRIPTS
from uploader_gui.gui.confirm_send import files_phrase
from uploader_gui.gui.queue_bridge import QueueBridge
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:
    from uploader_gui.core.planner import Plan

log = logging.getLogger(__name__)


class UploadController(QObject):
    #: (staging key, state, message) for rows of the staging table.
    rowState = Signal(str, str, str)
    #: many (staging key, state, message) at once: one per queue batch
    rowStates = Signal(list)
    #: (staging key, "Profile: patient 1001") once a file is on its way somewhere.
    rowDestination = Signal(str, str)
    #: {staging key: fraction sent} for rows uploading now.
    rowProgress = Signal(object)
    #: jobs that changed (for the history panel).
    jobsChanged = Signal(list)
    throughputChanged = Signal(object)
    #: a sentence for the user about the batch as a whole.
    message = Signal(str)
    #: sentences about stored jobs that could not be sent again (see :meth:`resend`).
    resendProblems = Signal(list)
    #: The upload helper died and was replaced: the jobs it left, now interrupted.
    helperRestarted = Signal(list)
    #: After :meth:`keep_sending`: the helper has finished the queue and exited.
    backgroundFinished = Signal()

    def __init__(self, profiles: list[Profile], history: HistoryStore | None,
                 parent: QObject | None = None, *, concurrency: int = 3,
                 policy: RetryPolicy | None = None) -> None:
        super().__init__(parent)
        self._profiles = {p.name: p for p in profiles}
        self.history = history
        self._runner = TaskRunner(self, workers=1)
        self._uid_to_key: dict[str, str] = {}
        self._key_to_job: dict[str, int] = {}
        self._batches: set[threading.Event] = set()
        #: Jobs planned and confirmed but not yet handed to the helper (its worker queues
        #: them one by one): they count as running, so closing asks first.
        self._unsubmitted = 0
        self._count_lock = threading.Lock()
        self._finishing = False  # "Keep sending" waits for the worker to queue every batch
        self.bridge = QueueBridge(self)
        self.dispatcher: DispatcherClient | None = None
        self._notifier: QSocketNotifier | None = None
        self._background = False
        self._concurrency, self._policy = concurrency, policy
        self.bridge.jobsChanged.connect(self._jobs_changed)
        self._delivery_timer = QTimer(self)
        self._delivery_timer.setInterval(5000)
        self._delivery_timer.timeout.connect(self.check_delivery)
        self._delivery_busy = False
        self.bridge.progressChanged.connect(self._progress_changed)
        self.bridge.throughputChanged.connect(self.throughputChanged)
        if history is not None:
            self.attach_history(history)

    def attach_history(self, history: HistoryStore) -> None:
        """Set up the queue on the history, once it is open (the window opens it on a worker).

        The queue runs in a helper process (``core.dispatch_service``), started on a worker
        a few seconds after the window is up or by the first upload, whichever is first; its
        events are read here on the UI thread, without a thread of our own.
        """
        self.history = history
        self.dispatcher = DispatcherClient(
            history, profile_table(self._profiles), concurrency=self._concurrency,
            policy=self._policy or RetryPolicy(), listener=self.bridge, retry_history_every=5.0)
        self.bridge.dispatcher = self.dispatcher
        self.bridge.helperStopped.connect(self._helper_stopped)
        self.bridge.historyFailed.connect(self.message.emit)  # disk full, in words
        self._watch_events()
        self._delivery_timer.start()
        client = self.dispatcher
        QTimer.singleShot(3000, self, lambda: self._runner.run(client.start, lambda _r, _e: None))

    def _watch_events(self) -> None:
        assert self.dispatcher is not None
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
        self._notifier = QSocketNotifier(self.dispatcher.event_fd, QSocketNotifier.Type.Read,
                                         self)
        self._notifier.activated.connect(self._drain)

    def _drain(self) -> None:
        watching = self._notifier
        if self.dispatcher is None or self.dispatcher.drain():
            return
        # The helper has gone and its pipe is closed. After a crash a new pipe is watched
        # already (_helper_stopped); after a stop nothing is.
        if watching is not None and self._notifier is watching:
            watching.setEnabled(False)
        if self._background:
            self.bridge.flush()  # the last outcomes, before saying it is over
            self.backgroundFinished.emit()

    def _helper_stopped(self) -> None:
        """The helper died (killed, out of memory): say so, mark what it had interrupted,
        and let the next upload start a new one."""
        self._watch_events()  # the new helper's pipe
        self.message.emit("The upload helper stopped unexpectedly. Uploads it had under way "
                          "are marked interrupted: Resume sends them again.")
        store = self.history

        def mark() -> list[Job]:
            if store is None:
                return []
            store.mark_interrupted()
            return store.jobs(status=INTERRUPTED)

        def done(jobs: list[Job] | None, error: BaseException | None) -> None:
            if error is not None:
                log.error("could not mark interrupted uploads: %r", error)
            elif jobs:
                self.helperRestarted.emit(jobs)
            if self.dispatcher is not None:  # a new helper, ready for the next upload
                self._runner.run(self.dispatcher.start, lambda _r, _e: None)

        self._runner.run(mark, done)

    @property
    def profiles(self) -> dict[str, Profile]:
        return self._profiles

    @profiles.setter
    def profiles(self, profiles: dict[str, Profile]) -> None:
        self._profiles = profiles
        if self.dispatcher is not None:
            self.dispatcher.set_profiles(profile_table(profiles))

    def _credentials_for(self, job: Job) -> Credentials:
        profile = self.profiles.get(job.profile or "")
        return profile.credentials if profile else Credentials()

    @property
    def active(self) -> int:
        """Uploads running or waiting, counting those still being handed to the helper."""
        with self._count_lock:
            waiting = self._unsubmitted
        return waiting + (self.dispatcher.active_count() if self.dispatcher else 0)

    # ------------------------------------------------------------------ new uploads

    def upload(self, files: list[StagedFile], profile: Profile, destination: Destination) -> int:
        """Plan (on a worker), ask, then queue. Returns how many files go on to be planned."""
        from uploader_gui.core.planner import PlanInput, plan  # (PIL, pypdf: not at start)

        if self.dispatcher is None:
            self.message.emit("Uploading is not possible because the history cannot be written.")
            return 0
        inputs = []
        for item in files:
            res = item.result
            if res is None or not res.sha256 or not (res.ok or res.remedy == REMOVE_SCRIPTS):
                continue  # (a PDF with scripts: the planner asks about a copy without them)
            inputs.append(PlanInput(item.key, item.path, res, tuple(item.sources)))
            self.rowState.emit(item.key, "queued", f"Being prepared for {profile.name}…")
        if not inputs:
            self.message.emit("Nothing was sent: the reasons are shown in the list.")
            return 0
        self.message.emit(f"Preparing {files_phrase(len(inputs))} for {profile.name}…")
        history = self.history
        self._runner.run(
            lambda: plan(inputs, profile.config, profile.credentials, destination, history,
                         profile=profile.name),
            self._planned)
        return len(inputs)

    def _planned(self, the_plan: Plan | None, error: BaseException | None) -> None:
        if error is not None or the_plan is None:
            log.error("could not prepare uploads: %r", error)
            self.message.emit(f"The uploads could not be started: {error}")
            return
        for refusal in the_plan.refused:
            self.rowState.emit(refusal.key, "rejected", refusal.reason)
        if not the_plan.jobs:
            self.message.emit("Nothing was sent: the reasons are shown in the list.")
            return
        for planned in the_plan.jobs:
            self.rowDestination.emit(planned.key, the_plan.where)
        needs_asking = the_plan.config.confirm or any(not q.default for q in the_plan.questions)
        answers = self.confirm(the_plan) if needs_asking else {}
        if answers is None:  # Cancel: nothing goes
            for planned in the_plan.jobs:
                self.rowState.emit(planned.key, "cancelled", "Not sent: cancelled before sending.")
            the_plan.discard()
            self.message.emit("Nothing was sent.")
            return
        resolution = the_plan.resolve(answers)
        for skipped in resolution.skipped:
            self.rowState.emit(skipped.key, "cancelled", skipped.reason)
        if not resolution.jobs:
            self.message.emit("Nothing was sent.")
            return
        for planned in resolution.jobs:
            self._uid_to_key[planned.job.uid] = planned.key
        self._remember(the_plan)
        cancelled = threading.Event()
        self._batches.add(cancelled)
        send = [planned.job for planned in resolution.jobs]
        with self._count_lock:
            self._unsubmitted += len(send)
        self.message.emit(f"Sending {files_phrase(len(send))} to {the_plan.profile}…")
        self._runner.run(self._submit, self._submitted, send, cancelled)

    def _remember(self, the_plan: Plan) -> None:
        """Offer this destination again next time (a small JSON write, on the worker)."""
        dest = the_plan.destination
        ident = dest.record or dest.patient_id
        if not ident or not the_plan.profile:
            return
        label = the_plan.patient.label() if the_plan.patient else None
        name = the_plan.profile

        def write() -> None:
            try:
                remember(name, ident, label)
            except OSError as exc:
                log.warning("could not save recent destinations: %s", exc)

        self._runner.run(write, lambda _r, _e: None)

    def confirm(self, the_plan: Plan) -> dict[str, bool] | None:
        """Ask before sending: the answers, or None for Cancel. Replaceable in tests."""
        from uploader_gui.gui.confirm_send import ask_to_send

        parent = self.parent()
        return ask_to_send(parent if isinstance(parent, QWidget) else None, the_plan)

    def _submit(self, jobs: list[Job], cancelled: threading.Event) -> tuple[list[Job], None]:
        """Worker thread: every job into the history, then onto the queue."""
        assert self.dispatcher is not None
        left = len(jobs)
        try:
            for job in jobs:
                try:
                    if cancelled.is_set():  # "Cancel all", or Stop: recorded, never queued
                        self.dispatcher.record_cancelled(job)
                        continue
                    self.dispatcher.submit(job)
                finally:
                    left -= 1
                    with self._count_lock:
                        self._unsubmitted -= 1
                if cancelled.is_set():  # "Cancel all" came while this batch was being queued
                    assert job.id is not None
                    self.dispatcher.cancel(job.id)
        finally:
            with self._count_lock:
                self._unsubmitted -= left  # the rest of a batch that failed part-way
            self._batches.discard(cancelled)
        return jobs, None

    def _submitted(self, outcome: tuple[list[Job], None] | None,
                   error: BaseException | None) -> None:
        if error is not None or outcome is None:
            log.error("could not queue uploads: %r", error)
            self.message.emit(f"The uploads could not be queued: {error}")
            return
        jobs, _ = outcome
        for job in jobs:
            key = self._uid_to_key.get(job.uid)
            if key and job.id is not None:
                self._key_to_job[key] = job.id

    # ------------------------------------------------------------------ queue events

    def _jobs_changed(self, jobs: list[Job]) -> None:
        self.jobsChanged.emit(jobs)
        rows = [(key, _row_state(job), _row_message(job)) for job in jobs
                if (key := self._uid_to_key.get(job.uid)) is not None]
        if rows:
            self.rowStates.emit(rows)
        if self.dispatcher is not None and self.dispatcher.active_count() == 0 and any(
                j.status in FINAL for j in jobs):
            # The batch summary under the progress bar says how each file ended.
            self.message.emit("")

    def _progress_changed(self, progress: dict[int, tuple[int, int]]) -> None:
        by_id = {job_id: key for key, job_id in self._key_to_job.items()}
        out = {}
        for job_id, (sent, total) in progress.items():
            key = by_id.get(job_id)
            if key and total:
                out[key] = sent / total
        if out:
            self.rowProgress.emit(out)

    # ------------------------------------------------------------------ control

    def check_delivery(self) -> None:
        """Ask the Redox Platform API about sent jobs that are due (off the UI thread):
        a delivery proven there turns the job verified, a failed one failed."""
        if self.history is None or self._delivery_busy:
            return
        if not any(p.config.kind == "redox"
                   and (p.config.platform_org_id or p.config.platform_environment_id)
                   for p in self.profiles.values()):
            return
        self._delivery_busy = True
        store = self.history

        def done(updated: list[Job] | None, error: BaseException | None) -> None:
            self._delivery_busy = False
            if error is not None:
                log.info("delivery check failed: %r", error)
            elif updated:
                rows = [(key, _row_state(job), _row_message(job)) for job in updated
                        if (key := self._uid_to_key.get(job.uid)) is not None]
                self.jobsChanged.emit(updated)
                if rows:  # a delivery proven (or failed) shows on its staging row too
                    self.rowStates.emit(rows)

        from uploader_gui.core.delivery import refresh_delivery  # imports Redox's JWT stack

        self._runner.run(lambda: refresh_delivery(store, self._credentials_for), done)

    def cancel_keys(self, keys: list[str]) -> None:
        if self.dispatcher is None:
            return
        for key in keys:
            job_id = self._key_to_job.get(key)
            if job_id is not None:
                self.dispatcher.cancel(job_id)

    def cancel_all(self) -> None:
        for batch in list(self._batches):
            batch.set()
        if self.dispatcher is not None:
            self.dispatcher.cancel_all()

    def pause(self, paused: bool) -> None:
        if self.dispatcher is not None:
            (self.dispatcher.pause if paused else self.dispatcher.resume)()

    def interrupted_jobs(self) -> list[Job]:
        return self.history.jobs(status=INTERRUPTED) if self.history else []

    def resend(self, job_ids: list[int]) -> list[str]:
        """Queue stored jobs again, read and queued on a worker thread.

        Returns the problems known at once; the others come with :attr:`resendProblems`.
        """
        if self.history is None or self.dispatcher is None:
            return ["The history cannot be written, so nothing can be sent."]
        store, dispatcher, profiles = self.history, self.dispatcher, set(self.profiles)

        def work() -> list[str]:
            problems = []
            for job_id in job_ids:
                job = store.get(job_id)
                if job is None:
                    continue
                if job.profile not in profiles:
                    problems.append(f"{job.name}: the profile “{job.profile}” is not set up on "
                                    "this computer, so it cannot be sent again from here.")
                    continue
                job.error = None
                dispatcher.submit(job)
            return problems

        def done(problems: list[str] | None, err: BaseException | None) -> None:
            if err is not None:
                self.message.emit(f"Could not resend: {err}")
            elif problems:
                self.resendProblems.emit(problems)

        self._runner.run(work, done)
        return []

    def shutdown(self) -> None:
        self._delivery_timer.stop()
        if self._background:
            if not self._finishing:  # else the worker still queues batches, then finishes
                self._runner.shutdown()
            return  # the helper goes on; its events are still read until it exits
        self.bridge.stop()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        dispatcher = self.dispatcher
        if dispatcher is not None and self._batches:
            # "Stop and close" while batches are still handed to the helper: each job still
            # goes into the history, cancelled at once, so History keeps every one; then
            # the helper stops (the worker runs these in order, after this window is gone).
            dispatcher.pause()  # nothing more starts
            for batch in list(self._batches):
                batch.set()
            self._runner.run(lambda: dispatcher.shutdown(cancel=True, timeout=3),
                             lambda _r, _e: None)
            self._runner.shutdown(cancel=False)
            return
        self._runner.shutdown()
        if dispatcher is not None:
            dispatcher.shutdown(cancel=True, timeout=3)

    def keep_sending(self) -> bool:
        """The window closes; the helper finishes the queue, records it all and exits, and
        :attr:`backgroundFinished` says so. False if nothing was running."""
        self._delivery_timer.stop()
        if self.dispatcher is None:
            return False
        if self._batches:
            # Batches are still being handed to the helper. The worker runs its tasks in
            # order: it finishes queueing them, then tells the helper to finish and exit.
            self._background = self._finishing = True
            self._runner.run(self.dispatcher.finish_in_background, self._finish_asked)
            return True
        if not self.dispatcher.finish_in_background():
            return False
        self._background = True
        return True

    def _finish_asked(self, running: bool | None, error: BaseException | None) -> None:
        """The worker has queued every batch and asked the helper to finish."""
        self._finishing = False
        self._runner.shutdown()
        if error is not None or not running:  # no helper to wait for: nothing was queued
            if error is not None:
                log.error("could not finish the uploads in the background: %r", error)
            self.backgroundFinished.emit()


def _row_state(job: Job) -> str:
    return {"failed": "failed", "cancelled": "cancelled", "unknown": "unknown",
            "sent": "sent", "verified": "verified", "uploading": "uploading", "queued": "queued",
            "interrupted": "failed"}.get(job.status, "failed")


def _row_message(job: Job) -> str:
    """The row's status, short: its Goes to column already says where (and the tooltip the
    profile), so the words say only what happened."""
    if job.status in ("sent", "verified"):
        if job.status == "verified":
            bits = ["Sent and verified"]
        elif job.error:  # accepted, and why it could not be proven
            return f"Sent, not verified: {job.error}"
        elif job.log_ids:
            bits = ["Sent; accepted, delivery not yet confirmed"]
        else:
            bits = ["Sent; accepted, not verified"]
        if job.remote_id:
            bits.append(f"id {job.remote_id}")
        if job.log_ids:
            bits.append(f"Redox log {', '.join(job.log_ids)}")
        if job.attempts > 1:
            bits.append(f"after {job.attempts} attempts")
        return "; ".join(bits) + "."
    if job.status == "uploading":
        return "Uploading…" + (f" (attempt {job.attempts})" if job.attempts > 1 else "")
    if job.status == "queued":
        return "Waiting to be sent…"
    if job.status == "unknown":
        return (f"Not known whether it arrived: {job.error or ''} Check in the receiving "
                "system before sending it again.")
    return job.error or STATE_LABELS.get(job.status, job.status)
