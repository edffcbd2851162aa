"""The front-desk window: patient by name, states at a glance, keyboard and screen reader."""

from __future__ import annotations

from pathlib import Path

import filemaker as fm
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QImage
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.gui.history_model import COL_DEST as HIST_DEST
from uploader_gui.gui.history_model import COL_FILE as HIST_FILE
from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_DEST, COL_NAME, COL_STATUS, StateRole
from uploader_gui.gui.states import ROW_STATES, state_icon, state_word


@pytest.fixture
def window(qtbot, validator, sandbox):
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   banner="Sandbox mode", sandbox=True)
    w.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}  # dialog tested alone
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.history is not None, timeout=10_000)
    yield w
    w.shutdown()


def pick(window: MainWindow, name: str) -> None:
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData(name))


def state_of(window: MainWindow, name: str) -> str:
    m = window.model
    return next(m.index(r, COL_STATUS).data(StateRole) for r in range(m.rowCount())
                if m.index(r, COL_NAME).data() == name)


def stage(qtbot, window: MainWindow, files: list[Path]) -> None:
    window.add_paths(files)
    qtbot.waitUntil(lambda: window.model.rowCount() >= len(files)
                    and window.counts()["checking"] == 0, timeout=30_000)


# --------------------------------------------------------------------------- patient by name


