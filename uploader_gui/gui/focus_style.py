"""A focus ring that can be seen: two pixels of the palette's highlight colour.

Some styles (Fusion among them) mark the focused button with a faint line only. This
proxy keeps the platform style and draws a clear ring on top, in the palette's own
highlight colour, so it follows light and dark palettes alike.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QWidget,
)

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
    draw_ring(painter, option.palette.highlight().color(), rect)


def draw_ring(painter: QPainter, colour: QColor, rect: QRect) -> None:
    """The focus ring: two pixels of ``colour`` just inside ``rect``."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, RING)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(RING // 2, RING // 2, -(RING // 2), -(RING // 2)), 3, 3)
    painter.restore()


def install_focus_style(app: QApplication) -> None:
    """Wrap the application's style once (idempotent)."""
    if not isinstance(app.style(), FocusStyle):
        app.setStyle(FocusStyle(app.style().name()))


def plain_style_for_views(widget: QWidget) -> bool:
    """Give an item view the focus style's base style without the Python layer, if the
    application uses :class:`FocusStyle`; the view then draws the ring around its current
    cell itself (:func:`draw_ring`), once per paint.

    Painting a table through the proxy calls Python three times per cell (the item, its
    panel, the row): about 40 % of a table's paint, and the window painted the staging
    table dozens of times while 2,000 files were checked. Returns whether it did.
    """
    style = QApplication.style()
    if not isinstance(style, FocusStyle):
        return False
    plain = QStyleFactory.create(style.baseStyle().name())
    if plain is None:
        return False
    plain.setParent(widget)  # one per view, gone with it
    widget.setStyle(plain)
    return True
