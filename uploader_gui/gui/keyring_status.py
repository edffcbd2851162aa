"""Find the keyring once, off the UI thread, and say in words what was found.

The window starts :class:`KeyringProbe` at start-up. When it reports, the window has
a :class:`SecretStore` to hand to the profile editor and to the uploads. If no secure
keyring exists, :func:`offer_session_only` explains it and offers session-only mode
(secrets in memory until the app quits); nothing is ever written to disk instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from uploader_gui.core.profiles import Profile, ProfileError, load_profile_set
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:  # keyring (and the HTTP stack it pulls in) loads on the probe's worker
    from uploader_gui.core.secrets import SecretStore


def detect_keyring() -> SecretStore:
    """Worker thread: import keyring and find the system's store."""
    from uploader_gui.core.secrets import SecretStore

    return SecretStore.detect()


class KeyringProbe(QObject):
    """Runs :meth:`SecretStore.detect` on a worker; emits :attr:`ready` with the store."""

    ready = Signal(object)  # SecretStore

    def __init__(self, runner: TaskRunner, parent: QObject | None = None,
                 detect: Callable[[], SecretStore] = detect_keyring) -> None:
        super().__init__(parent)
        self._runner = runner
        self._detect = detect
        self.store: SecretStore | None = None

    def start(self) -> None:
        self._runner.run(self._detect, self._done)

    def _done(self, store: SecretStore | None, error: BaseException | None) -> None:
        if store is None:  # detect() reports failures in its status; this is a bug guard
            from uploader_gui.core.secrets import SecretStore

            store = SecretStore(None)
        self.store = store
        self.ready.emit(store)


def load_session_profiles(store: SecretStore) -> tuple[list[Profile], list[str]]:
    """Saved profiles with their credentials from the store, and problems in words.

    Blocking (it reads the keyring, which may ask to unlock): run it on a worker.
    A locked keyring leaves the profiles without credentials and says so once.
    """
    from uploader_gui.core.secrets import SecretError, credentials_for

    problems: list[str] = []
    try:
        profiles = list(load_profile_set().values())
    except ProfileError as exc:
        return [], [str(exc)]
    if not store.available:
        return profiles, ([store.status.message] if profiles else [])
    for p in profiles:
        try:
            p.credentials = credentials_for(p.config, store)
        except SecretError as exc:
            text = str(exc)
            if text not in problems:
                problems.append(text)
    return profiles, problems


def _ask_session_only(parent: QWidget | None, title: str, text: str) -> QMessageBox.StandardButton:
    """Buttons that say what they do; the default one changes nothing."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    use = box.addButton(QCoreApplication.translate("Keyring", "Use &session-only mode"),
                        QMessageBox.ButtonRole.AcceptRole)
    later = box.addButton(QCoreApplication.translate("Keyring", "&Not now"),
                          QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(later)
    box.exec()
    return (QMessageBox.StandardButton.Yes if box.clickedButton() is use
            else QMessageBox.StandardButton.No)


def offer_session_only(parent: QWidget | None, store: SecretStore,
                       ask: Callable[..., Any] = _ask_session_only) -> bool:
    """Explain that there is no secure keyring; switch to session-only mode if the user agrees."""
    if store.available:
        return True
    answer = ask(
        parent, "No secure keyring",
        f"{store.status.message}\n\nYou can still use the app: in session-only mode the "
        "credentials you enter are kept in memory until the app closes, and never written to "
        "disk. Use session-only mode now?",
    )
    if answer == QMessageBox.StandardButton.Yes:
        store.use_session_only()
        return True
    return False
