"""An append-only, hash-chained audit trail: who did what, from which desk, to which patient.

Each entry holds its sequence number and the hash of the entry before it, and
its own hash covers every field. So :func:`verify` finds an entry that was
edited (its hash no longer matches), inserted or reordered (it does not follow
the one before), or deleted (a number is missing). Per-row checksums alone
miss deleted rows (OpenEMR #12118, #12122); the chain does not.

Two stores with one interface:

* SQLite (one desk, the default): ``audit.sqlite3`` in the data folder, 0600,
  with triggers that refuse UPDATE and DELETE;
* PostgreSQL (a clinic), through psycopg 3: the same table, a trigger that
  refuses UPDATE and DELETE, appends serialised with a transaction-scoped
  advisory lock, and a role split set up by IT with ``uploader-gui db init``
  (the app's role may SELECT and INSERT, nothing else).

What the chain cannot show on its own: the newest entries removed together
(the tail). ``verify`` reports the count and the last hash, so IT can compare
them with an earlier report.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from uploader_gui.core.audit_schema import SQLITE_SCHEMA as _SQLITE_SCHEMA
from uploader_gui.core.audit_schema import ensure_sqlite_schema  # noqa: F401 - re-exported

ACTIONS = (
    "staged", "sent", "verified", "failed", "cancelled", "resent", "replaced_with_backup",
    "deleted_from_list", "exported",
)
GENESIS = "0" * 64
#: Arbitrary, fixed: the advisory lock that serialises appends on PostgreSQL.
PG_LOCK_KEY = 0x7570_6C6F_6164  # "upload"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str  # UTC, ISO 8601 with microseconds
    username: str
    workstation: str
    action: str
    sha256: str = ""
    destination: str = ""
    target: str = ""
    receipt: str = ""
    prev_hash: str = GENESIS
    hash: str = ""

    def expected_hash(self) -> str:
        body = [self.seq, self.at, self.username, self.workstation, self.action, self.sha256,
                self.destination, self.target, self.receipt, self.prev_hash]
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        import hashlib  # loads OpenSSL: only once an entry is written or checked

        return hashlib.sha256(text.encode("utf-8")).hexdigest()


COLUMNS = tuple(f.name for f in fields(AuditEntry))


class AuditError(Exception):
    """The audit trail cannot be written or read; the message says why, in words."""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    last_hash: str
    bad_seq: int | None = None
    reason: str = ""

    def sentence(self) -> str:
        if self.ok:
            return (f"The audit trail is intact: {self.checked} entries, the newest with hash "
                    f"{self.last_hash[:16]}….")
        return f"The audit trail was changed at entry {self.bad_seq}: {self.reason}"


def verify(entries: Iterable[AuditEntry]) -> Verdict:
    """Walk the chain in order; the first entry that breaks it is named."""
    expected_seq, prev, count = 1, GENESIS, 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            what = ("entries before it are missing (deleted)" if e.seq > expected_seq
                    else "it repeats or goes back in the numbering (inserted)")
            missing = expected_seq if e.seq > expected_seq else e.seq
            return Verdict(False, count - 1, prev, missing, what)
        if e.prev_hash != prev:
            return Verdict(False, count - 1, prev, e.seq, "it does not follow the entry before it "
                           "(an entry was inserted, removed or reordered)")
        if e.expected_hash() != e.hash:
            return Verdict(False, count - 1, prev, e.seq, "its contents were edited after it "
                           "was written")
        prev, expected_seq = e.hash, e.seq + 1
    return Verdict(True, count, prev)


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _next(last: AuditEntry | None, action: str, values: dict[str, str]) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    draft = AuditEntry(seq=(last.seq + 1) if last else 1, at=_now(), action=action,
                       prev_hash=last.hash if last else GENESIS,
                       username=values.get("username", ""),
                       workstation=values.get("workstation", ""),
                       sha256=values.get("sha256", ""), destination=values.get("destination", ""),
                       target=values.get("target", ""), receipt=values.get("receipt", ""))
    return AuditEntry(**{**draft.__dict__, "hash": draft.expected_hash()})


def append_on(conn: Any, mark: str, action: str, values: dict[str, str]) -> AuditEntry:
    """Append within the caller's open write transaction (SQLite: BEGIN IMMEDIATE held;
    PostgreSQL: the advisory lock is taken here), so that a job's change and its entry
    are written together or not at all."""
    if mark == "%s":
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
    row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit "  # noqa: S608
                       "ORDER BY seq DESC LIMIT 1").fetchone()
    last = None
    if row is not None:
        last = AuditEntry(**row) if isinstance(row, dict) else AuditEntry(*tuple(row))
    entry = _next(last, action, values)
    marks = ", ".join([mark] * len(COLUMNS))
    conn.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({marks})",  # noqa: S608
                 astuple(entry))
    return entry


def job_actions(old: str | None, new: str | None, backup_path: str | None = None) -> list[str]:
    """What a job's change means for the trail (nothing, for steps in between)."""
    if old is None:
        return ["staged"]
    if new is None or new == old:
        return []
    if new == "queued":
        return ["resent"] if old in ("sent", "failed", "unknown", "cancelled", "interrupted",
                                     "verified") else []
    actions = {"sent": ["sent"], "verified": ["verified"], "failed": ["failed"],
               "unknown": ["failed"], "cancelled": ["cancelled"]}.get(new, [])
    if new == "sent" and backup_path:
        actions.append("replaced_with_backup")
    return actions


