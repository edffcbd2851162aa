"""`watch` splits arriving batches at cover sheets, when the profile turns it on.

Sent unattended only when every part is behind a verified sheet for this profile and the
profile allows it; anything else leaves the whole file for a person.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import scanmaker as sm
from pypdf import PdfReader

from uploader_gui.core import coversheet
from uploader_gui.core.profiles import Profile, save_profile_set
from uploader_gui.core.targets import Credentials, Destination, TargetConfig
from uploader_gui.core.targets.base import PatientInfo

REPO = Path(__file__).resolve().parent.parent
PROFILE = "Scan server"


def save(sandbox, **cfg) -> None:
    config = TargetConfig(kind="claros", base_url=sandbox.url, name=PROFILE, confirm=False,
                          split_cover_sheets=True, label_barcodes=["Code128"],
                          label_pattern=r"^MRN(\d+)$", **cfg)
    save_profile_set([Profile(config, Credentials(), Destination())])


def watch_once(folder: Path, home: Path) -> dict[str, dict]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "uploader_gui", "watch", "--profile", PROFILE, "--once",
         "--settle", "0.5", "--json", str(folder)], capture_output=True, text=True,
        timeout=180, cwd=REPO, env={**clean, "UPLOADER_GUI_HOME": str(home),
                                    "UPLOADER_GUI_TOKEN": "sandbox-claros-key"})
    assert proc.returncode in (0, 1), proc.stderr
    return {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}


def sheet(tmp: Path, pid: str, profile: str = PROFILE) -> Path:
    return coversheet.write_sheet(tmp / f"sheet-{pid}-{profile}.pdf",
                                  coversheet.make_sheet_data(profile, pid, "Referral"),
                                  PatientInfo(pid, "Someone"), "claros")


def test_watch_sends_sheet_routed_parts_unattended_and_leaves_the_rest(
        sandbox, tmp_path: Path, app_home: Path) -> None:
    save(sandbox, unattended_cover_sheets=True)
    scans = tmp_path / "scans"
    scans.mkdir()
    # A scan server's batch: three patients, their sheets from this installation.
    sm.concat(scans / "morning.pdf", [
        sheet(tmp_path, "1001"), sm.text_pdf(tmp_path / "a.pdf", ["A1 watch", "A2 watch"]),
        sheet(tmp_path, "1002"), sm.text_pdf(tmp_path / "b.pdf", ["B1 watch"]),
        sheet(tmp_path, "1003"), sm.text_pdf(tmp_path / "c.pdf", ["C1 watch", "C2", "C3"])])
    # Loose pages before the first sheet: that part needs a person, so nothing is sent.
    sm.concat(scans / "loose.pdf", [sm.text_pdf(tmp_path / "l.pdf", ["loose page"]),
                                    sheet(tmp_path, "1001"),
                                    sm.text_pdf(tmp_path / "m.pdf", ["for Ada"])])
    # A patient label alone never sends unattended.
    sm.concat(scans / "labelled.pdf", [sm.label_page_pdf(tmp_path / "lab.pdf", "MRN1002"),
                                       sheet(tmp_path, "1003")])
    # A sheet printed for another profile.
    sm.concat(scans / "other.pdf", [sheet(tmp_path, "1002", "Another desk"),
                                    sm.text_pdf(tmp_path / "o.pdf", ["other"])])
    before = len(sandbox.received("claros"))
    results = watch_once(scans, app_home)
    assert results["morning.pdf"]["status"] == "sent", results["morning.pdf"]
    assert "Split into 3 part(s)" in results["morning.pdf"]["message"]
    new = sandbox.received("claros")[before:]
    assert sorted((r["patient_id"], r["filename"]) for r in new) == [
        (1001, "morning-part1-1001.pdf"), (1002, "morning-part2-1002.pdf"),
        (1003, "morning-part3-1003.pdf")]
    by_patient = {r["patient_id"]: r for r in new}
    assert [p.extract_text() for p in PdfReader(by_patient[1003]["path"]).pages] == [
        "C1 watch", "C2", "C3"]
    [moved] = (scans / "Sent").iterdir()
    assert moved.name.startswith("morning.job-")
    for name in ("loose.pdf", "labelled.pdf", "other.pdf"):
        assert results[name]["status"] == "needs_person", results[name]
        assert (scans / name).exists()  # left in place, untouched
    assert "pages 1: no cover sheet or patient label" in results["loose.pdf"]["message"]
    assert "pages 1: a patient label only suggests" in results["labelled.pdf"]["message"]
    assert "the cover sheet is for the profile “Another desk”" in results["other.pdf"]["message"]
    # Nothing is sent twice on the next pass; the waiting files are reported again.
    again = watch_once(scans, app_home)
    assert "morning.pdf" not in again
    assert len(sandbox.received("claros")) == before + 3


def test_without_permission_a_verified_batch_waits_for_a_person(
        sandbox, tmp_path: Path, app_home: Path) -> None:
    save(sandbox)  # split_cover_sheets on, unattended_cover_sheets off
    scans = tmp_path / "scans"
    scans.mkdir()
    sm.concat(scans / "batch.pdf", [sheet(tmp_path, "1001"),
                                    sm.text_pdf(tmp_path / "a.pdf", ["page"])])
    before = len(sandbox.received("claros"))
    results = watch_once(scans, app_home)
    assert results["batch.pdf"]["status"] == "needs_person"
    assert "does not send cover-sheet batches without a person" in results["batch.pdf"]["message"]
    assert len(sandbox.received("claros")) == before and (scans / "batch.pdf").exists()
