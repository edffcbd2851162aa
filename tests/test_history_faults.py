"""The history under a hostile computer: locks, concurrent first starts, read-only disks,
real corruption, and the CLI when it cannot record. Real SQLite, real processes."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from uploader_gui.core.history import (
    CORRUPT,
    DISK_FULL,
    LOCKED,
    PERMISSION,
    READ_ONLY,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
)
from uploader_gui.core.history_errors import classify
from uploader_gui.core.jobs import SENT, Job
from uploader_gui.core.targets import Destination, TargetConfig

REPO = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))


def seed(store: HistoryStore, n: int, name: str = "earlier") -> list[Job]:
    jobs = []
    for i in range(n):
        job = Job(path=f"/scans/{name}-{i}.pdf", name=f"{name}-{i}.pdf", size=100 + i,
                  sha256=hashlib.sha256(f"{name}{i}".encode()).hexdigest(), file_type="pdf",
                  target="claros", destination=Destination(patient_id="1001"),
                  target_config=TargetConfig(kind="claros", base_url="http://127.0.0.1:1"),
                  profile=None, status=SENT)
        jobs.append(store.add_job(job))
    return jobs


def cli(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return subprocess.run([sys.executable, "-m", "uploader_gui", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO,
                          env={**clean, "UPLOADER_GUI_HOME": str(home),
                               "UPLOADER_GUI_TOKEN": "sandbox-claros-key"})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def aside_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*corrupt*"))


HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_history_locked_by_another_process_is_kept_and_said_so(app_home, tmp_path) -> None:
    store = HistoryStore()
    seed(store, 5)
    path = store.path
    store.close()
    before = digest(path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(HistoryError) as info:
            HistoryStore()
        assert info.value.kind == LOCKED
        assert "locked by another program" in info.value.message
        pdf = tmp_path / "a.pdf"
        pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
        sent = cli(app_home, "send", "--target", "claros", "--url", "http://127.0.0.1:9",
                   "--patient", "1001", str(pdf))
        listed = cli(app_home, "history", "--json")
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
    for proc in (sent, listed):
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "locked by another program" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not aside_files(path.parent)
    assert digest(path) == before
    after = HistoryStore()
    assert after.count() == 5 and after.recovered_from is None
    after.close()


def test_history_busy_writer_for_a_while_is_waited_for_or_reported(app_home) -> None:
    """Another writer holding a write lock: a write raises LOCKED in words, nothing lost."""
    store = HistoryStore()
    seed(store, 2)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=1)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(HistoryError) as info:
            seed(store, 1, "blocked")
        assert info.value.kind == LOCKED and "Traceback" not in str(info.value)
        assert store.count() == 2  # reading still works in WAL mode
    finally:
        other.execute("ROLLBACK")
        other.close()
    seed(store, 1, "later")
    assert store.count() == 3
    store.close()


STARTER = r"""
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
from uploader_gui.core.history import HistoryStore
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
store = HistoryStore()
store.mark_interrupted()
print(store.count())
store.close()
"""


@pytest.mark.timeout(600)
def test_eight_copies_starting_at_once_on_an_empty_folder(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for round_no in range(20):
        home = tmp_path / f"round{round_no}"
        home.mkdir()
        go = home / "go"
        procs = [subprocess.Popen([sys.executable, "-c", STARTER, str(go)],
                                  env={**env, "UPLOADER_GUI_HOME": str(home)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(8)]
        for p in procs:  # all imported, all waiting for the same starting signal
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, f"round {round_no}: {err}"
            assert out.strip() == "0"
        db = home / "data" / "history.sqlite3"
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.close()
        assert not aside_files(db.parent)


def test_really_corrupt_history_is_moved_aside_and_announced_with_its_path(app_home) -> None:
    store = HistoryStore()
    path = store.path
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    proc = cli(app_home, "history")
    assert proc.returncode == 0, proc.stderr
    [aside] = aside_files(path.parent)
    assert str(aside) in proc.stderr and "was damaged" in proc.stderr


def test_garbage_that_is_not_a_database_counts_as_corrupt(app_home) -> None:
    path = app_home / "data" / "history.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database at all" * 200)
    store = HistoryStore()
    assert store.recovered_from is not None and store.recovery_message
    assert str(store.recovered_from) in store.recovery_message
    store.close()


def test_error_kinds_are_told_apart() -> None:
    def sqlite_error(code: int) -> sqlite3.Error:
        err = sqlite3.OperationalError("x")
        err.sqlite_errorcode = code  # type: ignore[attr-defined]
        return err

    assert classify(sqlite_error(5)) == LOCKED
    assert classify(sqlite_error(6)) == LOCKED
    assert classify(sqlite_error(13)) == DISK_FULL
    assert classify(sqlite_error(8)) == READ_ONLY
    assert classify(sqlite_error(11)) == CORRUPT
    assert classify(sqlite_error(26)) == CORRUPT
    assert classify(sqlite_error(8 | (1 << 8))) == READ_ONLY  # an extended code
    assert classify(OSError(errno.ENOSPC, "No space left on device")) == DISK_FULL
    assert classify(OSError(errno.EACCES, "Permission denied")) == PERMISSION
    assert classify(OSError(errno.EROFS, "Read-only file system")) == READ_ONLY


# --------------------------------------------------------------------------- tmpfs


def _need_root_mount() -> None:
    if os.geteuid() != 0 or not Path("/proc/mounts").exists():
        if IN_CI:
            pytest.fail("this test needs root to mount a tmpfs, and CI must run it")
        pytest.skip("needs root to mount a small tmpfs (runs in CI as root)")


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 4 MiB tmpfs as UPLOADER_GUI_HOME (root only; CI runs as root)."""
    _need_root_mount()
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        if IN_CI:
            pytest.fail(f"could not mount a tmpfs: {proc.stderr}")
        pytest.skip(f"could not mount a tmpfs: {proc.stderr.strip()}")
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(mount))
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write until the disk is full; the filler file, to delete when space is wanted back."""
    filler = folder / "filler.bin"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_read_only_disk_keeps_the_history_and_shows_it(small_disk) -> None:
    store = HistoryStore()
    seed(store, 4)
    path = store.path
    store.close()
    before = digest(path)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(HistoryError) as info:
            HistoryStore()
        assert info.value.kind in (READ_ONLY, PERMISSION)
        view = HistoryStore(read_only=True)
        assert view.count() == 4
        with pytest.raises(HistoryError):
            seed(view, 1)
        view.close()
        listed = cli(small_disk, "history", "--json")
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.splitlines()) == 4
        assert "read-only" in listed.stderr and "Traceback" not in listed.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert digest(path) == before and not aside_files(path.parent)
    again = HistoryStore()
    assert again.count() == 4
    again.close()


def test_full_disk_history_write_says_so_and_loses_nothing(small_disk) -> None:
    store = HistoryStore()
    seed(store, 5)
    path = store.path
    # Empty the WAL so the next write must grow a file on the full disk.
    store._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    filler = fill(small_disk)
    with pytest.raises(HistoryError) as info:
        seed(store, 3, "during")
    assert info.value.kind == DISK_FULL
    assert info.value.message.startswith("The disk is full")
    assert "no transaction is active" not in info.value.message
    assert store.count() == 5
    store.close()
    # Reopening on the full disk: not moved aside, not "corrupt".
    try:
        reopened = HistoryStore()
        reopened.close()
    except HistoryError as err:
        assert err.kind == DISK_FULL
    assert not aside_files(path.parent)
    filler.unlink()
    after = HistoryStore()
    assert after.count() == 5 and after.recovered_from is None
    seed(after, 1, "after")
    assert after.count() == 6
    after.close()


def test_send_refuses_a_batch_the_disk_has_no_room_for(small_disk, sandbox, tmp_path) -> None:
    pdf = tmp_path / "room.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 1000 + b"\n%%EOF\n")
    before = len(sandbox.received("claros"))
    proc = cli(small_disk, "send", "--target", "claros", "--url", sandbox.url,
               "--patient", "1001", str(pdf))
    assert proc.returncode == 2
    assert "The disk is full" in proc.stderr and "Nothing was sent" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(sandbox.received("claros")) == before


WRITER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def hold_writer(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_send_while_another_writer_holds_the_history_sends_nothing(app_home, sandbox,
                                                                   tmp_path) -> None:
    store = HistoryStore()
    seed(store, 3)
    path = store.path
    store.close()
    pdf = tmp_path / "held.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    before = len(sandbox.received("claros"))
    holder = hold_writer(path)
    try:
        proc = cli(app_home, "send", "--target", "claros", "--url", sandbox.url,
                   "--patient", "1001", str(pdf))
        listed = cli(app_home, "history", "--json")  # reading still works, read-only
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "locked by another program" in proc.stderr and "Traceback" not in proc.stderr
    assert len(sandbox.received("claros")) == before
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3
    after = HistoryStore()
    assert after.count() == 3
    after.close()


def test_window_shows_a_locked_history_read_only_with_sending_off(qtbot, validator, sandbox,
                                                                  app_home) -> None:
    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.main_window import MainWindow

    store = HistoryStore()
    seed(store, 4)
    path = store.path
    store.close()
    holder = hold_writer(path)
    try:
        window = MainWindow(validator=validator,
                            profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.history_panel.model.rowCount() == 4, timeout=30_000)
        assert window.history is None and window.history_view is not None
        assert "locked by another program" in window.history_problem
        assert not window.upload_panel.upload_button.isEnabled()
        window.shutdown()
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
    assert not aside_files(path.parent)
