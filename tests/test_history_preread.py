"""The History tab's newest page read by a child process while the window starts (issue 18).

Each case runs in a fresh interpreter, as the app starts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

READ = textwrap.dedent("""
    import json, os, select, sys
    from uploader_gui.core import history_preread
    history_preread.start()
    pre = history_preread.take()
    if pre is None:
        print(json.dumps({"started": False}))
        raise SystemExit(0)
    while not history_preread.read_some(pre):
        select.select([pre.fd], [], [], 10)
    page, state = history_preread.result(pre)
    print(json.dumps({"started": True, "names": [j.name for j in page.jobs] if page else None,
                      "state": state,
                      "total": page.total if page else None,
                      "files": sorted(os.listdir(os.path.join(os.environ["UPLOADER_GUI_HOME"],
                                                              "data")))}))
""")


def run(home: Path, **env: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", READ], capture_output=True, text=True,
                          timeout=60, cwd=REPO,
                          env={"UPLOADER_GUI_HOME": str(home), "PATH": "/usr/bin:/bin", **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def seed(count: int) -> None:
    from uploader_gui.core.history import HistoryStore
    from uploader_gui.core.jobs import SENT, Job
    from uploader_gui.core.targets import Destination, TargetConfig

    store = HistoryStore()
    config = TargetConfig(kind="claros", base_url="https://backend.claros.health", name="Desk")
    for i in range(count):
        job = Job(path=f"/s/{i}.pdf", name=f"scan-{i:03d}.pdf", size=1, sha256=f"{i:064x}",
                  file_type="pdf", target="claros", destination=Destination(patient_id="1"),
                  target_config=config, profile="Desk")
        job.status, job.created = SENT, 1_000_000.0 + i
        store.add_job(job)
    store.close()


def test_the_child_sends_the_newest_page_and_writes_nothing(app_home: Path) -> None:
    from uploader_gui.core.recent import save_window_state

    seed(305)
    save_window_state({"geometry": "AdnQywADAAA=", "split": "AAAA/wAAAAE="})
    out = run(app_home)
    assert out["started"]
    assert out["state"]["geometry"] == "AdnQywADAAA="  # the sizes left last time, too
    assert out["total"] == 305
    assert len(out["names"]) == 300  # one page
    assert out["names"][0] == "scan-304.pdf" and out["names"][-1] == "scan-005.pdf"
    # Read-only: no mark of a running store (SQLite's own -wal/-shm may appear for a reader).
    assert [f for f in out["files"] if "running" in f] == []
    assert {f for f in out["files"]} <= {"history.sqlite3", "history.sqlite3-wal",
                                         "history.sqlite3-shm", "window-state.json"}


def test_no_history_yet_means_no_page_and_no_history_made(app_home: Path) -> None:
    out = run(app_home)
    assert out["started"] and out["names"] is None and out["state"] == {}
    assert "history.sqlite3" not in out["files"]


def test_a_clinic_database_is_left_to_the_window(app_home: Path) -> None:
    seed(3)
    out = run(app_home, UPLOADER_GUI_DATABASE="postgresql://nobody@127.0.0.1:1/none")
    assert out == {"started": False}
