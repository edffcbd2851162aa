"""Scan to send in the window, real widgets offscreen: the Scan dialog on SANE's test device,
the page strip, the split-and-send dialog on the sandbox, the cover-sheet dialog, and the
whole desk flow from the main window (remove a blank page, send three patients at once)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import scanmaker as sm
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sane_device import use_test_device

from uploader_gui.core import coversheet
from uploader_gui.core.convert import converted_dir
from uploader_gui.core.dispatcher import Dispatcher
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import VERIFIED
from uploader_gui.core.profiles import Profile
from uploader_gui.core.scan import ADF
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig
from uploader_gui.gui.batch_dialog import SplitBatchDialog
from uploader_gui.gui.cover_sheet_dialog import CoverSheetDialog
from uploader_gui.gui.page_tools import PageToolsDialog
from uploader_gui.gui.scan_dialog import ScanDialog

CLICK = Qt.MouseButton.LeftButton
NAMES = {"1001": "Ada Sandbox, born 1980-01-01 (1001)",
         "1002": "Ben Sandbox, born 1975-06-15 (1002)",
         "1003": "Cleo Sandbox, born 1999-12-31 (1003)"}


def texts(path: Path) -> list[str]:
    return [p.extract_text().strip() for p in PdfReader(path).pages]


def claros_profile(sandbox, name: str = "Sandbox Claros") -> Profile:
    return Profile(TargetConfig(kind="claros", base_url=sandbox.url, name=name),
                   Credentials(token=Secret(sandbox.credentials["claros_api_key"])),
                   Destination())


def three_patient_batch(tmp: Path, profile: str, blank_after: str | None = None) -> Path:
    parts: list[Path] = [sm.text_pdf(tmp / "loose.pdf", ["a loose page"])]
    for pid, n in (("1001", 2), ("1002", 1), ("1003", 2)):
        parts.append(coversheet.write_sheet(tmp / f"s{pid}.pdf",
                                            coversheet.make_sheet_data(profile, pid), None,
                                            "claros"))
        pages = [f"GUI {pid} page {k}" for k in range(1, n + 1)]
        if pid == blank_after:
            pages.append("")  # a blank page the scanner picked up
        parts.append(sm.text_pdf(tmp / f"d{pid}.pdf", pages))
    return sm.concat(tmp / "desk-batch.pdf", parts)


def test_scan_dialog_scans_three_pages_from_the_test_device(qtbot, tmp_path: Path,
                                                            monkeypatch) -> None:
    use_test_device(tmp_path, monkeypatch)
    dialog = ScanDialog(device="test:1")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.device.count() >= 2, timeout=30_000)
    assert dialog.device.currentData() == "test:1"  # the profile's scanner is preselected
    assert dialog.resolution.value() == 200 and dialog.mode.currentText() == "Grey"
    assert not dialog.pages.isEnabled()  # a page count only means something for the feeder
    dialog.source.setCurrentIndex(dialog.source.findData(ADF))
    assert dialog.pages.isEnabled() and dialog.duplex.isEnabled()
    dialog.pages.setValue(3)
    with qtbot.waitSignal(dialog.scanned, timeout=60_000) as signal:
        qtbot.mouseClick(dialog.scan_button, CLICK)
        assert not dialog.scan_button.isEnabled() and dialog.cancel_button.isEnabled()
    [pdf] = signal.args
    assert dialog.strip.count() == 3  # the pages arrived one by one
    assert [dialog.strip.item(i).text() for i in range(3)] == ["Page 1", "Page 2", "Page 3"]
    assert len(PdfReader(pdf).pages) == 3
    assert "Scanned 3 page(s)" in dialog.status.text()
    assert dialog.scan_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.close()


def test_page_strip_marks_blank_rotates_deletes_reorders_and_splits(qtbot, tmp_path: Path) -> None:
    doc = sm.text_pdf(tmp_path / "letter.pdf", ["Page one", "", "Page three", "Page four"])
    before = hashlib.sha256(doc.read_bytes()).hexdigest()
    dialog = PageToolsDialog([doc])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.strip.count() == 4, timeout=30_000)
    assert dialog.looks_blank() == [False, True, False, False]
    assert dialog.strip.item(1).text() == "2 · looks blank"
    qtbot.mouseClick(dialog.blank_button, CLICK)  # the person checks the marked page…
    assert dialog.selected_rows() == [1]
    qtbot.mouseClick(dialog.delete_button, CLICK)  # …and deletes it
    assert dialog.strip.count() == 3
    dialog.strip.setCurrentRow(0)
    qtbot.mouseClick(dialog.rotate_right, CLICK)
    dialog.strip.setCurrentRow(2)
    qtbot.mouseClick(dialog.left_button, CLICK)  # page four before page three
    dialog.strip.setCurrentRow(1)
    qtbot.mouseClick(dialog.split_button, CLICK)  # a new document starts at page four
    assert dialog.strip.item(1).text().startswith("✂ 2")
    with qtbot.waitSignal(dialog.saved, timeout=30_000) as signal:
        qtbot.mouseClick(dialog.save_button, CLICK)
    first, second = signal.args[0]
    assert texts(first.path) == ["Page one"] and texts(second.path) == ["Page four",
                                                                         "Page three"]
    assert [p.rotation for p in PdfReader(first.path).pages] == [90]
    assert first.sources == [{"path": str(doc), "sha256": before}]
    assert hashlib.sha256(doc.read_bytes()).hexdigest() == before


def test_split_dialog_lists_each_part_with_its_patient_and_sends_on_one_confirmation(
        qtbot, tmp_path: Path, sandbox, validator, app_home) -> None:
    profile = claros_profile(sandbox)
    batch = three_patient_batch(tmp_path, profile.name)
    history = HistoryStore()
    dispatcher = Dispatcher(history, lambda _j: profile.credentials, concurrency=2)
    submitted: list = []
    try:
        dialog = SplitBatchDialog(batch, profile, history, validator,
                                  lambda jobs: (submitted.extend(jobs),
                                                [dispatcher.submit(j) for j in jobs]))
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: len(dialog.part_boxes) == 4, timeout=60_000)
        shown = " ".join(w.text() for w in dialog.list_widget.findChildren(QLabel))
        for label in NAMES.values():
            assert label in shown
        assert "unmatched: choose the patient by hand" in shown
        boxes = [b for b, _ in dialog.part_boxes]
        assert [b.isEnabled() for b in boxes] == [False, True, True, True]
        assert dialog.send_button.text() == "&Send 3 document(s)"
        with qtbot.waitSignal(dialog.unmatched, timeout=10_000) as left:
            qtbot.mouseClick(dialog.send_button, CLICK)
        [(loose, sources)] = left.args[0]
        assert texts(loose) == ["a loose page"] and sources[0]["path"] == str(batch)
        dispatcher.wait_idle()
        finals = [history.get(j.id) for j in submitted]
        assert [j.status for j in finals] == [VERIFIED] * 3  # Claros receipts checked: verified
        assert [j.patient_label for j in finals] == list(NAMES.values())
        got = {r["sha256"]: r["patient_id"] for r in sandbox.received("claros")}
        assert [got[j.sha256] for j in finals] == [1001, 1002, 1003]
        # The sent parts' private copies are gone; only the one handed back to the list stays.
        assert [p.resolve() for p in converted_dir().rglob("*.pdf")] == [Path(loose).resolve()]
    finally:
        dispatcher.shutdown(cancel=False)
        history.close()


def test_cover_sheet_dialog_asks_the_target_and_writes_the_sheet(qtbot, tmp_path: Path,
                                                                 sandbox) -> None:
    dialog = CoverSheetDialog([claros_profile(sandbox)], patient="1003")
    qtbot.addWidget(dialog)
    out = tmp_path / "cleo.pdf"
    with qtbot.waitSignal(dialog.written, timeout=30_000) as signal:
        dialog.save_to(out)
    written, patient = signal.args
    assert written == out
    assert (patient.id, patient.name, patient.birth_date) == ("1003", "Cleo Sandbox", "1999-12-31")
    assert "Cleo Sandbox" in texts(out)[0] and "Cleo Sandbox" in dialog.status.text()
    dialog.patient.setText("4242")
    dialog.save_to(tmp_path / "nobody.pdf")
    qtbot.waitUntil(lambda: "has no patient 4242" in dialog.status.text(), timeout=30_000)
    assert not (tmp_path / "nobody.pdf").exists()


@pytest.fixture
def window(qtbot, validator, sandbox):
    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.main_window import MainWindow

    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_desk_flow_from_the_window(qtbot, window, tmp_path: Path, sandbox) -> None:
    """Three patients behind cover sheets, a blank page removed, all sent on one confirmation."""
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData("Sandbox Claros"))
    batch = three_patient_batch(tmp_path, "Sandbox Claros", blank_after="1002")
    window.add_paths([batch])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.counts()["checking"] == 0,
                    timeout=30_000)
    window.view.selectRow(0)
    pages = window.scan_tools.open_pages()
    qtbot.waitUntil(lambda: pages.strip.count() == 10, timeout=30_000)
    assert pages.looks_blank().index(True) == 6
    qtbot.mouseClick(pages.blank_button, CLICK)
    qtbot.mouseClick(pages.delete_button, CLICK)
    qtbot.mouseClick(pages.save_button, CLICK)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.counts()["checking"] == 0
                    and window.model.items()[0].path != batch, timeout=30_000)
    edited = window.model.items()[0]
    assert edited.sources[0]["path"] == str(batch)  # History will name the user's file
    assert len(PdfReader(edited.path).pages) == 9
    window.view.selectRow(0)
    # Splitting sends: the history (opened on a worker at start) must be open.
    qtbot.waitUntil(lambda: window.uploads.dispatcher is not None, timeout=30_000)
    split = window.scan_tools.open_split()
    qtbot.waitUntil(lambda: len(split.part_boxes) == 4, timeout=60_000)
    before = len(sandbox.received("claros"))
    qtbot.mouseClick(split.send_button, CLICK)
    qtbot.waitUntil(lambda: len(sandbox.received("claros")) == before + 3, timeout=60_000)
    new = sandbox.received("claros")[before:]
    assert sorted(r["patient_id"] for r in new) == [1001, 1002, 1003]
    by_patient = {r["patient_id"]: texts(Path(r["path"])) for r in new}
    assert by_patient[1002] == ["GUI 1002 page 1"]  # its blank page was removed
    # The loose page went back to the list for a person to choose the patient.
    qtbot.waitUntil(lambda: any("unmatched" in i.path.name for i in window.model.items()),
                    timeout=30_000)
    qtbot.waitUntil(lambda: window.uploads.active == 0, timeout=60_000)  # all three ended
