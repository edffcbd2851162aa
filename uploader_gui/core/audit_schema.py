"""The SQLite audit trail's table and its guards, made beside the history at each opening.

Apart from :mod:`uploader_gui.core.audit` (entries, the chain, verification, export) so
that opening the history, which makes sure the table is there, needs none of that.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL,
    workstation TEXT NOT NULL, action TEXT NOT NULL, sha256 TEXT NOT NULL,
    destination TEXT NOT NULL, target TEXT NOT NULL, receipt TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


def ensure_sqlite_schema(path: Path) -> None:
    """Create the trail's table and guards in an SQLite file (idempotent, any process)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.executescript(SQLITE_SCHEMA)
    finally:
        conn.close()
