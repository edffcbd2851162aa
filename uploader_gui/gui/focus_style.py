"""A focus ring that can be seen: two pixels of the palette's highlight colour.

Some styles (Fusion among them) mark the focused button with a faint line only. The
ring is drawn on top of the platform's own look, in the palette's highlight colour, so
it follows light and dark palettes alike.

It is one small transparent widget laid over whichever button, tab bar or list has the
keyboard focus, moved when the focus moves (``QApplication.focusChanged``). Drawing it
in a style instead (a ``QProxyStyle`` written in Python, as this app first did) meant a
Python call for every primitive of every widget painted: about a fifth of the window's
time during a 200-file batch. Now the window paints in C++, and Python runs only when
the focus moves or the focused widget repaints.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QApplication,
    QTabBar,
    QWidget,
)

RING = 2
#: Widgets whose focus the platform style shows faintly or not at all. Line edits, combo
#: boxes and spin boxes are left to the style: their focused frame is already clear.
RINGED = (QAbstractButton, QTabBar, QAbstractItemView, QAbstractSlider)
#: A widget with this property set draws its own ring (the staging list, around its
#: current cell).
OWN_RING = "drawsOwnFocusRing"


def draw_ring(painter: QPainter, colour: QColor, rect: QRect) -> None:
    """The focus ring: two pixels of ``colour`` just inside ``rect``."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(colour, RING))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(RING // 2, RING // 2, -(RING // 2), -(RING // 2)), 3, 3)
    painter.restore()


class _Ring(QWidget):
    """Laid over the focused widget as its child: drawn with it, never in its way."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setGeometry(target.rect())
        self.show()
        self.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:
        target = self.parentWidget()
        if target is not None and self.geometry() != target.rect():  # it was resized
            self.setGeometry(target.rect())
            return
        painter = QPainter(self)
        draw_ring(painter, self.palette().highlight().color(), self.rect())
        painter.end()


class FocusRings(QObject):
    """Puts the ring on each widget that takes the focus, and takes it off the last."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._ring: _Ring | None = None
        app.focusChanged.connect(self._moved)
        self._moved(None, app.focusWidget())

    def _moved(self, _old: QWidget | None, now: QWidget | None) -> None:
        ring, self._ring = self._ring, None
        if ring is not None and shiboken6.isValid(ring):  # gone already with its widget
            ring.hide()
            ring.deleteLater()
        if now is not None and isinstance(now, RINGED) and not now.property(OWN_RING):
            self._ring = _Ring(now)


def install_focus_style(app: QApplication) -> None:
    """Show a clear focus ring in every window of the app (idempotent)."""
    if app.findChild(FocusRings) is None:
        FocusRings(app)
