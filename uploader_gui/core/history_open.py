"""Opening the history file: safely under concurrent starts, and never destroying it by mistake.

* The file is created 0600 (``O_CREAT`` without ``O_EXCL``: two copies creating it at
  once both succeed).
* The integrity check runs only on a file that could be opened and read. A lock, a
  full disk, a read-only folder or a permission problem is raised as a
  :class:`~uploader_gui.core.history_errors.HistoryError` of that kind and the file is
  left alone; only a failed ``quick_check`` (or SQLite saying "not a database" /
  "malformed") moves it aside.
* Each migration runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the
  schema version inside it, so copies started at the same moment on an empty folder
  take turns and never apply a step twice ("table jobs already exists").
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from uploader_gui.core.history_errors import (
    CORRUPT,
    DISK_FULL,
    LOCKED,
    NEWER,
    OTHER,
    PERMISSION,
    READ_ONLY,
    HistoryError,
    classify,
    explain,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
#: Below this much free space an unexplained I/O error is taken for a full disk.
LOW_SPACE = 1024 * 1024
_SQLITE_IOERR, _SQLITE_CANTOPEN = 10, 14


def history_error(exc: BaseException, path: Path) -> HistoryError:
    """The error in words, with I/O and can't-open errors looked at more closely."""
    if isinstance(exc, HistoryError):
        return exc
    kind = classify(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if kind == OTHER and code == _SQLITE_IOERR and _low_space(path.parent):
        kind = DISK_FULL
    elif kind in (OTHER, PERMISSION) and _read_only_disk(path.parent):
        kind = READ_ONLY
    elif kind == OTHER and code == _SQLITE_CANTOPEN:
        folder = path.parent
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            kind = PERMISSION
        elif _low_space(folder):
            kind = DISK_FULL
    return HistoryError(explain(kind, path, exc), kind, path)


def _read_only_disk(folder: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)
    if statvfs is None:
        return False
    try:
        return bool(statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1))
    except OSError:
        return False


def has_room(folder: Path) -> bool:
    """Is there (again) a little room to write the history in ``folder``?"""
    return not _low_space(folder)


def _low_space(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < LOW_SPACE
    except OSError:
        return False


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def connect(path: Path, *, read_only: bool = False, immutable: bool = False
            ) -> sqlite3.Connection:
    if read_only:
        target: str | Path = path.resolve().as_uri() + ("?immutable=1" if immutable
                                                        else "?mode=ro")
    else:
        target = path
    conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                           isolation_level=None, uri=read_only)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # SQLite's own LOWER() knows only ASCII: a search for "josé" must find "JOSÉ" too.
    conn.create_function("LOWER", 1, _lower, deterministic=True)
    if not read_only:
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def create_private(path: Path) -> None:
    """Create the folder (0700) and the file (0600) if missing; raise HistoryError in words."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as exc:
        raise history_error(exc, path) from None


def check_integrity(path: Path) -> str | None:
    """None when the file is sound; the problem's text when it is really corrupt.

    Raises HistoryError for anything that is not corruption (locked, full, read-only,
    not permitted): such a file must never be moved aside.
    """
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise history_error(exc, path) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        if classify(exc) != CORRUPT:
            raise history_error(exc, path) from None
        return str(exc)
    finally:
        conn.close()
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:3])
    return None


def move_aside(path: Path, problem: str) -> Path:
    """Move a really corrupt history (and its -wal/-shm) aside; start an empty one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.stem}.corrupt-{stamp}{path.suffix}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.stem}.corrupt-{stamp}-{n}{path.suffix}")
        n += 1
    log.error("history database %s failed its check (%s); moving it to %s", path, problem, aside)
    try:
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                os.replace(side, Path(str(aside) + suffix))
    except OSError as exc:
        raise history_error(exc, path) from None
    create_private(path)
    return aside


