"""Whether Redox actually delivered: polling the Platform API for sent jobs' logs.

A 200 from Redox only means "accepted". For each sent Redox job with log IDs,
the Platform API tells the latest attempt's status per destination. Polling is
bounded (only jobs younger than :data:`MAX_AGE`), backs off as a job ages, and
does nothing for profiles without Platform API settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SENT, Job
from uploader_gui.core.outcome import UploadError
from uploader_gui.core.targets import Credentials, Target, make_target
from uploader_gui.core.targets.redox import RedoxTarget

log = logging.getLogger(__name__)

MAX_AGE = 3 * 24 * 3600  # stop asking about jobs older than three days
FINAL_DELIVERY = frozenset({"succeeded", "failed", "filtered"})


def combined(statuses: list[str]) -> str:
    """One word for several destinations: any failure wins, then pending, filtered, succeeded."""
    for word in ("failed", "pending", "filtered"):
        if word in statuses:
            return word
    return "succeeded" if statuses else "pending"


def due(job: Job, now: float, force: bool = False) -> bool:
    if job.target != "redox" or job.status != SENT or not job.log_ids:
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
            if not isinstance(target, RedoxTarget) or not target.platform_configured:
                continue
            try:
                statuses = [target.delivery_status(log_id) for log_id in job.log_ids]
            except UploadError as err:
                log.info("delivery status of job %s not available: %s", job.id, err.message)
                job.delivery_checked = now
                history.update_job(job)
                continue
            job.delivery = combined(statuses)
            job.delivery_checked = now
            history.update_job(job)
            updated.append(job)
    finally:
        for target in targets.values():
            target.close()
    return updated
