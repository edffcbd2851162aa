"""The History tab's newest page, read by a child process while the window starts.

Opening the history and reading its newest page is Python work (imports, SQL, a few
hundred rows turned into jobs) that would share the window's one interpreter lock with
its start-up. Started first thing, a child interpreter does it on the other core while
the window imports Qt; it sends the page back over a pipe (pickled) and ends. The window
shows that page in its first frame. The child is spawned, not forked: a fork would share
this process's memory copy-on-write, and every page the window's start-up then touches
would be copied (measured: the first paint came later, not sooner).

It is only a preview. The child opens this desk's SQLite history read-only (no marks,
no integrity check, no migration, nothing written); the window still opens the history
as always, and the page read then replaces this one. Whatever goes wrong in the child
(no history yet, a history to migrate or check, a clinic's PostgreSQL, a frozen app)
means no preview, and the window waits for its own opening as before.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uploader_gui.core.history_pages import Page

#: The most the child may send: a page of 300 rows is far below this.
MAX_BYTES = 64 * 1024 * 1024


class PreRead:
    """The child's pid, the reading end of its pipe (non-blocking) and what came so far.
    (Imports here are kept to ``os``: this module is loaded before anything else.)"""

    __slots__ = ("data", "fd", "pid")

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.data = pid, fd, bytearray()


_started: PreRead | None = None


def start() -> None:
    """Start the child that reads the newest page (once; not for a clinic's database)."""
    global _started
    if (_started is not None or os.environ.get("UPLOADER_GUI_DATABASE")
            or not hasattr(os, "posix_spawn") or getattr(sys, "frozen", False)):
        return
    reader, writer = os.pipe()
    # Without site (-S: no .pth files run, ~30 ms sooner), on this process's own path, with
    # this package's folder first (an editable install finds it through a .pth hook).
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, sys.path)])}
    try:  # a new interpreter, not a fork: this process's memory is not shared copy-on-write
        pid = os.posix_spawn(sys.executable, [sys.executable, "-S", "-c", _CHILD], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, writer, 1)])
    except OSError:
        os.close(reader)
        return
    finally:
        os.close(writer)
    os.set_blocking(reader, False)
    _started = PreRead(pid, reader)


#: The child: the page on its standard output (the pipe), then the end.
_CHILD = "from uploader_gui.core.history_preread import child; child()"


def child() -> None:
    try:
        data = _read()
    except Exception:  # noqa: BLE001 - nothing sent: the window reads both itself
        data = b""
    _send(1, data)
    os._exit(0)  # nothing to tear down: the page is sent


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
    import signal

    try:
        os.kill(pre.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finish(pre)


def result(pre: PreRead) -> tuple[Page | None, dict[str, Any] | None]:
    """What the child sent: the newest page and the window's remembered state (sizes), or
    None for each it could not read (then the window reads them as it always does)."""
    if not pre.data:
        return None, None
    try:  # the C unpickler alone: the pickle module around it is not needed to read
        from _pickle import loads
    except ImportError:  # another Python than CPython
        from pickle import loads
    try:
        found = loads(bytes(pre.data))  # noqa: S301 - our own child's, over our pipe
    except Exception:  # noqa: BLE001 - a preview only: the window's own opening follows
        return None, None
    from uploader_gui.core.history_pages import Page

    if not isinstance(found, tuple) or len(found) != 2:
        return None, None
    page, state = found
    return (page if isinstance(page, Page) else None,
            state if isinstance(state, dict) else None)


def _read() -> bytes:
    import pickle

    from uploader_gui.core.recent import load_window_state

    state: dict[str, Any] | None = load_window_state()  # never raises: {} when unreadable
    return pickle.dumps((_page(), state), protocol=pickle.HIGHEST_PROTOCOL)


def _page() -> Page | None:
    try:
        from uploader_gui.core.history import HistoryStore
        from uploader_gui.core.history_pages import HistoryQuery
        from uploader_gui.core.history_store import shared

        if shared():  # the clinic's history: the window opens it itself
            return None
        store = HistoryStore(read_only=True)
        try:
            return store.page(HistoryQuery(), total=True)
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - no preview; the window opens the history as always
        return None


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)
