"""The integrity check runs only after an unclean exit: real processes, killed with
SIGKILL or closed cleanly, on a real SQLite history (and the real app, started as a
person starts it)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from uploader_gui.core.history import HistoryStore

REPO = Path(__file__).resolve().parent.parent

OPENER = """
import sys, time
from uploader_gui.core.history import HistoryStore
store = HistoryStore()
print("checked" if store.checked else "not checked", flush=True)
if sys.argv[1] == "close":
    store.close()
elif sys.argv[1] == "stay":
    time.sleep(600)
# "exit": the interpreter ends normally with the store still open
"""


def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return {**clean, "UPLOADER_GUI_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(REPO)}


def opener(home: Path, how: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", OPENER, how], cwd=REPO, env=env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def open_and_close(home: Path) -> str:
    proc = opener(home, "close")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out.strip()


def marks(home: Path) -> list[Path]:
    return sorted((home / "data").glob("history.sqlite3.running-*"))


def wait_for(what: Callable[[], object], timeout: float = 60) -> None:
    """For another process: poll (no Qt event loop to wait on here)."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_killed_process_leaves_its_mark_and_the_next_start_checks(app_home) -> None:
    store = HistoryStore()  # a history with something in it
    store.close()
    assert not marks(app_home)
    assert open_and_close(app_home) == "not checked"  # it was closed cleanly
    assert not marks(app_home)

    killed = opener(app_home, "stay")
    assert killed.stdout is not None and killed.stdout.readline().strip() == "not checked"
    [mark] = marks(app_home)  # the running process's mark, private like the history
    assert stat.S_IMODE(mark.stat().st_mode) == 0o600
    assert str(killed.pid) in mark.name
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert marks(app_home) == [mark]  # nobody removed it: an unclean exit

    assert open_and_close(app_home) == "checked"
    assert not marks(app_home)  # checked once; the next start is clean again
    assert open_and_close(app_home) == "not checked"


def test_a_normal_exit_without_closing_is_clean_too(app_home) -> None:
    """The window may close while its history is still being opened on a worker."""
    HistoryStore().close()
    proc = opener(app_home, "exit")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "not checked", err
    assert not marks(app_home)
    assert open_and_close(app_home) == "not checked"


def test_another_running_copy_is_not_an_unclean_exit(app_home) -> None:
    HistoryStore().close()
    running = opener(app_home, "stay")
    try:
        assert running.stdout is not None and running.stdout.readline().strip() == "not checked"
        assert open_and_close(app_home) == "not checked"  # its mark is a live process's
        assert len(marks(app_home)) == 1
    finally:
        running.kill()
        running.wait(timeout=30)
    assert open_and_close(app_home) == "checked"


def test_corrupt_history_after_a_clean_exit_is_still_moved_aside(app_home) -> None:
    """No check was due, but SQLite finds the file damaged on opening: checked all the same."""
    store = HistoryStore()
    path = store.path
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8192)
    again = HistoryStore()
    assert again.recovered_from is not None and again.recovered_from.exists()
    assert again.count() == 0
    again.close()


def log_text(home: Path) -> str:
    log = home / "logs" / "uploader-gui.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def start_app(home: Path) -> subprocess.Popen[str]:
    """The window, as a person starts it (offscreen; the sandbox's profiles, no keyring)."""
    before = set(marks(home))
    proc = subprocess.Popen([sys.executable, "-m", "uploader_gui", "--sandbox"], cwd=REPO,
                            env=env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: proc.poll() is not None or set(marks(home)) - before)  # history open
    assert proc.poll() is None, proc.communicate()
    return proc


def test_the_app_checks_after_kill_9_and_not_after_a_clean_exit(app_home) -> None:
    first = start_app(app_home)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert len(marks(app_home)) == 1
    assert "integrity check" not in log_text(app_home)

    second = start_app(app_home)  # after the kill: the history is checked (on a worker)
    wait_for(lambda: "integrity check passed" in log_text(app_home))
    assert "did not end cleanly" in log_text(app_home)
    second.send_signal(signal.SIGTERM)  # a logout: the window closes as Quit does
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert not marks(app_home)

    checks = log_text(app_home).count("integrity check")
    third = start_app(app_home)  # after a clean exit: no check
    third.send_signal(signal.SIGTERM)
    third.communicate(timeout=60)
    assert third.returncode == 0
    assert log_text(app_home).count("integrity check") == checks
    assert not marks(app_home)
