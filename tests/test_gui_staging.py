"""The staging window, driven through real widgets with pytest-qt."""

from __future__ import annotations

import shutil
from pathlib import Path

import filemaker as fm
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_NAME, COL_STATUS, COL_TYPE, StateRole


@pytest.fixture
def window(qtbot, validator):
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def mixed_folder(root: Path) -> dict[str, str]:
    """Files of every kind, with the state each row must end in."""
    fm.good_pdf(root / "referral.pdf", pages=2)
    fm.good_jpeg(root / "wound-photo.JPG")
    fm.good_png(root / "sub" / "ecg.png")
    fm.attachment_pdf(root / "with-attachment.pdf")
    fm.encrypted_pdf(root / "locked.pdf", "secret")
    fm.names_js_pdf(root / "script.pdf")
    fm.truncated_pdf(root / "cut-off.pdf")
    fm.junk_before_pdf(root / "invoice.pdf")
    fm.good_png(root / "photo.pdf")
    fm.write(root / "empty.pdf", b"")
    fm.write(root / "notes.docx", b"PK\x03\x04 not a document we take")
    return {
        "referral.pdf": "ready", "wound-photo.JPG": "ready", "ecg.png": "ready",
        "with-attachment.pdf": "warning", "locked.pdf": "rejected", "script.pdf": "rejected",
        "cut-off.pdf": "rejected", "invoice.pdf": "rejected", "photo.pdf": "rejected",
        "empty.pdf": "rejected", "notes.docx": "rejected",
    }


