"""Columns as wide as their texts of up to FIT_CHARS characters, measured by hand.

Longer texts do not widen a column: they would be cut short anyway, and their full text
is in the tooltip (and, in the file list, in the details line under it).

Not ResizeToContents: that re-measures every row on every change and stalls the
window when thousands of rows change at once. Here each distinct text is measured once.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

#: Cells whose text is at most this long are never cut short (the columns grow to fit).
FIT_CHARS = 60


def texts_width(view: QTableView, col: int, texts: Iterable[str], icon: bool = False) -> int:
    """The width one column needs for these texts of up to FIT_CHARS characters (and its
    header's text), each distinct text measured once."""
    fm = view.fontMetrics()
    header = view.model().headerData(col, Qt.Orientation.Horizontal)
    widest = fm.horizontalAdvance(str(header or ""))
    for text in {t for t in texts if len(t) <= FIT_CHARS}:
        widest = max(widest, fm.horizontalAdvance(text))
    return widest + fm.horizontalAdvance("M") * 2 + (view.iconSize().width() + 8 if icon else 0)


def text_widths(view: QTableView, columns: Iterable[int], rows: Iterable[int],
                icon_columns: Iterable[int] = ()) -> dict[int, int]:
    """The width each column needs for these rows' texts of up to FIT_CHARS characters."""
    model = view.model()
    fm = view.fontMetrics()
    pad = fm.horizontalAdvance("M") * 2
    with_icon = set(icon_columns)
    rows = list(rows)
    out = {}
    for col in columns:
        widest = fm.horizontalAdvance(str(model.headerData(col, Qt.Orientation.Horizontal) or ""))
        seen: set[str] = set()
        for row in rows:
            text = str(model.index(row, col).data() or "")
            if len(text) > FIT_CHARS:
                continue  # cut short anyway (the tooltip and the details line have it all)
            if text not in seen:  # many rows share a text ("Ready to upload")
                seen.add(text)
                widest = max(widest, fm.horizontalAdvance(text))
        out[col] = widest + pad + (view.iconSize().width() + 8 if col in with_icon else 0)
    return out
