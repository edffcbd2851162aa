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

    listening = threading.Event()
    listener = threading.Thread(target=store.listen, args=(stop, changed),
                                kwargs={"on_listening": listening.set}, daemon=True)
    listener.start()
    assert listening.wait(15)  # LISTEN is in place
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


def test_jobs_and_other_actions_land_in_one_audit_trail(store, database) -> None:
    from uploader_gui.core.audit import open_audit, verify

    j = store.add_job(job("trail.pdf"))
    store.update_job(j, new_status=UPLOADING)
    j.remote_id = "pdf_9"
    store.update_job(j, new_status=SENT)
    store.audit("exported", receipt="3 uploads to history.csv")
    trail = open_audit(database)
    try:
        entries = list(trail.entries())
    finally:
        trail.close()
    assert [(e.action, e.receipt) for e in entries] == [
        ("staged", ""), ("sent", "pdf_9"), ("exported", "3 uploads to history.csv")]
    assert entries[0].destination == "patient 1001" and entries[0].sha256 == "ab" * 32
    assert "Ada" not in "".join(e.destination + e.receipt for e in entries)  # no names
    assert verify(entries).ok


# ---------------------------------------------------------------------- the History tab's pages

def varied(store, n: int) -> list[Job]:
    """``n`` jobs that differ in everything the History tab sorts and filters by, with ties
    (same time, same name) and text whose order depends on the collation (case, accents)."""
    names = ["b.pdf", "B.pdf", "a.pdf", "é.pdf", "Z-scan.pdf", "a.pdf", "50% off.pdf", "a_b.pdf"]
    statuses = [SENT, FAILED, INTERRUPTED, QUEUED]
    made = []
    base = 1_700_000_000.0
    for i in range(n):
        j = job(names[i % len(names)], sha=f"{i:064x}", patient=str(1000 + i % 7))
        j.workstation, j.delivery = f"desk-{i % 3}", [None, "pending", "succeeded"][i % 3]
        j.target = ["claros", "redox"][i % 2]
        j.created = base + (i // 2) * 60  # two jobs at each time: the id breaks the tie
        j.profile = ["Front desk", "Lab", None][i % 3]
        j.patient_label = ["Ada Sandbox", "", "José Núñez", None][i % 4]
        j.status = statuses[i % len(statuses)]
        j.error = "It failed." if j.status == FAILED else None
        j.remote_id = f"PDF_{i}" if j.status == SENT else None
        made.append(store.add_job(j))
    return made


def walk(store, query, size: int) -> list[int]:
    """Every page of ``query``, one after another, as the History tab reads them."""
    ids: list[int] = []
    page = store.page(query, size=size, total=True)
    ids += [j.id for j in page.jobs]
    while page.more:
        page = store.page(query, query.key(page.jobs[-1]), size=size)
        ids += [j.id for j in page.jobs]
    return ids


@pytest.mark.parametrize("order", ["created", "name", "patient", "target", "delivery", "status"])
def test_pages_follow_the_python_order_for_every_column(store, order) -> None:
    from uploader_gui.core.history_pages import HistoryQuery, sort_key

    jobs = varied(store, 41)
    for descending in (True, False):
        query = HistoryQuery(order=order, descending=descending)
        want = [j.id for j in sorted(jobs, key=lambda j: sort_key(order, j), reverse=descending)]
        assert walk(store, query, size=6) == want
        assert [j.id for j in store.matching(query)] == want


def test_pages_filter_as_the_window_does(store) -> None:
    from uploader_gui.core.history_pages import HistoryQuery

    jobs = varied(store, 40)
    since, until = jobs[10].created, jobs[30].created
    for query in (HistoryQuery(text="JOSÉ"), HistoryQuery(text="pdf_1"), HistoryQuery(text="50%"),
                  HistoryQuery(text="a_b"), HistoryQuery(text="patient 1003"),
                  HistoryQuery(text="front"), HistoryQuery(status=FAILED),
                  HistoryQuery(target="redox"), HistoryQuery(since=since, until=until),
                  HistoryQuery(workstation="desk-1", status=SENT),
                  HistoryQuery(text="a", workstation="desk-2", order="name")):
        want = [j.id for j in sorted(jobs, key=query.key, reverse=True) if query.accepts(j)]
        assert walk(store, query, size=4) == want, query
    # The wildcards of LIKE are only characters: "50%" is not "50" then anything.
    assert [j.name for j in store.matching(HistoryQuery(text="50%"))] == ["50% off.pdf"] * 5
    assert {j.name for j in store.matching(HistoryQuery(text="a_b"))} == {"a_b.pdf"}


def test_an_upload_between_two_pages_neither_shifts_nor_repeats_them(store) -> None:
    from uploader_gui.core.history_pages import HistoryQuery

    jobs = varied(store, 12)
    query = HistoryQuery()
    first = store.page(query, size=5, total=True)
    assert (first.total, first.top_id, first.more) == (12, jobs[-1].id, True)
    newest = store.add_job(job("newest.pdf", sha="ff" * 32))  # arrives meanwhile, on top
    rest = walk_from(store, query, first, size=5)
    assert [j.id for j in first.jobs] + rest == [j.id for j in reversed(jobs)]
    assert newest.id not in rest


def walk_from(store, query, page, size: int) -> list[int]:
    ids: list[int] = []
    while page.more:
        page = store.page(query, query.key(page.jobs[-1]), size=size)
        ids += [j.id for j in page.jobs]
    return ids