def set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode; another copy switching it at the same moment is waited for, not an error."""
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            return
        except sqlite3.OperationalError as exc:
            if classify(exc) != LOCKED or attempt == 49:
                raise
            time.sleep(0.1)


def migrate(conn: sqlite3.Connection, path: Path,
            migrations: list[tuple[int, str]]) -> Path | None:
    """Bring the schema up to date; the path of the backup made first (None if none was needed)."""
    latest = migrations[-1][0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest:
        raise HistoryError(
            f"The upload history at {path} was written by a newer version of this app. "
            "Update the app, or move that file away to start a new history.", NEWER, path)
    if not any(n > version for n, _ in migrations):
        return None
    backup = _backup(conn, path, version) if version > 0 else None
    for number, sql in migrations:
        if number <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another copy may have run this step meanwhile.
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current < number:
                for statement in filter(None, (s.strip() for s in sql.split(";"))):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if current < number:
            log.info("history database migrated to version %d", number)
    return backup


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """A consistent copy (SQLite's backup API, 0600) before the schema changes."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.stem}.v{version}-{stamp}-{os.getpid()}.bak")
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    dest = sqlite3.connect(backup)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    os.chmod(backup, 0o600)
    return backup


def open_writer(path: Path, migrations: list[tuple[int, str]], *, check: bool = True
                ) -> tuple[sqlite3.Connection, Path | None, Path | None]:
    """The writer connection, where a corrupt file went (or None), and the migration backup.

    ``check=False`` (the last session ended cleanly) skips ``quick_check``; a file SQLite
    still finds damaged on opening is then checked, and moved aside, all the same.
    """
    create_private(path)
    recovered: Path | None = None
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise history_error(exc, path) from None
    if size > 0 and check:
        recovered = _check(path)
    try:
        conn, backup = _open_checked(path, migrations)
    except HistoryError as err:
        if check or err.kind != CORRUPT:
            raise
        log.warning("history %s: damaged although the last session ended cleanly (%s)",
                    path, err)
        recovered = _check(path)
        if recovered is None:
            raise
        conn, backup = _open_checked(path, migrations)
    return conn, recovered, backup


def _check(path: Path) -> Path | None:
    """The integrity check; where a really corrupt file was moved (None: it is sound)."""
    started = time.monotonic()
    problem = check_integrity(path)
    log.info("history %s: integrity check %s in %.2f s", path,
             "failed" if problem else "passed", time.monotonic() - started)
    return move_aside(path, problem) if problem is not None else None


def _open_checked(path: Path, migrations: list[tuple[int, str]]
                  ) -> tuple[sqlite3.Connection, Path | None]:
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        raise history_error(exc, path) from None
    try:
        # Readable at all? A lock held by another program is waited for once and then
        # said in words (set_wal's retries are for copies switching to WAL together).
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        set_wal(conn)
        backup = migrate(conn, path, migrations)
    except (sqlite3.Error, OSError) as exc:
        conn.close()
        raise history_error(exc, path) from None
    except HistoryError:
        conn.close()
        raise
    for suffix in ("", "-wal", "-shm"):
        side = Path(str(path) + suffix)
        try:
            os.chmod(side, 0o600)
        except OSError:
            pass
    return conn, backup


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (for showing History when it cannot be written)."""
    if not path.exists() or path.stat().st_size == 0:
        raise HistoryError(explain(OTHER, path), OTHER, path)
    try:
        conn = connect(path, read_only=True)
        conn.execute("SELECT COUNT(*) FROM jobs").fetchone()
        return conn
    except sqlite3.Error as exc:
        err = history_error(exc, path)
    if err.kind not in (READ_ONLY, PERMISSION, OTHER):
        raise err
    # A WAL database on a read-only disk cannot make its shared-memory file: nothing
    # can change it there, so it is read as immutable.
    try:
        conn = connect(path, read_only=True, immutable=True)
        conn.execute("SELECT COUNT(*) FROM jobs").fetchone()
        return conn
    except sqlite3.Error:
        raise err from None


__all__ = ["BUSY_TIMEOUT_MS", "CORRUPT", "DISK_FULL", "LOCKED", "NEWER", "PERMISSION",
           "READ_ONLY", "HistoryError", "check_integrity", "connect", "history_error",
           "migrate", "open_reader", "open_writer"]
