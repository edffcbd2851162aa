"""The history of every upload and every attempt, in SQLite.

* WAL mode with a busy timeout; the file is created with mode 0600.
* A schema version with numbered migrations; the file is copied aside
  before a migration runs.
* ``PRAGMA quick_check`` at start-up: a corrupt file is moved aside, a fresh
  one is created, and :attr:`HistoryStore.recovered_from` says where the old one is.
* One writer: every write goes through one connection under a short lock
  (never held across network calls). Reads use their own connections.
* No secrets, ever: jobs hold target settings without credentials.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uploader_gui.core.audit import append_on, ensure_sqlite_schema, job_actions, job_values
from uploader_gui.core.jobs import (
    ACTIVE,
    INTERRUPTED,
    AttemptRecord,
    Job,
    check_transition,
    config_from_json_text,
    config_to_json,
)
from uploader_gui.core.paths import data_dir
from uploader_gui.core.targets.base import Destination, TargetConfig

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
BUSY_TIMEOUT_MS = 5000

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uid TEXT NOT NULL UNIQUE,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            started REAL,
            finished REAL,
            path TEXT NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            file_type TEXT NOT NULL,
            pages INTEGER,
            profile TEXT,
            target TEXT NOT NULL,
            destination TEXT NOT NULL,
            dest_key TEXT NOT NULL,
            target_config TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            bytes_sent INTEGER NOT NULL DEFAULT 0,
            began_sending INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            remote_id TEXT,
            url TEXT,
            log_ids TEXT NOT NULL DEFAULT '[]',
            http_status INTEGER,
            server_message TEXT,
            error TEXT
        );
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            started REAL NOT NULL,
            ended REAL,
            bytes_sent INTEGER NOT NULL DEFAULT 0,
            http_status INTEGER,
            error TEXT,
            decision TEXT
        );
        CREATE INDEX jobs_created ON jobs(created);
        CREATE INDEX jobs_status ON jobs(status);
        CREATE INDEX jobs_sha_dest ON jobs(sha256, target, dest_key);
        CREATE INDEX attempts_job ON attempts(job_id);
    """),
    (2, """
        ALTER TABLE jobs ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE jobs ADD COLUMN duplicate_of INTEGER;
        ALTER TABLE jobs ADD COLUMN backup_path TEXT;
        ALTER TABLE jobs ADD COLUMN delivery TEXT;
        ALTER TABLE jobs ADD COLUMN delivery_checked REAL
    """),
    # v3: proof of delivery, who the patient is, who sent it from where, and the
    # address each attempt really used.
    (3, """
        ALTER TABLE jobs ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN proof TEXT;
        ALTER TABLE jobs ADD COLUMN patient_label TEXT;
        ALTER TABLE jobs ADD COLUMN username TEXT;
        ALTER TABLE jobs ADD COLUMN workstation TEXT;
        ALTER TABLE jobs ADD COLUMN app_version TEXT;
        ALTER TABLE attempts ADD COLUMN url TEXT
    """),
    # v4: scan servers sharing one folder claim each file before sending it.
    (4, """
        CREATE TABLE claims (
            file_key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            claimed REAL NOT NULL,
            lease_until REAL NOT NULL,
            job_id INTEGER
        )
    """),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

JOB_COLUMNS = (
    "uid", "created", "updated", "started", "finished", "path", "name", "size", "sha256",
    "file_type", "pages", "profile", "target", "destination", "dest_key", "target_config",
    "status", "attempts", "bytes_sent", "began_sending", "owner", "remote_id", "url", "log_ids",
    "http_status", "server_message", "error", "sources", "duplicate_of", "backup_path",
    "delivery", "delivery_checked", "verified", "proof", "patient_label", "username",
    "workstation", "app_version",
)