def test_patient_by_name_in_banner_rows_and_history(qtbot, window: MainWindow, sandbox,
                                                     tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    stage(qtbot, window, [fm.good_pdf(tmp_path / "letter-ben.pdf")])
    panel = window.upload_panel
    panel.patient.setText("1002")
    ben = "Ben Sandbox, born 1975-06-15 (patient 1002)"
    qtbot.waitUntil(lambda: ben in panel.destination_label.text(), timeout=10_000)
    # The row says who; the profile is named above Upload, and in the row's tooltip.
    assert window.model.index(0, COL_DEST).data() == ben
    assert window.model.index(0, COL_DEST).data(Qt.ItemDataRole.ToolTipRole) == \
        f"Sandbox Claros: {ben}"
    qtbot.waitUntil(panel.upload_button.isEnabled, timeout=10_000)
    assert ben in panel.upload_button.toolTip()
    window.actions.upload.trigger()
    # Claros's receipt names the patient and the file sent: the row ends verified.
    qtbot.waitUntil(lambda: state_of(window, "letter-ben.pdf") == "verified", timeout=30_000)
    assert window.model.index(0, COL_DEST).data() == ben
    hist = window.history_panel.proxy
    qtbot.waitUntil(lambda: any(hist.index(r, HIST_FILE).data() == "letter-ben.pdf"
                                for r in range(hist.rowCount())))
    row = next(r for r in range(hist.rowCount()) if hist.index(r, HIST_FILE).data() ==
               "letter-ben.pdf")
    assert hist.index(row, HIST_DEST).data() == "Ben Sandbox, born 1975-06-15 (1002)"
    job = next(j for j in window.history.jobs() if j.name == "letter-ben.pdf")
    assert job.patient_label == "Ben Sandbox, born 1975-06-15 (1002)"  # the CSV has it too


def test_unknown_id_keeps_upload_disabled_with_the_reason(qtbot, window: MainWindow,
                                                          tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    stage(qtbot, window, [fm.good_pdf(tmp_path / "typo.pdf")])
    panel = window.upload_panel
    panel.patient.setText("9999")
    qtbot.waitUntil(lambda: "Sandbox Claros has no patient 9999" in panel.lookup_label.text(),
                    timeout=10_000)
    assert not panel.upload_button.isEnabled() and not window.actions.upload.isEnabled()
    assert "Check the number, or use Find patient" in panel.upload_button.toolTip()
    # Fixing the typo enables it again.
    panel.patient.setText("1003")
    qtbot.waitUntil(panel.upload_button.isEnabled, timeout=10_000)
    assert "Cleo Sandbox" in panel.destination_label.text()


# --------------------------------------------------------------------------- states


def test_each_state_has_its_own_icon_and_word(qtbot) -> None:
    images: dict[str, bytes] = {}
    for state in ROW_STATES:
        image: QImage = state_icon(state).pixmap(24, 24).toImage()
        assert not image.isNull()
        images[state] = bytes(image.convertToFormat(QImage.Format.Format_ARGB32).constBits())
    assert len(set(images.values())) == len(ROW_STATES)
    words = [state_word(s) for s in ROW_STATES]
    assert len(set(words)) == len(words) and all(words)


def test_batch_summary_counts_failures_and_clears_with_the_list(qtbot, window: MainWindow,
                                                                sandbox, tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=400, times=3,
                      body={"detail": "The scanner test file is refused."})
    files = [fm.good_pdf(tmp_path / f"fail-{i}.pdf") for i in range(3)]
    stage(qtbot, window, files)
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=10_000)
    window.start_upload()
    qtbot.waitUntil(lambda: all(state_of(window, f.name) == "failed" for f in files),
                    timeout=30_000)
    summary = window.upload_panel.summary
    qtbot.waitUntil(lambda: summary.text().startswith("3 failed: "))
    assert "3 failed" in window.count_label.text() and "3 ready" not in window.count_label.text()
    assert "finished" not in window.upload_panel.message.text()
    # The failed ones are offered to Retry failed, not to Upload.
    assert window.actions.retry.isEnabled() and not window.upload_panel.upload_button.isEnabled()
    window.retry_failed()
    qtbot.waitUntil(lambda: all(state_of(window, f.name) == "verified" for f in files),
                    timeout=30_000)
    qtbot.waitUntil(lambda: summary.text() == "3 sent")
    window.clear_sent()
    assert window.model.rowCount() == 0
    window.clear_all()
    qtbot.waitUntil(lambda: summary.text() == "" and not window.upload_panel.message.text())


def test_progress_reaches_100_only_when_every_file_has_an_answer(qtbot, window: MainWindow,
                                                                  sandbox, tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    window.uploads.dispatcher.set_concurrency(1)
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=3, times=1)
    files = [fm.good_pdf(tmp_path / f"part-{i}.pdf", pages=i + 1) for i in range(3)]
    stage(qtbot, window, files)
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=10_000)
    window.start_upload()
    seen: list[tuple[int, int, float]] = []

    def sample() -> bool:
        p = window.model.batch_progress()
        seen.append((p.answered, p.files, p.fraction))
        return p.answered == p.files == 3

    qtbot.waitUntil(sample, timeout=30_000)
    assert any(answered < 3 for answered, _, _ in seen)
    assert all(fraction < 1.0 for answered, _, fraction in seen if answered < 3)
    qtbot.waitUntil(lambda: window.upload_panel.progress_bar.value() == 1000)
    assert "3 of 3 files answered" in window.upload_panel.progress_bar.format()


# --------------------------------------------------------------------------- keyboard


def test_tab_leaves_the_table(qtbot, window: MainWindow, tmp_path: Path) -> None:
    stage(qtbot, window, [fm.good_pdf(tmp_path / f"t{i}.pdf") for i in range(3)])
    window.activateWindow()
    window.view.setFocus()
    window.view.setCurrentIndex(window.model.index(0, 0))
    qtbot.waitUntil(window.view.hasFocus)
    qtbot.keyClick(window.view, Qt.Key.Key_Down)
    assert window.view.currentIndex().row() == 1 and window.view.hasFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    assert not window.view.hasFocus()
    assert QApplication.focusWidget() is not None


