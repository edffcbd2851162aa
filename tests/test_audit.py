"""The hash-chained audit trail, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import csv
import itertools
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from uploader_gui.core.audit import (
    GENESIS,
    AuditError,
    PostgresAudit,
    SqliteAudit,
    export_csv,
    init_postgres,
    verify,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteAudit(tmp_path / "audit.sqlite3")
    else:
        dsn = request.getfixturevalue("postgres_db")
        init_postgres(dsn)
        s = PostgresAudit(dsn)
        s.dsn = dsn
    s.kind = request.param
    yield s
    s.close()


def fill(store, n: int = 5) -> None:
    for i in range(n):
        store.append("sent", username="ana", workstation="desk-1", sha256=f"{i:064x}",
                     destination=f"patient 100{i}", target="claros", receipt=f"pdf_{i}")


def tamper(store, sql: str) -> None:
    """What a person with the database's owner rights could do by hand."""
    if store.kind == "sqlite":
        conn = sqlite3.connect(store.path)
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute(sql)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(store.dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_change")
            conn.execute(sql)


def test_chain_is_intact_after_appends(store) -> None:
    fill(store)
    entries = list(store.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    verdict = verify(entries)
    assert verdict.ok and verdict.checked == 5 and verdict.last_hash == entries[-1].hash


def test_the_trail_refuses_updates_and_deletes(store) -> None:
    fill(store, 2)
    if store.kind == "sqlite":
        conn = sqlite3.connect(store.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit SET username = 'mallory' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE seq = 2")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(store.dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("UPDATE audit SET username = 'mallory' WHERE seq = 1")
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("DELETE FROM audit WHERE seq = 2")
    assert verify(store.entries()).ok


@pytest.mark.parametrize(("change", "bad", "words"), [
    ("UPDATE audit SET destination = 'patient 9999' WHERE seq = 3", 3, "edited"),
    ("DELETE FROM audit WHERE seq = 2", 2, "missing"),
    ("UPDATE audit SET seq = 6 WHERE seq = 5", 5, "missing"),
])
def test_verify_names_the_first_changed_entry(store, change, bad, words) -> None:
    fill(store)
    tamper(store, change)
    verdict = verify(store.entries())
    assert not verdict.ok and verdict.bad_seq == bad and words in verdict.reason
    assert f"entry {bad}" in verdict.sentence()


def test_an_inserted_entry_is_found(store) -> None:
    fill(store, 3)
    forged = list(store.entries())[1]
    tamper(store, "UPDATE audit SET seq = seq + 1 WHERE seq >= 3")
    cols = "seq, at, username, workstation, action, sha256, destination, target, receipt, " \
           "prev_hash, hash"
    values = (3, forged.at, "mallory", "desk-9", "sent", forged.sha256, "patient 1",
              "claros", "pdf_x", forged.hash, forged.hash)
    marks = ", ".join(["?" if store.kind == "sqlite" else "%s"] * len(values))
    if store.kind == "sqlite":
        conn = sqlite3.connect(store.path)
        conn.execute(f"INSERT INTO audit ({cols}) VALUES ({marks})", values)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(store.dsn, autocommit=True) as conn:
            conn.execute(f"INSERT INTO audit ({cols}) VALUES ({marks})", values)
    verdict = verify(store.entries())
    assert not verdict.ok and verdict.bad_seq == 3


def test_concurrent_writers_keep_one_chain(store, tmp_path) -> None:
    """Four desks at once (threads with their own connections) never fork the chain."""
    def desk(n: int) -> None:
        own = (SqliteAudit(store.path) if store.kind == "sqlite" else PostgresAudit(store.dsn))
        try:
            for i in range(10):
                own.append("staged", username=f"user{n}", workstation=f"desk-{n}",
                           sha256=f"{n}{i}".ljust(64, "0"))
        finally:
            own.close()

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    entries = list(store.entries())
    assert len(entries) == 40 and verify(entries).ok


def test_export_is_csv_with_formula_cells_neutralised(store, tmp_path) -> None:
    store.append("exported", username="=cmd|' /C calc'!A0", workstation="desk-1")
    fill(store, 2)
    out = tmp_path / "audit.csv"
    assert export_csv(list(store.entries()), out) == 3
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["username"].startswith("'=") and rows[1]["action"] == "sent"
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_app_role_may_only_add_entries(postgres_server, postgres_db) -> None:
    import psycopg

    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("CREATE ROLE uploader_app LOGIN")
    try:
        init_postgres(postgres_db, app_role="uploader_app")
        app_dsn = postgres_db.replace("postgres@", "uploader_app@", 1)
        app = PostgresAudit(app_dsn)
        try:
            app.append("sent", username="ana", workstation="desk-1")
        finally:
            app.close()
        # The app itself, logged in as that role, keeps its history and writes the trail.
        from uploader_gui.core.history_pg import PostgresHistoryStore
        from uploader_gui.core.jobs import Job
        from uploader_gui.core.targets import Destination, TargetConfig

        history = PostgresHistoryStore(app_dsn)
        try:
            history.add_job(Job(path="/s/a.pdf", name="a.pdf", size=1, sha256="ab" * 32,
                                file_type="pdf", target="claros",
                                destination=Destination(patient_id="1001"),
                                target_config=TargetConfig(kind="claros", base_url="https://c")))
        finally:
            history.close()
        check = PostgresAudit(app_dsn)
        try:
            entries = list(check.entries())
        finally:
            check.close()
        assert [e.action for e in entries] == ["sent", "staged"] and verify(entries).ok
        with psycopg.connect(app_dsn, autocommit=True) as conn:
            for sql in ("UPDATE audit SET username = 'x'", "DELETE FROM audit",
                        "TRUNCATE audit", "ALTER TABLE audit DISABLE TRIGGER audit_no_change"):
                with pytest.raises(psycopg.Error):
                    conn.execute(sql)
    finally:
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            conn.execute("DROP OWNED BY uploader_app")
            conn.execute("DROP ROLE uploader_app")


def test_unreachable_database_is_said_in_words() -> None:
    with pytest.raises(AuditError, match="cannot be reached"):
        PostgresAudit("postgresql://nobody:secret-pw@127.0.0.1:9/none")


def test_audit_commands(tmp_path, postgres_db) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")},
           "UPLOADER_GUI_HOME": str(tmp_path / "home"), "UPLOADER_GUI_DATABASE": postgres_db}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "uploader_gui", *args], capture_output=True,
                              text=True, timeout=60, cwd=REPO, env=env)

    init = cli("db", "init")
    assert init.returncode == 0, init.stderr
    store = PostgresAudit(postgres_db)
    store.dsn, store.kind = postgres_db, "postgresql"
    try:
        fill(store, 3)
    finally:
        store.close()
    ok = cli("audit", "verify")
    assert ok.returncode == 0 and "intact: 3 entries" in ok.stdout, ok.stderr
    out = tmp_path / "a.csv"
    exported = cli("audit", "export", "-o", str(out))
    assert exported.returncode == 0 and len(out.read_text().splitlines()) == 4
    tamper(store, "UPDATE audit SET receipt = 'forged' WHERE seq = 2")
    bad = cli("audit", "verify")
    assert bad.returncode == 1 and "entry 2" in bad.stdout


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_the_app_writes_the_trail_as_it_sends(store_kind, sandbox, tmp_path, request) -> None:
    """`send` and a refused upload leave staged/sent/failed entries, by this user from this
    desk, and the chain verifies."""
    import filemaker as fm

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")},
           "UPLOADER_GUI_HOME": str(tmp_path / "home"), "UPLOADER_GUI_WORKSTATION": "desk-7",
           "UPLOADER_GUI_TOKEN": sandbox.credentials["claros_api_key"]}
    if store_kind == "postgresql":
        env["UPLOADER_GUI_DATABASE"] = request.getfixturevalue("postgres_db")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "uploader_gui", *args], capture_output=True,
                              text=True, timeout=120, cwd=REPO, env=env)

    ok = fm.good_pdf(tmp_path / f"trail-ok-{store_kind}.pdf")
    bad = fm.good_pdf(tmp_path / f"trail-bad-{store_kind}.pdf", pages=2)
    assert cli("send", "--target", "claros", "--url", sandbox.url, "--patient", "1001",
               str(ok)).returncode == 0
    sandbox.add_fault(r"^/patients/1002/pdf/$", status=400, times=1,
                      body={"detail": "refused for the test"})
    assert cli("send", "--target", "claros", "--url", sandbox.url, "--patient", "1002",
               "--max-attempts", "1", str(bad)).returncode == 1
    exported = tmp_path / "trail.csv"
    proc = cli("audit", "export", "-o", str(exported))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert [(r["action"], r["destination"]) for r in rows] == [
        ("staged", "patient 1001"), ("sent", "patient 1001"), ("verified", "patient 1001"),
        ("staged", "patient 1002"), ("failed", "patient 1002")]
    assert {r["workstation"] for r in rows} == {"desk-7"} and all(r["username"] for r in rows)
    assert rows[1]["receipt"].startswith("pdf_") and "refused for the test" in rows[4]["receipt"]
    verified = cli("audit", "verify")
    assert verified.returncode == 0 and "intact: 6 entries" in verified.stdout  # + "exported"
