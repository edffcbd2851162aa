"""The window's automatic lock (HIPAA automatic logoff): after the idle time set by IT
(``lock_after_minutes``, default 10) the content is replaced by the lock screen.

Uploads go on underneath; an open dialog is closed as Cancel (nothing is sent
from it). File ▸ Lock now (Ctrl+L) locks at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow, QStackedWidget, QWidget

from uploader_gui.core.settings import DEFAULT_LOCK_MINUTES, SettingsError, lock_after_minutes
from uploader_gui.core.unlock import Unlocker
from uploader_gui.gui.lock_screen import IdleWatcher, LockScreen
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:
    from uploader_gui.core.secrets import SecretStore


def tr(text: str) -> str:
    return QCoreApplication.translate("WindowLock", text)


class _Entries:
    """The keyring the window found (once it has), else this session's memory."""

    def __init__(self, provider: Callable[[], SecretStore | None]) -> None:
        self._provider = provider
        self._session: SecretStore | None = None  # made when first needed (keyring is big)

    def _store(self) -> SecretStore:
        store = self._provider()
        if store is not None and store.available:
            return store
        if self._session is None:
            from uploader_gui.core.secrets import SecretStore

            self._session = SecretStore(None)
            self._session.use_session_only()
        return self._session

    def get_app_entry(self, name: str) -> str | None:
        return self._store().get_app_entry(name)

    def set_app_entry(self, name: str, value: str) -> None:
        self._store().set_app_entry(name, value)


class WindowLock(QObject):
    lockedChanged = Signal(bool)

    def __init__(self, window: QMainWindow, store_provider: Callable[[], SecretStore | None],
                 runner: TaskRunner) -> None:
        super().__init__(window)
        self.window = window
        self.unlocker = Unlocker.for_this_desk(_Entries(store_provider))
        self.screen = LockScreen(self.unlocker)
        self.stack = QStackedWidget()
        content = window.takeCentralWidget()
        assert content is not None
        self.content: QWidget = content
        self.stack.addWidget(self.content)
        self.stack.addWidget(self.screen)
        window.setCentralWidget(self.stack)
        self.idle = IdleWatcher(0, self)
        self.idle.idle.connect(self.lock)
        self.screen.unlocked.connect(self.unlock)
        self.action = QAction(tr("&Lock now"), window)
        self.action.setShortcut(QKeySequence(tr("Ctrl+L")))
        self.action.setToolTip(tr("Hide patient data until you unlock (uploads go on)"))
        self.action.triggered.connect(self.lock)
        window.addAction(self.action)
        # The setting is a small file IT rolls out: read on the worker.
        runner.run(lock_after_minutes, self._minutes_known)

    def _minutes_known(self, minutes: float | None, error: BaseException | None) -> None:
        if isinstance(error, SettingsError) or minutes is None:
            minutes = DEFAULT_LOCK_MINUTES
        self.idle.set_minutes(minutes)

    @property
    def locked(self) -> bool:
        return self.stack.currentWidget() is self.screen

    def lock(self) -> None:
        if self.locked:
            return
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QDialog):
            modal.reject()  # as Cancel: nothing is sent from a half-answered dialog
        self.screen.refresh()
        self.stack.setCurrentWidget(self.screen)
        self.screen.reset()
        self.idle.pause()
        self.lockedChanged.emit(True)

    def unlock(self) -> None:
        self.stack.setCurrentWidget(self.content)
        self.idle.resume()
        self.lockedChanged.emit(False)

    def shutdown(self) -> None:
        self.idle.stop()
        self.screen.shutdown()
