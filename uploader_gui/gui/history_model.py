"""Model and filter behind the history panel."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Signal,
)
from PySide6.QtGui import QIcon

from uploader_gui.core.history_pages import HistoryQuery, Page
from uploader_gui.core.jobs import Job
from uploader_gui.core.names import KIND_LABELS
from uploader_gui.gui import roles
from uploader_gui.gui.states import state_icon, state_word

if TYPE_CHECKING:
    from PySide6.QtCore import Qt


def patient_text(job: Job) -> str:
    """"Ben Sandbox, born 1975-06-15 (1002)" when the name was known at sending, else the id."""
    if job.patient_label:
        if job.target == "redcap":
            return f"{job.patient_label} · {job.dest_key}"
        return job.patient_label
    return job.dest_key


def _first_sentence(text: str) -> str:
    cut = text.find(". ")
    return text[:cut + 1] if cut > 0 else text

#: What a person asks first: when, which file, who, where, and how it ended (with why).
#: HTTP status, remote id, attempts, SHA-256 and paths are in the folded technical details.
COLUMNS = ("When", "File", "Patient / record", "Sent to", "Delivery", "Status")
COL_TIME, COL_FILE, COL_DEST, COL_TARGET, COL_DELIVERY, COL_STATUS = range(len(COLUMNS))
#: Local time, in full, with the time zone.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S %Z"

DELIVERY_LABELS = {"pending": "Pending", "succeeded": "Delivered", "failed": "Not delivered",
                   "filtered": "Filtered by Redox"}

JobRole = roles.USER + 10
SortRole = roles.USER + 11

AnyIndex = QModelIndex | QPersistentModelIndex

#: The database order behind a click on each column's header (core.history_pages.ORDERS).
COLUMN_ORDERS = {COL_TIME: "created", COL_FILE: "name", COL_DEST: "patient",
                 COL_TARGET: "target", COL_DELIVERY: "delivery", COL_STATUS: "status"}


class HistoryModel(QAbstractTableModel):
    """The history a page at a time, newest first by default; updated in place as jobs
    change. The pages themselves are read on a worker by whoever listens to
    ``reloadWanted`` and ``moreWanted`` (the history panel)."""

    #: The loaded rows no longer follow from the query: read its first page again.
    reloadWanted = Signal()
    #: The view reached the last loaded row: read the next page.
    moreWanted = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        self._rows: dict[int, int] = {}
        self._icons: dict[str, QIcon] = {}
        self.query = HistoryQuery()
        self._more = False
        self._busy = False
        #: The query changed and its first page is not in yet: the loaded rows are no prefix.
        self._stale = False
        #: Changes that arrived while a first page was being read (applied on top of it).
        self._live: dict[int, Job] = {}
        #: Every upload in the history (not only the loaded ones), and the highest id seen.
        self.total = 0
        self._top_id = 0

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = roles.DISPLAY) -> Any:
        from PySide6.QtCore import Qt

        if orientation == Qt.Orientation.Horizontal and role == roles.DISPLAY:
            return QCoreApplication.translate("HistoryModel", COLUMNS[section])
        return None

    def data(self, index: AnyIndex, role: int = roles.DISPLAY) -> Any:
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        col = index.column()
        if role == roles.DISPLAY:
            return self._text(job, col)
        if role == SortRole:
            if col == COL_TIME:
                return job.created
            return self._text(job, col)
        if role == roles.DECORATION and col == COL_STATUS:
            return self._icon(job.status)
        if role == roles.TOOLTIP:
            if col == COL_FILE:
                return job.path
            if col == COL_STATUS and job.error:
                return job.error
            return self._text(job, col) or None
        if role == JobRole:
            return job
        return None

    def _text(self, job: Job, col: int) -> str:
        if col == COL_TIME:
            return time.strftime(TIME_FORMAT, time.localtime(job.created))
        if col == COL_FILE:
            return job.name
        if col == COL_TARGET:
            label = KIND_LABELS.get(job.target, job.target)
            return f"{job.profile} ({label})" if job.profile else label
        if col == COL_DEST:
            return patient_text(job)
        if col == COL_STATUS:
            word = state_word(job.status)
            if job.error and job.status in ("failed", "unknown", "interrupted"):
                return f"{word}: {_first_sentence(job.error)}"
            return word
        if col == COL_DELIVERY:
            return DELIVERY_LABELS.get(job.delivery or "", job.delivery or "")
        return ""

    def _icon(self, status: str) -> QIcon:
        if status not in self._icons:
            self._icons[status] = state_icon(status)
        return self._icons[status]

    # ------------------------------------------------------------------ ours

    def sort(self, column: int, order: Qt.SortOrder | None = None) -> None:
        from PySide6.QtCore import Qt

        order = Qt.SortOrder.AscendingOrder if order is None else order
        """Sorted by the database (over the whole history, a page at a time): the loaded
        rows are put in the new order at once, and the first page is read again."""
        query = self.query.with_(order=COLUMN_ORDERS[column],
                                 descending=order == Qt.SortOrder.DescendingOrder)
        if query == self.query:
            return
        self.query, self._stale = query, True
        self.layoutAboutToBeChanged.emit()
        old = {id(j): r for r, j in enumerate(self._jobs)}
        self._jobs = self._sorted(self._jobs)
        self._index()
        moved = {old[id(j)]: r for r, j in enumerate(self._jobs)}
        for index in self.persistentIndexList():
            self.changePersistentIndex(index, self.index(moved[index.row()], index.column()))
        self.layoutChanged.emit()
        self.reloadWanted.emit()

    def set_query(self, query: HistoryQuery) -> None:
        """Other criteria (the order stays the model's): the first page is read again."""
        query = query.with_(order=self.query.order, descending=self.query.descending)
        if query != self.query:
            self.query, self._stale = query, True
            self.reloadWanted.emit()

    def _sorted(self, jobs: list[Job]) -> list[Job]:
        return sorted(jobs, key=self.query.key, reverse=self.query.descending)

    def _index(self) -> None:
        self._rows = {j.id: r for r, j in enumerate(self._jobs) if j.id is not None}

    # ------------------------------------------------------------------ pages

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._more and not (self._busy or self._stale)

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._busy = True
            self.moreWanted.emit()

    def can_fetch_more(self) -> bool:
        return self._more

    def begin_reload(self) -> HistoryQuery:
        """A first page is being read for the current query: nothing more until it is in."""
        self._busy, self._live = True, {}
        return self.query

    def next_page_after(self) -> tuple[HistoryQuery, tuple[Any, ...] | None]:
        """The query and the key of the last loaded row, for the next page."""
        return self.query, (self.query.key(self._jobs[-1]) if self._jobs else None)

    def show_page(self, page: Page, query: HistoryQuery) -> None:
        """The first page for ``query``: it replaces the loaded rows, with every change
        that arrived while it was being read applied on top."""
        if query != self.query:  # the criteria changed meanwhile; another read is coming
            return
        self._busy, self._stale, self._more = False, False, page.more
        if page.total is not None:
            self.total, self._top_id = page.total, page.top_id
        live, self._live = self._live, {}
        fresh = {j.id: j for j in page.jobs}
        for job_id, job in live.items():  # newer than the page: the page was read earlier
            if job_id in fresh and job.updated >= fresh[job_id].updated:
                fresh[job_id] = job
        jobs = list(fresh.values())
        if [j.id for j in jobs] == [j.id for j in self._jobs]:
            self._jobs = jobs  # the same rows (the usual case for a small history): no reset
            self._index()
            if jobs:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(jobs) - 1, len(COLUMNS) - 1))
        else:
            self.beginResetModel()
            self._jobs = jobs
            self._index()
            self.endResetModel()
        self.upsert([j for j in live.values() if j.id not in fresh])

    def append_page(self, page: Page, query: HistoryQuery) -> None:
        """The next page: rows after the last loaded one (any already here are skipped)."""
        if query != self.query:
            return
        self._busy, self._more = False, page.more
        jobs = [j for j in page.jobs if j.id not in self._rows]
        if not jobs:
            return
        first = len(self._jobs)
        self.beginInsertRows(QModelIndex(), first, first + len(jobs) - 1)
        self._jobs.extend(jobs)
        self._index()
        self.endInsertRows()

    def read_failed(self) -> None:
        self._busy = False

    def set_jobs(self, jobs: list[Job]) -> None:
        """Show exactly these jobs (everything there is)."""
        self.beginResetModel()
        self._jobs = self._sorted(jobs)
        self._index()
        self._more, self._busy, self._stale = False, False, False
        self.total = len(self._jobs)
        self._top_id = max((j.id or 0 for j in self._jobs), default=0)
        self.endResetModel()

    # ------------------------------------------------------------------ live changes

    def upsert(self, jobs: list[Job]) -> None:
        """Jobs that changed (this desk's queue, other desks): updated where they are shown,
        and new ones placed where the database's order puts them. One that belongs after
        the last loaded row is left for a later page."""
        if self._busy:
            self._live.update({j.id: j for j in jobs if j.id is not None})
        fresh: list[Job] = []
        for job in jobs:
            if job.id is None:
                continue
            if job.id > self._top_id:  # an upload the count did not include
                self.total += 1
                self._top_id = job.id
            row = self._rows.get(job.id)
            if row is not None:
                self._jobs[row] = job
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            else:
                fresh.append(job)
        if self._busy or self._stale:
            # The query changed, or its first page is being read: the loaded rows are not
            # in its order. The page places new jobs (those that came meanwhile on top).
            return
        query = self.query
        for job in self._sorted(fresh):
            key = query.key(job)
            if self._more and self._jobs and not query.before(key, query.key(self._jobs[-1])):
                continue  # past the loaded rows: a later page brings it
            row = self._position(key)
            self.beginInsertRows(QModelIndex(), row, row)
            self._jobs.insert(row, job)
            self._index()
            self.endInsertRows()

    def _position(self, key: tuple[Any, ...]) -> int:
        """Where a row with this key goes among the loaded ones (binary search)."""
        query, lo, hi = self.query, 0, len(self._jobs)
        while lo < hi:
            mid = (lo + hi) // 2
            if query.before(query.key(self._jobs[mid]), key):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def job(self, row: int) -> Job:
        return self._jobs[row]

    def row_of(self, job_id: int) -> int | None:
        return self._rows.get(job_id)

    def job_by_id(self, job_id: int) -> Job | None:
        row = self._rows.get(job_id)
        return self._jobs[row] if row is not None else None

    def jobs(self) -> list[Job]:
        return list(self._jobs)


class HistoryFilter(QSortFilterProxyModel):
    """Search text, status, system, date range and desk, over the loaded rows at once;
    ``criteriaChanged`` tells the model to read the whole history again with them."""

    criteriaChanged = Signal(object)  # the new HistoryQuery

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.query = HistoryQuery()
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order: Qt.SortOrder | None = None) -> None:
        from PySide6.QtCore import Qt

        order = Qt.SortOrder.AscendingOrder if order is None else order
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)  # the proxy itself only filters

    def set_criteria(self, *, text: str | None = None, status: str | bool | None = False,
                     target: str | bool | None = False, since: float | bool | None = False,
                     until: float | bool | None = False,
                     workstation: str | bool | None = False) -> None:
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = text.strip().lower()
        for name, value in (("status", status), ("target", target), ("since", since),
                            ("until", until), ("workstation", workstation)):
            if value is not False:
                changes[name] = value
        query = self.query.with_(**changes)
        if query == self.query:
            return
        self.query = query
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self.criteriaChanged.emit(query)

    def filterAcceptsRow(self, row: int, parent: AnyIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, HistoryModel)
        return self.query.accepts(model.job(row))
