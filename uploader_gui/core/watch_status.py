"""The watcher's health, for monitoring: last scan, files waiting, last error.

``uploader-gui watch`` writes it after every scan to a small JSON file (0600,
replaced atomically); ``uploader-gui watch --status`` reads it, so a
monitoring check or a person can tell a working scan server from a stuck one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class WatchHealth:
    folder: str
    profile: str
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    last_scan: float | None = None
    pending: int = 0
    handled: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    last_error_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_status(path: Path, health: WatchHealth) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(health.to_json(), fh)
    os.replace(tmp, path)


def read_status(path: Path) -> WatchHealth | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return WatchHealth(**data)
    except (OSError, ValueError, TypeError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (the service account): it exists
        return True
    return True


def describe(health: WatchHealth | None, stale_after: float, now: float | None = None
             ) -> tuple[bool, str]:
    """(healthy, a sentence) for `watch --status`."""
    now = time.time() if now is None else now
    if health is None:
        return False, "No status yet: the watcher has not run, or cannot write its status file."
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(health.last_scan))
            if health.last_scan else "never")
    done = ", ".join(f"{n} {k}" for k, n in sorted(health.handled.items())) or "nothing yet"
    text = (f"Watching {health.folder} for {health.profile} (process {health.pid}). Last scan: "
            f"{when}; {health.pending} file(s) waiting; handled: {done}.")
    if health.last_error:
        text += f" Last problem: {health.last_error}"
    if not alive(health.pid):
        return False, text + " The watcher is not running."
    if health.last_scan is None or now - health.last_scan > stale_after:
        return False, text + f" No scan for over {int(stale_after)} s: it may be stuck."
    return True, text
