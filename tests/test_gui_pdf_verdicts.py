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
