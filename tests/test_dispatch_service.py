"""The upload queue in its helper process: real uploads to the sandbox, real SIGKILLs.

The window reads the helper's events as it does (non-blocking drain on a readable pipe);
here a select() loop stands in for Qt's socket notifier.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.dispatch_service import DispatcherClient, ServiceStopped, profile_table
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.history_store import open_store
from uploader_gui.core.jobs import FINAL, INTERRUPTED, Job
from uploader_gui.core.paths import log_dir
from uploader_gui.core.planner import PlanInput, plan
from uploader_gui.core.retry import RetryPolicy

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, monkeypatch):
    """The desk's SQLite, or the clinic's PostgreSQL: the helper opens the same one."""
    if request.param == "postgresql":
        monkeypatch.setenv("UPLOADER_GUI_DATABASE", request.getfixturevalue("postgres_db"))
    else:
        monkeypatch.delenv("UPLOADER_GUI_DATABASE", raising=False)
    s = open_store()
    yield s
    s.close()


class Events:
    def __init__(self) -> None:
        self.changed: list[Job] = []
        self.progress: list[tuple[int, int, int]] = []
        self.finished: list[Job] = []
        self.stopped = 0

    def job_changed(self, job: Job) -> None:
        self.changed.append(job)

    def job_progress(self, job_id: int, sent: int, total: int) -> None:
        self.progress.append((job_id, sent, total))

    def job_finished(self, job: Job) -> None:
        self.finished.append(job)

    def history_failed(self, error: object) -> None:
        raise AssertionError(f"the history failed: {error}")

    def service_stopped(self) -> None:
        self.stopped += 1


def pump(client: DispatcherClient, until, timeout: float = 30.0) -> None:
    """The UI thread's part: read the helper's events whenever its pipe is readable."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out waiting for the upload helper"
        ready, _, _ = select.select([client.event_fd], [], [], 0.2)
        if ready:
            client.drain()


def claros_jobs(sandbox, validator, store: HistoryStore, folder: Path, n: int,
                prefix: str = "doc") -> list[Job]:
    [profile] = [p for p in sandbox_profiles(sandbox.url, sandbox.credentials)
                 if p.config.kind == "claros"]
    inputs = []
    for i in range(n):
        path = fm.write(folder / f"{prefix}-{i}.pdf", fm.pdf_bytes(1, text=f"{prefix} {i}"))
        inputs.append(PlanInput(path.name, path, validator.validate(path, "claros", 1 << 25)))
    the_plan = plan(inputs, profile.config, profile.credentials, profile.defaults, store,
                    profile="Sandbox Claros")
    assert not the_plan.refused
    return [p.job for p in the_plan.jobs]


def profiles(sandbox) -> dict:
    return profile_table({p.name: p for p in sandbox_profiles(sandbox.url, sandbox.credentials)})


def test_the_helper_uploads_records_and_reports(sandbox, validator, tmp_path: Path,
                                                store) -> None:
    events = Events()
    client = DispatcherClient(store, profiles(sandbox), concurrency=2, policy=FAST,
                              listener=events)
    try:
        prefix = type(store).__name__  # one sandbox for the module: its own file names
        jobs = [client.submit(job)
                for job in claros_jobs(sandbox, validator, store, tmp_path, 5, prefix=prefix)]
        assert all(j.id is not None for j in jobs) and client.active_count() > 0
        ids = {j.id for j in jobs}
        pump(client, lambda: {j.id for j in events.finished} >= ids)
        client.wait_idle(timeout=10)
        assert client.active_count() == 0
        # The window is told each job's latest state (batched: a step may be folded into the
        # next), never going backwards, ending verified.
        order = ["queued", "uploading", "sent", "verified"]
        for job_id in ids:
            seen = [order.index(j.status) for j in events.changed if j.id == job_id]
            assert seen == sorted(seen) and seen[-1] == order.index("verified"), seen
        assert events.progress and all(total > 0 for _, _, total in events.progress)
        # The helper wrote the history, as its own process: the window's is not the owner.
        for job_id in ids:
            stored = store.get(job_id)
            assert stored is not None and stored.status == "verified" and stored.remote_id
        assert client._proc.pid != os.getpid()
        assert len([r for r in sandbox.received("claros")
                    if r["filename"].startswith(prefix + "-")]) == 5
        # The token reached the helper (the sandbox accepted it) but never its log.
        token = sandbox.credentials["claros_api_key"]
        helper_log = log_dir() / "uploader-gui-queue.log"
        assert helper_log.exists() and token not in helper_log.read_text()
    finally:
        client.shutdown()
    assert not client._proc.is_alive() and client._proc.exitcode == 0


