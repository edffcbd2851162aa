"""One look tells the state: a word, a colour and a shape of icon for each row state.

Never colour alone: every state has its own shape too, drawn here so that no two
states share an icon. These few hues are the only colours of the app; they read on
light and dark palettes alike, and the glyph inside is drawn in the palette's base
colour so that it contrasts with the disc.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QCoreApplication, QPointF, QRectF
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication

#: Every row state, in the order a file goes through them.
ROW_STATES = ("checking", "ready", "warning", "rejected", "queued", "uploading", "waiting",
              "sent", "verified", "failed", "unknown", "cancelled")
#: States where the file has its answer (the batch is done when all rows are in one).
ANSWERED = frozenset({"sent", "verified", "failed", "unknown", "cancelled", "rejected"})

_GREEN, _RED, _AMBER, _BLUE, _GREY = "#2e9d4f", "#d0393e", "#d98e04", "#2f7fd8", "#8a8f98"

# state: (colour, shape, glyph); shape "disc" filled, "ring" outlined, "triangle", "octagon"
_LOOK = {
    "checking": (_GREY, "ring", "dots"),
    "ready": (_GREEN, "ring", "check"),
    "warning": (_AMBER, "triangle", "bang"),
    "rejected": (_RED, "octagon", "bar"),
    "queued": (_GREY, "disc", "clock"),
    "uploading": (_BLUE, "disc", "arrow"),
    "waiting": (_BLUE, "ring", "hourglass"),
    "sent": (_GREEN, "disc", "check"),
    "verified": (_GREEN, "disc", "double"),
    "failed": (_RED, "disc", "cross"),
    "unknown": (_AMBER, "disc", "question"),
    "cancelled": (_GREY, "disc", "slash"),
}


def tr(text: str) -> str:
    return QCoreApplication.translate("States", text)


def state_word(state: str) -> str:
    """The word shown with the icon ("Ready", "Sent", "Failed"…)."""
    words = {
        "checking": tr("Checking"), "ready": tr("Ready"), "warning": tr("Ready, with a caution"),
        "rejected": tr("Not accepted"), "queued": tr("Queued"), "uploading": tr("Uploading"),
        "waiting": tr("Waiting for the server"), "sent": tr("Sent"), "verified": tr("Verified"),
        "failed": tr("Failed"), "unknown": tr("Outcome unknown"), "cancelled": tr("Cancelled"),
        "interrupted": tr("Interrupted"),
    }
    return words.get(state, state)


def _glyph(p: QPainter, glyph: str, r: QRectF) -> None:
    c, w = r.center(), r.width()
    x0, y0 = r.left(), r.top()

    def pt(fx: float, fy: float) -> QPointF:
        return QPointF(x0 + fx * w, y0 + fy * w)

    if glyph == "check":
        p.drawPolyline(QPolygonF([pt(0.27, 0.52), pt(0.43, 0.68), pt(0.73, 0.34)]))
    elif glyph == "double":
        p.drawPolyline(QPolygonF([pt(0.18, 0.52), pt(0.32, 0.66), pt(0.58, 0.36)]))
        p.drawPolyline(QPolygonF([pt(0.42, 0.62), pt(0.48, 0.68), pt(0.80, 0.34)]))
    elif glyph == "cross":
        p.drawLine(pt(0.33, 0.33), pt(0.67, 0.67))
        p.drawLine(pt(0.67, 0.33), pt(0.33, 0.67))
    elif glyph == "bar":
        p.drawLine(pt(0.28, 0.5), pt(0.72, 0.5))
    elif glyph == "bang":
        p.drawLine(pt(0.5, 0.38), pt(0.5, 0.64))
        p.drawPoint(pt(0.5, 0.78))
    elif glyph == "question":
        path = QPainterPath(pt(0.36, 0.38))
        path.cubicTo(pt(0.36, 0.2), pt(0.66, 0.2), pt(0.64, 0.4))
        path.cubicTo(pt(0.62, 0.52), pt(0.5, 0.5), pt(0.5, 0.62))
        p.drawPath(path)
        p.drawPoint(pt(0.5, 0.77))
    elif glyph == "arrow":
        p.drawLine(pt(0.5, 0.74), pt(0.5, 0.28))
        p.drawPolyline(QPolygonF([pt(0.32, 0.45), pt(0.5, 0.27), pt(0.68, 0.45)]))
    elif glyph == "clock":
        p.drawPolyline(QPolygonF([pt(0.5, 0.28), pt(0.5, 0.52), pt(0.68, 0.62)]))
    elif glyph == "hourglass":
        p.drawPolygon(QPolygonF([pt(0.34, 0.28), pt(0.66, 0.28), pt(0.34, 0.72), pt(0.66, 0.72)]))
    elif glyph == "slash":
        p.drawLine(pt(0.32, 0.68), pt(0.68, 0.32))
    elif glyph == "dots":
        for fx in (0.3, 0.5, 0.7):
            p.drawPoint(pt(fx, 0.5))
    del c


@cache
def _icon(state: str, dark: bool) -> QIcon:
    from PySide6.QtCore import Qt  # drawn once the list is painted, not at import

    colour, shape, glyph = _LOOK[state]
    icon = QIcon()
    for size in (16, 24, 32, 48):
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(1, 1, size - 2, size - 2)
        hue = QColor(colour)
        line = max(1.5, size / 9)
        inner = QColor("#ffffff")
        if shape == "ring":
            p.setPen(QPen(hue, line))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(r.adjusted(line / 2, line / 2, -line / 2, -line / 2))
            inner = hue
        elif shape == "disc":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(hue)
            p.drawEllipse(r)
        elif shape == "triangle":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(hue)
            p.drawPolygon(QPolygonF([QPointF(r.center().x(), r.top()), r.bottomRight(),
                                     r.bottomLeft()]))
            inner = QColor("#1b1b1b")
        elif shape == "octagon":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(hue)
            k = r.width() * 0.29
            pts = [(k, 0), (r.width() - k, 0), (r.width(), k), (r.width(), r.width() - k),
                   (r.width() - k, r.width()), (k, r.width()), (0, r.width() - k), (0, k)]
            p.drawPolygon(QPolygonF([QPointF(r.left() + x, r.top() + y) for x, y in pts]))
        pen = QPen(inner, max(1.6, size / 8), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        _glyph(p, glyph, r)
        p.end()
        icon.addPixmap(pix)
    return icon


def state_icon(state: str) -> QIcon:
    """The icon of a row or job state (``interrupted`` looks like ``unknown``)."""
    state = {"interrupted": "unknown", "not_sent": "failed"}.get(state, state)
    if state not in _LOOK:
        return QIcon()
    app = QApplication.instance()
    dark = False
    if isinstance(app, QApplication):
        dark = app.palette().window().color().lightness() < 128
    return _icon(state, dark)
