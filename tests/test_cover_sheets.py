"""Cover sheets round trip: printed for three patients, interleaved with their pages, split,
routed and sent on the sandbox; the same batch rasterised and turned like a real scan;
patient labels; the `cover-sheet` and `split` commands."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import scanmaker as sm
from pypdf import PdfReader

from uploader_gui.core import coversheet
from uploader_gui.core.dispatcher import Dispatcher
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import VERIFIED
from uploader_gui.core.planner import answers_from_profile
from uploader_gui.core.routing import route_parts
from uploader_gui.core.splitter import LABEL, SHEET, UNMATCHED, analyse, unattended
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig
from uploader_gui.core.targets.base import PatientInfo

REPO = Path(__file__).resolve().parent.parent
PATIENTS = {"1001": ("Ada Sandbox", "1980-01-01", 2), "1002": ("Ben Sandbox", "1975-06-15", 1),
            "1003": ("Cleo Sandbox", "1999-12-31", 3)}
PROFILE = "Front desk"


def config(url: str, **extra) -> TargetConfig:
    return TargetConfig(kind="claros", base_url=url, name=PROFILE, label_barcodes=["Code128"],
                        label_pattern=r"^MRN(\d+)$", **extra)


def cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return subprocess.run([sys.executable, "-m", "uploader_gui", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO,
                          env={**clean, "UPLOADER_GUI_HOME": str(home), **env})


def texts(path: Path) -> list[str]:
    return [p.extract_text().strip() for p in PdfReader(path).pages]


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    """sheet 1001, 2 pages, sheet 1002, 1 page, sheet 1003, 3 pages (pages 1..9)."""
    parts: list[Path] = []
    for pid, (name, born, n) in PATIENTS.items():
        data = coversheet.make_sheet_data(PROFILE, pid, "Referral")
        parts.append(coversheet.write_sheet(tmp_path / f"sheet-{pid}.pdf", data,
                                            PatientInfo(pid, name, born), "claros"))
        parts.append(sm.text_pdf(tmp_path / f"doc-{pid}.pdf",
                                 [f"Patient {pid} page {k}" for k in range(1, n + 1)]))
    return sm.concat(tmp_path / "batch.pdf", parts)


EXPECTED = [([1, 2], "1001"), ([4], "1002"), ([6, 7, 8], "1003")]  # pages from 0


def test_batch_splits_at_the_sheets_and_each_part_goes_to_its_patient(
        batch: Path, sandbox, validator, app_home: Path) -> None:
    before = hashlib.sha256(batch.read_bytes()).hexdigest()
    cfg = config(sandbox.url, unattended_cover_sheets=True)
    result = analyse(batch, cfg)
    assert result.sheet_pages == [0, 3, 5]
    assert [(p.pages, p.dest_id, p.route) for p in result.parts] == [
        (pages, pid, SHEET) for pages, pid in EXPECTED]
    assert all(p.sheet is not None and p.sheet.verified and p.sheet.doctype == "Referral"
               for p in result.parts)
    assert all(unattended(p, cfg, PROFILE) for p in result.parts)
    creds = Credentials(token=Secret(sandbox.credentials["claros_api_key"]))
    history = HistoryStore()
    try:
        routed = route_parts(result, cfg, creds, Destination(), history,
                             validator, PROFILE)
        jobs = []
        for item, (pages, pid) in zip(routed, EXPECTED, strict=True):
            assert item.plan is not None and not item.plan.refused
            # The patient's name and date of birth come from the target, for the confirmation.
            name, born, _n = PATIENTS[pid]
            assert item.plan.patient == PatientInfo(pid, name, born)
            assert texts(item.document.path) == [f"Patient {pid} page {k}"
                                                 for k in range(1, len(pages) + 1)]
            resolution = item.plan.resolve(answers_from_profile(item.plan))
            [planned] = resolution.jobs
            assert planned.job.sources == [{"path": str(batch), "sha256": before}]
            assert planned.job.patient_label == PatientInfo(pid, name, born).label()
            jobs.append(planned.job)
        dispatcher = Dispatcher(history, lambda _j: creds, concurrency=2)
        try:
            for job in jobs:
                dispatcher.submit(job)
            dispatcher.wait_idle()
        finally:
            dispatcher.shutdown(cancel=False)
        finals = [history.get(j.id) for j in jobs]
        assert [j.status for j in finals] == [VERIFIED] * 3  # Claros receipts checked: verified
        received = {r["sha256"]: r for r in sandbox.received("claros")}
        for job, (pages, pid) in zip(finals, EXPECTED, strict=True):
            assert str(received[job.sha256]["patient_id"]) == pid
            assert job.pages == len(pages)
            assert job.sources[0]["sha256"] == before  # History records the batch
    finally:
        history.close()
    assert hashlib.sha256(batch.read_bytes()).hexdigest() == before


def test_a_rasterised_turned_speckled_scan_splits_the_same(batch: Path, tmp_path: Path) -> None:
    scan = sm.rasterise(batch, tmp_path / "scan.pdf", {0: 180, 3: 90, 5: 270, 2: 180, 7: 90})
    result = analyse(scan, config("http://127.0.0.1:9"))
    assert result.sheet_pages == [0, 3, 5]
    assert [(p.pages, p.dest_id) for p in result.parts] == EXPECTED
    assert all(p.sheet is not None and p.sheet.verified for p in result.parts)


def test_sheet_from_another_key_splits_but_is_never_sent_unattended(
        batch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(coversheet.KEY_ENV, "the scan server has another key")
    cfg = config("http://127.0.0.1:9", unattended_cover_sheets=True)
    result = analyse(batch, cfg)
    assert [(p.pages, p.dest_id) for p in result.parts] == EXPECTED
    assert not any(p.sheet.verified for p in result.parts if p.sheet)
    assert not any(unattended(p, cfg, PROFILE) for p in result.parts)
    assert "check value does not match" in result.parts[0].note
    # Without the profile's permission a verified sheet does not send on its own either.
    monkeypatch.delenv(coversheet.KEY_ENV)
    result = analyse(batch, config("http://127.0.0.1:9"))
    assert not any(unattended(p, config("http://127.0.0.1:9"), PROFILE) for p in result.parts)
    forged = coversheet.SheetData(PROFILE, "1002", "Referral", "0000000000").text()
    assert coversheet.parse_sheet(forged) == coversheet.SheetData(
        PROFILE, "1002", "Referral", "0000000000", False)


def test_labels_suggest_and_unreadable_or_missing_ones_are_unmatched(tmp_path: Path) -> None:
    cfg = config("http://127.0.0.1:9", unattended_cover_sheets=True)
    labelled = sm.concat(tmp_path / "labelled.pdf", [
        sm.label_page_pdf(tmp_path / "l.pdf", "MRN1002"),
        sm.text_pdf(tmp_path / "t.pdf", ["second page"])])
    [part] = analyse(labelled, cfg).parts
    assert (part.route, part.dest_id, part.pages, part.label) == (LABEL, "1002", [0, 1], "MRN1002")
    assert part.destination(cfg) == Destination(patient_id="1002")
    assert not unattended(part, cfg, PROFILE)  # a label alone never sends without a person
    for page in (sm.label_page_pdf(tmp_path / "none.pdf", None),
                 sm.label_page_pdf(tmp_path / "smudged.pdf", "MRN1003", damaged=True),
                 sm.label_page_pdf(tmp_path / "other.pdf", "INV-778812")):  # not the pattern
        [part] = analyse(page, cfg).parts
        assert (part.route, part.dest_id) == (UNMATCHED, None), page.name
        assert "choose the patient by hand" in part.note
    # Pages before the first sheet, with no label: unmatched; the rest routes by the sheets.
    sheet = coversheet.write_sheet(tmp_path / "s.pdf",
                                   coversheet.make_sheet_data(PROFILE, "1001"), None, "claros")
    mixed = sm.concat(tmp_path / "mixed.pdf", [sm.text_pdf(tmp_path / "a.pdf", ["loose"]), sheet,
                                               sm.text_pdf(tmp_path / "b.pdf", ["for 1001"])])
    result = analyse(mixed, cfg)
    assert [(p.route, p.pages, p.dest_id) for p in result.parts] == [
        (UNMATCHED, [0], None), (SHEET, [2], "1001")]


def test_cover_sheet_and_split_commands(sandbox, batch: Path, tmp_path: Path,
                                        app_home: Path) -> None:
    from uploader_gui.core.profiles import save_profiles

    save_profiles({PROFILE: config(sandbox.url)})
    env = {"UPLOADER_GUI_TOKEN": sandbox.credentials["claros_api_key"]}
    out = tmp_path / "sheet.pdf"
    proc = cli("cover-sheet", "--profile", PROFILE, "--patient", "1002", "--doctype", "Referral",
               "-o", str(out), home=app_home, **env)
    assert proc.returncode == 0, proc.stderr
    assert "Ben Sandbox, born 1975-06-15 (1002)" in proc.stdout
    [text] = texts(out)
    assert "Ben Sandbox" in text and "Born 1975-06-15" in text and "Referral" in text
    assert os.stat(out).st_mode & 0o777 == 0o600
    missing = cli("cover-sheet", "--profile", PROFILE, "--patient", "4242", "-o",
                  str(tmp_path / "none.pdf"), home=app_home, **env)
    assert missing.returncode == 1 and "has no patient 4242" in missing.stderr
    assert not (tmp_path / "none.pdf").exists()
    assert sandbox.credentials["claros_api_key"] not in proc.stdout + proc.stderr

    # The sheet printed by the command routes a batch (same installation key).
    scanned = sm.concat(tmp_path / "desk.pdf", [out, sm.text_pdf(tmp_path / "d.pdf", ["x", "y"])])
    proc = cli("split", str(scanned), "--profile", PROFILE, "--json", home=app_home)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["cover_sheets"] == [1]
    assert shown["parts"] == [{"pages": [2, 3], "route": "cover_sheet", "destination": "1002",
                               "sheet_page": 1, "profile": PROFILE, "document_type": "Referral",
                               "verified": True}]
    proc = cli("split", str(batch), home=app_home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [  # no --profile: the sheets' profile is shown
        "batch.pdf: 9 page(s); cover sheets on pages 1, 4, 6.",
        f"  part 1: pages 2-3 -> 1001 (cover sheet), profile {PROFILE}",
        f"  part 2: pages 5 -> 1002 (cover sheet), profile {PROFILE}",
        f"  part 3: pages 7-9 -> 1003 (cover sheet), profile {PROFILE}"]


def test_profiles_keep_the_label_and_splitting_settings(app_home: Path) -> None:
    from uploader_gui.core.profiles import check_config, load_profiles, save_profiles

    cfg = config("https://ehr.example.org", split_cover_sheets=True,
                 unattended_cover_sheets=True, scan_device="test:0")
    save_profiles({PROFILE: cfg})
    assert load_profiles()[PROFILE] == cfg
    bad = config("https://ehr.example.org")
    bad.label_barcodes, bad.label_pattern = ["Code128", "Hieroglyphs"], r"^MRN\d+$"
    problems = " ".join(check_config(bad))
    assert "Unknown label barcode type Hieroglyphs" in problems
    assert "needs a group around the id" in problems
    bad.label_barcodes, bad.label_pattern = ["Code128"], None
    assert "need a pattern" in " ".join(check_config(bad))
