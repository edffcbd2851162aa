"""Whether the history was left by a clean exit: the integrity check only runs when not.

``PRAGMA quick_check`` reads the whole file (a second or more for a large history at
start-up). Damage comes from a process that stopped in the middle of its work (a crash,
a kill, a power cut), so each process that opens the history for writing leaves a mark
beside it (``history.sqlite3.running-<pid>-<n>``, 0600, naming the process) and removes
it when it closes the history. A mark whose process is gone means that process did
not exit cleanly: the next start checks the file, then clears the mark.

One mark per open store, not one per folder: the window, a scripted ``send`` and a
watcher may use the history at the same moment, and one of them ending cleanly says
nothing about the others. A process that exits normally with a store still open (the
window closed while its history was being opened on a worker) removes its marks at exit;
only a crash, a kill or a power cut leaves one behind.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
from pathlib import Path

from uploader_gui.core.owners import PROCESS_OWNER, owner_alive

log = logging.getLogger(__name__)

_numbers = itertools.count(1)
_ours: set[Path] = set()  # this process's marks, removed at a normal exit if still there
_at_exit: list[bool] = []  # whether that is arranged already


def _marks(path: Path) -> list[Path]:
    """The marks beside ``path`` (a listing of the folder; no glob pattern to compile)."""
    prefix = f"{path.name}.running-"
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return sorted(path.parent / name for name in names if name.startswith(prefix))


def left_behind(path: Path) -> list[Path]:
    """Marks of processes that are gone without closing the history (unclean exits)."""
    stale = []
    for mark in _marks(path):
        try:
            owner = mark.read_text(encoding="utf-8").strip()
        except OSError:
            owner = ""  # unreadable: taken for an unclean exit (checking costs only time)
        if not owner_alive(owner):
            stale.append(mark)
    return stale


def mark_running(path: Path) -> Path | None:
    """This store has the history open: the mark a clean close removes (None if it
    cannot be written: a read-only folder is reported by the history itself)."""
    mark = path.with_name(f"{path.name}.running-{os.getpid()}-{next(_numbers)}")
    try:
        fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(PROCESS_OWNER)
    except OSError as exc:
        log.warning("history: the mark %s cannot be written (%s)", mark, exc)
        return None
    if not _at_exit:
        atexit.register(_clear_ours)
        _at_exit.append(True)
    _ours.add(mark)
    return mark


def _clear_ours() -> None:
    clear(list(_ours))


def clear(marks: list[Path]) -> None:
    for mark in marks:
        _ours.discard(mark)
        try:
            mark.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("history: the mark %s cannot be removed (%s)", mark, exc)
