"""Send one document with the retry rules of TARGETS.md.

Capped exponential backoff with full jitter, ``sleep = random(0, min(cap,
base * 2**n))``; Retry-After honoured up to a cap; a retry only where the
target says it is safe; every attempt a fresh request with a fresh encoder.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uploader_gui.core.outcome import CANCELLED, CancelFn, ProgressFn, Receipt, UploadError
from uploader_gui.core.targets.base import Destination, Document, Target

log = logging.getLogger(__name__)

SENT, FAILED, UNKNOWN, CANCELLED_STATE = "sent", "failed", "unknown", "cancelled"


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 1.0
    cap: float = 30.0
    max_attempts: int = 5
    retry_after_cap: float = 120.0

    def delay(self, failures: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.retry_after_cap)
        upper = min(self.cap, self.base * (2 ** max(0, failures - 1)))
        return (rng or random).uniform(0, upper)


@dataclass
class Attempt:
    number: int
    started: float
    ended: float | None = None
    bytes_sent: int = 0
    http_status: int | None = None
    error: str | None = None
    decision: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Delivery:
    status: str
    receipt: Receipt | None = None
    error: UploadError | None = None
    attempts: list[Attempt] = field(default_factory=list)


def wait(seconds: float, cancelled: CancelFn | None, event: threading.Event | None = None) -> bool:
    """Sleep up to ``seconds``, waking early on cancel. Returns False when cancelled."""
    end = time.monotonic() + seconds
    while True:
        if cancelled is not None and cancelled():
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        if event is not None:
            if event.wait(min(left, 0.1)):
                return False
        else:
            time.sleep(min(left, 0.1))


def deliver(
    target: Target,
    document: Document,
    destination: Destination,
    policy: RetryPolicy | None = None,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    sleep: Callable[[float, CancelFn | None], bool] = wait,
) -> Delivery:
    policy = policy or RetryPolicy()
    attempts: list[Attempt] = []
    last: UploadError | None = None
    for number in range(1, policy.max_attempts + 1):
        attempt = Attempt(number=number, started=time.time())
        attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)

        def track(sent: int, total: int, _a: Attempt = attempt) -> None:
            _a.bytes_sent = sent
            if progress:
                progress(sent, total)

        try:
            receipt = target.upload(document, destination, progress=track, cancelled=cancelled)
        except UploadError as err:
            last = err
            attempt.ended = time.time()
            attempt.http_status = err.http_status
            attempt.error = err.message
            if err.kind == CANCELLED:
                attempt.decision = "cancelled"
                if on_attempt:
                    on_attempt(attempt)
                return Delivery(CANCELLED_STATE, error=err, attempts=attempts)
            decision = target.retry_decision(err)
            attempt.decision = decision
            if on_attempt:
                on_attempt(attempt)
            log.info("%s attempt %d failed (%s, HTTP %s): %s", target.kind, number, err.kind,
                     err.http_status, decision)
            if decision == "unknown":
                return Delivery(UNKNOWN, error=err, attempts=attempts)
            if decision != "retry" or number == policy.max_attempts:
                return Delivery(FAILED, error=err, attempts=attempts)
            if not sleep(policy.delay(number, err.retry_after), cancelled):
                return Delivery(CANCELLED_STATE, error=err, attempts=attempts)
            continue
        attempt.ended = time.time()
        attempt.http_status = receipt.http_status
        attempt.decision = "sent"
        if on_attempt:
            on_attempt(attempt)
        return Delivery(SENT, receipt=receipt, attempts=attempts)
    return Delivery(FAILED, error=last, attempts=attempts)  # pragma: no cover - loop returns
