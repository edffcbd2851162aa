"""The window's first frame imports only what it uses: the History tab's model, the task
runner, and opening the history with its first page.

The frame paints before the rest of the window is imported (issue 18, case 7), so what
it needs must not pull in the log file's handlers (socket, pickle, queue), platformdirs,
uuid (platform), hashlib (OpenSSL), csv, tomllib, the targets' machinery, the audit
trail's entries or a thread pool. Each of those is imported where it is used: configuring
the log file, making a job, hashing a file, reading a settings file, recording, sending.
A fresh interpreter does it, as the app starts, after PySide6, and reports what it had
imported at each step.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SENT, Job
from uploader_gui.core.target_config import Destination, TargetConfig

REPO = Path(__file__).resolve().parent.parent

FIRST_FRAME = """
import json, sys
import PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets

before = set(sys.modules)
import uploader_gui.gui.history_model
import uploader_gui.gui.tasks
model = set(sys.modules) - before

from uploader_gui.gui.window_history import open_history
opened = open_history()
page = opened.first_page
print(json.dumps({
    "model": sorted(model), "all": sorted(set(sys.modules) - before),
    "problem": opened.problem, "total": page.total, "top": page.top_id,
    "names": [j.name for j in page.jobs], "interrupted": [j.name for j in opened.interrupted],
    "kinds": [j.target_config.kind for j in page.jobs],
}))
"""

#: Imported where they are used, never by the first frame.
LATER = {"logging.handlers", "socket", "pickle", "platformdirs", "uuid", "platform", "hashlib",
         "_hashlib", "csv", "tomllib", "concurrent.futures", "requests", "urllib3",
         "uploader_gui.core.targets", "uploader_gui.core.targets.base",
         "uploader_gui.core.outcome", "uploader_gui.core.log_file", "uploader_gui.core.audit"}
#: Not even by opening the history (datetime comes with sqlite3 itself).
MODEL_ONLY_LATER = {"sqlite3", "datetime", "uploader_gui.core.history",
                    "uploader_gui.core.logging_setup", "uploader_gui.core.paths"}


def _job(name: str, created: float, kind: str = "claros", status: str = SENT) -> Job:
    config = TargetConfig(kind=kind, base_url=f"https://{kind}.example", name=f"{kind} desk")
    job = Job(path=f"/scans/{name}", name=name, size=1234, sha256="ab" * 32, file_type="pdf",
              target=kind, destination=Destination(patient_id="1001"), target_config=config,
              profile=f"{kind} desk")
    job.status, job.created = status, created
    return job


def seed(home: Path) -> None:
    """Three uploads, one of them left uploading by a process that died; a clean close."""
    store = HistoryStore(home / "data" / "history.sqlite3")
    store.add_job(_job("old.pdf", 1_000.0))
    store.add_job(_job("newest.pdf", 3_000.0, kind="redcap"))
    dead = store.add_job(_job("cut-off.pdf", 2_000.0, status="uploading"))
    store.close()
    conn = sqlite3.connect(home / "data" / "history.sqlite3")
    with conn:
        conn.execute("UPDATE jobs SET owner = ? WHERE id = ?",
                     (f"{socket.gethostname()}:999999:1", dead.id))
    conn.close()


def first_frame(home: Path) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.run([sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True,
                          timeout=120, cwd=REPO,
                          env={**clean, "UPLOADER_GUI_HOME": str(home),
                               "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_first_frame_imports_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    seed(tmp_path)
    seen = first_frame(tmp_path)

    # It works: the newest first, every upload counted, the dead process's job found.
    assert seen["problem"] == ""
    assert seen["names"] == ["newest.pdf", "cut-off.pdf", "old.pdf"]
    assert seen["kinds"] == ["redcap", "claros", "claros"]
    assert seen["total"] == 3 and seen["top"] == 3
    assert seen["interrupted"] == ["cut-off.pdf"]

    model, everything = set(seen["model"]), set(seen["all"])
    assert "uploader_gui.gui.history_model" in model and "uploader_gui.gui.tasks" in model
    assert "uploader_gui.core.history" in everything
    assert not (LATER | MODEL_ONLY_LATER) & model, sorted((LATER | MODEL_ONLY_LATER) & model)
    assert not LATER & everything, sorted(LATER & everything)
