"""Whether this process may fork a helper (rather than spawn one)."""

from __future__ import annotations

import os
import sys
import threading


def fork_is_safe() -> bool:
    """Whether a helper may be forked from this process rather than spawned.

    Only on Linux (macOS's system libraries do not survive a fork), and only while
    this process has a single thread, counting those of C libraries (Qt's, a keyring
    backend's): a fork copies no other thread, so a lock one of them held would stay
    locked in the helper forever.
    """
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False
