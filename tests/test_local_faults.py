"""The local side under attack: staged files swapped for a FIFO or /dev/zero, a disk that
fills during a batch, file modes of everything written, CSV injection, a closed pipe."""

from __future__ import annotations

import csv
import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import filemaker as fm
import pytest
from test_history_faults import fill, seed, small_disk  # noqa: F401 - the fixture

from uploader_gui.core.csv_safe import safe_cell
from uploader_gui.core.dispatcher import Dispatcher, DispatcherListener
from uploader_gui.core.history import DISK_FULL, HistoryError, HistoryStore
from uploader_gui.core.jobs import FAILED, QUEUED, SENT, UPLOADING, VERIFIED, Job, sha256_of
from uploader_gui.core.logging_setup import PrivateRotatingFileHandler
from uploader_gui.core.recheck import StagedFileError, hash_staged
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=2, retry_after_cap=1)


def claros_job(sb, path: Path) -> Job:
    return Job(path=str(path), name=path.name, size=path.stat().st_size, sha256=sha256_of(path),
               file_type="pdf", target="claros", destination=Destination(patient_id="1001"),
               target_config=TargetConfig(kind="claros", base_url=sb.url))


def creds(_job: Job) -> Credentials:
    return Credentials(token=Secret("sandbox-claros-key"))


class Recorder(DispatcherListener):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changes: list[tuple[int | None, str]] = []
        self.problems: list[HistoryError] = []

    def job_changed(self, job: Job) -> None:
        with self.lock:
            self.changes.append((job.id, job.status))

    def history_failed(self, error: HistoryError) -> None:
        self.problems.append(error)


# --------------------------------------------------------------------------- re-check


def swap_for_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def swap_for_dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


@pytest.mark.parametrize("swap", [swap_for_fifo, swap_for_dev_zero])
def test_staged_file_swapped_after_its_check_is_refused_not_waited_on(swap, sandbox, tmp_path,
                                                                      app_home) -> None:
    pdf = fm.good_pdf(tmp_path / "swapped.pdf")
    history = HistoryStore()
    job = claros_job(sandbox, pdf)  # checked: size and hash recorded
    swap(pdf)
    before = len(sandbox.received("claros"))
    d = Dispatcher(history, creds, concurrency=1, policy=FAST)
    try:
        d.submit(job)
        assert d.wait_idle(60)
    finally:
        d.shutdown()
    done = history.get(job.id)
    assert done is not None and done.status == FAILED
    assert "not an ordinary file" in (done.error or "")
    assert len(sandbox.received("claros")) == before
    history.close()


def test_recheck_reads_no_more_than_the_checked_size(tmp_path) -> None:
    grown = tmp_path / "grown.pdf"
    grown.write_bytes(b"x" * 1000)
    with pytest.raises(StagedFileError, match="changed after it was checked"):
        hash_staged(grown, 10)
    assert hash_staged(grown, 1000) == sha256_of(grown)
    with pytest.raises(StagedFileError, match="not an ordinary file"):
        hash_staged(Path("/dev/zero"), 1000)


# --------------------------------------------------------------------------- disk full


def test_disk_filling_mid_batch_stops_new_uploads_and_keeps_everything(small_disk,  # noqa: F811
                                                                      sandbox, tmp_path) -> None:
    history = HistoryStore()
    seed(history, 5)  # the earlier history that must survive
    files = [fm.good_pdf(tmp_path / f"batch-{i}.pdf") for i in range(3)]
    listener = Recorder()
    d = Dispatcher(history, creds, concurrency=1, policy=FAST, listener=listener)
    try:
        d.pause()
        jobs = [d.submit(claros_job(sandbox, f)) for f in files]  # recorded as queued
        history._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        filler = fill(small_disk)
        before = len(sandbox.received("claros"))
        d.resume()
        assert d.wait_idle(60)
        assert len(sandbox.received("claros")) == before  # nothing sent that wasn't recorded
        assert [p.kind for p in listener.problems] == [DISK_FULL]
        assert listener.problems[0].message.startswith("The disk is full")
        assert sorted(d.held_jobs()) == sorted(j.id for j in jobs)
        assert all(history.get(j.id).status == QUEUED for j in jobs)  # type: ignore[union-attr]
        assert history.count() == 8
        assert not d.retry_history()  # still full
        filler.unlink()
        assert d.retry_history()
        assert d.wait_idle(60)
    finally:
        d.shutdown()
    # Claros's receipt proves each one: verified.
    assert [history.get(j.id).status for j in jobs] == [VERIFIED] * 3  # type: ignore[union-attr]
    assert history.count() == 8
    history.close()


