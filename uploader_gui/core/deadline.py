"""An overall time limit for one HTTP request, carried out by closing its socket.

Qt-free and independent of ``requests``: the transport binds each connection a
request uses to the thread's current :class:`Deadline`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from uploader_gui.core.outcome import _shutdown

_active = threading.local()


def current() -> Deadline | None:
    """The deadline of the request this thread is making, if any."""
    return getattr(_active, "deadline", None)


class Deadline:
    """Ends a request at a fixed time, whatever the server does, by closing its socket.

    Timeouts only bound the wait for *each* byte; a server (or a proxy) that sends one
    byte every few seconds never trips them. The deadline is the whole request's limit.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._conns: set[Any] = set()
        self._timer: threading.Timer | None = None
        self._closed = False
        self.expired = False
        self.expires = 0.0
        self.extend(seconds)

    def extend(self, seconds: float) -> None:
        """From now, ``seconds`` more (e.g. once the body has gone: the response limit)."""
        with self._lock:
            if self._closed or self.expired:
                return
            self.expires = time.monotonic() + seconds
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(max(0.0, seconds), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._closed or time.monotonic() < self.expires - 0.05:
                return
            self.expired = True
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)

    def bind(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)
            expired = self.expired
        if expired:
            _shutdown(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conns.clear()
            if self._timer is not None:
                self._timer.cancel()


@contextmanager
def deadline_for(seconds: float) -> Iterator[Deadline]:
    """This thread's requests inside the block end at most ``seconds`` from now."""
    deadline = Deadline(seconds)
    _active.deadline = deadline
    try:
        yield deadline
    finally:
        _active.deadline = None
        deadline.close()
