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


def fit_columns(view: QTableView, columns: Iterable[int], icon_columns: Iterable[int] = (),
                max_rows: int = 5000) -> None:
    model = view.model()
    if model is None:
        return
    fm = view.fontMetrics()
    pad = fm.horizontalAdvance("M") * 2
    header = view.horizontalHeader()
    with_icon = set(icon_columns)
    rows = min(model.rowCount(), max_rows)
    for col in columns:
        widest = fm.horizontalAdvance(str(model.headerData(col, Qt.Orientation.Horizontal) or ""))
        seen: set[str] = set()
        for row in range(rows):
            text = str(model.index(row, col).data() or "")
            if len(text) > FIT_CHARS:
                continue  # cut short anyway (the tooltip and the details line have it all)
            if text not in seen:  # many rows share a text ("Ready to upload")
                seen.add(text)
                widest = max(widest, fm.horizontalAdvance(text))
        icon = view.iconSize().width() + 8 if col in with_icon else 0
        want = widest + pad + icon
        if header.sectionSize(col) != want:
            header.resizeSection(col, want)
