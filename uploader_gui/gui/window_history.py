"""The main window's history opening: never lose the record, always say what is wrong.

A mixin of :class:`~uploader_gui.gui.main_window.MainWindow` (issue 14). A history
that cannot be written (locked by another program, disk full, read-only, not
permitted) is left untouched and shown read-only with sending off; one that was
really damaged and moved aside is announced with its path, in the window and on
stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from uploader_gui.core.history import (
    DISK_FULL,
    LOCKED,
    PERMISSION,
    READ_ONLY,
    HistoryError,
    HistoryStore,
)

if TYPE_CHECKING:
    from uploader_gui.gui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

log = logging.getLogger(__name__)


class HistoryOpeningMixin(_Base):
    def _open_history(self) -> HistoryStore | None:
        try:
            store = HistoryStore()
            store.mark_interrupted()
        except HistoryError as err:
            self.history_problem = str(err)
            log.error("history unavailable (%s): %s", err.kind, err)
            self.history_view = self._open_history_read_only(err)
            return None
        if store.recovery_message:
            self._announce_recovered(store.recovery_message)
        return store

    def _open_history_read_only(self, err: HistoryError) -> HistoryStore | None:
        """History that cannot be written (locked, disk full, read-only) is still shown.

        Sending stays off (nothing may go that cannot be recorded); the file is untouched.
        """
        if err.kind not in (LOCKED, DISK_FULL, READ_ONLY, PERMISSION):
            return None
        try:
            view = HistoryStore(read_only=True)
        except HistoryError as again:
            log.error("history cannot be read either (%s): %s", again.kind, again)
            return None
        self.history_problem = (f"{err} Sending is off; the History tab shows the earlier "
                                "uploads read-only. Restart the app once this is resolved.")
        return view

    def _announce_recovered(self, message: str) -> None:
        """A history moved aside is always announced, with its path: here and on stderr."""
        print(f"uploader-gui: {message}", file=sys.stderr)
        QTimer.singleShot(0, lambda: QMessageBox.warning(self, "Upload history repaired",
                                                         message))
