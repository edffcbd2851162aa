"""The table model behind the staging area."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.validation import TYPE_LABELS, ValidationResult, human_size

COLUMNS = ("Name", "Type", "Size", "Pages / dimensions", "Goes to", "Status")
COL_NAME, COL_TYPE, COL_SIZE, COL_DETAILS, COL_DEST, COL_STATUS = range(len(COLUMNS))

#: Role carrying the row's state as text ("checking", "ready", "warning", "rejected").
StateRole = Qt.ItemDataRole.UserRole + 1
#: Role carrying the staged file's full path.
PathRole = Qt.ItemDataRole.UserRole + 2
#: Role carrying the fraction sent (0..1) while a file uploads, else None.
ProgressRole = Qt.ItemDataRole.UserRole + 3

AnyIndex = QModelIndex | QPersistentModelIndex


UPLOAD_STATES = ("queued", "uploading", "sent", "verified", "failed", "unknown", "cancelled",
                 "rejected")


def _state(item: StagedFile) -> str:
    if item.upload_state in UPLOAD_STATES:
        return "not_sent" if item.upload_state in ("failed", "rejected") else item.upload_state
    if item.result is None:
        return "checking"
    if not item.result.ok:
        return "rejected"
    if item.result.warnings:
        return "warning"
    return "ready"


def _details(res: ValidationResult | None) -> str:
    if res is None:
        return ""
    if res.pages is not None:
        return f"{res.pages} page" + ("" if res.pages == 1 else "s")
    if res.width is not None and res.height is not None:
        return f"{res.width} × {res.height} px"
    return ""


class StagingModel(QAbstractTableModel):
    """Staged files, one row each, keyed by resolved path so none is staged twice."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[StagedFile] = []
        self._rows: dict[str, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._progress: dict[str, float] = {}
        #: "Sandbox Claros: patient 1001": where ready files would go now.
        self.current_destination = ""
        #: Optional provider of row thumbnails (gui.preview.Thumbnails).
        self.thumbnails: Any = None

    # ------------------------------------------------------------------ Qt API

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        col = index.column()
        res = item.result
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return item.name
            if col == COL_TYPE:
                return TYPE_LABELS.get(res.type, "Unknown") if res and res.type else (
                    "…" if res is None else "Unknown"
                )
            if col == COL_SIZE:
                return human_size(res.size) if res and res.size is not None else ""
            if col == COL_DETAILS:
                return _details(res)
            if col == COL_DEST:
                if item.destination_text:
                    return item.destination_text
                return self.current_destination if item.ready else ""
            if col == COL_STATUS:
                if item.upload_state:
                    return item.upload_message
                return "Checking…" if res is None else res.summary
        elif role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS:
            return self._icon(_state(item))
        elif role == Qt.ItemDataRole.DecorationRole and col == COL_NAME and self.thumbnails:
            return self.thumbnails.get(item)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_NAME:
                return str(item.path)
            if col == COL_STATUS and item.upload_state:
                return item.upload_message
            if col == COL_STATUS and res is not None and res.problems:
                return "\n".join(p.message for p in res.problems)
        elif role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_SIZE, COL_DETAILS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == StateRole:
            return _state(item)
        elif role == ProgressRole:
            return self._progress.get(item.key) if item.upload_state == "uploading" else None
        elif role == PathRole:
            return str(item.path)
        return None

    # ------------------------------------------------------------------ ours

    def _icon(self, state: str) -> QIcon:
        if state not in self._icons:
            style = QApplication.style()
            pixmap = {
                "queued": QStyle.StandardPixmap.SP_ArrowUp,
                "uploading": QStyle.StandardPixmap.SP_ArrowUp,
                "sent": QStyle.StandardPixmap.SP_DialogApplyButton,
                "verified": QStyle.StandardPixmap.SP_DialogYesButton,
                "not_sent": QStyle.StandardPixmap.SP_MessageBoxCritical,
                "unknown": QStyle.StandardPixmap.SP_MessageBoxQuestion,
                "cancelled": QStyle.StandardPixmap.SP_DialogCancelButton,
                "checking": QStyle.StandardPixmap.SP_BrowserReload,
                "ready": QStyle.StandardPixmap.SP_DialogApplyButton,
                "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
                "rejected": QStyle.StandardPixmap.SP_MessageBoxCritical,
            }[state]
            self._icons[state] = style.standardIcon(pixmap)
        return self._icons[state]

    def items(self) -> list[StagedFile]:
        return list(self._items)

    def contains(self, path: str | Path) -> bool:
        return staging_key(path) in self._rows

    def add_paths(self, paths: list[Path] | list[tuple[Path, str]]) -> list[StagedFile]:
        """Append files not already staged; return the new entries.

        Entries may come with their staging key already computed (off the UI
        thread: it resolves symlinks, which touches the disk).
        """
        fresh: list[StagedFile] = []
        seen: set[str] = set()
        for entry in paths:
            if isinstance(entry, tuple):
                item = StagedFile(Path(entry[0]), key_cache=entry[1])
            else:
                item = StagedFile(Path(entry))
            key = item.key
            if key in self._rows or key in seen:
                continue
            seen.add(key)
            fresh.append(item)
        if not fresh:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, item in enumerate(fresh):
            self._items.append(item)
            self._rows[item.key] = first + offset
        self.endInsertRows()
        return fresh

    def set_result(self, key: str, result: ValidationResult) -> bool:
        row = self._rows.get(key)
        if row is None:  # removed while it was being checked
            return False
        self._items[row].result = result
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def set_current_destination(self, text: str) -> None:
        self.current_destination = text
        if self._items:
            self.dataChanged.emit(self.index(0, COL_DEST), self.index(len(self._items) - 1, COL_DEST))

    def refresh_row(self, key: str) -> None:
        row = self._rows.get(key)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def item(self, key: str) -> StagedFile | None:
        row = self._rows.get(key)
        return self._items[row] if row is not None else None

    def set_upload_progress(self, fractions: dict[str, float]) -> None:
        for key, fraction in fractions.items():
            row = self._rows.get(key)
            if row is not None and self._items[row].upload_state == "uploading":
                self._progress[key] = fraction
                self.dataChanged.emit(self.index(row, COL_STATUS), self.index(row, COL_STATUS))

    def set_upload_states(self, changes: list[tuple[str, str, str]]) -> None:
        """Many rows at once, with one change signal over the rows touched."""
        touched = []
        for key, state, message in changes:
            row = self._rows.get(key)
            if row is None:
                continue
            item = self._items[row]
            item.upload_state, item.upload_message = state, message
            if state != "uploading":
                self._progress.pop(key, None)
            touched.append(row)
        if touched:
            self.dataChanged.emit(self.index(min(touched), 0),
                                  self.index(max(touched), len(COLUMNS) - 1))

    def set_upload_state(self, key: str, state: str, message: str) -> bool:
        row = self._rows.get(key)
        if row is None:
            return False
        item = self._items[row]
        item.upload_state, item.upload_message = state, message
        if state != "uploading":
            self._progress.pop(key, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def reset_results(self) -> None:
        for item in self._items:
            item.result = None
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, len(COLUMNS) - 1))

    def remove_rows(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._items):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self.endRemoveRows()
        self._reindex()

    def move(self, row: int, delta: int) -> int:
        """Move one row up (-1) or down (+1); return its new row."""
        to = row + delta
        if not (0 <= row < len(self._items)) or not (0 <= to < len(self._items)):
            return row
        # Qt's destination index is "before this row" in the old numbering.
        dest = to + 1 if delta > 0 else to
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self._items.insert(to, self._items.pop(row))
        self.endMoveRows()
        self._reindex()
        return to

    def clear(self) -> None:
        self.beginResetModel()
        self._items.clear()
        self._rows.clear()
        self.endResetModel()

    def _reindex(self) -> None:
        self._rows = {item.key: row for row, item in enumerate(self._items)}

    def counts(self) -> dict[str, int]:
        out = {"checking": 0, "ready": 0, "warning": 0, "rejected": 0, "sent": 0, "sending": 0}
        for item in self._items:
            if item.upload_state in ("sent", "verified"):
                out["sent"] += 1
            elif item.upload_state in ("queued", "uploading"):
                out["sending"] += 1
            elif item.result is None:
                out["checking"] += 1
            elif not item.result.ok:
                out["rejected"] += 1
            elif item.result.warnings:
                out["warning"] += 1
            else:
                out["ready"] += 1
        return out

    def ready_files(self) -> list[StagedFile]:
        return [item for item in self._items if item.ready]

    def sendable_files(self) -> list[StagedFile]:
        """Ready files, and those that may go as a copy without scripts if a person agrees."""
        return [item for item in self._items if item.ready or item.offers_copy]


class ProgressDelegate(QStyledItemDelegate):
    """Draws a progress bar in the status cell of a file that is uploading."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        fraction = index.data(ProgressRole)
        if fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(1000 * max(0.0, min(1.0, fraction)))
        bar.text = f"Uploading… {int(100 * fraction)}%"
        bar.textVisible = True
        bar.state = option.state
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
