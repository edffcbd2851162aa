"""The History tab's newest page, read by a forked child while the window starts.

Opening the history and reading its newest page is Python work (imports, SQL, a few
hundred rows turned into jobs) that would share the window's one interpreter lock with
its start-up. Started first thing, while the process has one thread, a forked child
does it on the other core as the window imports Qt; it sends the page back over a pipe
(pickled) and ends. The window shows that page in its first frame.

It is only a preview. The child opens this desk's SQLite history read-only (no marks,
no integrity check, no migration, nothing written); the window still opens the history
as always, and the page read then replaces this one. Whatever goes wrong in the child
(no history yet, a history to migrate or check, a clinic's PostgreSQL, no fork here)
means no preview, and the window waits for its own opening as before.
"""

from __future__ import annotations

import os
import pickle
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from uploader_gui.core.forking import fork_is_safe

if TYPE_CHECKING:
    from uploader_gui.core.history_pages import Page

#: The most the child may send: a page of 300 rows is far below this.
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class PreRead:
    """The child's pid and the reading end of its pipe (non-blocking)."""

    pid: int
    fd: int
    data: bytearray


_started: PreRead | None = None


def start() -> None:
    """Fork the child that reads the newest page (once; only while that is safe)."""
    global _started
    if _started is not None or not fork_is_safe() or os.environ.get("UPLOADER_GUI_DATABASE"):
        return
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, send, end (never the parent's exit handlers)
        try:
            os.close(reader)
            _send(writer, _read())
        finally:
            os._exit(0)
    os.close(writer)
    os.set_blocking(reader, False)
    _started = PreRead(pid, reader, bytearray())


def take() -> PreRead | None:
    """The child started for this window, once (None: there is none)."""
    global _started
    started, _started = _started, None
    return started


def read_some(pre: PreRead) -> bool:
    """Read what the pipe holds now, without waiting; True once the child is done."""
    while True:
        try:
            chunk = os.read(pre.fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk or len(pre.data) + len(chunk) > MAX_BYTES:
            finish(pre)
            return True
        pre.data += chunk


def finish(pre: PreRead) -> None:
    """Close the pipe and collect the child (it has ended or ends now)."""
    if pre.fd >= 0:
        os.close(pre.fd)
        pre.fd = -1
    try:
        os.waitpid(pre.pid, 0)
    except ChildProcessError:
        pass


def abandon(pre: PreRead) -> None:
    """No longer wanted (the window was built or closed first): end the child now."""
    try:
        os.kill(pre.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finish(pre)


def page(pre: PreRead) -> Page | None:
    """The page the child sent, or None if it sent none."""
    if not pre.data:
        return None
    try:
        found = pickle.loads(bytes(pre.data))  # noqa: S301 - our own child's, over our pipe
    except Exception:  # noqa: BLE001 - a preview only: the window's own opening follows
        return None
    from uploader_gui.core.history_pages import Page

    return found if isinstance(found, Page) else None


def _read() -> bytes:
    try:
        from uploader_gui.core.history import HistoryStore
        from uploader_gui.core.history_pages import HistoryQuery
        from uploader_gui.core.history_store import shared

        if shared():  # the clinic's history: the window opens it itself
            return b""
        store = HistoryStore(read_only=True)
        try:
            return pickle.dumps(store.page(HistoryQuery(), total=True),
                                protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - no preview; the window opens the history as always
        return b""


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)
