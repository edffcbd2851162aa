"""The profile editor: add, edit, duplicate and delete the systems documents go to.

Fields follow the kind of system (the form itself is in ``profile_form``). Secrets
are typed into password fields and never shown again: each one reads "set" or "not
set". Every keyring and network call runs off the UI thread through
:class:`TaskRunner`. For REDCap, once the token is entered, the project's file-upload
fields (signature fields excluded) and events are loaded into drop-down lists. "Test
connection" runs the target's harmless call and shows the answer in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.outcome import UploadError
from uploader_gui.core.profiles import (
    Profile,
    ProfileError,
    check_config,
    load_profile_set,
    save_profile_set,
)
from uploader_gui.core.secrets import (
    LOCKED,
    InvalidSecretError,
    SecretError,
    SecretStore,
    missing_secrets,
    roles_for,
)
from uploader_gui.core.targets import Credentials, TargetConfig
from uploader_gui.gui.profile_form import FORM_FIELDS, MB, ProfileForm
from uploader_gui.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

NEW_NAME = "New profile"
__all__ = ["FORM_FIELDS", "MB", "NEW_NAME", "ProfileDialog", "discover_redcap", "error_text",
           "test_profile"]


def error_text(error: BaseException) -> str:
    """A failure from a worker, in words, never with a secret."""
    if isinstance(error, UploadError):
        return error.message
    if isinstance(error, SecretError | InvalidSecretError | ProfileError):
        return str(error)
    log.error("profile task failed: %s", type(error).__name__)
    return f"Something went wrong ({type(error).__name__}). The details are in the log."


def _credentials(store: SecretStore, cfg: TargetConfig, typed: dict[str, str],
                 stored_name: str | None) -> Credentials:
    """Typed secrets first, then the ones kept for the saved profile. Runs on a worker."""
    from uploader_gui.core.targets import Secret

    creds = Credentials()
    for role in roles_for(cfg):
        if typed.get(role):
            setattr(creds, role, Secret(typed[role]))
        elif stored_name and store.available:
            setattr(creds, role, store.get(stored_name, role))
    return creds


def test_profile(store: SecretStore, cfg: TargetConfig, typed: dict[str, str],
                 stored_name: str | None) -> str:
    from uploader_gui.core.targets import make_target

    creds = _credentials(store, cfg, typed, stored_name)
    missing = missing_secrets(cfg, creds)
    if missing:
        return f"Not tested: enter the {', '.join(missing)} first."
    target = make_target(cfg, creds)
    try:
        return target.test_connection()
    finally:
        target.close()


def discover_redcap(store: SecretStore, cfg: TargetConfig, typed: dict[str, str],
                    stored_name: str | None) -> Any:
    from uploader_gui.core.targets.redcap import RedcapTarget

    creds = _credentials(store, cfg, typed, stored_name)
    if not creds.token:
        raise SecretError("Enter the REDCap API token first.")
    target = RedcapTarget(cfg, creds)
    try:
        return target.project(refresh=True)
    finally:
        target.close()


class ProfileDialog(ProfileForm, QDialog):
    """Edit the saved profiles. Emits :attr:`profilesSaved` with the full list after a change."""

    profilesSaved = Signal(list)  # list[Profile]

    def __init__(self, store: SecretStore, parent: QWidget | None = None, *,
                 path: Path | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Profiles")
        self.store = store
        self._path = path
        self._runner = runner or TaskRunner(self, workers=2)
        self._owns_runner = runner is None
        self._current: str | None = None  # the saved name of the profile being edited
        self._project: Any = None
        self._loading = False
        #: Asks before deleting; tests replace it.
        self.confirm: Callable[[str], bool] = self._ask
        try:
            self.profiles: dict[str, Profile] = load_profile_set(path)
            load_problem = ""
        except ProfileError as exc:
            self.profiles = {}
            load_problem = str(exc)

        # ---- left: the list
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_profile)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.clicked.connect(self.duplicate_profile)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_profile)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        for b in (self.add_button, self.duplicate_button, self.delete_button):
            row.addWidget(b)
        left.addLayout(row)

        secrets_box = self._build_form()
        token_edit = self.secret_edits["token"]
        token_edit.editingFinished.connect(self._token_entered)
        self.keyring_label = QLabel(store.describe())
        self.keyring_label.setWordWrap(True)
        self.session_button = QPushButton("Use session-only mode")
        self.session_button.setToolTip("Keep credentials in memory until the app closes; "
                                       "they are never written to disk.")
        self.session_button.clicked.connect(self.use_session_only)
        self.session_button.setVisible(not store.available)

        # ---- actions
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        close_button = QPushButton("Close")
        close_button.clicked.connect(self.reject)
        self.result_label = QLabel(load_problem)
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QVBoxLayout()
        right.addLayout(self.form)
        right.addWidget(secrets_box)
        right.addWidget(self.keyring_label)
        right.addWidget(self.session_button)
        right.addWidget(self.result_label)
        right.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.test_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        actions.addWidget(close_button)
        right.addLayout(actions)

        top = QHBoxLayout(self)
        top.addLayout(left, 1)
        top.addLayout(right, 3)
        # Rows appear and disappear with the kind; a fixed window size keeps the window
        # manager out of it (and the offscreen platform quiet).
        top.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.resize(900, 720)

        for p in self.profiles.values():
            self.list.addItem(QListWidgetItem(p.name))
        if self.profiles:
            self.list.setCurrentRow(0)
        else:
            self.add_profile()
        self._kind_changed()

    # ------------------------------------------------------------------ list actions

    def _selected(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is None or self._loading:
            return
        name = item.text()
        if name in self.profiles:
            self._current = name
            self._fill(self.profiles[name])
            self._refresh_states()
        self.result_label.clear()

    def _new_item(self, name: str) -> None:
        self._current = None
        item = QListWidgetItem(name)
        self._loading = True
        self.list.addItem(item)
        self.list.setCurrentItem(item)
        self._loading = False

    def add_profile(self) -> None:
        self._new_item(NEW_NAME)
        self._fill(Profile(TargetConfig(kind="claros", base_url="", name=NEW_NAME), Credentials()))
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def duplicate_profile(self) -> None:
        source = self.profile_from_form()
        name = f"{source.name} (copy)"
        self._new_item(name)
        self._fill(Profile(replace(source.config, name=name), Credentials(), source.defaults))
        self.result_label.setText("A copy: its credentials are not copied. Enter them, then Save.")

    def delete_profile(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = self._current
        if name is not None and not self.confirm(
                f"Delete the profile “{name}” and its saved credentials?"):
            return
        self._loading = True
        self.list.takeItem(self.list.row(item))
        self._loading = False
        self._current = None
        if name is not None and name in self.profiles:
            del self.profiles[name]
            self._write()
            if self.store.available:
                self._runner.run(self.store.delete_profile, self._after_delete, name)
        if self.list.count():
            self.list.setCurrentRow(0)
            self._selected(self.list.currentItem())
        else:
            self.add_profile()

    def _after_delete(self, _result: Any, error: BaseException | None) -> None:
        self.result_label.setText(
            f"The profile was deleted, but its credentials were not: {error_text(error)}"
            if error else "Deleted.")

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete profile", text)
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ save

    def _write(self) -> None:
        save_profile_set(self.profiles.values(), self._path)
        self.profilesSaved.emit(list(self.profiles.values()))

    def save(self) -> bool:
        profile = self.profile_from_form()
        problems = check_config(profile.config)
        if profile.name != self._current and profile.name in self.profiles:
            problems.append(f"There is already a profile named “{profile.name}”.")
        try:
            typed = self.typed_secrets()
        except InvalidSecretError as exc:
            problems.append(str(exc))
            typed = {}
        if typed and not self.store.available:
            problems.append(self.store.status.message + " Choose “Use session-only mode” to "
                            "keep credentials in memory until the app closes.")
        if problems:
            self.result_label.setText("Not saved. " + " ".join(problems))
            return False
        old = self._current
        items = list(self.profiles.items())
        if old in self.profiles:
            items = [(profile.name, profile) if n == old else (n, p) for n, p in items]
        else:
            items.append((profile.name, profile))
        self.profiles = dict(items)
        try:
            self._write()
        except (ProfileError, OSError) as exc:
            self.result_label.setText(f"Not saved: {exc}")
            return False
        self._current = profile.name
        item = self.list.currentItem()
        if item is not None:
            item.setText(profile.name)
        for role in typed:
            self._clear_secret(role)
        self.result_label.setText("Saved.")
        if self.store.available and (typed or (old and old != profile.name)):
            self._runner.run(self._store_secrets, self._after_store, old, profile.name, typed)
        else:
            self._refresh_states()
        return True

    def _store_secrets(self, old: str | None, new: str, typed: dict[str, str]) -> None:
        if old and old != new:
            self.store.rename_profile(old, new)
        for role, value in typed.items():
            self.store.set(new, role, value)

    def _after_store(self, _result: Any, error: BaseException | None) -> None:
        if error is not None:
            self.result_label.setText(f"The profile was saved, but its credentials were not: "
                                      f"{error_text(error)}")
        else:
            self.result_label.setText("Saved. " + ("Credentials are kept in memory for this "
                                                   "session only." if self.store.session_only
                                                   else "Credentials are in the keyring."))
        self._refresh_states()

    # ------------------------------------------------------------------ keyring state

    def _refresh_states(self) -> None:
        name = self._current
        if not name or not self.store.available:
            for label in self.secret_states.values():
                label.setText("not set")
            return
        self._runner.run(self.store.state, lambda r, e: self._show_states(name, r, e), name)

    def _show_states(self, name: str, states: dict[str, str] | None,
                     error: BaseException | None) -> None:
        if name != self._current:
            return
        for role, label in self.secret_states.items():
            state = (states or {}).get(role, "unknown")
            label.setText("keyring locked" if state == LOCKED else state)
            label.setToolTip("" if state != LOCKED else
                             "The keyring is locked; unlock it to use these credentials.")
        if error is not None:
            self.result_label.setText(error_text(error))

    def secret_state(self, role: str) -> str:
        return self.secret_states[role].text()

    def use_session_only(self) -> None:
        self.store.use_session_only()
        self.keyring_label.setText(self.store.describe())
        self.session_button.setVisible(False)

    # ------------------------------------------------------------------ network

    def _prepare(self) -> tuple[TargetConfig, dict[str, str]] | None:
        cfg = self.config_from_form()
        problems = [p for p in check_config(cfg) if "name" not in p]
        try:
            typed = self.typed_secrets()
        except InvalidSecretError as exc:
            problems.append(str(exc))
            typed = {}
        if problems:
            self.result_label.setText(" ".join(problems))
            return None
        return cfg, typed

    def test_connection(self) -> None:
        prepared = self._prepare()
        if prepared is None:
            return
        cfg, typed = prepared
        self.test_button.setEnabled(False)
        self.result_label.setText("Testing the connection…")
        self._runner.run(test_profile, self._tested, self.store, cfg, typed, self._current)

    def _tested(self, sentence: str | None, error: BaseException | None) -> None:
        self.test_button.setEnabled(True)
        self.result_label.setText(sentence if error is None and sentence else
                                  f"The test failed. {error_text(error or RuntimeError())}")

    def _token_entered(self) -> None:
        if self.kind() == "redcap" and self._secret_text("token").strip():
            self.load_redcap_project()

    def load_redcap_project(self) -> None:
        if self.kind() != "redcap":
            return
        prepared = self._prepare()
        if prepared is None:
            return
        cfg, typed = prepared
        self.load_fields_button.setEnabled(False)
        self.result_label.setText("Loading the project's fields and events…")
        self._runner.run(discover_redcap, self._discovered, self.store, cfg, typed, self._current)

    def _discovered(self, project: Any, error: BaseException | None) -> None:
        self.load_fields_button.setEnabled(True)
        if error is not None:
            self.result_label.setText(f"Could not load the fields. {error_text(error)}")
            return
        self._project = project
        wanted = self.current_field()
        self._loading = True
        self.field_combo.clear()
        for name, f in sorted(project.file_fields.items()):
            self.field_combo.addItem(f"{name} — {f.label}" if f.label else name, name)
        self._loading = False
        index = self.field_combo.findData(wanted)
        self.field_combo.setCurrentIndex(index if index >= 0 else 0)
        self._field_changed()
        kind = "longitudinal" if project.longitudinal else "classic"
        skipped = (f" Signature fields are left out ({', '.join(sorted(project.signature_fields))})."
                   if project.signature_fields else "")
        self.result_label.setText(f"Loaded “{project.title}” ({kind}): "
                                  f"{len(project.file_fields)} file-upload field(s).{skipped}")

    # ------------------------------------------------------------------ closing

    def done(self, result: int) -> None:
        if self._owns_runner:
            self._runner.shutdown()
        super().done(result)
