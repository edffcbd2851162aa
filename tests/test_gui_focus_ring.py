"""The focus ring is one widget laid over the focused button, tab bar or list (issue 18:
no Python style layer in every paint). Real widgets, offscreen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QVBoxLayout, QWidget

from uploader_gui.gui.focus_style import FocusRings, _Ring, install_focus_style


def rings(widget: QWidget) -> list[_Ring]:
    return [r for r in widget.findChildren(_Ring) if r.isVisible()]


def test_the_ring_follows_the_focus(qtbot) -> None:
    app = QApplication.instance()
    install_focus_style(app)
    install_focus_style(app)  # once only
    assert len(app.findChildren(FocusRings)) == 1
    box = QWidget()
    layout = QVBoxLayout(box)
    first, second, edit = QPushButton("First"), QPushButton("Second"), QLineEdit()
    for w in (first, second, edit):
        layout.addWidget(w)
    qtbot.addWidget(box)
    box.show()
    box.activateWindow()
    first.setFocus()
    qtbot.waitUntil(first.hasFocus)
    assert len(rings(first)) == 1 and not rings(second)
    ring = rings(first)[0]
    assert ring.geometry() == first.rect() and not ring.isWindow()
    assert ring.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    qtbot.keyClick(first, Qt.Key.Key_Tab)  # the keyboard moves it
    qtbot.waitUntil(second.hasFocus)
    qtbot.waitUntil(lambda: not rings(first))
    assert len(rings(second)) == 1
    edit.setFocus()  # the style's own focused frame is enough for a text field
    qtbot.waitUntil(edit.hasFocus)
    qtbot.waitUntil(lambda: not rings(second))
    assert not rings(edit)


def test_a_ringed_widget_that_goes_away_takes_its_ring(qtbot) -> None:
    install_focus_style(QApplication.instance())
    box = QWidget()
    layout = QVBoxLayout(box)
    doomed, other = QPushButton("Doomed"), QPushButton("Other")
    layout.addWidget(doomed)
    layout.addWidget(other)
    qtbot.addWidget(box)
    box.show()
    box.activateWindow()
    doomed.setFocus()
    qtbot.waitUntil(lambda: len(rings(doomed)) == 1)
    doomed.deleteLater()  # its ring (a child) goes with it
    qtbot.waitUntil(lambda: len(box.findChildren(QPushButton)) == 1)
    other.setFocus()
    qtbot.waitUntil(other.hasFocus)
    assert len(rings(other)) == 1
