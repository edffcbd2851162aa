"""Why the upload history could not be used, told apart and said in plain words.

Only real corruption (an integrity check that fails on a file that could be read)
justifies moving the history aside. A file that is locked or busy (a backup tool,
another copy of the app), on a full disk, read-only or not permitted is left exactly
as it is, and the user is told which of these it is and what to do.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

CORRUPT = "corrupt"
LOCKED = "locked"
DISK_FULL = "disk_full"
READ_ONLY = "read_only"
PERMISSION = "permission"
NEWER = "newer"
OTHER = "other"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_KINDS = {
    3: PERMISSION,  # SQLITE_PERM
    5: LOCKED,  # SQLITE_BUSY
    6: LOCKED,  # SQLITE_LOCKED
    8: READ_ONLY,  # SQLITE_READONLY
    11: CORRUPT,  # SQLITE_CORRUPT
    13: DISK_FULL,  # SQLITE_FULL
    23: PERMISSION,  # SQLITE_AUTH
    26: CORRUPT,  # SQLITE_NOTADB
}
_ERRNO_KINDS = {
    errno.ENOSPC: DISK_FULL,
    getattr(errno, "EDQUOT", errno.ENOSPC): DISK_FULL,
    errno.EACCES: PERMISSION,
    errno.EPERM: PERMISSION,
    errno.EROFS: READ_ONLY,
    errno.EBUSY: LOCKED,
}


class HistoryError(Exception):
    """A problem with the history the user can act on, in words; ``kind`` says which."""

    def __init__(self, message: str, kind: str = OTHER, path: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.path = path

    def __str__(self) -> str:
        return self.message

    @property
    def disk_full(self) -> bool:
        return self.kind == DISK_FULL


def classify(exc: BaseException) -> str:
    """Which kind of problem an sqlite3 or OS error is."""
    if isinstance(exc, HistoryError):
        return exc.kind
    if isinstance(exc, OSError):
        return _ERRNO_KINDS.get(exc.errno or 0, OTHER)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in _SQLITE_KINDS:
            return _SQLITE_KINDS[code & 0xFF]
        text = str(exc).lower()
        if "full" in text:
            return DISK_FULL
        if "locked" in text or "busy" in text:
            return LOCKED
        if "readonly" in text or "read-only" in text:
            return READ_ONLY
        if "malformed" in text or "not a database" in text:
            return CORRUPT
    return OTHER


def explain(kind: str, path: Path, exc: BaseException | None = None) -> str:
    """What is wrong with the history at ``path`` and what to do, in full sentences."""
    if kind == DISK_FULL:
        return (f"The disk is full: the upload history ({path.parent}) cannot be written. "
                "Free some space and try again. Nothing is sent that cannot be recorded, and "
                "the earlier history is kept as it is.")
    if kind == LOCKED:
        return (f"The upload history ({path}) is locked by another program (a backup tool or "
                "another copy of this app). Wait a moment or close that program, then try "
                "again. The history was left as it is.")
    if kind == READ_ONLY:
        return (f"The upload history ({path}) is on a read-only disk or folder, so nothing can "
                "be recorded. Nothing will be sent until it can be written. Make the folder "
                "writable and try again.")
    if kind == PERMISSION:
        return (f"This account is not allowed to use the upload history ({path}). Check the "
                "permissions of that file and its folder (they should belong to you), then try "
                "again. The history was left as it is.")
    if kind == CORRUPT:
        return f"The upload history ({path}) is damaged."
    detail = f" ({_short(exc)})" if exc is not None else ""
    return (f"The upload history ({path}) could not be used{detail}. The file was left as it "
            "is. Try again; if this goes on, ask IT to look at the disk.")


def moved_aside_message(path: Path, aside: Path) -> str:
    return (f"The upload history at {path} was damaged, so it was moved to {aside} and a new, "
            "empty history was started. The old file is kept there for IT to look at.")


def _short(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