def test_outcome_of_an_upload_in_flight_when_the_disk_fills_is_kept(small_disk,  # noqa: F811
                                                                   sandbox, tmp_path) -> None:
    history = HistoryStore()
    seed(history, 2)
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=4.0)
    listener = Recorder()
    d = Dispatcher(history, creds, concurrency=1, policy=FAST, listener=listener)
    filler = None
    try:
        job = d.submit(claros_job(sandbox, fm.good_pdf(tmp_path / "inflight.pdf")))
        waiter = threading.Event()

        def uploading() -> bool:
            stored = history.get(job.id)  # type: ignore[arg-type]
            return stored is not None and stored.status == UPLOADING and stored.attempts == 1

        while not uploading():
            waiter.wait(0.02)
        history._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        filler = fill(small_disk)
        assert d.wait_idle(60)
        # Sent, but the disk was full: the record says uploading, the outcome is in memory.
        assert (job.id, SENT) in listener.changes
        assert history.get(job.id).status == UPLOADING  # type: ignore[union-attr]
        filler.unlink()
        filler = None
        assert d.retry_history()
    finally:
        d.shutdown()
        if filler is not None:
            filler.unlink()
    stored = history.get(job.id)  # type: ignore[arg-type]
    assert stored is not None and stored.status == VERIFIED and stored.remote_id
    assert history.attempts(job.id)[0].decision == "sent"  # type: ignore[arg-type]
    assert history.count() == 3
    history.close()


# --------------------------------------------------------------------------- file modes


def modes_under(root: Path) -> list[tuple[Path, int]]:
    out = [(root, stat.S_IMODE(root.stat().st_mode))]
    for path in root.rglob("*"):
        if not path.is_symlink():
            out.append((path, stat.S_IMODE(path.stat().st_mode)))
    return out


def assert_private(root: Path) -> None:
    for path, mode in modes_under(root):
        want = 0o700 if path.is_dir() else 0o600
        assert mode == want, f"{path} is {oct(mode)}, not {oct(want)}"


def test_everything_the_app_and_the_sandbox_write_is_private(tmp_path, app_home) -> None:
    from uploader_gui.sandbox import Sandbox

    old = os.umask(0o022)
    try:
        data = tmp_path / "sandbox-data"
        with Sandbox(data) as sb:
            pdf = fm.good_pdf(tmp_path / "private.pdf")
            photo = fm.good_png(tmp_path / "photo.png")
            env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
            env.update(UPLOADER_GUI_HOME=str(app_home), UPLOADER_GUI_TOKEN="sandbox-claros-key")
            claros = subprocess.run(
                [sys.executable, "-m", "uploader_gui", "send", "--target", "claros", "--url",
                 sb.url, "--patient", "1001", str(pdf), str(photo)],
                capture_output=True, text=True, timeout=90, cwd=REPO, env=env)
            assert claros.returncode == 0, claros.stdout + claros.stderr
            env["UPLOADER_GUI_TOKEN"] = sb.credentials["redcap_token"]
            for _ in range(2):  # the second replaces the first: a backup is written
                redcap = subprocess.run(
                    [sys.executable, "-m", "uploader_gui", "send", "--target", "redcap",
                     "--url", sb.url + "/api/", "--record", "1", "--field", "scan",
                     "--replace", "--allow-duplicate", str(pdf)],
                    capture_output=True, text=True, timeout=90, cwd=REPO, env=env)
                assert redcap.returncode == 0, redcap.stdout + redcap.stderr
            received = list((data / "received").rglob("*.pdf"))
            assert received
        assert (data / "credentials.json").exists()
        assert_private(data / "received")
        assert stat.S_IMODE((data / "credentials.json").stat().st_mode) == 0o600
        assert list((app_home / "data").rglob("*.bak")) or list((app_home / "data").glob(
            "backups/*")), "a REDCap backup was expected"
        assert_private(app_home)
    finally:
        os.umask(old)


