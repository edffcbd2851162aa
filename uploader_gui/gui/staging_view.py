"""The staging table: accepts drops of files and folders, always as a copy."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from uploader_gui.gui.columns import texts_width
from uploader_gui.gui.focus_style import OWN_RING, draw_ring
from uploader_gui.gui.staging_model import (
    COL_DEST,
    COL_DETAILS,
    COL_NAME,
    COL_SIZE,
    COL_STATUS,
    COL_TYPE,
    ProgressDelegate,
)

#: The columns sized to their texts.
FITTED = (COL_NAME, COL_STATUS, COL_DEST, COL_TYPE)
#: The fitted columns whose text can change after a row is added (a name never does).
REFITTED = (COL_STATUS, COL_DEST, COL_TYPE)


def tr(text: str) -> str:
    return QCoreApplication.translate("StagingView", text)


def local_paths_from_mime(mime: Any) -> list[Path]:
    """The local files and folders in a drag, ignoring web links and the like."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


#: How many cells one column fit measures before it lets the window breathe.
FIT_BUDGET = 400


class StagingView(QTableView):
    """The staging table. Accepts drops of files and folders, always as a copy."""

    filesDropped = Signal(list)  # list[str]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setTabKeyNavigation(False)  # Tab leaves the table; arrows move inside it
        self.setAccessibleName(tr("Files to send"))
        self.setAccessibleDescription(tr("Each file, its check and where it goes. The arrow "
                                         "keys move between files."))
        self.empty_text = tr(
            "Drag PDF, JPEG or PNG files or whole folders here,\n"
            "or click “Add files…” (Ctrl+O)."
        )
        #: True while files are dragged over the window: the list says "Drop to check".
        self.drop_highlight = False
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(250)
        self._fit_timer.timeout.connect(self.fit_columns)
        # The next slice of a long fit, on the next turn of the event loop (owned by the view,
        # so it dies with it).
        self._fit_more = QTimer(self)
        self._fit_more.setSingleShot(True)
        self._fit_more.setInterval(0)
        self._fit_more.timeout.connect(self.fit_columns)
        #: per fitted column, the rows to measure at the next fit (None: all of them)
        self._fit_pending: dict[int, set[int] | None] = {}
        self._fit_widths: dict[int, int] = {}
        #: The view draws the focus ring around its current cell itself (see paintEvent).
        self._own_ring = True
        self.setProperty(OWN_RING, True)

    def schedule_fit(self, rows: range | None = None, columns: Iterable[int] = FITTED) -> None:
        """Fit the columns soon; many changes together cause one fit."""
        for col in columns:
            if rows is None:
                self._fit_pending[col] = None
                self._fit_widths.pop(col, None)
            else:
                pending = self._fit_pending.setdefault(col, set())
                if pending is not None:
                    pending.update(rows)
        if not self._fit_timer.isActive():
            self._fit_timer.start()

    def _rows_inserted(self, _parent: object, first: int, last: int) -> None:
        self.schedule_fit(range(first, last + 1))

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, *_roles: object) -> None:
        if top.column() == bottom.column() == COL_STATUS:
            return  # an upload's progress: the texts are the same
        columns = [c for c in REFITTED if top.column() <= c <= bottom.column()]
        self.schedule_fit(range(top.row(), bottom.row() + 1), columns)

    # Drops: accept only local files, and always as a copy. Qt's proposed
    # action can be a move (Shift-drag), which some file managers honour by
    # deleting the source.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._highlight(False)
        event.accept()

    def _highlight(self, on: bool) -> None:
        if on != self.drop_highlight:
            self.drop_highlight = on
            self.viewport().update()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        self._highlight(False)
        paths = local_paths_from_mime(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        names = [str(p) for p in paths]
        # Do the work after the drop handler has returned to the drag source.
        QTimer.singleShot(0, lambda: self.filesDropped.emit(names))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._own_ring and self.hasFocus():
            current = self.currentIndex()
            if current.isValid():
                rect = self.visualRect(current)
                if rect.intersects(event.rect()):
                    ring = QPainter(self.viewport())
                    draw_ring(ring, self.palette().highlight().color(), rect)
                    ring.end()
        model = self.model()
        empty = model is not None and model.rowCount() == 0
        if not (empty or self.drop_highlight):
            return
        painter = QPainter(self.viewport())
        rect: QRect = self.viewport().rect().adjusted(12, 12, -12, -12)
        if self.drop_highlight:
            colour = self.palette().highlight().color()
            painter.setPen(QPen(colour, 3, Qt.PenStyle.DashLine))
            fill = colour
            fill.setAlpha(40)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 8, 8)
            painter.setPen(self.palette().text().color())
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.4)
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), tr("Drop to check"))
        else:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.empty_text)
        painter.end()

    # ------------------------------------------------------------------ columns

    def fit_columns(self) -> None:
        """Name, Status, Goes to and Type as wide as their longest text (up to FIT_CHARS).

        Only the cells that changed since the last fit are measured; columns grow to fit
        them (and start again from scratch when the list is emptied).
        """
        model = self.model()
        if model is None:
            return
        count = model.rowCount()
        pending, self._fit_pending = self._fit_pending, {}
        header = self.horizontalHeader()
        budget = FIT_BUDGET  # cells measured in one go; the rest on the next turn
        for col, rows in pending.items():
            todo = list(range(count)) if rows is None else sorted(r for r in rows if r < count)
            now, later = todo[:budget], todo[budget:]
            budget = max(0, budget - len(now))
            if later:
                self._fit_pending[col] = set(later)
            if not now:
                continue
            texts = model.column_texts(col, now) if hasattr(model, "column_texts") else [
                str(model.index(row, col).data() or "") for row in now]
            want = texts_width(self, col, texts, icon=col in (COL_NAME, COL_STATUS))
            want = max(want, self._fit_widths.get(col, 0))
            self._fit_widths[col] = want
            if header.sectionSize(col) != want:
                header.resizeSection(col, want)
        if self._fit_pending:  # 2,000 new rows: measured a slice at a time, the window keeps up
            self._fit_more.start()


def setup_columns(view: StagingView) -> None:
    """Column widths from the font; icons in one fixed square; a bar for uploading rows."""
    view.setItemDelegateForColumn(COL_STATUS, ProgressDelegate(view))
    fm = view.fontMetrics()
    em, line = fm.horizontalAdvance("M"), fm.height()
    side = int(line * 1.5)
    view.setIconSize(QSize(side, side))
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    widths = {COL_NAME: 20, COL_STATUS: 20, COL_DEST: 20, COL_TYPE: 5, COL_SIZE: 7,
              COL_DETAILS: 9}
    for col, ems in widths.items():
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(col, em * ems)
    header.setStretchLastSection(True)
    view.verticalHeader().setDefaultSectionSize(side + 6)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    model = view.model()
    model.rowsInserted.connect(view._rows_inserted)
    model.dataChanged.connect(view._data_changed)
    model.modelReset.connect(lambda: view.schedule_fit(None))