def test_a_killed_helper_is_reported_its_jobs_interrupted_and_a_new_one_starts(
        sandbox, validator, tmp_path: Path, store) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=20, times=10)
    events = Events()
    client = DispatcherClient(store, profiles(sandbox), concurrency=2, policy=FAST,
                              listener=events)
    try:
        jobs = [client.submit(job)
                for job in claros_jobs(sandbox, validator, store, tmp_path, 3,
                                       prefix="killed-" + type(store).__name__)]
        pump(client, lambda: sum(1 for j in events.changed if j.status == "uploading") >= 2)
        first = client._proc
        os.kill(first.pid, signal.SIGKILL)
        pump(client, lambda: events.stopped == 1)
        assert not client.started and client.active_count() == 0
        # The usual rule after a crash: the dead helper's jobs are interrupted, not lost.
        marked = set(store.mark_interrupted())
        assert marked == {j.id for j in jobs}
        assert {j.id for j in store.jobs(status=INTERRUPTED)} >= marked
        # The next request starts a new helper, which sends.
        sandbox.clear_faults()
        [again] = claros_jobs(sandbox, validator, store, tmp_path, 1,
                              prefix="again-" + type(store).__name__)
        again = client.submit(again)
        assert client._proc is not first and client._proc.pid != first.pid
        pump(client, lambda: any(j.id == again.id for j in events.finished))
        final = store.get(again.id)
        assert final is not None and final.status == "verified"
    finally:
        client.shutdown()


def test_if_the_window_dies_the_helper_finishes_and_records_everything(
        sandbox, validator, tmp_path: Path, app_home: Path) -> None:
    # A window process queues 3 uploads (each held 1 s by the server) and dies at once,
    # without shutting anything down. Its helper sends them all, records them, and exits.
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=1, times=3)
    store = HistoryStore()
    jobs = claros_jobs(sandbox, validator, store, tmp_path, 3, prefix="orphan")
    store.close()
    jobs_file = tmp_path / "jobs.pickle"
    import pickle

    jobs_file.write_bytes(pickle.dumps(jobs))
    (tmp_path / "profiles.pickle").write_bytes(pickle.dumps(profiles(sandbox)))
    script = textwrap.dedent(f"""
        import json, os, pickle
        from uploader_gui.core.dispatch_service import DispatcherClient
        from uploader_gui.core.history import HistoryStore
        store = HistoryStore()
        client = DispatcherClient(store, pickle.load(open({str(tmp_path / "profiles.pickle")!r}, "rb")))
        ids = [client.submit(j).id for j in pickle.load(open({str(jobs_file)!r}, "rb"))]
        print(json.dumps({{"ids": ids, "helper": client._proc.pid}}), flush=True)
        os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    told = json.loads(out.stdout)
    store = HistoryStore()
    try:
        deadline = time.monotonic() + 30
        while True:
            statuses = {j.id: j.status for j in store.jobs() if j.id in told["ids"]}
            if len(statuses) == 3 and all(s in FINAL for s in statuses.values()):
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.2)
        assert set(statuses.values()) == {"verified"}
        deadline = time.monotonic() + 15
        while _alive(told["helper"]):
            assert time.monotonic() < deadline, "the orphaned helper did not exit"
            time.sleep(0.2)
        # Nothing was left for a restart to call interrupted, and nothing went twice.
        assert store.mark_interrupted() == []
        assert len([r for r in sandbox.received("claros")
                    if r["filename"].startswith("orphan-")]) == 3
    finally:
        store.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_requests_to_a_shut_down_helper_say_so(sandbox, validator, tmp_path: Path) -> None:
    store = HistoryStore()
    client = DispatcherClient(store, profiles(sandbox), policy=FAST)
    try:
        client.start()
        assert client.started
        client.shutdown()
        [job] = claros_jobs(sandbox, validator, store, tmp_path, 1)
        try:
            client.submit(job)
        except ServiceStopped as exc:
            assert "history" in str(exc)
        else:
            raise AssertionError("a stopped helper took a job")
        assert store.jobs() == []
    finally:
        store.close()