def drop(widget, paths: list[Path], modifiers=Qt.KeyboardModifier.ShiftModifier):
    """Drag and drop like a file manager; Shift makes Qt propose a *move*."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.rect().center())
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    enter = QDragEnterEvent(pos.toPoint(), actions, mime, Qt.MouseButton.LeftButton, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    assert enter.dropAction() == Qt.DropAction.CopyAction
    event = QDropEvent(pos, actions, mime, Qt.MouseButton.LeftButton, modifiers)
    event.setDropAction(Qt.DropAction.MoveAction)
    QApplication.sendEvent(widget, event)
    return event


def states(window: MainWindow) -> dict[str, str]:
    m = window.model
    return {
        m.index(r, COL_NAME).data(): m.index(r, COL_STATUS).data(StateRole)
        for r in range(m.rowCount())
    }


def wait_checked(qtbot, window: MainWindow, rows: int) -> None:
    qtbot.waitUntil(
        lambda: window.model.rowCount() == rows and window.counts()["checking"] == 0,
        timeout=60_000,
    )


def test_drop_mixed_folder_shows_verdicts(qtbot, window: MainWindow, tmp_path: Path) -> None:
    expected = mixed_folder(tmp_path / "scans")
    before = {p: p.read_bytes() for p in (tmp_path / "scans").rglob("*") if p.is_file()}
    event = drop(window.view.viewport(), [tmp_path / "scans"])
    assert event.isAccepted()
    assert event.dropAction() == Qt.DropAction.CopyAction
    assert window.model.rowCount() == 0  # the work happens after the handler returns
    wait_checked(qtbot, window, len(expected))
    assert states(window) == expected
    # Reasons are readable sentences in the status column.
    m = window.model
    status = {m.index(r, COL_NAME).data(): m.index(r, COL_STATUS).data() for r in range(m.rowCount())}
    assert status["locked.pdf"] == ("This PDF is protected by a password; remove the password "
                                    "and try again.")
    assert status["referral.pdf"] == "Ready to upload."
    assert "attached files" in status["with-attachment.pdf"]
    types = {m.index(r, COL_NAME).data(): m.index(r, COL_TYPE).data() for r in range(m.rowCount())}
    assert types["photo.pdf"] == "PNG image"
    assert window.count_label.text() == "4 ready · 7 rejected"
    # Nothing the user dropped was moved, changed or deleted.
    assert {p: p.read_bytes() for p in before} == before


def test_drop_on_window_and_duplicates_ignored(qtbot, window: MainWindow, tmp_path: Path) -> None:
    a = fm.good_pdf(tmp_path / "a.pdf")
    b = fm.good_png(tmp_path / "b.png")
    drop(window, [a, b])
    wait_checked(qtbot, window, 2)
    # The same files again, one by another spelling of its path.
    drop(window.view.viewport(), [a, tmp_path / "." / "b.png"])
    qtbot.waitUntil(lambda: "already on the list" in window.statusBar().currentMessage())
    assert window.model.rowCount() == 2


def test_web_links_are_refused(window: MainWindow) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.org/file.pdf")])
    enter = QDragEnterEvent(window.view.viewport().rect().center(), Qt.DropAction.CopyAction,
                            mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window.view.viewport(), enter)
    assert not enter.isAccepted()


def test_remove_with_delete_key_and_clear(qtbot, window: MainWindow, tmp_path: Path) -> None:
    files = [fm.good_pdf(tmp_path / f"{n}.pdf") for n in "abc"]
    window.add_paths(files)
    wait_checked(qtbot, window, 3)
    window.activateWindow()
    window.view.setFocus()
    window.view.selectRow(1)
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert sorted(states(window)) == ["a.pdf", "c.pdf"]
    assert all(p.exists() for p in files)  # removing from the list never deletes
    assert window.count_label.text() == "2 ready · 0 rejected"
    window.add_paths([files[1]])  # a removed file can be staged again
    wait_checked(qtbot, window, 3)
    qtbot.mouseClick(window.clear_button, Qt.MouseButton.LeftButton)
    assert window.model.rowCount() == 0
    assert not window.clear_button.isEnabled()


def test_ctrl_o_opens_the_file_chooser(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    chosen = [str(fm.good_jpeg(tmp_path / "x.jpg"))]
    calls = []

    def fake_dialog(*args, **kwargs):
        calls.append(args)
        return chosen, ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake_dialog))
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    # Let go of Ctrl too: Qt remembers the last modifiers, and a held Ctrl would turn a
    # later click into "add to the selection" in other tests.
    qtbot.keyRelease(window.view, Qt.Key.Key_Control)
    assert len(calls) == 1
    wait_checked(qtbot, window, 1)
    assert states(window) == {"x.jpg": "ready"}


def test_target_limit_rechecks(qtbot, validator, tmp_path: Path) -> None:
    """The chosen "Send to" profile decides the size limit (there is no "Check for")."""
    from uploader_gui.cli.sandbox_profiles import sandbox_profiles

    fake = {"claros_api_key": "k", "redcap_token": "0" * 32, "redox_rsa_private_key": "pem"}
    window = MainWindow(validator=validator,
                        profiles=sandbox_profiles("http://127.0.0.1:9", fake), history=False)
    qtbot.addWidget(window)
    data = fm.pdf_bytes(1)
    big = tmp_path / "big.pdf"
    big.write_bytes(data[:9] + b"%" + b"x" * (11 * 1024 * 1024) + b"\n" + data[9:])
    window.add_paths([fm.good_pdf(tmp_path / "small.pdf")])
    window.add_paths([big])
    wait_checked(qtbot, window, 2)
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData("Sandbox Redox"))
    assert window.current_target() == "redox"
    qtbot.waitUntil(lambda: window.counts()["checking"] == 0 and window.counts()["ready"] == 1,
                    timeout=30_000)
    m = window.model
    row = next(r for r in range(m.rowCount()) if m.index(r, COL_NAME).data() == "big.pdf")
    assert "Redox accepts at most 10 MB" in m.index(row, COL_STATUS).data()
    window.shutdown()


def test_two_thousand_files(qtbot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    seed = fm.good_png(tmp_path / "seed.png", size=(8, 8))
    for i in range(2000):
        shutil.copyfile(seed, folder / f"scan-{i:04}.png")
    drop(window.view.viewport(), [folder])
    wait_checked(qtbot, window, 2000)
    assert window.counts()["ready"] == 2000
    assert window.count_label.text() == "2000 ready · 0 rejected"


def test_window_basics(window: MainWindow) -> None:
    assert window.windowTitle() == "Clinic Document Uploader"
    assert not window.windowIcon().isNull()
    # The layouts set the minimum: every button and the table stay usable.
    hint = window.minimumSizeHint()
    assert hint.width() > 300 and hint.height() > 200


def test_the_focused_table_rings_its_current_cell(qtbot, window: MainWindow,
                                                 tmp_path: Path) -> None:
    """The table paints without any Python style layer, and draws the ring itself."""
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtGui import QColor

    window.add_paths([fm.good_pdf(tmp_path / f"{n}.pdf") for n in "abc"])
    wait_checked(qtbot, window, 3)
    view = window.view
    # No Python call per painted cell: the styles in use are Qt's own (C++) classes.
    assert type(view.style()).__module__ == type(QApplication.style()).__module__ == (
        "PySide6.QtWidgets")
    view.selectionModel().setCurrentIndex(window.model.index(1, COL_NAME),
                                          QItemSelectionModel.SelectionFlag.NoUpdate)
    view.clearSelection()
    rect = view.visualRect(view.currentIndex())

    def ring_pixels() -> int:
        image = view.viewport().grab().toImage()
        hl = view.palette().highlight().color()
        near = 0
        for x in range(rect.left(), rect.right()):
            for y in (rect.top() + 1, rect.top() + 2, rect.bottom() - 2, rect.bottom() - 1):
                c = QColor(image.pixel(x, y))
                near += (abs(c.red() - hl.red()) + abs(c.green() - hl.green())
                         + abs(c.blue() - hl.blue())) < 60
        return near

    window.upload_panel.profile_combo.setFocus()
    qtbot.waitUntil(lambda: not view.hasFocus())
    unfocused = ring_pixels()
    window.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    assert ring_pixels() > unfocused + rect.width()  # top and bottom edges, at least


def test_clearing_during_a_burst_stops_checking_the_files_cleared(
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    one = fm.pdf_bytes()
    files = [fm.write(tmp_path / "many" / f"{i:03d}.pdf", one) for i in range(600)]
    window.add_paths(files)
    qtbot.waitUntil(lambda: window.model.rowCount() == 600, timeout=30_000)
    assert window.counts()["checking"] > 2  # the burst is on
    window.clear_all()
    assert window.staging._checks.pending <= 2  # only the files the helpers hold now
    late = fm.good_png(tmp_path / "late.png")
    window.add_paths([late])
    wait_checked(qtbot, window, 1)
    assert states(window) == {"late.png": "ready"}
    assert window.count_label.text() == "1 ready · 0 rejected"
