"""Model and filter behind the history panel."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

from uploader_gui.core.jobs import STATE_LABELS, Job
from uploader_gui.core.targets import KIND_LABELS

COLUMNS = ("Time", "File", "Sent to", "Patient / record", "Status", "Delivery", "HTTP",
           "Remote ID", "Attempts")
(COL_TIME, COL_FILE, COL_TARGET, COL_DEST, COL_STATUS, COL_DELIVERY, COL_HTTP, COL_REMOTE,
 COL_ATTEMPTS) = range(len(COLUMNS))

DELIVERY_LABELS = {"pending": "Pending", "succeeded": "Delivered", "failed": "Not delivered",
                   "filtered": "Filtered by Redox"}

JobRole = Qt.ItemDataRole.UserRole + 10
SortRole = Qt.ItemDataRole.UserRole + 11

AnyIndex = QModelIndex | QPersistentModelIndex

_ICONS = {
    "queued": QStyle.StandardPixmap.SP_ArrowUp,
    "uploading": QStyle.StandardPixmap.SP_ArrowUp,
    "sent": QStyle.StandardPixmap.SP_DialogApplyButton,
    "verified": QStyle.StandardPixmap.SP_DialogYesButton,
    "failed": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "unknown": QStyle.StandardPixmap.SP_MessageBoxQuestion,
    "cancelled": QStyle.StandardPixmap.SP_DialogCancelButton,
    "interrupted": QStyle.StandardPixmap.SP_MessageBoxWarning,
}


class HistoryModel(QAbstractTableModel):
    """Every job, newest first by default; updated in place as jobs change."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        self._rows: dict[int, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._sort: tuple[int, Qt.SortOrder] = (COL_TIME, Qt.SortOrder.DescendingOrder)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, col)
        if role == SortRole:
            if col == COL_TIME:
                return job.created
            if col in (COL_HTTP, COL_ATTEMPTS):
                return (job.http_status or 0) if col == COL_HTTP else job.attempts
            return self._text(job, col)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS:
            return self._icon(job.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FILE:
                return job.path
            if col == COL_STATUS and job.error:
                return job.error
        if role == JobRole:
            return job
        return None

    def _text(self, job: Job, col: int) -> str:
        if col == COL_TIME:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created))
        if col == COL_FILE:
            return job.name
        if col == COL_TARGET:
            label = KIND_LABELS.get(job.target, job.target)
            return f"{job.profile} ({label})" if job.profile else label
        if col == COL_DEST:
            return job.dest_key
        if col == COL_STATUS:
            return STATE_LABELS.get(job.status, job.status)
        if col == COL_DELIVERY:
            return DELIVERY_LABELS.get(job.delivery or "", job.delivery or "")
        if col == COL_HTTP:
            return str(job.http_status) if job.http_status else ""
        if col == COL_REMOTE:
            return job.remote_id or ""
        if col == COL_ATTEMPTS:
            return str(job.attempts)
        return ""

    def _icon(self, status: str) -> QIcon:
        if status not in self._icons:
            self._icons[status] = QApplication.style().standardIcon(
                _ICONS.get(status, QStyle.StandardPixmap.SP_FileIcon))
        return self._icons[status]

    # ------------------------------------------------------------------ ours

    def _key(self, col: int) -> Any:
        if col == COL_TIME:
            return lambda j: (j.created, j.id or 0)
        if col == COL_HTTP:
            return lambda j: j.http_status or 0
        if col == COL_ATTEMPTS:
            return lambda j: j.attempts
        return lambda j: self._text(j, col)

    def _sorted(self, jobs: list[Job]) -> list[Job]:
        col, order = self._sort
        return sorted(jobs, key=self._key(col), reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorted here, in Python, with one key per row: the proxy's own sort calls data()
        twice per comparison (~270,000 calls for 10,000 rows)."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        old = {id(j): r for r, j in enumerate(self._jobs)}
        self._jobs = self._sorted(self._jobs)
        self._rows = {j.id: r for r, j in enumerate(self._jobs) if j.id is not None}
        moved = {old[id(j)]: r for r, j in enumerate(self._jobs)}
        for index in self.persistentIndexList():
            self.changePersistentIndex(index, self.index(moved[index.row()], index.column()))
        self.layoutChanged.emit()

    def set_jobs(self, jobs: list[Job]) -> None:
        self.beginResetModel()
        self._jobs = self._sorted(jobs)
        self._rows = {j.id: r for r, j in enumerate(self._jobs) if j.id is not None}
        self.endResetModel()

    def upsert(self, jobs: list[Job]) -> None:
        fresh = [j for j in jobs if j.id is not None and j.id not in self._rows]
        for job in jobs:
            row = self._rows.get(job.id) if job.id is not None else None
            if row is not None:
                self._jobs[row] = job
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        if not fresh:
            return
        if self._sort == (COL_TIME, Qt.SortOrder.DescendingOrder):
            # The usual view: new uploads are the newest, so they go on top, newest first.
            fresh = self._sorted(fresh)
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._jobs[0:0] = fresh
            self._rows = {j.id: r for r, j in enumerate(self._jobs) if j.id is not None}
            self.endInsertRows()
            return
        first = len(self._jobs)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, job in enumerate(fresh):
            self._jobs.append(job)
            self._rows[job.id] = first + offset  # type: ignore[index]
        self.endInsertRows()
        self.sort(*self._sort)

    def job(self, row: int) -> Job:
        return self._jobs[row]

    def job_by_id(self, job_id: int) -> Job | None:
        row = self._rows.get(job_id)
        return self._jobs[row] if row is not None else None

    def jobs(self) -> list[Job]:
        return list(self._jobs)


class HistoryFilter(QSortFilterProxyModel):
    """Search text, status, target and date range."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.status: str | None = None
        self.target: str | None = None
        self.since: float | None = None
        self.until: float | None = None
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)  # the proxy itself only filters

    def set_criteria(self, *, text: str | None = None, status: str | bool | None = False,
                     target: str | bool | None = False, since: float | bool | None = False,
                     until: float | bool | None = False) -> None:
        if text is not None:
            self.text = text.strip().lower()
        if status is not False:
            self.status = status  # type: ignore[assignment]
        if target is not False:
            self.target = target  # type: ignore[assignment]
        if since is not False:
            self.since = since  # type: ignore[assignment]
        if until is not False:
            self.until = until  # type: ignore[assignment]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: AnyIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, HistoryModel)
        job = model.job(row)
        if self.status and job.status != self.status:
            return False
        if self.target and job.target != self.target:
            return False
        if self.since is not None and job.created < self.since:
            return False
        if self.until is not None and job.created >= self.until:
            return False
        if self.text:
            hay = " ".join(filter(None, (job.name, job.dest_key, job.remote_id or "",
                                         job.profile or "", job.destination.patient_id or "",
                                         job.destination.record or ""))).lower()
            return self.text in hay
        return True
