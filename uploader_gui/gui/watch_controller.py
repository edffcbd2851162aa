"""Watched folders in the window: the same rules as `uploader-gui watch`, in the background.

For each profile with a watch folder, a timer asks a worker thread to scan the
folder (never the UI thread). Files whose name gives a destination are sent
through the window's upload queue when the profile says "automatically" (they
then show in the History tab and move to Sent/ or Failed/); otherwise, and for
files whose name gives no destination, they are put on the staging list for a
person to send.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from uploader_gui.core.profiles import Profile
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:  # the folder watcher (and its PDF splitting) only for a watch folder
    from uploader_gui.core.dispatcher import Dispatcher
    from uploader_gui.core.history import HistoryStore
    from uploader_gui.core.validation import IsolatedValidator
    from uploader_gui.core.watch import FolderWatcher, Outcome

log = logging.getLogger(__name__)


class WatchController(QObject):
    #: files for the staging list (no destination in the name, or manual mode)
    stageRequested = Signal(list)
    #: a sentence for the status bar
    message = Signal(str)

    def __init__(self, profiles: list[Profile], history: HistoryStore | None,
                 dispatcher: Dispatcher | None, validator: IsolatedValidator,
                 parent: QObject | None = None, interval_ms: int = 2000) -> None:
        super().__init__(parent)
        self._runner = TaskRunner(self, workers=1)
        self._watchers: list[tuple[Profile, FolderWatcher]] = []
        self._busy = False
        self._staged: set[Path] = set()
        if history is None or dispatcher is None:
            return
        if any(p.config.watch_folder for p in profiles):
            from uploader_gui.core.watch import FolderWatcher, PatternError, WatchSettings
        for profile in profiles:
            folder = profile.config.watch_folder
            if not folder:
                continue
            settings = WatchSettings(folder=Path(folder), config=profile.config,
                                     profile=profile.name, defaults=profile.defaults,
                                     pattern=profile.config.watch_pattern)
            try:
                watcher = FolderWatcher(settings, profile.credentials, history, validator,
                                        self._outcome, dispatcher=dispatcher)
            except PatternError as err:
                log.error("watch folder of %s not started: %s", profile.name, err)
                continue
            self._watchers.append((profile, watcher))
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.scan)
        if self._watchers:
            self._timer.start()

    def scan(self) -> None:
        if self._busy or not self._watchers:
            return
        self._busy = True
        self._runner.run(self._scan_all, self._scanned)

    def _scan_all(self) -> list[Path]:
        """Worker thread: send what the rules allow; return files a person must look at."""
        for_person: list[Path] = []
        for profile, watcher in self._watchers:
            if profile.config.watch_auto:
                for outcome in watcher.process_once():
                    if outcome.status in ("needs_destination", "needs_person"):
                        for_person.append(outcome.path)
            else:
                for_person.extend(watcher.stable())
        return for_person

    def _scanned(self, paths: list[Path] | None, error: BaseException | None) -> None:
        self._busy = False
        if error is not None:
            log.error("watch folder scan failed: %r", error)
            return
        fresh = [p for p in paths or [] if p not in self._staged]
        self._staged.update(fresh)
        if fresh:
            self.stageRequested.emit(fresh)
            self.message.emit(f"{len(fresh)} new file(s) in the watched folder need a "
                              "destination; they are on the list.")

    def _outcome(self, outcome: Outcome) -> None:
        # Worker thread: only log here; the queue's own signals update the window.
        log.info("watch: %s %s: %s", outcome.status, outcome.path.name, outcome.message)

    def shutdown(self) -> None:
        if self._watchers:
            self._timer.stop()
        for _, watcher in self._watchers:
            watcher.stop()
        self._runner.shutdown()
