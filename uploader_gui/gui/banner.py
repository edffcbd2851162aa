"""The line above the tabs ("Sandbox mode: nothing here reaches a real clinic system.").

Light on purpose: the window's first frame shows it too, before the rest is imported.
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel


def make_banner(text: str, sandbox: bool, *, selectable: bool = True) -> QLabel:
    """The banner; in sandbox mode coloured with the palette's highlight. Hidden while it
    has no text. ``selectable``: its text can be selected with the mouse (the built
    window's; the first frame leaves it out, as it needs PySide6's ``Qt`` namespace)."""
    banner = QLabel(text)
    banner.setObjectName("sandboxBanner" if sandbox else "banner")
    banner.setWordWrap(True)
    if not text:
        banner.hide()  # not show() while it has no parent: that would open it as a window
    if selectable:
        from PySide6.QtCore import Qt

        banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if sandbox:
        banner.setAutoFillBackground(True)
        pal = banner.palette()
        pal.setColor(banner.backgroundRole(), pal.color(QPalette.ColorRole.Highlight))
        pal.setColor(banner.foregroundRole(), pal.color(QPalette.ColorRole.HighlightedText))
        banner.setPalette(pal)
        m = banner.fontMetrics().horizontalAdvance("M") // 2
        banner.setContentsMargins(m, m, m, m)
    return banner
