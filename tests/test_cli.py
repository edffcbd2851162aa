"""The headless `uploader-gui validate` command, run as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import filemaker as fm

from uploader_gui import __version__

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UPLOADER_GUI_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "uploader_gui", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )


def test_version(app_home: Path) -> None:
    proc = run("--version", home=app_home)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"uploader-gui {__version__}"


def test_validate_json_mixed_folder(tmp_path: Path, app_home: Path) -> None:
    folder = tmp_path / "scans"
    fm.good_pdf(folder / "letter.pdf", pages=2)
    fm.good_png(folder / "photo.png", size=(30, 20))
    fm.names_js_pdf(folder / "sub" / "script.pdf")
    fm.write(folder / "empty.pdf", b"")
    proc = run("validate", "--json", str(folder), home=app_home)
    assert proc.returncode == 1, proc.stderr
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(rows) == {"letter.pdf", "photo.png", "script.pdf", "empty.pdf"}
    letter = folder / "letter.pdf"
    assert rows["letter.pdf"] == {
        "path": str(letter), "ok": True, "type": "pdf", "size": letter.stat().st_size,
        "pages": 2, "problems": [], "sha256": hashlib.sha256(letter.read_bytes()).hexdigest(),
    }
    assert (rows["photo.png"]["width"], rows["photo.png"]["height"]) == (30, 20)
    assert rows["script.pdf"]["problems"][0]["code"] == "pdf_active_content"
    assert rows["empty.pdf"]["problems"][0]["code"] == "empty"
    assert rows["empty.pdf"]["type"] is None


def test_validate_all_ok_exits_zero(tmp_path: Path, app_home: Path) -> None:
    a = fm.good_pdf(tmp_path / "a.pdf")
    b = fm.good_jpeg(tmp_path / "b.JPG")
    proc = run("validate", str(a), str(b), home=app_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERDICT" in proc.stdout and "2 of 2 file(s) can be sent" in proc.stdout


def test_validate_table_explains_rejections(tmp_path: Path, app_home: Path) -> None:
    locked = fm.encrypted_pdf(tmp_path / "locked.pdf", "pw")
    proc = run("validate", "--target", "redox", str(locked), home=app_home)
    assert proc.returncode == 1
    assert "REJECTED" in proc.stdout
    assert "protected by a password; remove the password and try again" in proc.stdout


def test_target_limit(tmp_path: Path, app_home: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "a.pdf")
    proc = run("validate", "--json", "--max-size-mb", "0.0001", str(pdf), home=app_home)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["problems"][0]["code"] == "too_large"


def test_usage_errors_exit_two(tmp_path: Path, app_home: Path) -> None:
    assert run("validate", home=app_home).returncode == 2
    assert run("validate", "--target", "dropbox", "x.pdf", home=app_home).returncode == 2
    missing = run("validate", str(tmp_path / "nope.pdf"), home=app_home)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert run("frobnicate", home=app_home).returncode == 2
