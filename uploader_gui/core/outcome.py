"""What an upload attempt comes to: errors, receipts, and the cancel token.

Kept apart from the HTTP machinery (``transport.py``) so that the job model,
the history and the window can use these without importing ``requests``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from uploader_gui.core.logging_setup import scrub_secrets

if TYPE_CHECKING:
    import requests

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]

# The kinds an upload error can have. Each target decides which are retried.
AUTH = "auth"
NOT_FOUND = "not_found"
TOO_LARGE = "too_large"
REJECTED = "rejected"
SERVER = "server"
RATE_LIMITED = "rate_limited"
NETWORK = "network"
OUTCOME_UNKNOWN = "outcome_unknown"
CANCELLED = "cancelled"
TLS = "tls"
PROXY = "proxy"
CONFIG = "config"



class UploadError(Exception):
    """A failed request, typed, carrying the server's own message and never a secret.

    Every configured secret (raw, URL-encoded or base64) is scrubbed from the message
    and the server's text here, once for all targets: a server that echoes the key
    ("Invalid credentials: <the key>") cannot put it on screen, in the history or the log.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        http_status: int | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
        body_sent: bool = False,
        reached_server: bool = True,
    ) -> None:
        message = scrub_secrets(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.http_status = http_status
        self.server_message = scrub_secrets(server_message) if server_message else server_message
        self.retry_after = retry_after
        #: The whole request body went out (matters for Claros: a retry may duplicate).
        self.body_sent = body_sent
        #: False when nothing reached the server (DNS, refused, connect timeout).
        self.reached_server = reached_server

    def __str__(self) -> str:
        return self.message


class UploadCancelled(UploadError):
    def __init__(self) -> None:
        super().__init__(CANCELLED, "The upload was cancelled.", reached_server=False)



@dataclass
class Receipt:
    """What the receiving system said when it accepted a document."""

    target: str
    remote_id: str | None = None
    url: str | None = None
    log_ids: list[str] = field(default_factory=list)
    http_status: int | None = None
    server_message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server_message = scrub_secrets(self.server_message)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "remote_id": self.remote_id,
            "url": self.url,
            "log_ids": list(self.log_ids),
            "http_status": self.http_status,
            "server_message": self.server_message,
            **({"extra": self.extra} if self.extra else {}),
        }



# --------------------------------------------------------------------------- helpers


def wait_hint(headers: Any) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After``, else the ``X-RateLimit-*``
    headers of a 429 (``X-RateLimit-Reset`` as seconds from now, or as a Unix time; or
    ``X-RateLimit-Retry-After``)."""
    if headers is None:
        return None
    wait = retry_after_seconds(headers.get("Retry-After"))
    if wait is not None:
        return wait
    for name in ("X-RateLimit-Retry-After", "X-RateLimit-Reset", "X-RateLimit-Reset-After"):
        value = (headers.get(name) or "").strip()
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            parsed = retry_after_seconds(value)  # an HTTP date
            if parsed is not None:
                return parsed
            continue
        if number > 10**9:  # a Unix time, not a delay
            number -= time.time()
        return max(0.0, number)
    return None


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime  # rare: a Retry-After date

        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None



# --------------------------------------------------------------------------- cancel


class CancelToken:
    """Cancels one upload from any thread, within a fraction of a second.

    Calling the token answers "cancelled?" (it is a ``CancelFn``). :meth:`cancel`
    also shuts down the socket of the request in flight, so a send blocked on a
    slow server or a wait for its answer ends at once, without waiting for the
    server or a timeout.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[Any] = set()

    def __call__(self) -> bool:
        return self._event.is_set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)

    def bind(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)
        if self._event.is_set():
            _shutdown(conn)

    def unbind(self, conn: Any) -> None:
        with self._lock:
            self._conns.discard(conn)


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    import socket  # loaded by the HTTP stack anyway, by the time a request is in flight

    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass



def server_text(resp: requests.Response, limit: int = 2000) -> str:
    """The response body as text, cut to a sane length, for the details pane; no secret in it."""
    try:
        text = resp.text
    except (UnicodeDecodeError, LookupError):
        text = repr(resp.content[:limit])
    return scrub_secrets(text)[:limit]
