"""`send` with PDFs that go as copies: repaired, or without scripts (--remove-scripts)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pdffaults as pf
from test_cli_send import REPO, rows, send

from uploader_gui.core.validation import validate_file


def _history(home: Path) -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                          capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "UPLOADER_GUI_HOME": str(home)})
    return {j["name"]: j for j in map(json.loads, proc.stdout.splitlines())}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_send_repaired_copy_and_scripts_only_on_request(sandbox, tmp_path: Path,
                                                         app_home: Path) -> None:
    scan = pf.scanner_garbage_after_eof(tmp_path / "canon-scan.pdf")
    form = pf.field_keystroke_js(tmp_path / "form.pdf")
    originals = {p: p.read_bytes() for p in (scan, form)}
    env = {"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}
    base = ("--target", "claros", "--url", sandbox.url, "--patient", "1002", "--json")

    proc = send(*base, str(scan), str(form), env=env, home=app_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    by_name = {Path(r["path"]).name: r for r in rows(proc)}
    assert by_name["canon-scan.pdf"]["status"] == "verified"
    assert by_name["form.pdf"]["status"] == "rejected"
    assert "--remove-scripts" in by_name["form.pdf"]["error"]
    [got] = [r for r in sandbox.received("claros") if r["filename"] == "canon-scan.pdf"]
    received = Path(got["path"]).read_bytes()
    assert received != originals[scan] and received.rstrip().endswith(b"%%EOF")
    assert not [r for r in sandbox.received("claros") if r["filename"] == "form.pdf"]

    again = send(*base, "--remove-scripts", str(form), env=env, home=app_home)
    assert again.returncode == 0, again.stdout + again.stderr
    [sent] = [r for r in sandbox.received("claros") if r["filename"] == "form.pdf"]
    clean = Path(sent["path"])
    assert b"JavaScript" not in clean.read_bytes()
    check = validate_file(clean)
    assert check.ok and check.problems == []

    jobs = _history(app_home)
    assert jobs["canon-scan.pdf"]["sources"] == [
        {"path": str(scan), "sha256": _sha(scan), "copy": "repaired"}]
    assert jobs["canon-scan.pdf"]["sha256"] == got["sha256"] != _sha(scan)
    assert jobs["form.pdf"]["sources"] == [
        {"path": str(form), "sha256": _sha(form), "copy": "without scripts"}]
    assert jobs["form.pdf"]["sha256"] == sent["sha256"]
    assert not Path(jobs["form.pdf"]["path"]).exists()  # the copy was removed after sending
    assert {p: p.read_bytes() for p in originals} == originals
