"""The upload queue and the history, against the sandbox with faults injected there."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.core.dispatcher import Dispatcher, DispatcherListener
from uploader_gui.core.history import SCHEMA_VERSION, HistoryError, HistoryStore, owner_alive
from uploader_gui.core.jobs import (
    CANCELLED,
    FAILED,
    QUEUED,
    SENT,
    UNKNOWN,
    VERIFIED,
    IllegalTransition,
    Job,
    sha256_of,
)
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig, make_target
from uploader_gui.core.transport import Transport

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=4, retry_after_cap=5)




@pytest.fixture
def history(app_home):
    store = HistoryStore()
    yield store
    store.close()


class Recorder(DispatcherListener):
    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self.progress: list[tuple[int, int, int]] = []
        self.lock = threading.Lock()

    def job_changed(self, job: Job) -> None:
        with self.lock:
            self.events.append((job.id, job.status))

    def job_progress(self, job_id: int, sent: int, total: int) -> None:
        with self.lock:
            self.progress.append((job_id, sent, total))


def claros_config(sb) -> TargetConfig:
    return TargetConfig(kind="claros", base_url=sb.url, name="Claros test")


def redcap_config(sb) -> TargetConfig:
    return TargetConfig(kind="redcap", base_url=sb.url + "/api/", name="REDCap test")


def creds_for(sb):
    def pick(job: Job) -> Credentials:
        token = "sandbox-claros-key" if job.target == "claros" else sb.credentials["redcap_token"]
        return Credentials(token=Secret(token))
    return pick


def make_job(path: Path, config: TargetConfig, **dest) -> Job:
    if config.kind == "claros":
        dest = {"patient_id": "1001", **dest}
    else:
        dest = {"record": "1", "field": "scan", **dest}
    return Job(path=str(path), name=path.name, size=path.stat().st_size, sha256=sha256_of(path),
               file_type="pdf", target=config.kind, destination=Destination(**dest),
               target_config=config)


def run_jobs(history, sb, jobs, policy=FAST, concurrency=2, listener=None, before_wait=None,
             target_factory=make_target):
    d = Dispatcher(history, creds_for(sb), concurrency=concurrency, policy=policy,
                   listener=listener or Recorder(), target_factory=target_factory)
    try:
        for job in jobs:
            d.submit(job)
        if before_wait:
            before_wait(d)
        assert d.wait_idle(60)
    finally:
        d.shutdown()
    return [history.get(j.id) for j in jobs]


def received(sb, target: str, name: str) -> list[dict]:
    return [r for r in sb.received(target) if r["filename"] == name]


# --------------------------------------------------------------------------- retries


def test_503_twice_then_sent_with_three_attempts(sandbox, history, tmp_path) -> None:
    path = fm.good_pdf(tmp_path / "q503.pdf")
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=503, times=2)
    [job] = run_jobs(history, sandbox, [make_job(path, claros_config(sandbox))])
    assert job.status == VERIFIED and job.attempts == 3 and job.remote_id
    attempts = history.attempts(job.id)
    assert [a.http_status for a in attempts] == [503, 503, job.http_status]
    assert [a.decision for a in attempts] == ["retry", "retry", "sent"]
    assert len(received(sandbox, "claros", "q503.pdf")) == 1


def test_429_retry_after_is_honoured(sandbox, history, tmp_path) -> None:
    path = fm.good_pdf(tmp_path / "q429.pdf")
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=429, retry_after=1, times=1)
    [job] = run_jobs(history, sandbox, [make_job(path, claros_config(sandbox))])
    first, second = history.attempts(job.id)
    assert first.http_status == 429 and job.status == VERIFIED
    # The policy's own backoff is 0.05 s at most here: the gap is Retry-After's second.
    assert second.started - first.ended >= 0.95


def test_400_is_not_retried(sandbox, history, tmp_path) -> None:
    png = fm.good_png(tmp_path / "not-a-pdf.pdf")
    job = make_job(png, claros_config(sandbox))
    [job] = run_jobs(history, sandbox, [job])
    assert job.status == FAILED and job.attempts == 1 and job.http_status == 400
    assert "Claros did not accept the file" in job.error


def test_reset_mid_body_is_retried_for_redcap(sandbox, history, tmp_path) -> None:
    path = fm.big_pdf(tmp_path / "qreset.pdf", 300_000)
    sandbox.add_fault(r"^/api/?$", action="reset_mid_body", times=1)
    [job] = run_jobs(history, sandbox, [make_job(path, redcap_config(sandbox), record="2")])
    assert job.status == VERIFIED and job.attempts == 2


def test_reset_after_body_is_unknown_for_claros(sandbox, history, tmp_path) -> None:
    path = fm.good_pdf(tmp_path / "qafter.pdf")
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="reset_after_body", times=1)
    [job] = run_jobs(history, sandbox, [make_job(path, claros_config(sandbox))])
    assert job.status == UNKNOWN and job.attempts == 1
    assert "whether it arrived is not known" in job.error


def test_read_timeout_unknown_for_claros_retried_for_redcap(sandbox, history, tmp_path) -> None:
    # The timeout also applies to the REDCap retry, which a loaded machine must answer
    # within it: 2 s, and hangs well beyond it.
    def impatient(config, credentials):
        return make_target(config, credentials, Transport(read_timeout=2.0))

    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=5.0, times=1)
    sandbox.add_fault(r"^/api/?$", action="hang", delay=5.0, times=1)
    c = make_job(fm.good_pdf(tmp_path / "qslow-c.pdf"), claros_config(sandbox))
    r = make_job(fm.good_pdf(tmp_path / "qslow-r.pdf"), redcap_config(sandbox), record="3")
    c, r = run_jobs(history, sandbox, [c, r], concurrency=1, target_factory=impatient)
    assert c.status == UNKNOWN and c.attempts == 1
    assert r.status == VERIFIED and r.attempts == 2


# --------------------------------------------------------------------------- cancel, change


def test_cancel_during_upload_is_quick(sandbox, history, tmp_path) -> None:
    path = fm.big_pdf(tmp_path / "qcancel.pdf", 30_000_000)
    job = make_job(path, redcap_config(sandbox))
    rec = Recorder()

    def cancel_when_sending(d: Dispatcher) -> None:
        deadline = time.monotonic() + 30
        while not rec.progress and time.monotonic() < deadline:
            time.sleep(0.005)
        d.cancel(job.id)

    [job] = run_jobs(history, sandbox, [job], listener=rec, before_wait=cancel_when_sending,
                     policy=RetryPolicy(max_attempts=1))
    assert job.status == CANCELLED, job.error
    assert job.bytes_sent < job.size
    assert not received(sandbox, "redcap", "qcancel.pdf")


def test_cancel_waiting_job(sandbox, history, tmp_path) -> None:
    files = [fm.good_pdf(tmp_path / f"qw{i}.pdf") for i in range(3)]
    jobs = [make_job(p, claros_config(sandbox)) for p in files]

    def pause_then_cancel(d: Dispatcher) -> None:
        d.cancel(jobs[2].id)

    d = Dispatcher(history, creds_for(sandbox), concurrency=1, policy=FAST)
    d.pause()
    for j in jobs:
        d.submit(j)
    pause_then_cancel(d)
    d.resume()
    assert d.wait_idle(30)
    d.shutdown()
    states = [history.get(j.id).status for j in jobs]
    assert states == [VERIFIED, VERIFIED, CANCELLED]
    assert not received(sandbox, "claros", "qw2.pdf")


def test_a_job_recorded_cancelled_is_never_queued(sandbox, history, tmp_path) -> None:
    # What a batch still being handed over gets when the user cancels or closes with Stop.
    path = fm.good_pdf(tmp_path / "qcalled-off.pdf")
    job = make_job(path, claros_config(sandbox))
    rec = Recorder()
    d = Dispatcher(history, creds_for(sandbox), concurrency=2, policy=FAST, listener=rec)
    try:
        d.record_cancelled(job)
        assert job.id is not None and d.active_count() == 0
        assert d.wait_idle(5)
    finally:
        d.shutdown()
    stored = history.get(job.id)
    assert stored.status == CANCELLED and stored.error == "Cancelled before it was sent."
    assert [st for jid, st in rec.events if jid == job.id][-1] == CANCELLED  # the window is told
    assert stored.attempts == 0 and not history.attempts(job.id)
    assert not received(sandbox, "claros", "qcalled-off.pdf")


def test_changed_or_missing_file_is_never_sent(sandbox, history, tmp_path) -> None:
    changed = fm.good_pdf(tmp_path / "qchanged.pdf")
    gone = fm.good_pdf(tmp_path / "qgone.pdf")
    j1, j2 = make_job(changed, claros_config(sandbox)), make_job(gone, claros_config(sandbox))
    changed.write_bytes(fm.pdf_bytes(2))
    gone.unlink()
    j1, j2 = run_jobs(history, sandbox, [j1, j2])
    assert j1.status == FAILED and "changed after it was checked" in j1.error
    assert j2.status == FAILED and "no longer where it was staged" in j2.error
    assert j1.attempts == j2.attempts == 0
    assert not received(sandbox, "claros", "qchanged.pdf")


def test_pause_holds_new_uploads(sandbox, history, tmp_path) -> None:
    d = Dispatcher(history, creds_for(sandbox), concurrency=2, policy=FAST)
    d.pause()
    job = d.submit(make_job(fm.good_pdf(tmp_path / "qpause.pdf"), claros_config(sandbox)))
    assert not d.wait_idle(0.5)
    assert history.get(job.id).status == QUEUED
    d.resume()
    assert d.wait_idle(30)
    d.shutdown()
    assert history.get(job.id).status == VERIFIED


# --------------------------------------------------------------------------- history store


def test_record_exists_before_the_upload(sandbox, history, tmp_path) -> None:
    seen: list[tuple[str, int]] = []
    store = history

    class Checker(DispatcherListener):
        def job_changed(self, job: Job) -> None:
            row = store.get(job.id)
            seen.append((row.status, len(store.attempts(job.id))))

    sandbox.add_fault(r"^/patients/1001/pdf/$", status=503, times=1)
    run_jobs(history, sandbox, [make_job(fm.good_pdf(tmp_path / "qrec.pdf"),
                                         claros_config(sandbox))], listener=Checker())
    # queued (written), uploading, then each attempt recorded before it is sent.
    assert seen[0] == ("queued", 0)
    assert ("uploading", 1) in seen and ("uploading", 2) in seen
    assert seen[-2:] == [("sent", 2), ("verified", 2)]  # accepted, then proven


def test_history_file_is_private_and_versioned(history) -> None:
    assert stat.S_IMODE(os.stat(history.path).st_mode) == 0o600
    conn = sqlite3.connect(history.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_corrupt_database_is_moved_aside(app_home) -> None:
    store = HistoryStore()
    path = store.path
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    fresh = HistoryStore()
    assert fresh.recovered_from is not None and fresh.recovered_from.exists()
    assert fresh.count() == 0
    fresh.close()


def test_newer_schema_is_refused_in_words(app_home) -> None:
    store = HistoryStore()
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(HistoryError, match="newer version"):
        HistoryStore()


def test_state_machine() -> None:
    from uploader_gui.core.jobs import check_transition

    check_transition(QUEUED, "uploading")
    check_transition(FAILED, QUEUED)
    with pytest.raises(IllegalTransition):
        check_transition(SENT, QUEUED)
    with pytest.raises(IllegalTransition):
        check_transition(QUEUED, SENT)


def test_owner_alive() -> None:
    from uploader_gui.core.history import PROCESS_OWNER

    assert owner_alive(PROCESS_OWNER)
    host = PROCESS_OWNER.split(":")[0]
    assert not owner_alive(f"{host}:999999999:1")
    assert not owner_alive(None)


# --------------------------------------------------------------------------- CLI, crash


def cli(*args: str, home: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return subprocess.Popen(
        [sys.executable, "-m", "uploader_gui", *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**clean, "UPLOADER_GUI_HOME": str(home), **(env or {})}, **kw,
    )


def history_json(home: Path) -> list[dict]:
    proc = cli("history", "--json", home=home)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_history_cli_fields(sandbox, tmp_path, app_home) -> None:
    pdf = fm.good_pdf(tmp_path / "qcli.pdf")
    proc = cli("send", "--target", "claros", "--url", sandbox.url, "--patient", "1003", str(pdf),
               home=app_home, env={"UPLOADER_GUI_TOKEN": "sandbox-claros-key"})
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    [row] = history_json(app_home)
    for key in ("id", "path", "name", "sha256", "target", "destination", "status", "attempts",
                "remote_id", "http_status", "error", "created", "finished"):
        assert key in row
    assert row["status"] == "verified" and row["destination"] == "patient 1003"
    assert (row["verified"], row["proof"]) == (True, "claros-receipt")
    assert row["sha256"] == sha256_of(pdf)
    text = cli("history", "--status", "verified", "--limit", "5", home=app_home)
    out, _ = text.communicate(timeout=60)
    assert "qcli.pdf" in out and "1 job(s)." in out


def test_kill_nine_mid_batch_then_resume(sandbox, tmp_path, app_home) -> None:
    names = [f"kill-{i:02}.pdf" for i in range(50)]
    folder = tmp_path / "batch"
    for n in names:
        fm.write(folder / n, fm.pdf_bytes(1, text=n))  # distinct bytes per file
    # Faults first (retried), then every upload takes a while, so the kill lands mid-batch,
    # some of it mid-upload.
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=503, times=4)
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=429, retry_after=0.2, times=2)
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=0.15, times=1000)
    env = {"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}
    proc = cli("send", "--target", "claros", "--url", sandbox.url, "--patient", "1001",
               "--concurrency", "3", "--retry-base", "0.01", "--json", str(folder),
               home=app_home, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(r["filename"].startswith("kill-") for r in sandbox.received("claros")) >= 15:
            break
        time.sleep(0.02)
    # From now on every upload hangs once its body is in: wait until one is caught like
    # that, so that the kill certainly lands mid-upload for at least one file.
    sandbox.clear_faults()
    switched = time.time()
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=30, times=1000)
    db = sqlite3.connect(app_home / "data" / "history.sqlite3", timeout=5)
    caught = []
    while time.monotonic() < deadline and not caught:
        caught = db.execute(
            "SELECT jobs.name FROM jobs JOIN attempts ON attempts.job_id = jobs.id "
            "WHERE jobs.status = 'uploading' AND attempts.started > ?", (switched,)).fetchall()
        time.sleep(0.05)
    db.close()
    assert caught, "no upload was caught mid-request"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    rows = history_json(app_home)  # opening the history marks the dead process's jobs
    assert sorted(r["name"] for r in rows) == names  # every job is accounted for
    states = {r["status"] for r in rows}
    assert states <= {"verified", "interrupted"} and "interrupted" in states
    sandbox.clear_faults()

    resume = cli("resume", "--json", home=app_home, env=env)
    out, err = resume.communicate(timeout=120)
    after = {r["name"]: r for r in history_json(app_home)}
    held = [n for n, r in after.items() if r["status"] == "interrupted"]
    # Claros jobs caught mid-upload may have arrived: held for a person, not re-sent.
    assert {name for (name,) in caught} <= set(held) and held
    assert all(after[n]["attempts"] >= 1 for n in held)
    assert resume.returncode == (1 if held else 0), out + err
    assert all(r["status"] == "verified" for n, r in after.items() if n not in held)
    counts = {}
    for r in sandbox.received("claros"):
        if r["filename"].startswith("kill-"):
            counts[r["filename"]] = counts.get(r["filename"], 0) + 1
    assert max(counts.values()) == 1  # nothing was delivered twice
    assert set(counts) | set(held) == set(names)  # and nothing was lost


def test_migration_from_version_1_keeps_jobs_and_backs_up(app_home, tmp_path) -> None:
    from uploader_gui.core.history import MIGRATIONS, history_path

    path = history_path()
    conn = sqlite3.connect(path)
    for statement in filter(None, (s.strip() for s in MIGRATIONS[0][1].split(";"))):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO jobs (uid, created, updated, path, name, size, sha256, file_type, target, "
        "destination, dest_key, target_config, status) VALUES ('u1', 1, 1, '/x/a.pdf', 'a.pdf', "
        "3, 'abc', 'pdf', 'claros', '{\"patient_id\": \"7\"}', 'patient 7', ?, 'sent')",
        (json.dumps({"kind": "claros", "base_url": "https://c.example"}),))
    conn.commit()
    conn.close()
    store = HistoryStore()
    try:
        assert store.backup_path is not None and store.backup_path.exists()
        [job] = store.jobs()
        assert (job.name, job.status, job.sources, job.delivery, job.verified) == (
            "a.pdf", "sent", [], None, False)
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION >= 3
        old = sqlite3.connect(store.backup_path).execute("PRAGMA user_version").fetchone()[0]
        assert old == 1
    finally:
        store.close()