def identity() -> dict[str, str]:
    """Who acts, from where: the OS login and this workstation's name."""
    from uploader_gui.core.identity import os_user, workstation

    return {"username": os_user(), "workstation": workstation()}


def job_values(job: Any, action: str) -> dict[str, str]:
    """The entry for a job: who acts now and from where (not who queued it), which bytes,
    which destination (the id, never the patient's name), and what came back."""
    receipt = job.remote_id or ""
    if action == "failed":
        receipt = (("outcome unknown: " if job.status == "unknown" else "") + (job.error or ""))
    elif action == "replaced_with_backup":
        receipt = Path(job.backup_path or "").name
    return {**identity(), "sha256": job.sha256, "destination": job.dest_key,
            "target": job.profile or job.target, "receipt": receipt[:500]}


class AuditStore(Protocol):
    def append(self, action: str, **values: str) -> AuditEntry: ...
    def entries(self, start: str | None = None, end: str | None = None) -> Iterator[AuditEntry]: ...
    def close(self) -> None: ...


# ------------------------------------------------------------------ SQLite

class SqliteAudit:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self._conn = sqlite3.connect(path, timeout=10, isolation_level=None)
            self._conn.executescript(_SQLITE_SCHEMA)
        except sqlite3.Error as exc:
            raise AuditError(f"The audit trail ({path}) cannot be opened: {exc}.") from exc

    def append(self, action: str, **values: str) -> AuditEntry:
        try:
            self._conn.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
            try:
                last = self._last()
                entry = _next(last, action, values)
                marks = ", ".join("?" * len(COLUMNS))
                self._conn.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}) "  # noqa: S608
                                   f"VALUES ({marks})", astuple(entry))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise AuditError(f"The audit trail ({self.path}) cannot be written: {exc}.") from exc
        return entry

    def _last(self) -> AuditEntry | None:
        row = self._conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq DESC LIMIT 1").fetchone()  # noqa: S608
        return AuditEntry(*row) if row else None

    def entries(self, start: str | None = None, end: str | None = None) -> Iterator[AuditEntry]:
        where, params = _range(start, end, "?")
        sql = f"SELECT {', '.join(COLUMNS)} FROM audit{where} ORDER BY seq"  # noqa: S608
        for row in self._conn.execute(sql, params):
            yield AuditEntry(*row)

    def close(self) -> None:
        self._conn.close()


def _range(start: str | None, end: str | None, mark: str) -> tuple[str, list[str]]:
    clauses, params = [], []
    if start:
        clauses.append(f"at >= {mark}")
        params.append(start)
    if end:
        clauses.append(f"at < {mark}")
        params.append(end)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


