"""Opening the upload history off the UI thread, and the bar about interrupted uploads.

Never lose the record: a history that cannot be written (locked by another
program, disk full, read-only, not permitted) is left untouched and shown
read-only with sending off; one that was really damaged and moved aside is
announced with its path, in the window and on stderr.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from uploader_gui.core.history import (
    DISK_FULL,
    LOCKED,
    PERMISSION,
    READ_ONLY,
    HistoryError,
    HistoryStore,
)
from uploader_gui.core.history_pages import HistoryQuery, Page
from uploader_gui.core.history_store import open_store
from uploader_gui.core.jobs import INTERRUPTED, Job

log = logging.getLogger(__name__)


def tr(text: str) -> str:
    return QCoreApplication.translate("History", text)


@dataclass
class OpenedHistory:
    store: HistoryStore | None
    problem: str = ""
    interrupted: list[Job] = field(default_factory=list)
    #: When the history cannot be written: the same file opened read-only, for viewing.
    view: HistoryStore | None = None
    #: The announcement for a history that was damaged and moved aside (with its path).
    recovery: str | None = None
    #: The History tab's first page (newest first), read with the rest on the worker.
    first_page: Page | None = None


def open_history() -> OpenedHistory:
    """Worker thread: open (integrity check, migrations) and mark interrupted jobs."""
    try:
        store = open_store()
        store.mark_interrupted()
    except HistoryError as err:
        log.error("history unavailable (%s): %s", getattr(err, "kind", "?"), err)
        return _read_only(err)
    return OpenedHistory(store, interrupted=store.jobs(status=INTERRUPTED),
                         recovery=store.recovery_message,
                         first_page=store.page(HistoryQuery(), total=True))


def _read_only(err: HistoryError) -> OpenedHistory:
    """History that cannot be written is still shown; sending stays off; the file untouched."""
    if getattr(err, "kind", None) not in (LOCKED, DISK_FULL, READ_ONLY, PERMISSION):
        return OpenedHistory(None, str(err))
    try:
        view = HistoryStore(read_only=True)
    except HistoryError as again:
        log.error("history cannot be read either: %s", again)
        return OpenedHistory(None, str(err))
    return OpenedHistory(None, tr("{problem} Sending is off; the History tab shows the earlier "
                                  "uploads read-only. Restart the app once this is resolved.")
                         .format(problem=err), view=view)


class InterruptedBar(QFrame):
    """"2 uploads were interrupted before they finished." with Resume and Review."""

    resumeRequested = Signal()
    reviewRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.resume_button = QPushButton(tr("Res&ume"))
        self.resume_button.setToolTip(tr("Send again the interrupted uploads that are safe to "
                                         "repeat."))
        self.resume_button.clicked.connect(self.resumeRequested)
        self.review_button = QPushButton(tr("Re&view"))
        self.review_button.setToolTip(tr("Show the interrupted uploads in the History tab."))
        self.review_button.clicked.connect(self.reviewRequested)
        bar.addWidget(self.label, 1)
        bar.addWidget(self.resume_button)
        bar.addWidget(self.review_button)
        self.setVisible(False)

    def show_jobs(self, jobs: list[Job]) -> None:
        if not jobs:
            self.setVisible(False)
            return
        held = sum(not j.safe_to_resume() for j in jobs)
        text = (tr("1 upload was interrupted before it finished.") if len(jobs) == 1 else
                tr("{n} uploads were interrupted before they finished.").format(n=len(jobs)))
        if held:
            text += " " + tr("{n} of them went to Claros and may already have arrived: review "
                             "those before sending them again.").format(n=held)
        self.label.setText(text)
        self.resume_button.setEnabled(held < len(jobs))
        self.setVisible(True)
