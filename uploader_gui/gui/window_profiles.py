"""The profile side of the main window: the keyring, the saved profiles, the patient picker.

A component given what it needs (a task runner, the window to parent its dialogs, and a
``profile_provider`` that returns the profile chosen now), the way Vorta's tabs are; it
reports back with signals and never reaches into the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import remember
from uploader_gui.core.targets.base import FIND_PATIENTS
from uploader_gui.gui.keyring_status import (
    KeyringProbe,
    load_session_profiles,
    offer_session_only,
)
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:
    from uploader_gui.core.secrets import SecretStore


def tr(text: str) -> str:
    return QCoreApplication.translate("Profiles", text)


class ProfileManager(QObject):
    """Loads and edits the profiles; finds patients for the chosen one."""

    #: The profiles to use now (after the keyring answered, or the profiles were saved).
    profilesLoaded = Signal(list)
    #: A sentence for the banner (profiles that could not be loaded, and why).
    problem = Signal(str)
    #: A short line for the status bar.
    status = Signal(str)
    #: The keyring answered: Profiles… can be used; the text says where secrets are kept.
    keyringReady = Signal(str)
    #: (profile name, patient id, label) picked in *Find patient…*.
    patientPicked = Signal(str, str, str)
    #: Find patient is busy (True) or done (False).
    searching = Signal(bool)
    #: The recent destinations were saved (offer them again).
    recentChanged = Signal()

    def __init__(self, runner: TaskRunner, window: QWidget,
                 profile_provider: Callable[[], Profile | None],
                 offer_session_only: bool = True) -> None:
        super().__init__(window)
        self._runner = runner
        self._window = window
        self.profile_provider = profile_provider
        self.offer_session_only = offer_session_only
        self.secret_store: SecretStore | None = None
        #: Sandbox mode: the profiles are built in; Profiles… shows them read-only.
        self.sandbox_profiles: list[Profile] | None = None

    # ------------------------------------------------------------------ keyring, profiles

    def start_keyring(self, detect: Callable[[], SecretStore] | None = None) -> None:
        """Find the OS keyring (off the UI thread), then load the saved profiles with it."""
        probe = (KeyringProbe(self._runner, self) if detect is None
                 else KeyringProbe(self._runner, self, detect=detect))
        probe.ready.connect(self._keyring_ready)
        self.status.emit(tr("Looking for the system keyring…"))
        probe.start()

    def _keyring_ready(self, store: SecretStore) -> None:
        self.secret_store = store
        if not store.available and self.offer_session_only:
            offer_session_only(self._window, store)
        self.keyringReady.emit(store.describe())
        self.reload_profiles()

    def reload_profiles(self) -> None:
        if self.secret_store is None:
            return
        self._runner.run(load_session_profiles, self._profiles_loaded, self.secret_store)

    def _profiles_loaded(self, result: tuple[list[Profile], list[str]] | None,
                         error: BaseException | None) -> None:
        if error is not None or result is None:
            self.problem.emit(tr("The profiles could not be loaded: {error}").format(error=error))
            return
        profiles, problems = result
        self.profilesLoaded.emit(profiles)
        if problems:
            self.problem.emit(" ".join(problems))

    def edit_profiles(self) -> None:
        if self.sandbox_profiles is not None:
            from uploader_gui.gui.sandbox_profiles import show_sandbox_profiles

            show_sandbox_profiles(self._window, self.sandbox_profiles)
            return
        if self.secret_store is None:
            return
        from uploader_gui.gui.profile_dialog import ProfileDialog

        dialog = ProfileDialog(self.secret_store, self._window, runner=self._runner)
        dialog.profilesSaved.connect(lambda _profiles: self.reload_profiles())
        dialog.exec()

    # ------------------------------------------------------------------ patients

    def find_patient(self) -> None:
        """Ask the account for its patients (off the UI thread), then let the user pick."""
        profile = self.profile_provider()
        if profile is None:
            return

        def fetch() -> list[dict[str, str]] | None:
            from uploader_gui.core.targets import make_target

            target = make_target(profile.config, profile.credentials)
            try:
                if not target.supports(FIND_PATIENTS):
                    return None
                return [{"id": p.id, "label": p.label()} for p in target.find_patients()]
            finally:
                target.close()

        self.searching.emit(True)
        self._runner.run(fetch, lambda res, err: self._patients_loaded(profile, res, err))

    def _patients_loaded(self, profile: Profile, patients: list[dict[str, str]] | None,
                         error: BaseException | None) -> None:
        self.searching.emit(False)
        title = tr("Find patient")
        if error is not None:
            why = getattr(error, "message", None) or str(error)
            QMessageBox.warning(self._window, title, tr(
                "The patient list could not be loaded: {why} Check the connection and the "
                "profile, then try again.").format(why=why))
            return
        if patients is None:
            QMessageBox.information(self._window, title, tr(
                "{name} cannot search its patients. Type the patient ID instead.").format(
                name=profile.name))
            return
        if not patients:
            QMessageBox.information(self._window, title,
                                    tr("This account lists no patients."))
            return
        labels = [p["label"] for p in patients]
        choice, ok = self.pick_from_list(title, tr("&Patient:"), labels)
        if ok and choice in labels:
            picked = patients[labels.index(choice)]
            self.patientPicked.emit(profile.name, picked["id"], picked["label"])
            self._runner.run(remember, lambda _r, _e: self.recentChanged.emit(), profile.name,
                             picked["id"], picked["label"])

    def pick_from_list(self, title: str, label: str, items: list[str]) -> tuple[str, bool]:
        """A modal, searchable choice; replaceable in tests."""
        from uploader_gui.gui.patient_picker import pick_patient

        return pick_patient(self._window, title, label, items)
