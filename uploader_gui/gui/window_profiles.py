"""The main window's profile side: the keyring, the saved profiles, the patient picker.

A mixin of :class:`~uploader_gui.gui.main_window.MainWindow`, kept apart so that each
module holds one concern; it uses the window's widgets and task runner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog, QMessageBox

from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import load_last_profile, remember
from uploader_gui.core.secrets import SecretStore
from uploader_gui.gui.keyring_status import (
    KeyringProbe,
    load_session_profiles,
    offer_session_only,
)
from uploader_gui.gui.profile_dialog import ProfileDialog

if TYPE_CHECKING:
    from uploader_gui.gui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class ProfilesMixin(_Base):
    # Set by MainWindow.__init__.
    secret_store: SecretStore | None
    offer_session_only: bool

    def set_profiles(self, profiles: list[Profile]) -> None:
        self.upload_panel.set_profiles(profiles, select=load_last_profile())
        self.uploads.profiles = {p.name: p for p in profiles}
        self.watches.shutdown()
        self.watches = self._make_watches(profiles)

    def start_keyring(self, detect: Callable[[], SecretStore] | None = None) -> None:
        """Find the OS keyring (off the UI thread), then load the saved profiles with it."""
        probe = (KeyringProbe(self._runner, self) if detect is None
                 else KeyringProbe(self._runner, self, detect=detect))
        probe.ready.connect(self._keyring_ready)
        self.statusBar().showMessage("Looking for the system keyring…", 5000)
        probe.start()

    def _keyring_ready(self, store: SecretStore) -> None:
        self.secret_store = store
        if not store.available and self.offer_session_only:
            offer_session_only(self, store)
        self.profiles_button.setEnabled(True)
        self.profiles_button.setToolTip(store.describe())
        self.reload_profiles()

    def reload_profiles(self) -> None:
        if self.secret_store is None:
            return
        self._runner.run(load_session_profiles, self._profiles_loaded, self.secret_store)

    def _profiles_loaded(self, result: tuple[list[Profile], list[str]] | None,
                         error: BaseException | None) -> None:
        if error is not None or result is None:
            self.banner.setText(f"The profiles could not be loaded: {error}")
            self.banner.setVisible(True)
            return
        profiles, problems = result
        self.set_profiles(profiles)
        if problems:
            self.banner.setText(" ".join(problems))
            self.banner.setVisible(True)

    def edit_profiles(self) -> None:
        if self.secret_store is None:
            return
        dialog = ProfileDialog(self.secret_store, self, runner=self._runner)
        dialog.profilesSaved.connect(lambda _profiles: self.reload_profiles())
        dialog.exec()

    def find_patient(self) -> None:
        """Ask the Claros account for its patients (off the UI thread), then let the user pick."""
        profile = self.upload_panel.current_profile()
        if profile is None or profile.config.kind != "claros":
            return
        from uploader_gui.core.targets import make_target

        target = make_target(profile.config, profile.credentials)

        def fetch() -> list[dict[str, str]]:
            try:
                return [{"id": p.id, "label": p.label()} for p in target.find_patients()]
            finally:
                target.close()

        self.upload_panel.find_patient_button.setEnabled(False)
        self._runner.run(fetch, lambda res, err: self._patients_loaded(profile, res, err))

    def _patients_loaded(self, profile: Profile, patients: list[dict[str, str]] | None,
                         error: BaseException | None) -> None:
        self.upload_panel.find_patient_button.setEnabled(True)
        if error is not None or patients is None:
            QMessageBox.warning(self, "Patient list", f"The patient list could not be loaded: "
                                f"{error}")
            return
        if not patients:
            QMessageBox.information(self, "Patient list", "This Claros account lists no patients.")
            return
        labels = [p["label"] for p in patients]
        choice, ok = self.pick_from_list("Find patient", "Patient:", labels)
        if ok and choice in labels:
            picked = patients[labels.index(choice)]
            self.upload_panel.patient.setText(picked["id"])
            remember(profile.name, picked["id"], picked["label"])
            self.upload_panel.load_recent()

    def pick_from_list(self, title: str, label: str, items: list[str]) -> tuple[str, bool]:
        """A modal choice; replaceable in tests."""
        return QInputDialog.getItem(self, title, label, items, 0, False)

