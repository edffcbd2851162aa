"""The staging table: accepts drops of files and folders, always as a copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget


def local_paths_from_mime(mime: Any) -> list[Path]:
    """The local files and folders in a drag, ignoring web links and the like."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


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
        self.empty_text = (
            "Drag PDF, JPEG or PNG files or whole folders here,\n"
            "or click “Add files…” (Ctrl+O)."
        )

    # Drops: accept only local files, and always as a copy. Qt's proposed
    # action can be a move (Shift-drag), which some file managers honour by
    # deleting the source.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
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
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            rect: QRect = self.viewport().rect().adjusted(12, 12, -12, -12)
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.empty_text)
            painter.end()
