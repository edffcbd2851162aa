"""One history interface, two stores: this desk's SQLite and the clinic's PostgreSQL.

Every test here runs against both, on a real PostgreSQL server (tests/pg_fixture.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from uploader_gui.core.history import SCHEMA_VERSION, HistoryStore
from uploader_gui.core.history_store import open_store
from uploader_gui.core.jobs import (
    FAILED,
    INTERRUPTED,
    QUEUED,
    SENT,
    UPLOADING,
    AttemptRecord,
    IllegalTransition,
    Job,
)
from uploader_gui.core.targets import Destination, TargetConfig

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, monkeypatch) -> str | None:
    """Selects the store the way IT does: UPLOADER_GUI_DATABASE (unset: SQLite)."""
    if request.param == "sqlite":
        monkeypatch.delenv("UPLOADER_GUI_DATABASE", raising=False)
        return None
    dsn = request.getfixturevalue("postgres_db")
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", dsn)
    return dsn


@pytest.fixture
def store(database):
    s = open_store()
    yield s
    s.close()


@pytest.fixture(params=["postgresql"])
def clinic_only_until_merge(request, monkeypatch):
    dsn = request.getfixturevalue("postgres_db")
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", dsn)
    return dsn


@pytest.fixture
def clinic(postgres_db, monkeypatch):
    """The clinic's PostgreSQL store (for what only a shared history has)."""
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", postgres_db)
    s = open_store()
    yield s
    s.close()


def job(name: str = "a.pdf", sha: str = "ab" * 32, patient: str = "1001", **kw) -> Job:
    return Job(path=f"/scans/{name}", name=name, size=1234, sha256=sha, file_type="pdf",
               target="claros", destination=Destination(patient_id=patient),
               target_config=TargetConfig(kind="claros", base_url="https://c.example"),
               profile="Desk", user="ana", workstation="desk-1", app_version="0.1.0",
               patient_label="Ada Sandbox, born 1980-01-01 (1001)", **kw)


def test_the_store_is_chosen_by_the_setting(store, database) -> None:
    from uploader_gui.core.history_pg import PostgresHistoryStore

    assert isinstance(store, PostgresHistoryStore if database else HistoryStore)
    if database:
        assert "@" in store.path and "password" not in store.path


def test_jobs_and_attempts_round_trip(store) -> None:
    j = store.add_job(job(sources=[{"path": "/scans/a.jpg", "sha256": "cd" * 32}]))
    assert j.id is not None
    store.update_job(j, new_status=UPLOADING)
    a = store.add_attempt(AttemptRecord(job_id=j.id, number=1, started=time.time(),
                                        url="https://c.example"))
    a.ended, a.http_status, a.decision = time.time(), 200, "done"
    store.update_attempt(a)
    j.remote_id, j.verified, j.proof = "pdf_1", True, "claros-receipt"
    store.update_job(j, new_status=SENT)
    got = store.get(j.id)
    assert (got.status, got.remote_id, got.verified, got.proof) == (SENT, "pdf_1", True,
                                                                    "claros-receipt")
    assert (got.user, got.workstation, got.patient_label) == ("ana", "desk-1", j.patient_label)
    assert got.sources == j.sources and got.destination == j.destination
    [att] = store.attempts(j.id)
    assert (att.http_status, att.decision, att.url) == (200, "done", "https://c.example")
    with pytest.raises(IllegalTransition):
        store.update_job(got, new_status=QUEUED)  # sent is final


def test_queries_duplicates_search_and_same(store) -> None:
    first = store.add_job(job("one.pdf"))
    store.update_job(first, new_status=UPLOADING)
    store.update_job(first, new_status=SENT)
    other = store.add_job(job("two.pdf", sha="ef" * 32, patient="1002"))
    store.update_job(other, new_status=FAILED)
    assert [d.id for d in store.find_duplicates("ab" * 32, "claros", "patient 1001")] == [first.id]
    assert store.find_duplicates("ab" * 32, "claros", "patient 1002") == []
    assert [j.name for j in store.jobs(search="TWO")] == ["two.pdf"]  # case-insensitive
    assert [j.name for j in store.jobs(status=SENT)] == ["one.pdf"]
    assert [j.id for j in store.find_same("ef" * 32, "claros", "patient 1002", (FAILED,))] == [
        other.id]
    assert store.count() == 2 and [j.name for j in store.jobs(limit=1)] == ["two.pdf"]


