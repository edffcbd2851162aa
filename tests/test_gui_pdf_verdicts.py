"""The window's rows for PDFs that go as a repaired copy, or only without their scripts."""

from __future__ import annotations

from pathlib import Path

import pdffaults as pf
import pytest
from test_gui_staging import drop, states, wait_checked

from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_NAME, COL_STATUS


@pytest.fixture
def window(qtbot, validator):
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def test_repaired_and_scripted_rows(qtbot, window: MainWindow, tmp_path: Path) -> None:
    pf.scanner_garbage_after_eof(tmp_path / "scans" / "canon-scan.pdf")
    pf.field_keystroke_js(tmp_path / "scans" / "form.pdf")
    before = {p: p.read_bytes() for p in (tmp_path / "scans").iterdir()}
    drop(window.view.viewport(), [tmp_path / "scans"])
    wait_checked(qtbot, window, 2)
    assert states(window) == {"canon-scan.pdf": "warning", "form.pdf": "rejected"}
    m = window.model
    status = {m.index(r, COL_NAME).data(): m.index(r, COL_STATUS).data() for r in range(m.rowCount())}
    assert status["canon-scan.pdf"] == (
        "Ready. This PDF has small structural faults that PDF readers ignore. A repaired copy "
        "will be sent; your file is not changed.")
    assert "JavaScript" in status["form.pdf"] and "removed can be sent instead" in status["form.pdf"]
    assert {p: p.read_bytes() for p in before} == before


@pytest.fixture
def sandbox_window(qtbot, validator, sandbox):
    from uploader_gui.cli.sandbox_profiles import sandbox_profiles

    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_window_asks_before_sending_a_copy_without_scripts(qtbot, sandbox_window: MainWindow,
                                                          sandbox, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from uploader_gui.gui.confirm_send import ConfirmSendDialog, summary_html

    window = sandbox_window
    scan = pf.trailing_data(tmp_path / "scan-gui.pdf")
    form = pf.field_keystroke_js(tmp_path / "form-gui.pdf")
    seen = []

    def confirm(plan):
        seen.append(plan)
        dialog = ConfirmSendDialog(plan, window)
        [box] = dialog.boxes.values()
        assert not box.isChecked() and box.text() == "form-gui.pdf: Send a copy without the scripts"
        assert not dialog.send_button.isDefault()  # a risky question: Cancel is the default
        box.setChecked(True)
        answers = dialog.answers()
        dialog.deleteLater()
        return answers

    window.uploads.confirm = confirm
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData("Sandbox Claros"))
    window.add_paths([scan, form])
    qtbot.waitUntil(lambda: window.counts()["checking"] == 0 and window.model.rowCount() == 2,
                    timeout=30_000)
    panel = window.upload_panel
    qtbot.waitUntil(panel.upload_button.isEnabled, timeout=30_000)  # the patient is looked up
    assert panel.upload_button.text() == "&Upload 2 files"
    qtbot.mouseClick(panel.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: set(states(window).values()) == {"verified"}, timeout=30_000)
    [plan] = seen
    html = summary_html(plan)
    assert "scan-gui.pdf → " in html and "(a repaired copy; your file is not changed)" in html
    assert "(a copy without its scripts; your file is not changed)" in html
    [got] = [r for r in sandbox.received("claros") if r["filename"] == "form-gui.pdf"]
    assert b"JavaScript" not in Path(got["path"]).read_bytes()
    assert b"/AA" not in Path(got["path"]).read_bytes()
