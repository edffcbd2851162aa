"""Injected failures: the sandbox's way of showing clients a bad network or a bad day.

A fault matches requests by method and a regular expression searched in the path (no
query string), fires for the next ``times`` matching requests, then disappears. The
``/_sandbox/...`` control routes are never faulted.

``action``:
    None                answer ``status`` (after draining the body and sleeping ``delay``);
                        with no status, just wait ``delay`` and then answer normally.
    "reset_before_body" close the connection (RST) right after the headers.
    "reset_mid_body"    read about half the body, then close abruptly (SO_LINGER 0: RST).
    "reset_after_body"  read the whole body, then close without answering.
    "hang"              read the whole body, sleep ``delay``, then answer ``status`` if
                        given, else handle the request normally (client read timeouts).
    "trickle"           read the whole body, then send the answer (``status``, default 200)
                        one byte every ``delay`` seconds, status line and headers included:
                        no read timeout ever fires (a client needs an overall deadline).
    "echo_credentials"  read the whole body and answer ``status`` (default 401) with an
                        error that repeats the credentials the request carried (API key
                        header, bearer token, REDCap ``token``, Redox ``apiKey``/``secret``),
                        raw, URL-encoded and base64: "Invalid credentials: <the key>".
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIONS = (None, "reset_before_body", "reset_mid_body", "reset_after_body", "hang", "trickle",
           "echo_credentials")


@dataclass
class Fault:
    pattern: re.Pattern[str]
    method: str  # upper case, or "*" for any
    times: int
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: str | None = None
    action: str | None = None
    delay: float = 0.0


def make_fault(
    path_regex: str,
    *,
    method: str | None = "POST",
    times: int = 1,
    status: int | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    retry_after: float | int | str | None = None,
    action: str | None = None,
    delay: float = 0.0,
) -> Fault:
    """Validate ``add_fault`` arguments; ValueError names the bad one."""
    try:
        pattern = re.compile(path_regex)
    except (re.error, TypeError) as exc:
        raise ValueError(f"path_regex is not a valid regular expression: {exc}") from exc
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("times must be a positive integer")
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
    ):
        raise ValueError("status must be an HTTP status code (100-599)")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise ValueError("delay must be a non-negative number of seconds")
    if action is None and status is None and not delay:
        raise ValueError("a fault needs a status, an action or a delay")
    if action == "trickle" and not delay:
        raise ValueError("a trickle fault needs a delay (seconds between bytes)")
    if headers is not None and not (
        isinstance(headers, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ValueError("headers must map strings to strings")
    text_retry = None
    if retry_after is not None:
        text_retry = str(int(retry_after)) if isinstance(retry_after, int | float) else str(retry_after)
    return Fault(
        pattern=pattern,
        method=(method or "*").upper(),
        times=times,
        status=status,
        body=body,
        headers=dict(headers or {}),
        retry_after=text_retry,
        action=action,
        delay=float(delay),
    )


class FaultBook:
    """The pending faults, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted as fired once."""
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> int:
        with self._lock:
            return len(self._faults)
