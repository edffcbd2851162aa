"""A batch sent to the sandbox, killed mid-way, resumed after the sandbox came back elsewhere.

Jobs keep the settings they were queued with, but a resumed job goes where its
profile points *now*: the sandbox keeps its port between runs when it can, and
when it cannot (the port was taken meanwhile), the window's sandbox profiles
carry the new address and the resume still delivers every file exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import filemaker as fm
from PySide6.QtCore import Qt

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.profiles import save_profile_set
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.gui.main_window import MainWindow
from uploader_gui.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent


def _uploading(db_path: Path) -> list[str]:
    """Jobs the send process has under way (nothing while it is still creating the file)."""
    try:
        db = sqlite3.connect(db_path, timeout=5)
        try:
            return [n for (n,) in db.execute("SELECT name FROM jobs WHERE status = 'uploading' "
                                             "AND attempts > 0")]
        finally:
            db.close()
    except sqlite3.OperationalError:  # being created or migrated right now
        return []


def test_sandbox_keeps_its_port_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "sb"
    with Sandbox(data, keep_port=True) as first:
        url = first.url
    with Sandbox(data, keep_port=True) as again:
        assert again.url == url
    assert oct((data / "port").stat().st_mode & 0o777) == "0o600"


def test_interrupted_sandbox_batch_resumes_at_the_new_address(qtbot, validator, tmp_path: Path,
                                                             app_home: Path) -> None:
    data = tmp_path / "sb"
    names = [f"resume-{i}.pdf" for i in range(5)]
    folder = tmp_path / "batch"
    for n in names:
        fm.write(folder / n, fm.pdf_bytes(1, text=n))
    first = Sandbox(data, keep_port=True).start()
    port = int(first.url.rsplit(":", 1)[1])
    save_profile_set(sandbox_profiles(first.url, first.credentials))
    # The first upload hangs for a while once its body is in: the kill lands mid-upload.
    first.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=2, times=1)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uploader_gui", "send", "--profile", "Sandbox Claros",
         "--patient", "1001", "--concurrency", "1", "--json", str(folder)],
        cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**clean, "UPLOADER_GUI_HOME": str(app_home),
             "UPLOADER_GUI_TOKEN": first.credentials["claros_api_key"]})
    db_path = app_home / "data" / "history.sqlite3"
    deadline = time.monotonic() + 60
    caught: list[str] = []
    while time.monotonic() < deadline and not caught:
        caught = _uploading(db_path) if db_path.exists() else []
        time.sleep(0.05)
    assert caught, "the batch never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    # The hung upload completes on the server's side after the client died.
    first_deadline = time.monotonic() + 15
    while time.monotonic() < first_deadline and not first.received("claros"):
        time.sleep(0.05)
    received = [r["filename"] for r in first.received("claros")]
    first.stop()

    # Something else takes the sandbox's port meanwhile: it must start elsewhere.
    blocker = socket.socket()
    # A handler thread of the stopped sandbox may not have closed its end of a connection
    # yet (daemon threads are not waited for): without SO_REUSEADDR that socket, still
    # bound to the port, makes this bind fail. Listening, the blocker still keeps the new
    # sandbox (SO_REUSEADDR too) off the port.
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        second = Sandbox(data, keep_port=True).start()
    finally:
        blocker.close()
    try:
        assert second.url != first.url
        window = MainWindow(validator=validator,
                            profiles=sandbox_profiles(second.url, second.credentials),
                            policy=RetryPolicy(base=0.01, cap=0.05, max_attempts=3))
        qtbot.addWidget(window)
        window.show()
        try:
            qtbot.waitUntil(window.interrupted_bar.isVisible, timeout=10_000)
            assert window.resume_button.isEnabled()
            qtbot.mouseClick(window.resume_button, Qt.MouseButton.LeftButton)
            resumable = len(names) - len(caught)

            def delivered() -> int:
                return sum(r["filename"].startswith("resume-") for r in second.received("claros"))

            qtbot.waitUntil(lambda: delivered() == resumable, timeout=60_000)

            def finished() -> int:  # the answers recorded too, before the window closes
                return sum(j.status == "verified" for j in window.history.jobs())

            qtbot.waitUntil(lambda: finished() == resumable, timeout=60_000)
        finally:
            window.shutdown()
        received += [r["filename"] for r in second.received("claros")]
    finally:
        second.stop()
    # Every file arrived exactly once: the one caught mid-upload at the old address (held,
    # not sent again: Claros may have it), the others at the new one.
    assert sorted(received) == sorted(names)
    store = HistoryStore()
    try:
        jobs = {j.name: j for j in store.jobs()}
        attempts = {n: store.attempts(jobs[n].id) for n in names}
    finally:
        store.close()
    assert {jobs[n].status for n in caught} == {"interrupted"}
    for n in set(names) - set(caught):
        assert jobs[n].status == "verified"  # Claros's receipt proved it
        assert attempts[n][-1].url == second.url  # the address really used is recorded