def test_menu_bar_and_ctrl_enter(qtbot, window: MainWindow, sandbox, tmp_path: Path) -> None:
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Help"]
    assert "Ctrl+Return" in window.actions.upload.shortcut().toString()
    pick(window, "Sandbox Claros")
    stage(qtbot, window, [fm.good_pdf(tmp_path / "by-keyboard.pdf")])
    qtbot.waitUntil(window.actions.upload.isEnabled, timeout=10_000)
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyRelease(window.view, Qt.Key.Key_Control)
    qtbot.waitUntil(lambda: state_of(window, "by-keyboard.pdf") == "verified", timeout=30_000)


def _unnamed(root: QWidget) -> list[str]:
    """Focusable widgets a screen reader would announce without a name."""
    out = []
    for w in [root, *root.findChildren(QWidget)]:
        if w.focusPolicy() == Qt.FocusPolicy.NoFocus or not w.isVisibleTo(root):
            continue
        if w.focusProxy() is not None:
            continue  # the proxy is the one announced
        iface = QAccessible.queryAccessibleInterface(w)
        name = iface.text(QAccessible.Text.Name) if iface is not None else ""
        if not name.strip():
            out.append(f"{type(w).__name__} {w.objectName()!r}")
    return out


def test_every_focusable_widget_has_an_accessible_name(qtbot, window: MainWindow,
                                                        tmp_path: Path) -> None:
    from uploader_gui.gui.help_dialog import HelpDialog
    from uploader_gui.gui.patient_picker import PatientPicker

    stage(qtbot, window, [fm.good_pdf(tmp_path / "named.pdf")])
    for name in ("Sandbox Claros", "Sandbox REDCap", "Sandbox Redox"):
        pick(window, name)
        assert _unnamed(window) == [], name
    window.tabs.setCurrentIndex(1)
    window.history_panel.technical_button.click()
    assert _unnamed(window) == []
    # The confirmation, with a question in it: the same file sent twice.
    from uploader_gui.gui.confirm_send import ConfirmSendDialog

    plans = []
    window.uploads.confirm = lambda plan: plans.append(plan) or {}
    window.tabs.setCurrentIndex(0)
    pick(window, "Sandbox Claros")
    for asked in (1, 2):
        window.clear_all()
        stage(qtbot, window, [tmp_path / "named.pdf"])
        qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=10_000)
        window.start_upload()
        qtbot.waitUntil(lambda: state_of(window, "named.pdf") in ("verified", "cancelled"),
                        timeout=30_000)
        assert len(plans) == asked
    assert any(q.kind == "duplicate" for q in plans[-1].questions)
    dialogs: list[QDialog] = [
        PatientPicker(window, "Find patient", "&Patient:", ["Ada Sandbox, born 1980-01-01 (1001)"]),
        HelpDialog(window, "# Using it\nText."),
        ConfirmSendDialog(plans[-1], window),
    ]
    for dialog in dialogs:
        dialog.show()
        assert _unnamed(dialog) == [], type(dialog).__name__
        dialog.close()


