"""A focus ring that can be seen: two pixels of the palette's highlight colour.

Some styles (Fusion among them) mark the focused button with a faint line only. This
proxy keeps the platform style and draws a clear ring on top, in the palette's own
highlight colour, so it follows light and dark palettes alike.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

RING = 2


class FocusStyle(QProxyStyle):
    def drawControl(self, element: QStyle.ControlElement, option: QStyleOption,
                    painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawControl(element, option, painter, widget)
        if element == QStyle.ControlElement.CE_PushButton and (
                option.state & QStyle.StateFlag.State_HasFocus):
            _ring(painter, option, option.rect.adjusted(1, 1, -1, -1))

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        if element == QStyle.PrimitiveElement.PE_FrameFocusRect:
            _ring(painter, option, option.rect)
            return
        super().drawPrimitive(element, option, painter, widget)


def _ring(painter: QPainter, option: QStyleOption, rect: QRect) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(option.palette.highlight().color(), RING)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(RING // 2, RING // 2, -(RING // 2), -(RING // 2)), 3, 3)
    painter.restore()


def install_focus_style(app: QApplication) -> None:
    """Wrap the application's style once (idempotent)."""
    if not isinstance(app.style(), FocusStyle):
        app.setStyle(FocusStyle(app.style().name()))