# ------------------------------------------------------------------ PostgreSQL

PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq BIGINT PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL,
    workstation TEXT NOT NULL, action TEXT NOT NULL, sha256 TEXT NOT NULL,
    destination TEXT NOT NULL, target TEXT NOT NULL, receipt TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_no_change ON audit;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""


class PostgresAudit:
    def __init__(self, dsn: str) -> None:
        import psycopg

        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(dsn, connect_timeout=10, autocommit=False)
        except psycopg.Error as exc:
            raise AuditError(f"The clinic database cannot be reached: {_pg_words(exc)}") from exc

    def append(self, action: str, **values: str) -> AuditEntry:
        psycopg = self._psycopg
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
                row = self._conn.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq DESC LIMIT 1"  # noqa: S608
                ).fetchone()
                entry = _next(AuditEntry(*row) if row else None, action, values)
                marks = ", ".join(["%s"] * len(COLUMNS))
                self._conn.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}) "  # noqa: S608
                                   f"VALUES ({marks})", astuple(entry))
        except psycopg.Error as exc:
            raise AuditError(f"The audit trail cannot be written: {_pg_words(exc)}") from exc
        return entry

    def entries(self, start: str | None = None, end: str | None = None) -> Iterator[AuditEntry]:
        where, params = _range(start, end, "%s")
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(COLUMNS)} FROM audit{where} ORDER BY seq",  # noqa: S608
                        params)
            rows = cur.fetchall()
        for row in rows:
            yield AuditEntry(*row)

    def close(self) -> None:
        self._conn.close()


def _pg_words(exc: Exception) -> str:
    """The server's first line, without the connection string (it may hold a password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".") + "."


def init_postgres(admin_dsn: str, app_role: str | None = None) -> list[str]:
    """For IT, as the database's owner: create or update the history's tables and the audit
    trail with its guard, and give the app's role what it needs and no more (jobs, attempts
    and claims: read, add, change; the audit trail: read and add only). Returns what was
    done, in words."""
    import psycopg
    from psycopg import sql

    from uploader_gui.core.history_pg import PostgresHistoryStore

    store = PostgresHistoryStore(admin_dsn)  # runs the numbered migrations under a lock
    store.close()
    done = ["the history's tables are at the current version",
            "the audit table and its append-only trigger are in place"]
    with psycopg.connect(admin_dsn, connect_timeout=10, autocommit=True) as conn:
        conn.execute(PG_SCHEMA)
        conn.execute("REVOKE ALL ON audit, jobs, attempts, claims, uploader_schema FROM PUBLIC")
        if app_role:
            role = sql.Identifier(app_role)
            grants = [
                "REVOKE ALL ON audit, jobs, attempts, claims, uploader_schema FROM {}",
                "GRANT SELECT, INSERT ON audit TO {}",
                "GRANT SELECT, INSERT, UPDATE ON jobs, attempts TO {}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON claims TO {}",
                "GRANT SELECT ON uploader_schema TO {}",
                "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}",
            ]
            for grant in grants:
                conn.execute(sql.SQL(grant).format(role))
            done.append(f"role {app_role} may read and add audit entries and nothing else, "
                        "and read, add and change uploads")
    return done


# ------------------------------------------------------------------ opening, exporting


def open_audit(database: str | None = None) -> AuditStore:
    """The clinic's PostgreSQL when ``database`` is a postgresql:// address, else this desk's
    history file (the trail lives beside the jobs it speaks of)."""
    if database and database.startswith(("postgresql://", "postgres://")):
        return PostgresAudit(database)
    from uploader_gui.core.history import history_path

    return SqliteAudit(history_path())


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(entries: Sequence[AuditEntry], path: Path) -> int:
    """Write the entries as CSV (0600; cells that a spreadsheet would run are neutralised)."""
    import csv

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for e in entries:
            writer.writerow([_cell(v) for v in astuple(e)])
    return len(entries)