def test_no_cell_that_fits_60_characters_is_cut_at_1280_by_800(qtbot, window: MainWindow,
                                                               sandbox, tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    window.resize(1280, 800)
    names = ["referral-letter-2026-11-28-dr-okafor.pdf", "lab-results-cbc.pdf",
             "wound-photo-left-ankle.jpg", "consent.pdf", "discharge-summary-ward-7.pdf"]
    files = [fm.good_jpeg(tmp_path / n) if n.endswith(".jpg") else fm.good_pdf(tmp_path / n)
             for n in names]
    stage(qtbot, window, files)
    window.upload_panel.patient.setText("1002")
    qtbot.waitUntil(lambda: "Ben Sandbox" in str(window.model.index(0, COL_DEST).data()),
                    timeout=10_000)
    view = window.view

    def fits() -> bool:
        return all(view.sizeHintForColumn(col) <= view.columnWidth(col)
                   for col in (COL_NAME, COL_STATUS, COL_DEST))

    qtbot.waitUntil(fits, timeout=5_000)
    for col in (COL_NAME, COL_STATUS, COL_DEST):
        assert all(len(str(window.model.index(r, col).data())) <= 60
                   for r in range(window.model.rowCount()))


def test_no_display_says_so_in_one_line_and_exits_1(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["UPLOADER_GUI_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import sys; from uploader_gui.cli import main;"
                           " sys.exit(main([]))"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no display" in lines[0] and "xcb" not in lines[0]


def test_redcap_field_is_a_drop_down_from_the_project(qtbot, window: MainWindow) -> None:
    pick(window, "Sandbox REDCap")
    box = window.upload_panel.field_name
    qtbot.waitUntil(lambda: box.findData("consent_form") >= 0, timeout=10_000)
    values = {box.itemData(i) for i in range(box.count())}
    assert values == {"consent_form", "scan"}  # file fields only: no signature, no notes
    assert box.value() == "scan" and not box.isEditable()
    assert "Signed consent form (consent_form)" in [box.itemText(i) for i in range(box.count())]
    box.setCurrentIndex(box.findData("consent_form"))
    assert window.upload_panel.destination().field == "consent_form"


def test_preview_zooms_and_fits_the_width(qtbot, window: MainWindow, tmp_path: Path) -> None:
    stage(qtbot, window, [fm.good_pdf(tmp_path / "letter.pdf", pages=2)])
    window.resize(1280, 800)
    window.view.selectRow(0)
    preview = window.preview
    # Settled: the whole (portrait) page fills the viewport's height as laid out now.
    qtbot.waitUntil(lambda: not preview.image.pixmap().isNull() and abs(
        preview.image.pixmap().deviceIndependentSize().height()
        - preview.scroll.viewport().height()) <= 1, timeout=10_000)
    # A third of the window or more, by default.
    assert preview.width() >= window.width() // 3 - 10
    whole = preview.image.pixmap().deviceIndependentSize()
    preview.zoom_in_button.click()
    qtbot.waitUntil(lambda: preview.image.pixmap().deviceIndependentSize().width()
                    > whole.width() * 1.2, timeout=10_000)
    preview.fit_width_button.click()
    qtbot.waitUntil(lambda: abs(preview.image.pixmap().deviceIndependentSize().width()
                                - preview.scroll.viewport().width()) <= 2, timeout=10_000)
    preview.fit_page_button.click()
    qtbot.waitUntil(lambda: preview.image.pixmap().deviceIndependentSize().height()
                    <= preview.scroll.viewport().height() + 1, timeout=10_000)
    assert preview.open_button.isEnabled()


def test_f1_opens_the_using_it_section(qtbot, window: MainWindow) -> None:
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: getattr(window, "help_dialog", None) is not None, timeout=10_000)
    text = window.help_dialog.text.toPlainText()
    assert text.startswith("Using it") and "Find patient" in text
    window.help_dialog.close()


def test_the_focused_upload_button_has_a_clear_ring(qtbot, window: MainWindow,
                                                    tmp_path: Path) -> None:
    from PySide6.QtGui import QColor

    pick(window, "Sandbox Claros")
    stage(qtbot, window, [fm.good_pdf(tmp_path / "focus.pdf")])
    button = window.upload_panel.upload_button
    qtbot.waitUntil(button.isEnabled, timeout=10_000)

    def ring_pixels() -> int:
        image = button.grab().toImage()
        hl = button.palette().highlight().color()
        near = 0
        for x in range(image.width()):
            for y in (1, 2, image.height() - 3, image.height() - 2):
                c = QColor(image.pixel(x, y))
                near += (abs(c.red() - hl.red()) + abs(c.green() - hl.green())
                         + abs(c.blue() - hl.blue())) < 60
        return near

    window.view.setFocus()
    unfocused = ring_pixels()
    window.activateWindow()
    button.setFocus()
    qtbot.waitUntil(button.hasFocus)
    assert ring_pixels() > unfocused + button.width()  # top and bottom edges, at least