def _process_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """The process's start time (Linux), so a reused PID is not taken for a live owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
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
    if host != socket.gethostname():
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
    if holder.split(":", 1)[0] != socket.gethostname():
        return False  # another server: only its lease tells whether it is still at work
    return not owner_alive(holder)  # this computer's process: alive or not, we can tell


class HistoryError(Exception):
    """A problem the user can act on (disk full, file locked), in words."""


def history_path() -> Path:
    return data_dir() / DB_NAME


def _job_row(job: Job) -> dict[str, Any]:
    return {
        "uid": job.uid, "created": job.created, "updated": job.updated, "started": job.started,
        "finished": job.finished, "path": job.path, "name": job.name, "size": job.size,
        "sha256": job.sha256, "file_type": job.file_type, "pages": job.pages,
        "profile": job.profile, "target": job.target,
        "destination": json.dumps(job.destination.to_json(), sort_keys=True),
        "dest_key": job.dest_key, "target_config": config_to_json(job.target_config),
        "status": job.status, "attempts": job.attempts, "bytes_sent": job.bytes_sent,
        "began_sending": int(job.began_sending),
        "owner": PROCESS_OWNER if job.status in ACTIVE else job.owner,
        "remote_id": job.remote_id, "url": job.url,
        "log_ids": json.dumps(job.log_ids), "http_status": job.http_status,
        "server_message": job.server_message, "error": job.error,
        "sources": json.dumps(job.sources), "duplicate_of": job.duplicate_of,
        "backup_path": job.backup_path, "delivery": job.delivery,
        "delivery_checked": job.delivery_checked, "verified": int(job.verified),
        "proof": job.proof, "patient_label": job.patient_label, "username": job.user,
        "workstation": job.workstation, "app_version": job.app_version,
    }


@functools.lru_cache(maxsize=256)
def _config(text: str) -> TargetConfig:
    """Most jobs share a few profiles' settings: parse each distinct text once.

    The result is shared between jobs; nothing in the app changes a job's settings.
    """
    return config_from_json_text(text)


def _json_list(text: str | None) -> list[Any]:
    return [] if not text or text == "[]" else json.loads(text)


def _job_from_row(row: sqlite3.Row) -> Job:
    dest = Destination(**json.loads(row["destination"]))
    return Job(
        id=row["id"], uid=row["uid"], created=row["created"], updated=row["updated"],
        started=row["started"], finished=row["finished"], path=row["path"], name=row["name"],
        size=row["size"], sha256=row["sha256"], file_type=row["file_type"], pages=row["pages"],
        profile=row["profile"], target=row["target"], destination=dest,
        target_config=_config(row["target_config"]), status=row["status"],
        attempts=row["attempts"], bytes_sent=row["bytes_sent"],
        began_sending=bool(row["began_sending"]), owner=row["owner"],
        remote_id=row["remote_id"], url=row["url"],
        log_ids=_json_list(row["log_ids"]), http_status=row["http_status"],
        server_message=row["server_message"], error=row["error"],
        sources=_json_list(row["sources"]), duplicate_of=row["duplicate_of"],
        backup_path=row["backup_path"], delivery=row["delivery"],
        delivery_checked=row["delivery_checked"], verified=bool(row["verified"]),
        proof=row["proof"], patient_label=row["patient_label"], user=row["username"],
        workstation=row["workstation"], app_version=row["app_version"],
    )


class HistoryStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else history_path()
        self.recovered_from: Path | None = None
        self.backup_path: Path | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._open()
        ensure_sqlite_schema(self.path)  # the audit trail lives beside the jobs

    # ------------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                               isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        else:
            self._check_integrity()
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(_explain(exc, self.path)) from None
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                os.chmod(p, 0o600)
        return conn

    def _check_integrity(self) -> None:
        problem = None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                rows = conn.execute("PRAGMA quick_check").fetchall()
                if rows != [("ok",)]:
                    problem = "; ".join(str(r[0]) for r in rows[:3])
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        if problem is None:
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.stem}.corrupt-{stamp}{self.path.suffix}")
        log.error("history database %s failed its check (%s); moving it to %s",
                  self.path, problem, aside)
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            side = Path(str(self.path) + suffix)
            if side.exists():
                os.replace(side, Path(str(aside) + suffix))
        self.recovered_from = aside
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"The upload history at {self.path} was written by a newer version of this "
                "app. Update the app, or move that file away to start a new history."
            )
        pending = [(n, sql) for n, sql in MIGRATIONS if n > version]
        if not pending:
            return
        if version > 0:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.backup_path = self.path.with_name(f"{self.path.stem}.v{version}-{stamp}.bak")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy2(self.path, self.backup_path)
            os.chmod(self.backup_path, 0o600)
        for number, sql in pending:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(None, (s.strip() for s in sql.split(";"))):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            log.info("history database migrated to version %d", number)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield self._writer
                    self._writer.execute("COMMIT")
                except BaseException:
                    self._writer.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise HistoryError(_explain(exc, self.path)) from None

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ writes

    def add_job(self, job: Job) -> Job:
        row = _job_row(job)
        cols = ", ".join(JOB_COLUMNS)
        marks = ", ".join(f":{c}" for c in JOB_COLUMNS)
        with self._write() as conn:
            cur = conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", row)  # noqa: S608
            job.id = cur.lastrowid
            for action in job_actions(None, job.status):
                append_on(conn, "?", action, job_values(job, action))
        return job

    def update_job(self, job: Job, *, new_status: str | None = None) -> Job:
        """Save a job; with ``new_status`` the move is checked against the state machine."""
        assert job.id is not None
        old = job.status
        if new_status is not None and new_status != job.status:
            check_transition(job.status, new_status)
            job.status = new_status
        job.updated = time.time()
        row = _job_row(job)
        sets = ", ".join(f"{c} = :{c}" for c in JOB_COLUMNS if c not in ("uid", "created"))
        with self._write() as conn:
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = :id", {**row, "id": job.id})  # noqa: S608
            for action in job_actions(old, new_status, job.backup_path):
                append_on(conn, "?", action, job_values(job, action))
        return job

    def add_attempt(self, attempt: AttemptRecord) -> AttemptRecord:
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO attempts (job_id, number, started, ended, bytes_sent, http_status, "
                "error, decision, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt.job_id, attempt.number, attempt.started, attempt.ended,
                 attempt.bytes_sent, attempt.http_status, attempt.error, attempt.decision,
                 attempt.url),
            )
            attempt.id = cur.lastrowid
        return attempt

    def update_attempt(self, attempt: AttemptRecord) -> None:
        assert attempt.id is not None
        with self._write() as conn:
            conn.execute(
                "UPDATE attempts SET ended = ?, bytes_sent = ?, http_status = ?, error = ?, "
                "decision = ?, url = ? WHERE id = ?",
                (attempt.ended, attempt.bytes_sent, attempt.http_status, attempt.error,
                 attempt.decision, attempt.url, attempt.id),
            )

    def mark_interrupted(self) -> list[int]:
        """At start-up: jobs left queued or uploading by a process that has died.

        Jobs owned by another running copy of the app (the window and a
        scripted ``send`` at the same time) are left alone.
        """
        with self._write() as conn:
            rows = conn.execute("SELECT id, owner FROM jobs WHERE status IN (?, ?)",
                                tuple(sorted(ACTIVE))).fetchall()
            ids = [r["id"] for r in rows if not owner_alive(r["owner"])]
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET status = ?, updated = ?, error = COALESCE(error, ?) "
                    "WHERE id = ?",
                    (INTERRUPTED, time.time(), "The app closed before this upload finished.",
                     job_id),
                )
        return ids

    # ------------------------------------------------------------------ reads

    def get(self, job_id: int) -> Job | None:
        row = self._reader().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job_from_row(row) if row else None

    def jobs(
        self,
        *,
        status: str | list[str] | None = None,
        limit: int | None = None,
        since: float | None = None,
        search: str | None = None,
    ) -> list[Job]:
        where: list[str] = []
        params: list[Any] = []
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if since is not None:
            where.append("created >= ?")
            params.append(since)
        if search:
            where.append("(name LIKE ? OR dest_key LIKE ? OR remote_id LIKE ?)")
            params += [f"%{search}%"] * 3
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_job_from_row(r) for r in self._reader().execute(sql, params)]

    def attempts(self, job_id: int) -> list[AttemptRecord]:
        rows = self._reader().execute(
            "SELECT * FROM attempts WHERE job_id = ? ORDER BY number, id", (job_id,)).fetchall()
        return [AttemptRecord(id=r["id"], job_id=r["job_id"], number=r["number"],
                              started=r["started"], ended=r["ended"], bytes_sent=r["bytes_sent"],
                              http_status=r["http_status"], error=r["error"],
                              decision=r["decision"], url=r["url"]) for r in rows]

    def find_duplicates(self, sha256: str, target: str, dest_key: str) -> list[Job]:
        rows = self._reader().execute(
            "SELECT * FROM jobs WHERE sha256 = ? AND target = ? AND dest_key = ? "
            "AND status IN ('sent', 'verified') ORDER BY created DESC", (sha256, target, dest_key)).fetchall()
        return [_job_from_row(r) for r in rows]

    def find_source_duplicates(self, sha256: str, target: str, dest_key: str) -> list[Job]:
        """Sent jobs made from a file with these bytes (an image converted to PDF)."""
        rows = self._reader().execute(
            "SELECT * FROM jobs WHERE target = ? AND dest_key = ? AND status IN ('sent', 'verified') "
            "AND sources LIKE ? ORDER BY created DESC",
            (target, dest_key, f'%"sha256": "{sha256}"%')).fetchall()
        return [_job_from_row(r) for r in rows]

    def find_same(self, sha256: str, target: str, dest_key: str,
                  statuses: tuple[str, ...]) -> list[Job]:
        """Jobs for these bytes and this place in the given states, newest first."""
        marks = ",".join("?" * len(statuses))
        rows = self._reader().execute(
            f"SELECT * FROM jobs WHERE sha256 = ? AND target = ? AND dest_key = ? "  # noqa: S608
            f"AND status IN ({marks}) ORDER BY created DESC",
            (sha256, target, dest_key, *statuses)).fetchall()
        return [_job_from_row(r) for r in rows]

    def count(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    # ------------------------------------------------------------------ claims (watchers)

    def claim(self, key: str, lease: float, owner: str = PROCESS_OWNER) -> bool:
        """Take ``key`` (a file seen in a shared folder) for ``lease`` seconds; False when
        another live watcher holds it, or it was handled. A dead process's claim (this
        computer's) or an expired lease passes on."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute("SELECT owner, lease_until FROM claims WHERE file_key = ?",
                               (key,)).fetchone()
            if row is not None and not claim_free(row["owner"], row["lease_until"], owner, now):
                return False
            conn.execute("INSERT OR REPLACE INTO claims (file_key, owner, claimed, lease_until) "
                         "VALUES (?, ?, ?, ?)", (key, owner, now, now + lease))
            return True

    def release_claims(self, owner: str = PROCESS_OWNER) -> None:
        """At a clean stop: files taken but not handled go back to the others."""
        with self._write() as conn:
            conn.execute("DELETE FROM claims WHERE owner = ? AND job_id IS NULL", (owner,))

    def finish_claim(self, key: str, job_id: int | None, owner: str = PROCESS_OWNER) -> None:
        """The claimed file was handled (and moved out of the folder): the claim ends. Should
        the same file be put back, it is a new arrival, and the history's rules apply."""
        with self._write() as conn:
            conn.execute("DELETE FROM claims WHERE file_key = ? AND owner = ?", (key, owner))


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc).lower()
    if "disk" in text and "full" in text:
        return (f"The disk holding the upload history ({path.parent}) is full. Free some space "
                "and try again; nothing was sent without being recorded.")
    if "locked" in text or "busy" in text:
        return (f"The upload history ({path}) is locked by another program. Close other copies "
                "of this app and try again.")
    if "readonly" in text or "read-only" in text or "permission" in text:
        return f"The upload history ({path}) cannot be written. Check the folder's permissions."
    return f"The upload history ({path}) could not be used: {exc}."
