"""The history panel: every upload and every attempt, searchable and exportable."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QDate,
    QDateTime,
    QItemSelectionModel,
    Qt,
    QTime,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.csv_safe import safe_cell
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.history_pages import HistoryQuery, Page
from uploader_gui.core.jobs import STATE_LABELS, STATES, AttemptRecord, Job
from uploader_gui.core.targets import KIND_LABELS
from uploader_gui.gui.columns import text_widths
from uploader_gui.gui.history_details import summary_html, technical_html
from uploader_gui.gui.history_model import (
    COL_DELIVERY,
    COL_DEST,
    COL_FILE,
    COL_STATUS,
    COL_TARGET,
    COL_TIME,
    COLUMNS,
    HistoryFilter,
    HistoryModel,
)
from uploader_gui.gui.tasks import TaskRunner


def tr(text: str) -> str:
    return QCoreApplication.translate("HistoryPanel", text)

RESENDABLE = frozenset({"failed", "unknown", "interrupted", "cancelled"})
CSV_FIELDS = ("id", "created", "finished", "name", "path", "sha256", "target", "profile",
              "destination", "patient", "status", "attempts", "http_status", "remote_id", "url",
              "log_ids", "error")


class HistoryPanel(QWidget):
    #: job ids the user chose to send again (after confirming).
    resendRequested = Signal(list)

    def __init__(self, history: HistoryStore | None, parent: QWidget | None = None, *,
                 model: HistoryModel | None = None) -> None:
        """``model``: one that already holds the newest page (the window's first frame)."""
        super().__init__(parent)
        self.history = history
        self._runner = TaskRunner(self, workers=1)
        self.model = model or HistoryModel(self)
        self.model.setParent(self)
        self.proxy = HistoryFilter(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search file name, patient, record or remote ID…"))
        self.search.setAccessibleName(tr("Search the history"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda t: self.proxy.set_criteria(text=t))
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName(tr("Status"))
        self.status_filter.addItem(tr("Any status"), None)
        for s in STATES:
            self.status_filter.addItem(STATE_LABELS[s], s)
        self.status_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_criteria(status=self.status_filter.currentData()))
        self.target_filter = QComboBox()
        self.target_filter.setAccessibleName(tr("System"))
        self.target_filter.addItem(tr("Any system"), None)
        for k, label in KIND_LABELS.items():
            self.target_filter.addItem(label, k)
        self.target_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_criteria(target=self.target_filter.currentData()))
        self.use_from = QCheckBox(tr("&From"))
        self.date_from = QDateEdit(QDate.currentDate().addDays(-7))
        self.use_to = QCheckBox(tr("t&o"))
        self.date_to = QDateEdit(QDate.currentDate())
        self.date_from.setAccessibleName(tr("From date"))
        self.date_to.setAccessibleName(tr("To date"))
        for w in (self.date_from, self.date_to):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
            w.dateChanged.connect(self._dates_changed)
        for c in (self.use_from, self.use_to):
            c.toggled.connect(self._dates_changed)

        filters = self.filters = QHBoxLayout()  # the clinic view adds its desk choice here
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.target_filter)
        filters.addWidget(self.use_from)
        filters.addWidget(self.date_from)
        filters.addWidget(self.use_to)
        filters.addWidget(self.date_to)

        self._kept: list[int] = []
        self._reload_timer = QTimer(self)  # filters typed quickly: one read, not one a key
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(150)
        self._reload_timer.timeout.connect(self.load)
        self.model.reloadWanted.connect(self._reload_timer.start)
        self.model.moreWanted.connect(self._fetch_more)
        self.proxy.criteriaChanged.connect(self.model.set_query)

        self.view = QTableView()
        self.view.setModel(self.proxy)
        # After the view's own: its selection is cleared by a reset, then put back here.
        self.proxy.modelAboutToBeReset.connect(self._keep_selection)
        self.proxy.modelReset.connect(self._restore_selection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setTabKeyNavigation(False)  # Tab leaves the table; arrows move inside it
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setAccessibleName(tr("Uploads"))
        header = self.view.horizontalHeader()
        em = self.fontMetrics().horizontalAdvance("M")
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, em * 8)
        header.resizeSection(COL_STATUS, em * 22)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(250)
        self._fit_timer.timeout.connect(self.fit_columns)
        #: Rows to measure at the next fit (None: all). Only new or changed rows are
        #: measured: re-measuring the whole list on every change stalls the window during
        #: a batch. A re-sort moves rows but changes no text, so it measures nothing.
        self._fit_rows: set[int] | None = None
        self._fit_widths: dict[int, int] = {}
        self.proxy.rowsInserted.connect(lambda _p, first, last: self._refit(range(first, last + 1)))
        self.proxy.dataChanged.connect(
            lambda tl, br, *_r: self._refit(range(tl.row(), br.row() + 1)))
        self.proxy.modelReset.connect(lambda: self._refit(None))
        header.setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.details.setAccessibleName(tr("About the selected upload"))
        self.details.setPlaceholderText(tr("Select an upload to see what happened to it."))
        self.technical_button = QToolButton()
        self.technical_button.setText(tr("&Technical details"))
        self.technical_button.setCheckable(True)
        self.technical_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.technical_button.setArrowType(Qt.ArrowType.RightArrow)
        self.technical_button.setAccessibleName(tr("Technical details"))
        self.technical = QTextBrowser()
        self.technical.setAccessibleName(tr("Technical details of the selected upload"))
        self.technical.setVisible(False)
        self.technical_button.toggled.connect(self._fold)
        about = QWidget()
        about_layout = QVBoxLayout(about)
        about_layout.setContentsMargins(0, 0, 0, 0)
        about_layout.addWidget(self.details, 2)
        about_layout.addWidget(self.technical_button)
        about_layout.addWidget(self.technical, 2)

        self.resend_button = QPushButton(tr("Send a&gain…"))
        self.resend_button.clicked.connect(self.resend_selected)
        self.open_button = QPushButton(tr("Open remote &link"))
        self.open_button.clicked.connect(self.open_remote)
        self.show_file_button = QPushButton(tr("Show fil&e"))
        self.show_file_button.clicked.connect(self.show_file)
        self.copy_button = QPushButton(tr("Cop&y receipt"))
        self.copy_button.clicked.connect(self.copy_receipt)
        self.export_button = QPushButton(tr("E&xport CSV…"))
        self.export_button.clicked.connect(self.choose_export)
        actions = QHBoxLayout()
        for b in (self.resend_button, self.open_button, self.show_file_button, self.copy_button):
            actions.addWidget(b)
        actions.addStretch(1)
        actions.addWidget(self.export_button)

        self.count_label = QLabel()
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(about)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addLayout(actions)
        layout.addWidget(self.count_label)
        self._selection_changed()
        self._update_count()

    # ------------------------------------------------------------------ data

    def _refit(self, rows: range | None) -> None:
        if rows is None:
            self._fit_rows, self._fit_widths = None, {}
        elif self._fit_rows is not None:
            self._fit_rows.update(rows)
        if not self._fit_timer.isActive():
            self._fit_timer.start()

    def fit_columns(self) -> None:
        """Every column but the last (Status, which stretches) as wide as its text; columns
        grow to fit the rows that changed, and start afresh when the list is reloaded."""
        count = self.proxy.rowCount()
        pending, self._fit_rows = self._fit_rows, set()
        rows = range(min(count, 500)) if pending is None else sorted(r for r in pending
                                                                       if r < count)
        if not rows:
            return
        columns = (COL_TIME, COL_FILE, COL_DEST, COL_TARGET, COL_DELIVERY)
        header = self.view.horizontalHeader()
        for col, want in text_widths(self.view, columns, rows).items():
            want = max(want, self._fit_widths.get(col, 0))
            self._fit_widths[col] = want
            if header.sectionSize(col) != want:
                header.resizeSection(col, want)

    def set_history(self, history: HistoryStore, first: Page | None = None) -> None:
        """The history is open now (the window opens it on a worker): show it; ``first``:
        its newest page, read on that worker too (if the filters still ask for that)."""
        self.history = history
        if first is None or self.model.query != HistoryQuery():
            self.load()
            return
        self._reload_timer.stop()
        self._page_in(first, None, self.model.begin_reload())

    def load(self) -> None:
        """Read the newest page (of what the filters ask for) on a worker, then show it;
        the rest is read a page at a time as the list is scrolled down."""
        self._reload_timer.stop()
        if self.history is None:
            return
        store, query = self.history, self.model.begin_reload()
        self._runner.run(lambda: store.page(query, total=True),
                         lambda page, error: self._page_in(page, error, query))

    def _page_in(self, page: Page | None, error: BaseException | None,
                 query: HistoryQuery) -> None:
        if error is not None or page is None:
            self.model.read_failed()
            self.count_label.setText(tr("The history could not be read: {error}").format(
                error=error))
            return
        self.model.show_page(page, query)
        self._update_count()

    def _fetch_more(self) -> None:
        if self.history is None:
            self.model.read_failed()
            return
        store, (query, after) = self.history, self.model.next_page_after()

        def shown(page: Page | None, error: BaseException | None) -> None:
            if error is not None or page is None:
                self.model.read_failed()
                self.count_label.setText(tr("The history could not be read: {error}").format(
                    error=error))
                return
            self.model.append_page(page, query)
            self._update_count()

        self._runner.run(lambda: store.page(query, after), shown)

    def _keep_selection(self) -> None:
        self._kept = [j.id for j in self.selected_jobs() if j.id is not None]

    def _restore_selection(self) -> None:
        kept, self._kept = self._kept, []
        selection = self.view.selectionModel()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for job_id in kept:
            row = self.model.row_of(job_id)
            if row is not None:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    selection.select(index, flags)

    def jobs_changed(self, jobs: list[Job]) -> None:
        self.model.upsert(jobs)
        self._selection_changed()

    def _update_count(self, *args: object) -> None:
        shown = self.proxy.rowCount()
        total = max(self.model.total, self.model.rowCount())
        text = (tr("{shown} of 1 upload shown.").format(shown=shown) if total == 1 else
                tr("{shown} of {total} uploads shown.").format(shown=shown, total=total))
        if self.model.can_fetch_more():
            text += " " + tr("Scroll down for older ones.")
        self.count_label.setText(text)

    def _dates_changed(self) -> None:
        since = until = None
        if self.use_from.isChecked():
            since = QDateTime(self.date_from.date(), QTime(0, 0)).toSecsSinceEpoch()
        if self.use_to.isChecked():
            until = QDateTime(self.date_to.date().addDays(1), QTime(0, 0)).toSecsSinceEpoch()
        self.proxy.set_criteria(since=since, until=until)

    # ------------------------------------------------------------------ selection

    def selected_jobs(self) -> list[Job]:
        rows = {self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()}
        return [self.model.job(r) for r in sorted(rows)]

    def _selection_changed(self, *args: object) -> None:
        jobs = self.selected_jobs()
        one = jobs[0] if len(jobs) == 1 else None
        self.resend_button.setEnabled(bool(jobs) and all(j.status in RESENDABLE for j in jobs))
        self.open_button.setEnabled(bool(one and one.url and one.url.startswith("http")))
        self.show_file_button.setEnabled(one is not None)
        self.copy_button.setEnabled(one is not None and one.status in ("sent", "verified"))
        if one is None:
            self.details.setHtml("" if not jobs else
                                 tr("{n} uploads selected.").format(n=len(jobs)))
            self.technical.setHtml("")
            return
        self.details.setHtml(summary_html(one))
        self.technical.setHtml(technical_html(one, []))
        if self.history is not None and one.id is not None:
            store, job_id = self.history, one.id
            self._runner.run(lambda: store.attempts(job_id),
                             lambda attempts, err: self._show_attempts(one, attempts or []))

    def _show_attempts(self, job: Job, attempts: list[AttemptRecord]) -> None:
        current = self.selected_jobs()
        if len(current) == 1 and current[0].id == job.id:
            self.technical.setHtml(technical_html(current[0], attempts))

    def _fold(self, unfolded: bool) -> None:
        """Technical details are folded by default."""
        self.technical.setVisible(unfolded)
        self.technical_button.setArrowType(Qt.ArrowType.DownArrow if unfolded
                                           else Qt.ArrowType.RightArrow)

    # ------------------------------------------------------------------ actions

    def resend_selected(self) -> None:
        jobs = [j for j in self.selected_jobs() if j.status in RESENDABLE]
        if not jobs:
            return
        risky = [j for j in jobs if j.status == "unknown"
                 or (j.status == "interrupted" and not j.safe_to_resume())
                 or (j.status == "cancelled" and j.target == "claros" and j.began_sending)
                 or (j.status == "failed" and j.proof == "claros-receipt")]
        text = (tr("Send 1 file again?") if len(jobs) == 1 else
                tr("Send {n} files again?").format(n=len(jobs)))
        if risky:
            names = ", ".join(j.name for j in risky[:5]) + ("…" if len(risky) > 5 else "")
            text += ("\n\nWarning: it is not known whether these already arrived: "
                     f"{names}. Sending again may create a duplicate document. Check in the "
                     "receiving system first.")
        if self.ask_resend(text):
            self.resendRequested.emit([j.id for j in jobs])

    def ask_resend(self, text: str) -> bool:
        """"Send again" or "Cancel" (the default); replaceable in tests."""
        box = QMessageBox(QMessageBox.Icon.Question, tr("Send again"), text, parent=self)
        send = box.addButton(tr("&Send again"), QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        return box.clickedButton() is send

    def open_remote(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) == 1 and jobs[0].url:
            QDesktopServices.openUrl(QUrl(jobs[0].url))

    def show_file(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) == 1:
            folder = Path(jobs[0].path).parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def receipt_text(self, job: Job) -> str:
        return json.dumps({
            "file": job.name, "sha256": job.sha256, "sent_to": job.profile or job.target,
            "destination": job.dest_key, "status": job.status, "remote_id": job.remote_id,
            "url": job.url, "log_ids": job.log_ids, "http_status": job.http_status,
            "verified": job.verified, "proof": job.proof, "finished": job.to_json()["finished"],
        }, indent=2)

    def copy_receipt(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) == 1:
            QGuiApplication.clipboard().setText(self.receipt_text(jobs[0]))

    def visible_jobs(self) -> list[Job]:
        return [self.model.job(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]

    def choose_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export uploads", "uploads.csv",
                                              "CSV files (*.csv)")
        if name:
            self.export_csv(Path(name))

    def export_csv(self, path: Path) -> None:
        """Write every upload the filters let through, in the order shown, on a worker
        thread: the whole history's, not only the rows read so far."""
        loaded = self.visible_jobs()
        store, query = self.history, self.model.query

        def export() -> Path:
            jobs = loaded if store is None else _merge(store.matching(query), loaded, query)
            written = _write_csv(path, jobs)
            if store is not None and not getattr(store, "read_only", False):
                store.audit("exported", receipt=f"{len(jobs)} uploads to {path.name}")
            return written

        self._runner.run(export, self._exported)

    def _exported(self, path: Path | None, error: BaseException | None) -> None:
        if error is not None:
            QMessageBox.warning(self, "Export failed", f"The file could not be written: {error}")
        else:
            self.count_label.setText(f"Exported to {path}.")

    def shutdown(self) -> None:
        self._runner.shutdown()


def _merge(read: list[Job], loaded: list[Job], query: HistoryQuery) -> list[Job]:
    """The rows read for an export, each as fresh as what the window shows."""
    shown = {j.id: j for j in loaded}
    return [shown.get(j.id, j) for j in read if query.accepts(shown.get(j.id, j))]


def _write_csv(path: Path, jobs: list[Job]) -> Path:
    """The export: 0600 (it names patients), every cell safe from formula injection."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for job in jobs:
            data = job.to_json()
            w.writerow({k: safe_cell(v) for k, v in {
                "id": job.id, "created": data["created"], "finished": data["finished"],
                "name": job.name, "path": job.path, "sha256": job.sha256, "target": job.target,
                "profile": job.profile or "", "destination": job.dest_key,
                "patient": job.patient_label or "",
                "status": job.status, "attempts": job.attempts,
                "http_status": job.http_status or "", "remote_id": job.remote_id or "",
                "url": job.url or "", "log_ids": " ".join(job.log_ids),
                "error": job.error or "",
            }.items()})
    return path

