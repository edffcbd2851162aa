"""The history panel: every upload and every attempt, searchable and exportable."""

from __future__ import annotations

import csv
import json
import os
import time
from html import escape
from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QUrl, Signal
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
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.csv_safe import safe_cell
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import STATE_LABELS, STATES, AttemptRecord, Job
from uploader_gui.core.targets import KIND_LABELS
from uploader_gui.gui.history_model import (
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

RESENDABLE = frozenset({"failed", "unknown", "interrupted", "cancelled"})
CSV_FIELDS = ("id", "created", "finished", "name", "path", "sha256", "target", "profile",
              "destination", "status", "attempts", "http_status", "remote_id", "url", "log_ids",
              "error")


class HistoryPanel(QWidget):
    #: job ids the user chose to send again (after confirming).
    resendRequested = Signal(list)

    def __init__(self, history: HistoryStore | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._runner = TaskRunner(self, workers=1)
        self.model = HistoryModel(self)
        self.proxy = HistoryFilter(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file name, patient, record or remote ID…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda t: self.proxy.set_criteria(text=t))
        self.status_filter = QComboBox()
        self.status_filter.addItem("Any status", None)
        for s in STATES:
            self.status_filter.addItem(STATE_LABELS[s], s)
        self.status_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_criteria(status=self.status_filter.currentData()))
        self.target_filter = QComboBox()
        self.target_filter.addItem("Any system", None)
        for k, label in KIND_LABELS.items():
            self.target_filter.addItem(label, k)
        self.target_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_criteria(target=self.target_filter.currentData()))
        self.use_from = QCheckBox("From")
        self.date_from = QDateEdit(QDate.currentDate().addDays(-7))
        self.use_to = QCheckBox("to")
        self.date_to = QDateEdit(QDate.currentDate())
        for w in (self.date_from, self.date_to):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
            w.dateChanged.connect(self._dates_changed)
        for c in (self.use_from, self.use_to):
            c.toggled.connect(self._dates_changed)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.target_filter)
        filters.addWidget(self.use_from)
        filters.addWidget(self.date_from)
        filters.addWidget(self.use_to)
        filters.addWidget(self.date_to)

        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        em = self.fontMetrics().horizontalAdvance("M")
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, em * 7)
        header.resizeSection(COL_TIME, em * 11)
        header.resizeSection(COL_FILE, em * 16)
        header.resizeSection(COL_TARGET, em * 13)
        header.resizeSection(COL_DEST, em * 12)
        header.resizeSection(COL_STATUS, em * 10)
        header.setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.details.setPlaceholderText("Select an upload to see its attempts and receipt.")

        self.resend_button = QPushButton("Send again…")
        self.resend_button.clicked.connect(self.resend_selected)
        self.open_button = QPushButton("Open remote link")
        self.open_button.clicked.connect(self.open_remote)
        self.show_file_button = QPushButton("Show file")
        self.show_file_button.clicked.connect(self.show_file)
        self.copy_button = QPushButton("Copy receipt")
        self.copy_button.clicked.connect(self.copy_receipt)
        self.export_button = QPushButton("Export CSV…")
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
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addLayout(actions)
        layout.addWidget(self.count_label)
        self._selection_changed()
        self._update_count()

    # ------------------------------------------------------------------ data

    def load(self) -> None:
        """Read the whole history on a worker thread, then show it."""
        if self.history is None:
            return
        store = self.history
        self._runner.run(lambda: store.jobs(), self._loaded)

    def _loaded(self, jobs: list[Job] | None, error: BaseException | None) -> None:
        if error is not None:
            self.count_label.setText(f"The history could not be read: {error}")
            return
        self.model.set_jobs(jobs or [])
        self.view.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        self._update_count()

    def jobs_changed(self, jobs: list[Job]) -> None:
        self.model.upsert(jobs)
        self._selection_changed()

    def _update_count(self, *args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} of {total} upload(s) shown.")

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
            self.details.setHtml("" if not jobs else f"{len(jobs)} uploads selected.")
            return
        self.details.setHtml(self._details_html(one, []))
        if self.history is not None and one.id is not None:
            store, job_id = self.history, one.id
            self._runner.run(lambda: store.attempts(job_id),
                             lambda attempts, err: self._show_attempts(one, attempts or []))

    def _show_attempts(self, job: Job, attempts: list[AttemptRecord]) -> None:
        current = self.selected_jobs()
        if len(current) == 1 and current[0].id == job.id:
            self.details.setHtml(self._details_html(current[0], attempts))

    def _details_html(self, job: Job, attempts: list[AttemptRecord]) -> str:
        def t(v: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v)) if v else "—"

        rows = [
            ("File", job.path), ("SHA-256", job.sha256), ("Size", f"{job.size:,} bytes"),
            ("Sent to", f"{job.profile or ''} ({KIND_LABELS.get(job.target, job.target)})"),
            ("Destination", job.dest_key),
            ("Status", STATE_LABELS.get(job.status, job.status)),
            ("Verified", f"yes ({job.proof})" if job.verified else
             (f"no ({job.proof})" if job.proof else "no")),
            ("Queued", t(job.created)), ("Finished", t(job.finished)),
            ("Remote ID", job.remote_id or "—"), ("Link", job.url or "—"),
            ("Redox log IDs", ", ".join(job.log_ids) or "—"),
            ("HTTP status", str(job.http_status or "—")),
        ]
        html = ["<table>"] + [f"<tr><td><b>{escape(k)}</b></td><td>{escape(str(v))}</td></tr>"
                              for k, v in rows] + ["</table>"]
        if job.error:
            html.append(f"<p><b>Problem:</b> {escape(job.error)}</p>")
        if job.server_message:
            html.append(f"<p><b>Server's message:</b></p><pre>{escape(job.server_message)}</pre>")
        if attempts:
            html.append("<p><b>Attempts</b></p><table><tr><th>#</th><th>Started</th>"
                        "<th>Ended</th><th>Bytes sent</th><th>HTTP</th><th>Outcome</th></tr>")
            for a in attempts:
                html.append(
                    f"<tr><td>{a.number}</td><td>{t(a.started)}</td><td>{t(a.ended)}</td>"
                    f"<td>{a.bytes_sent:,}</td><td>{a.http_status or ''}</td>"
                    f"<td>{escape(a.decision or 'in progress')}"
                    f"{': ' + escape(a.error) if a.error else ''}</td></tr>")
            html.append("</table>")
        return "".join(html)

    # ------------------------------------------------------------------ actions

    def resend_selected(self) -> None:
        jobs = [j for j in self.selected_jobs() if j.status in RESENDABLE]
        if not jobs:
            return
        risky = [j for j in jobs if j.status == "unknown"
                 or (j.status == "interrupted" and not j.safe_to_resume())
                 or (j.status == "cancelled" and j.target == "claros" and j.began_sending)
                 or (j.status == "failed" and j.proof == "claros-receipt")]
        text = f"Send {len(jobs)} file(s) again?"
        if risky:
            names = ", ".join(j.name for j in risky[:5]) + ("…" if len(risky) > 5 else "")
            text += ("\n\nWarning: it is not known whether these already arrived: "
                     f"{names}. Sending again may create a duplicate document. Check in the "
                     "receiving system first.")
        answer = QMessageBox.question(
            self, "Send again", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self.resendRequested.emit([j.id for j in jobs])

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
        """Write the rows now shown (filters applied) on a worker thread."""
        jobs = self.visible_jobs()
        self._runner.run(_write_csv, self._exported, path, jobs)

    def _exported(self, path: Path | None, error: BaseException | None) -> None:
        if error is not None:
            QMessageBox.warning(self, "Export failed", f"The file could not be written: {error}")
        else:
            self.count_label.setText(f"Exported to {path}.")

    def shutdown(self) -> None:
        self._runner.shutdown()


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
                "status": job.status, "attempts": job.attempts,
                "http_status": job.http_status or "", "remote_id": job.remote_id or "",
                "url": job.url or "", "log_ids": " ".join(job.log_ids),
                "error": job.error or "",
            }.items()})
    return path

