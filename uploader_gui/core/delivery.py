"""Whether a sent document was delivered: polling the targets' delivery logs.

A 200 from Redox only means "accepted". For each sent job with log IDs whose
target reports delivery status (:data:`DELIVERY_STATUS`: Redox with Platform API
settings), the latest attempt's status per destination decides: ``succeeded``
everywhere makes the job *verified* (proof ``redox-logs-succeeded``); ``failed`` or
``filtered`` anywhere makes it *failed*, in Redox's words, naming the destination;
otherwise it stays *sent* and is asked about again later. Polling is bounded
(only jobs younger than :data:`MAX_AGE`) and backs off as a job ages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import FAILED, SENT, VERIFIED, Job
from uploader_gui.core.outcome import UploadError
from uploader_gui.core.targets import Credentials, Target, make_target
from uploader_gui.core.targets.base import DELIVERY_STATUS, LogStatus, Verification

log = logging.getLogger(__name__)

MAX_AGE = 3 * 24 * 3600  # stop asking about jobs older than three days
FINAL_DELIVERY = frozenset({"succeeded", "failed", "filtered"})


def combined(statuses: list[str]) -> str:
    """One word for several destinations: any failure wins, then pending, filtered, succeeded."""
    for word in ("failed", "pending", "filtered"):
        if word in statuses:
            return word
    return "succeeded" if statuses else "pending"


def verdict(statuses: list[LogStatus]) -> Verification:
    """What the logs of every destination prove together."""
    for bad in ("failed", "filtered"):
        for s in statuses:
            if s.status == bad:
                where = f" to {s.destination}" if s.destination else ""
                lead = (f"Redox could not deliver the document{where}" if bad == "failed" else
                        f"Redox filtered the document out{where}; it was not delivered")
                words = f". Redox said: {s.message}" if s.message else ""
                return Verification(False, proof=f"redox-logs-{bad}",
                                    message=f"{lead}{words}. Check the destination's settings "
                                    "with your Redox contact before sending it again.")
    if statuses and all(s.status == "succeeded" for s in statuses):
        where = ", ".join(s.destination for s in statuses if s.destination)
        return Verification(True, proof="redox-logs-succeeded",
                            message="Redox delivered it" + (f" to {where}." if where else "."))
    return Verification(None, pending=True,
                        message="Redox accepted it and is still delivering it.")


def due(job: Job, now: float, force: bool = False) -> bool:
    if job.status != SENT or not job.log_ids:
        return False
    if job.delivery in FINAL_DELIVERY:
        return False
    if force:
        return True
    if now - job.created > MAX_AGE:
        return False
    if job.delivery_checked is None:
        return True
    age = now - (job.finished or job.created)
    interval = min(600.0, max(5.0, age / 4))  # 5 s at first, up to 10 min
    return now - job.delivery_checked >= interval


def refresh_delivery(
    history: HistoryStore,
    credentials_for: Callable[[Job], Credentials],
    *,
    force: bool = False,
    jobs: list[Job] | None = None,
) -> list[Job]:
    """Ask the Platform API about due jobs; save and return the ones asked about."""
    now = time.time()
    candidates = [j for j in (jobs if jobs is not None else history.jobs(status=SENT))
                  if due(j, now, force)]
    targets: dict[str, Target] = {}
    updated: list[Job] = []
    try:
        for job in candidates:
            key = job.profile or job.target_config.base_url
            target = targets.get(key)
            if target is None:
                target = make_target(job.target_config, credentials_for(job))
                targets[key] = target
            if not target.supports(DELIVERY_STATUS):
                continue
            try:
                statuses = [target.delivery_status(log_id, job.finished or job.created)
                            for log_id in job.log_ids]
            except UploadError as err:
                log.info("delivery status of job %s not available: %s", job.id, err.message)
                job.delivery_checked = now
                history.update_job(job)
                continue
            apply_verdict(history, job, statuses, now)
            updated.append(job)
    finally:
        for target in targets.values():
            target.close()
    return updated


def apply_verdict(history: HistoryStore, job: Job, statuses: list[LogStatus], now: float) -> None:
    """Record what the delivery logs say, moving the job to verified or failed when final."""
    job.delivery = combined([s.status for s in statuses])
    job.delivery_checked = now
    result = verdict(statuses)
    if result.verified is True:
        job.verified, job.proof = True, result.proof
        history.update_job(job, new_status=VERIFIED)
    elif result.verified is False:
        job.verified, job.proof, job.error = False, result.proof, result.message
        history.update_job(job, new_status=FAILED)
    else:
        history.update_job(job)


def wait_for_delivery(
    history: HistoryStore,
    credentials_for: Callable[[Job], Credentials],
    job_ids: list[int],
    timeout: float,
    *,
    interval: float = 2.0,
    stop: Callable[[float], bool] | None = None,
) -> list[Job]:
    """Ask about these sent jobs until each is verified or failed, or ``timeout`` passes.

    ``stop(seconds)`` waits between rounds and returns True to give up early (default:
    ``time.sleep``). Returns the jobs as recorded at the end.
    """
    deadline = time.monotonic() + timeout
    while True:
        jobs = [j for j in (history.get(i) for i in job_ids) if j is not None]
        waiting = [j for j in jobs if j.status == SENT]
        if not waiting or time.monotonic() >= deadline:
            return jobs
        refresh_delivery(history, credentials_for, force=True, jobs=waiting)
        if all((j.status != SENT) for j in waiting):
            continue
        pause = max(0.0, min(interval, deadline - time.monotonic()))
        if stop is not None:
            if stop(pause):
                return [j for j in (history.get(i) for i in job_ids) if j is not None]
        else:
            time.sleep(pause)
