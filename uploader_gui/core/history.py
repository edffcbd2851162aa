"""The history of every upload and every attempt, in SQLite.

* WAL mode with a busy timeout; the file is created with mode 0600.
* A schema version with numbered migrations; the file is copied aside
  before a migration runs.
* ``PRAGMA quick_check`` at start-up after an unclean exit (``core.history_marks``), or
  whenever SQLite finds the file damaged: a corrupt file is moved aside, a fresh one is
  created, and :attr:`HistoryStore.recovered_from` says where the old one is.
  Only real corruption does that: a locked, full, read-only or forbidden file is
  left alone and raises :class:`HistoryError` of that kind (``core.history_open``).
* ``read_only=True`` opens the file for viewing only (History stays visible when it
  cannot be written); every write then raises :class:`HistoryError`.
* A write that fails (disk full) is rolled back cleanly and raised as a
  :class:`HistoryError` whose ``kind`` says so; nothing earlier is lost.
* One writer: every write goes through one connection under a short lock
  (never held across network calls). Reads use their own connections.
* No secrets, ever: jobs hold target settings without credentials.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uploader_gui.core.audit_schema import ensure_sqlite_schema
from uploader_gui.core.history_errors import (  # noqa: F401 - kinds re-exported
    CORRUPT,
    DISK_FULL,
    LOCKED,
    PERMISSION,
    READ_ONLY,
    HistoryError,
    moved_aside_message,
)
from uploader_gui.core.history_marks import clear, left_behind, mark_running
from uploader_gui.core.history_open import connect, history_error, open_reader, open_writer
from uploader_gui.core.history_queries import JobQueries
from uploader_gui.core.jobs import (
    ACTIVE,
    INTERRUPTED,
    AttemptRecord,
    Job,
    check_transition,
    config_from_json_text,
    config_to_json,
)
from uploader_gui.core.logging_setup import scrub_secrets
from uploader_gui.core.owners import PROCESS_OWNER, claim_free, owner_alive
from uploader_gui.core.paths import data_dir
from uploader_gui.core.target_config import Destination, TargetConfig

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"

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
        # Scrubbed again on the way in: no echoed secret is ever stored.
        "server_message": _scrub(job.server_message), "error": _scrub(job.error),
        "sources": json.dumps(job.sources), "duplicate_of": job.duplicate_of,
        "backup_path": job.backup_path, "delivery": job.delivery,
        "delivery_checked": job.delivery_checked, "verified": int(job.verified),
        "proof": job.proof, "patient_label": job.patient_label, "username": job.user,
        "workstation": job.workstation, "app_version": job.app_version,
    }


def _scrub(text: str | None) -> str | None:
    return scrub_secrets(text) if text else text


@functools.lru_cache(maxsize=256)
def _config(text: str) -> TargetConfig:
    """Most jobs share a few profiles' settings: parse each distinct text once.

    The result is shared between jobs; nothing in the app changes a job's settings.
    """
    return config_from_json_text(text)


def _json_list(text: str | None) -> list[Any]:
    return [] if not text or text == "[]" else json.loads(text)


def _job_from_row(row: Mapping[str, Any]) -> Job:
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


class HistoryStore(JobQueries):
    def __init__(self, path: Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path else history_path()
        self.recovered_from: Path | None = None
        self.backup_path: Path | None = None
        self.read_only = read_only
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer: sqlite3.Connection | None = None
        self._mark: Path | None = None
        #: Whether the integrity check ran at this opening (an unclean exit before).
        self.checked = False
        if read_only:
            self._local.conn = open_reader(self.path)
        else:
            stale = left_behind(self.path)
            self.checked = bool(stale)
            if stale:
                log.info("history: %d earlier session(s) did not end cleanly; checking %s",
                         len(stale), self.path)
            self._writer, self.recovered_from, self.backup_path = open_writer(
                self.path, MIGRATIONS, check=bool(stale))
            try:
                ensure_sqlite_schema(self.path)  # the audit trail lives beside the jobs
            except sqlite3.Error as exc:
                self._writer.close()
                raise history_error(exc, self.path) from None
            clear(stale)
            self._mark = mark_running(self.path)

    @property
    def recovery_message(self) -> str | None:
        """The announcement for a history that was moved aside (window and stderr)."""
        if self.recovered_from is None:
            return None
        return moved_aside_message(self.path, self.recovered_from)

    # ------------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return open_reader(self.path)
        return connect(self.path)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._writer
            if conn is None:
                raise HistoryError(
                    f"The upload history ({self.path}) is open for viewing only, so nothing "
                    "can be recorded or sent now.", READ_ONLY, self.path)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    # SQLite may already have rolled back (disk full): only roll back what
                    # is still open, and keep the first error, not "no transaction is active".
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            log.warning("history rollback failed", exc_info=True)
                    raise
            except (sqlite3.Error, OSError) as exc:
                err = history_error(exc, self.path)
                log.error("history write failed (%s): %s", err.kind, exc)
                raise err from None

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """A clean close: the next start needs no integrity check for this session."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
            if self._mark is not None:
                clear([self._mark])
                self._mark = None
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ writes

    def add_job(self, job: Job) -> Job:
        from uploader_gui.core.audit import append_on, job_actions, job_values

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
        from uploader_gui.core.audit import append_on, job_actions, job_values

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

    def audit(self, action: str, **values: str) -> None:
        """An entry in the audit trail that no job change makes (an export, a removal)."""
        from uploader_gui.core.audit import append_on, identity

        with self._write() as conn:
            append_on(conn, "?", action, {**identity(), **values})

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

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._reader().execute(sql, params).fetchall()

    def _jobs(self, sql: str, params: Sequence[Any] = ()) -> list[Job]:
        """Each row made a dict once: ``sqlite3.Row`` finds a column by comparing its name
        with each column's in turn, and a job reads forty of them (a page decodes in about
        half the time this way)."""
        rows = self._rows(sql, params)
        if not rows:
            return []
        names = rows[0].keys()
        return [_job_from_row(dict(zip(names, row, strict=True))) for row in rows]

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


