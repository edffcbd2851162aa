"""History in a clinic: other desks' uploads appear by themselves, and a person can look
at this desk's uploads or the whole clinic's.

With the clinic's PostgreSQL history, a listener thread waits for NOTIFY from
every desk and the changed jobs are read on a worker and shown. A poll every
30 s is the fallback for a network path that drops notifications. With this
desk's SQLite there is nothing to listen for, and no desk/clinic choice.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtWidgets import QComboBox

from uploader_gui.core.identity import workstation
from uploader_gui.core.jobs import Job
from uploader_gui.core.settings import SettingsError, history_scope
from uploader_gui.gui.history_panel import HistoryPanel
from uploader_gui.gui.tasks import TaskRunner

POLL_MS = 30_000


def tr(text: str) -> str:
    return QCoreApplication.translate("ClinicHistory", text)


class ClinicHistory(QObject):
    _notified = Signal(list)  # job ids, from the listener thread (queued to the UI thread)
    _listening = Signal()  # LISTEN is in place (again): read what changed before it

    def __init__(self, panel: HistoryPanel, runner: TaskRunner) -> None:
        super().__init__(panel)
        self.panel = panel
        self._runner = runner
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: Any = None
        self._since = time.time()
        self.scope = QComboBox()
        self.scope.setAccessibleName(tr("Whose uploads"))
        self.scope.addItem(tr("Whole clinic"), None)
        self.scope.addItem(tr("This desk ({desk})").format(desk=workstation()), workstation())
        self.scope.currentIndexChanged.connect(
            lambda: panel.proxy.set_criteria(workstation=self.scope.currentData()))
        self.scope.setVisible(False)
        panel.filters.insertWidget(1, self.scope)
        self._notified.connect(self._read)
        self._listening.connect(self._poll_now)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_now)

    def attach(self, store: Any) -> None:
        """The history is open: when it is the clinic's, listen and offer the desk/clinic view."""
        if not hasattr(store, "listen"):
            return
        self._store = store
        self.scope.setVisible(True)
        self._runner.run(history_scope, self._scope_known)
        self._thread = threading.Thread(target=store.listen,
                                        args=(self._stop, self._notified.emit),
                                        kwargs={"on_listening": self._listening.emit},
                                        name="clinic-history-listen", daemon=True)
        self._thread.start()
        self._poll.start()

    def _scope_known(self, scope: str | None, error: BaseException | None) -> None:
        if scope == "desk" and not isinstance(error, SettingsError):
            self.scope.setCurrentIndex(1)

    def _read(self, ids: list[int]) -> None:
        store = self._store
        if store is None:
            return
        self._runner.run(lambda: [j for i in ids if (j := store.get(i)) is not None],
                         self._show)

    def _poll_now(self) -> None:
        store, since = self._store, self._since - 5  # overlap: nothing falls between two polls
        if store is None:
            return
        self._since = time.time()
        self._runner.run(lambda: store.changed_since(since), self._show)

    def _show(self, jobs: list[Job] | None, error: BaseException | None) -> None:
        if jobs:
            self.panel.jobs_changed(jobs)

    def shutdown(self) -> None:
        self._poll.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