def test_interrupted_jobs_of_dead_processes_only(store) -> None:
    mine = store.add_job(job("live.pdf"))  # queued by this live process
    dead = store.add_job(job("dead.pdf", sha="11" * 32))
    dead.owner = "placeholder"
    store.update_job(dead)
    # Make the second one look like it belongs to a process of this host that died.
    import socket

    sql = "UPDATE jobs SET owner = ? WHERE id = ?"
    params = (f"{socket.gethostname()}:999999:1", dead.id)
    if isinstance(store, HistoryStore):
        with store._write() as conn:
            conn.execute(sql, params)
    else:
        with store._write() as conn:
            conn.execute(sql.replace("?", "%s"), params)
    assert store.mark_interrupted() == [dead.id]
    assert store.get(dead.id).status == INTERRUPTED and store.get(mine.id).status == QUEUED


def test_another_desks_jobs_are_never_marked_interrupted(clinic) -> None:
    store = clinic
    theirs = store.add_job(job("theirs.pdf"))
    with store._write() as conn:
        conn.execute("UPDATE jobs SET owner = %s WHERE id = %s", ("desk-b:4242:1", theirs.id))
    assert store.mark_interrupted() == []
    assert store.get(theirs.id).status == QUEUED


def test_claims_give_each_file_to_one_watcher(store) -> None:
    assert store.claim("scan-1|100|5|aa", lease=30, owner="server-a:1:1")
    assert not store.claim("scan-1|100|5|aa", lease=30, owner="server-b:2:2")
    assert store.claim("scan-1|100|5|aa", lease=30, owner="server-a:1:1")  # renewing is fine
    store.finish_claim("scan-1|100|5|aa", 7, owner="server-a:1:1")
    # Handled and moved away: should the same file be put back, it is a new arrival.
    assert store.claim("scan-1|100|5|aa", lease=30, owner="server-b:2:2")
    # A lease that ran out (its server died) passes to another.
    assert store.claim("scan-2|1|1|bb", lease=0.05, owner="server-a:1:1")
    time.sleep(0.1)
    assert store.claim("scan-2|1|1|bb", lease=30, owner="server-b:2:2")


def test_claims_race_between_threads(store, database) -> None:
    winners = []
    lock = threading.Lock()

    def server(n: int) -> None:
        own = open_store()
        try:
            for i in range(20):
                if own.claim(f"file-{i}", lease=60, owner=f"server-{n}:{n}:1"):
                    with lock:
                        winners.append(i)
        finally:
            own.close()

    threads = [threading.Thread(target=server, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(winners) == list(range(20))  # each file claimed exactly once


def test_concurrent_first_starts(clinic_only_until_merge, tmp_path) -> None:
    """Eight processes open an empty history at once; all come up on one schema."""
    database = clinic_only_until_merge
    code = ("from uploader_gui.core.history_store import open_store; s = open_store(); "
            "print(s.count()); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in results]
    assert all(out.strip() == "0" for out, _ in results)
    s = open_store()
    try:
        if database:
            row = s._read("SELECT version FROM uploader_schema")
            assert [r["version"] for r in row] == [SCHEMA_VERSION]
    finally:
        s.close()


def test_other_desks_see_changes_live(clinic) -> None:
    store = clinic
    seen: list[int] = []
    stop = threading.Event()
    got = threading.Event()

    def changed(ids: list[int]) -> None:
        seen.extend(ids)
        got.set()

    listener = threading.Thread(target=store.listen, args=(stop, changed), daemon=True)
    listener.start()
    time.sleep(0.5)  # LISTEN is in place
    other_desk = open_store()
    try:
        j = other_desk.add_job(job("from-desk-b.pdf"))
    finally:
        other_desk.close()
    assert got.wait(10)
    stop.set()
    listener.join(timeout=5)
    assert j.id in seen


def test_history_cli_reads_the_clinic_database(database, store, tmp_path) -> None:
    j = store.add_job(job("cli.pdf"))
    store.update_job(j, new_status=FAILED)
    import os

    # On the clinic's database another computer (another home) sees the same rows.
    home = str(tmp_path / "other-home") if database else os.environ["UPLOADER_GUI_HOME"]
    env = {**os.environ, "UPLOADER_GUI_HOME": home}
    proc = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (row["name"], row["user"], row["workstation"]) == ("cli.pdf", "ana", "desk-1")


def test_unreachable_clinic_database_is_said_in_words(monkeypatch) -> None:
    from uploader_gui.core.history import HistoryError

    monkeypatch.setenv("UPLOADER_GUI_DATABASE", "postgresql://uploader@127.0.0.1:9/uploads")
    with pytest.raises(HistoryError, match="cannot be reached"):
        open_store()
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", "postgresql://uploader:hunter2@db/uploads")
    with pytest.raises(HistoryError, match="must not contain a password") as info:
        open_store()
    assert "hunter2" not in str(info.value)
