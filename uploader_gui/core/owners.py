"""Which process owns a job or a claim, and whether that process is still alive.

An owner is ``host:pid:start time``: the start time tells a live process from a
new one that was given a dead one's PID.
"""

from __future__ import annotations

import os


def hostname() -> str:
    """This computer's name, as ``socket.gethostname()`` says it (from ``uname`` where
    there is one: the same call, without loading the socket module at start-up)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def _process_owner() -> str:
    pid = os.getpid()
    return f"{hostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """The process's start time (Linux), so a reused PID is not taken for a live owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


PROCESS_OWNER = _process_owner()


def owner_alive(owner: str | None) -> bool:
    if not owner or owner == PROCESS_OWNER:
        return False if not owner else True
    try:
        host, pid_text, started = owner.split(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != hostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started == "?" or _start_time(pid) == started


def claim_free(holder: str, lease_until: float, owner: str, now: float) -> bool:
    """Whether a claimed file may be taken by ``owner``."""
    if holder == owner or lease_until < now:
        return True
    if holder.split(":", 1)[0] != hostname():
        return False  # another server: only its lease tells whether it is still at work
    return not owner_alive(holder)  # this computer's process: alive or not, we can tell
