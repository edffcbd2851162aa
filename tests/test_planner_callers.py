"""One rule book: the window, `send` and `watch` plan the same files the same way.

The same files (a new PDF, one sent before, a damaged one, an image), the same
profile and the same history go through each caller's own path; each file
ends the same way (sent, or not sent for the same reason) in all three.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SENT, UPLOADING, VERIFIED, Job
from uploader_gui.core.planner import PlanInput, plan
from uploader_gui.core.profiles import Profile
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.staging import StagedFile
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig
from uploader_gui.core.watch import FolderWatcher, WatchSettings

REPO = Path(__file__).resolve().parent.parent
PATTERN = r"^(?P<patient>\d+)_"
LIMIT = 32 * 1024 * 1024


def make_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        fm.write(folder / "1001_new.pdf", fm.pdf_bytes(2, text="new")),
        fm.write(folder / "1001_seen.pdf", fm.pdf_bytes(1, text="seen before")),
        fm.truncated_pdf(folder / "1001_cut.pdf"),
        fm.good_png(folder / "1001_photo.png"),
    ]


def seed_history(home: Path, monkeypatch, config: TargetConfig, creds: Credentials,
                 seen: Path, validator) -> None:
    """The same history for every caller: `1001_seen.pdf` already went to patient 1001."""
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(home))
    store = HistoryStore()
    try:
        res = validator.validate(seen, "claros", LIMIT)
        [planned] = plan([PlanInput(seen.name, seen, res)], config, creds,
                         Destination(patient_id="1001"), store).jobs
        job: Job = planned.job
        store.add_job(job)
        store.update_job(job, new_status=UPLOADING)
        store.update_job(job, new_status=SENT)
    finally:
        store.close()


def verdicts_from(rows: dict[str, tuple[str, str]]) -> dict[str, str]:
    """name -> "sent" (accepted, or verified too) | "duplicate" | the refusal's words."""
    out = {}
    for name, (state, why) in rows.items():
        if state in (SENT, VERIFIED):
            out[name] = "sent"
        elif "already sent to patient 1001" in why.lower():
            out[name] = "duplicate"
        else:
            out[name] = why
    return out


@pytest.fixture
def claros(sandbox):
    config = TargetConfig(kind="claros", base_url=sandbox.url, name="Front desk",
                          watch_pattern=PATTERN, confirm=False)
    creds = Credentials(token=Secret(sandbox.credentials["claros_api_key"]))
    return config, creds


def window_path(qtbot, validator, config, creds, files) -> dict[str, tuple[str, str]]:
    from uploader_gui.gui.upload_controller import UploadController

    store = HistoryStore()
    controller = UploadController([Profile(config, creds, Destination())], store,
                                  policy=RetryPolicy(base=0.01, cap=0.05, max_attempts=2))
    controller.confirm = lambda p: {q.id: q.default for q in p.questions}  # nobody ticks a box
    states: dict[str, tuple[str, str]] = {}
    by_key = {}

    def row(key: str, state: str, message: str) -> None:
        states[by_key[key]] = (state, message)

    controller.rowState.connect(row)
    controller.rowStates.connect(lambda rows: [row(*r) for r in rows])
    staged = []
    for path in files:
        item = StagedFile(path, validator.validate(path, "claros", LIMIT))
        by_key[item.key] = path.name
        if item.result.ok:
            staged.append(item)
        else:  # the window shows the check's verdict and never plans a rejected file
            states[path.name] = ("rejected", item.result.summary)
    try:
        controller.upload(staged, controller.profiles["Front desk"], Destination(patient_id="1001"))
        final = ("verified", "cancelled", "rejected", "failed", "unknown")  # Claros: proven
        qtbot.waitUntil(lambda: len(states) == len(files)
                        and all(s in final for s, _ in states.values()), timeout=60_000)
    finally:
        controller.shutdown()
        store.close()
    return states


def send_path(home: Path, sandbox, files: list[Path]) -> dict[str, tuple[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "uploader_gui", "send", "--target", "claros", "--url", sandbox.url,
         "--patient", "1001", "--json", *map(str, files)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**clean, "UPLOADER_GUI_HOME": str(home),
             "UPLOADER_GUI_TOKEN": sandbox.credentials["claros_api_key"]})
    assert proc.returncode == 1, proc.stderr  # not everything went
    return {Path(r["path"]).name: (r["status"], r["error"] or "")
            for r in map(json.loads, proc.stdout.splitlines())}


def watch_path(folder: Path, validator, config, creds) -> dict[str, tuple[str, str]]:
    store = HistoryStore()
    watcher = FolderWatcher(WatchSettings(folder, config, "Front desk", pattern=PATTERN,
                                          settle=0, poll=0.05), creds, store, validator)
    try:
        watcher.stable()  # first look: sizes noted
        outcomes = watcher.process_once()
    finally:
        watcher.close()
        store.close()
    return {o.path.name: (o.status, o.message) for o in outcomes}


def test_window_send_and_watch_plan_alike(qtbot, validator, sandbox, claros, tmp_path: Path,
                                          monkeypatch) -> None:
    config, creds = claros
    results = {}
    for caller in ("window", "send", "watch"):
        home = tmp_path / f"home-{caller}"
        files = make_files(tmp_path / f"files-{caller}")
        seed_history(home, monkeypatch, config, creds, files[1], validator)
        if caller == "window":
            rows = window_path(qtbot, validator, config, creds, files)
        elif caller == "send":
            rows = send_path(home, sandbox, files)
        else:
            rows = watch_path(files[0].parent, validator, config, creds)
        results[caller] = verdicts_from(rows)
    cut = validator.validate(tmp_path / "files-send" / "1001_cut.pdf", "claros", LIMIT)
    expected = {"1001_new.pdf": "sent", "1001_photo.png": "sent", "1001_seen.pdf": "duplicate",
                "1001_cut.pdf": cut.errors[0].message}
    for caller, verdicts in results.items():
        assert verdicts == expected, caller