def test_rotated_logs_stay_private(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "logs" / "app.log"
        path.parent.mkdir(mode=0o700)
        handler = PrivateRotatingFileHandler(path, maxBytes=200, backupCount=3,
                                             encoding="utf-8")
        logger = logging.getLogger("rotation-test")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            for i in range(40):
                logger.warning("patient MRN-%04d line %d", i, i)
        finally:
            logger.removeHandler(handler)
            handler.close()
        files = sorted(path.parent.iterdir())
        assert len(files) == 4  # the log and three rotations
        assert_private(path.parent)
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- CSV, pipes


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\r=1", "'\r=1"), ("plain.pdf", "plain.pdf"), (None, ""), (12, "12"),
])
def test_csv_cells_cannot_start_a_formula(value, shown) -> None:
    assert safe_cell(value) == shown


def test_history_export_neutralises_formula_file_names(qtbot, tmp_path, app_home) -> None:
    from uploader_gui.gui.history_panel import HistoryPanel

    store = HistoryStore()
    job = Job(path="/scans/=cmd|' /C calc'!A0.pdf", name="=cmd|' /C calc'!A0.pdf", size=1,
              sha256="0" * 64, file_type="pdf", target="claros",
              destination=Destination(patient_id="1001"),
              target_config=TargetConfig(kind="claros", base_url="http://127.0.0.1:1"),
              status=SENT, error="@evil")
    store.add_job(job)
    panel = HistoryPanel(store)
    qtbot.addWidget(panel)
    panel.load()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    out = tmp_path / "export.csv"
    panel.export_csv(out)
    qtbot.waitUntil(lambda: "Exported" in panel.count_label.text())
    [row] = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert row["name"] == "'=cmd|' /C calc'!A0.pdf" and row["path"].startswith("/scans")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    panel.shutdown()
    store.close()


def test_history_json_into_a_closed_pipe_exits_quietly(app_home) -> None:
    store = HistoryStore()
    seed(store, 600)  # far more than a pipe buffer holds
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    env["UPLOADER_GUI_HOME"] = str(app_home)
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; '{sys.executable}' -m uploader_gui history --json "
         "| head -n 1"], capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("{") and len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_held_uploads_go_on_their_own_once_space_returns(small_disk, sandbox,  # noqa: F811
                                                         tmp_path) -> None:
    history = HistoryStore()
    listener = Recorder()
    d = Dispatcher(history, creds, concurrency=1, policy=FAST, listener=listener,
                   retry_history_every=0.2)
    try:
        d.pause()
        job = d.submit(claros_job(sandbox, fm.good_pdf(tmp_path / "later.pdf")))
        history._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        filler = fill(small_disk)
        d.resume()
        assert d.wait_idle(60)
        assert listener.problems and d.held_jobs() == [job.id]
        filler.unlink()  # nobody calls retry_history: the dispatcher tries by itself
        waiter = threading.Event()
        while history.get(job.id).status != VERIFIED:  # type: ignore[union-attr]
            waiter.wait(0.05)
    finally:
        d.shutdown()
    assert d.history_problem is None and not d.held_jobs()
    history.close()
