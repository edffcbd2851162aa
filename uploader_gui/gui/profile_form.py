"""The profile editor's form: the fields of each kind of system, and the credentials box.

A mixin of :class:`~uploader_gui.gui.profile_dialog.ProfileDialog`: it builds the
widgets, shows the rows the chosen kind uses, fills them from a profile and reads a
:class:`TargetConfig` back. Nothing here touches the keyring or the network.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from uploader_gui.core.profiles import Profile
from uploader_gui.core.secrets import MULTILINE_ROLES, ROLE_LABELS, ROLES, clean_secret, roles_for
from uploader_gui.core.targets import KIND_LABELS, KINDS, Credentials, Destination, TargetConfig

MB = 1024 * 1024
#: The TargetConfig fields this form edits.
FORM_FIELDS = ("kind", "base_url", "name", "blob_url", "auth", "client_id", "key_id", "destinations",
               "test", "patient_id_type", "document_type", "redcap_field", "redcap_event",
               "size_limit", "ca_bundle", "redox_data_model", "platform_org_id",
               "platform_environment_id", "platform_client_id", "platform_key_id")

LEGACY_NOTE = ("Redox has deprecated legacy API keys, and new sources cannot create them. "
               "Use a signed JWT (OAuth 2.0) if your Redox source offers it.")
SIZE_HELP = {
    "redox": "Redox accepts uploaded files of up to 30 MB today (10 MB in its older documents); "
             "left at the default, this profile allows 10 MB.",
    "claros": "Claros does not publish its limit; left at the default, this profile allows 32 MB.",
    "redcap": "Each REDCap server sets its own limit; left at the default, this profile allows "
              "32 MB, and REDCap's own refusal is shown when a file is larger.",
}
SECRET_HELP = {
    "redox_private_key": "The source's private key: it signs the requests that send documents.",
    "redox_api_key": "The source's legacy API key: it sends documents (deprecated by Redox).",
    "redox_secret": "The secret of the source's legacy API key.",
    "platform_key": "The Platform API client's key (an organisation or user API client, not the "
                    "source): it only reads the delivery logs that prove a document arrived.",
}
REDOX_SECRETS_HELP = (
    "Two sets of credentials: the source's (its private key, or its legacy key and secret) sends "
    "documents; the Platform API client's key, which is optional, reads Redox's delivery logs so "
    "that an upload can be shown as verified.")


class ProfileForm:
    """The form half of the profile dialog (a mixin; the dialog is the QWidget)."""

    _current: str | None
    _loading: bool
    _project: Any
    profiles: dict[str, Profile]

    def _build_form(self) -> QGroupBox:
        """Make every field of the form (all kinds) and the credentials box; returns the box."""
        self.form = QFormLayout()
        self.name_edit = QLineEdit()
        self.kind_combo = QComboBox()
        for k in KINDS:
            self.kind_combo.addItem(KIND_LABELS[k], k)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://…")
        self.blob_url_edit = QLineEdit()
        self.blob_url_edit.setPlaceholderText("Same as the address")
        self.auth_combo = QComboBox()
        self.auth_combo.addItem("Signed JWT (OAuth 2.0)", "jwt")
        self.auth_combo.addItem("Legacy API key and secret", "legacy")
        self.auth_combo.currentIndexChanged.connect(self._kind_changed)
        self.legacy_note = QLabel(LEGACY_NOTE)
        self.legacy_note.setWordWrap(True)
        self.client_id_edit = QLineEdit()
        self.key_id_edit = QLineEdit()
        self.data_model_combo = QComboBox()
        self.data_model_combo.addItem("Media (Media.New)", "Media")
        self.data_model_combo.addItem("Notes (Notes.New, Redox's recommendation for documents)",
                                      "Notes")
        self.data_model_combo.setToolTip("Both carry the file, its name, type and document type. "
                                         "Ask your Redox contact which one the destination expects.")
        self.platform_org_edit = QLineEdit()
        self.platform_org_edit.setPlaceholderText("Organisation ID (organisation-based logs)")
        self.platform_env_edit = QLineEdit()
        self.platform_env_edit.setPlaceholderText("Environment ID (newer log search; used when set)")
        self.platform_client_edit = QLineEdit()
        self.platform_client_edit.setPlaceholderText("The Platform API client's ID, not the source's")
        self.platform_key_id_edit = QLineEdit()
        self.platform_key_id_edit.setPlaceholderText("Same as the source's key ID")
        self.destinations_edit = QPlainTextEdit()
        self.destinations_edit.setPlaceholderText("One per line: destination ID = name")
        self.destinations_edit.setFixedHeight(self.fontMetrics().height() * 4)
        self.test_check = QCheckBox("Mark messages as Test")
        self.patient_id_type_edit = QLineEdit()
        self.document_type_edit = QLineEdit()
        self.field_combo = QComboBox()
        self.field_combo.setEditable(True)
        self.field_combo.currentIndexChanged.connect(self._field_changed)
        self.event_combo = QComboBox()
        self.event_combo.setEditable(True)
        self.load_fields_button = QPushButton("Load fields and events")
        self.load_fields_button.clicked.connect(self.load_redcap_project)
        self.repeat_spin = QSpinBox()
        self.repeat_spin.setRange(0, 9999)
        self.repeat_spin.setSpecialValueText("Not repeating")
        self.size_spin = QDoubleSpinBox()
        self.size_spin.setRange(0, 2048)
        self.size_spin.setDecimals(1)
        self.size_spin.setSuffix(" MB")
        self.size_spin.setSpecialValueText("The system's default")
        self.size_help = QLabel("")
        self.size_help.setWordWrap(True)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("This computer's trusted certificates")
        ca_browse = QPushButton("Browse…")
        ca_browse.clicked.connect(self._browse_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(ca_browse)
        ca_box = QWidget()
        ca_box.setLayout(ca_row)
        ca_row.setContentsMargins(0, 0, 0, 0)

        self.form.addRow("Name:", self.name_edit)
        self.form.addRow("System:", self.kind_combo)
        self.form.addRow("Address:", self.url_edit)
        self.form.addRow("File upload address:", self.blob_url_edit)
        self.form.addRow("Authentication:", self.auth_combo)
        self.form.addRow("", self.legacy_note)
        self.form.addRow("Client ID:", self.client_id_edit)
        self.form.addRow("Key ID:", self.key_id_edit)
        self.form.addRow("Send documents as:", self.data_model_combo)
        self.form.addRow("Destinations:", self.destinations_edit)
        self.form.addRow("", self.test_check)
        self.form.addRow("Patient ID type:", self.patient_id_type_edit)
        self.form.addRow("Document type:", self.document_type_edit)
        self.form.addRow("Delivery logs:", self.platform_org_edit)
        self.form.addRow("", self.platform_env_edit)
        self.form.addRow("Platform API client:", self.platform_client_edit)
        self.form.addRow("Platform API key ID:", self.platform_key_id_edit)
        self.form.addRow("File-upload field:", self.field_combo)
        self.form.addRow("Event:", self.event_combo)
        self.form.addRow("", self.load_fields_button)
        self.form.addRow("Repeat instance:", self.repeat_spin)
        self.form.addRow("Size limit:", self.size_spin)
        self.form.addRow("", self.size_help)
        self.form.addRow("CA bundle:", ca_box)
        self._redox_rows = [self.blob_url_edit, self.auth_combo, self.client_id_edit,
                            self.key_id_edit, self.destinations_edit, self.test_check,
                            self.patient_id_type_edit, self.document_type_edit,
                            self.data_model_combo, self.platform_org_edit, self.platform_env_edit,
                            self.platform_client_edit, self.platform_key_id_edit]
        self._redcap_rows = [self.field_combo, self.event_combo, self.load_fields_button,
                             self.repeat_spin]

        # ---- secrets
        self.secret_edits: dict[str, QLineEdit] = {}
        self.secret_states: dict[str, QLabel] = {}
        secrets_box = QGroupBox("Credentials (kept in the keyring, never shown)")
        self.secrets_form = QFormLayout(secrets_box)
        for role in ROLES:
            edit = QPlainTextEdit() if role in MULTILINE_ROLES else QLineEdit()
            if isinstance(edit, QLineEdit):
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setPlaceholderText("Type or paste to set or replace")
            else:
                edit.setPlaceholderText("Paste the PEM text to set or replace")
                edit.setFixedHeight(self.fontMetrics().height() * 3)
            state = QLabel("not set")
            cell = QHBoxLayout()
            cell.setContentsMargins(0, 0, 0, 0)
            cell.addWidget(edit, 1)
            cell.addWidget(state)
            box = QWidget()
            box.setLayout(cell)
            box.setToolTip(SECRET_HELP.get(role, ""))
            self.secrets_form.addRow(ROLE_LABELS[role] + ":", box)
            self.secret_edits[role] = edit  # type: ignore[assignment]
            self.secret_states[role] = state
        self.secrets_help = QLabel("")
        self.secrets_help.setWordWrap(True)
        self.secrets_form.addRow(self.secrets_help)
        return secrets_box


    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def _set_row_visible(self, widget: QWidget, visible: bool) -> None:
        self.form.setRowVisible(widget, visible)

    def _kind_changed(self) -> None:
        kind = self.kind()
        for w in self._redox_rows:
            self._set_row_visible(w, kind == "redox")
        for w in self._redcap_rows:
            self._set_row_visible(w, kind == "redcap")
        jwt = self.auth_combo.currentData() == "jwt"
        self._set_row_visible(self.legacy_note, kind == "redox" and not jwt)
        if kind == "redox":
            self._set_row_visible(self.client_id_edit, jwt)
            self._set_row_visible(self.key_id_edit, jwt)
        used = roles_for(TargetConfig(kind, "", auth=str(self.auth_combo.currentData())))
        for role in ROLES:
            self.secrets_form.setRowVisible(self.secret_edits[role].parentWidget(), role in used)
        self.secrets_help.setText(REDOX_SECRETS_HELP if kind == "redox" else "")
        self.secrets_form.setRowVisible(self.secrets_help, kind == "redox")
        self.size_help.setText(SIZE_HELP[kind])
        self.url_edit.setPlaceholderText({
            "redox": "https://api.redoxengine.com",
            "claros": "https://backend.claros.health",
            "redcap": "https://redcap.example.edu/api/",
        }[kind])

    def _fill(self, p: Profile) -> None:
        c = p.config
        self._loading = True
        try:
            self.name_edit.setText(c.name)
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(c.kind))
            self.url_edit.setText(c.base_url)
            self.blob_url_edit.setText(c.blob_url or "")
            self.auth_combo.setCurrentIndex(max(0, self.auth_combo.findData(c.auth)))
            self.client_id_edit.setText(c.client_id or "")
            self.key_id_edit.setText(c.key_id or "")
            self.destinations_edit.setPlainText("\n".join(
                f"{d.get('ID', '')} = {d['Name']}" if d.get("Name") else str(d.get("ID", ""))
                for d in c.destinations))
            self.test_check.setChecked(c.test)
            self.data_model_combo.setCurrentIndex(
                max(0, self.data_model_combo.findData(c.redox_data_model or "Media")))
            self.platform_org_edit.setText(c.platform_org_id or "")
            self.platform_env_edit.setText(c.platform_environment_id or "")
            self.platform_client_edit.setText(c.platform_client_id or "")
            self.platform_key_id_edit.setText(c.platform_key_id or "")
            self.patient_id_type_edit.setText(c.patient_id_type or "")
            self.document_type_edit.setText(c.document_type or "")
            self._project = None
            self.field_combo.clear()
            self.field_combo.setEditText(c.redcap_field or p.defaults.field or "")
            self.event_combo.clear()
            self.event_combo.setEditText(c.redcap_event or p.defaults.event or "")
            self.repeat_spin.setValue(p.defaults.repeat_instance or 0)
            self.size_spin.setValue((c.size_limit or 0) / MB)
            self.ca_edit.setText(c.ca_bundle or "")
            for role in ROLES:
                self._clear_secret(role)
                self.secret_states[role].setText("…" if self._current else "not set")
        finally:
            self._loading = False
        self._kind_changed()

    def _clear_secret(self, role: str) -> None:
        edit = self.secret_edits[role]
        if isinstance(edit, QPlainTextEdit):
            edit.clear()
        else:
            edit.clear()

    def _secret_text(self, role: str) -> str:
        edit = self.secret_edits[role]
        return edit.toPlainText() if isinstance(edit, QPlainTextEdit) else edit.text()

    def typed_secrets(self) -> dict[str, str]:
        """The secrets typed for this kind, cleaned. Raises InvalidSecretError."""
        cfg = self.config_from_form()
        return {role: clean_secret(self._secret_text(role), role)
                for role in roles_for(cfg) if self._secret_text(role).strip()}

    def config_from_form(self) -> TargetConfig:
        kind = self.kind()
        cfg = TargetConfig(kind=kind, base_url=self.url_edit.text().strip(),
                           name=self.name_edit.text().strip())
        if kind == "redox":
            cfg.blob_url = self.blob_url_edit.text().strip() or None
            cfg.auth = str(self.auth_combo.currentData())
            if cfg.auth == "jwt":
                cfg.client_id = self.client_id_edit.text().strip() or None
                cfg.key_id = self.key_id_edit.text().strip() or None
            dests = []
            for line in self.destinations_edit.toPlainText().splitlines():
                ident, _, name = line.partition("=")
                if ident.strip():
                    dests.append({"ID": ident.strip(), **({"Name": name.strip()} if name.strip()
                                                         else {})})
            cfg.destinations = dests
            cfg.test = self.test_check.isChecked()
            cfg.patient_id_type = self.patient_id_type_edit.text().strip() or "MR"
            cfg.document_type = self.document_type_edit.text().strip() or "Clinical Document"
            cfg.redox_data_model = str(self.data_model_combo.currentData() or "Media")
            cfg.platform_org_id = self.platform_org_edit.text().strip() or None
            cfg.platform_environment_id = self.platform_env_edit.text().strip() or None
            cfg.platform_client_id = self.platform_client_edit.text().strip() or None
            cfg.platform_key_id = self.platform_key_id_edit.text().strip() or None
        if kind == "redcap":
            cfg.redcap_field = self.current_field() or None
            cfg.redcap_event = self.current_event() or None
        if self.size_spin.value() > 0:
            cfg.size_limit = int(self.size_spin.value() * MB)
        cfg.ca_bundle = self.ca_edit.text().strip() or None
        if self._current and self._current in self.profiles:
            # Settings this form does not show (e.g. the watched folder) are kept as they were.
            old = self.profiles[self._current].config
            cfg = replace(old, **{k: getattr(cfg, k) for k in FORM_FIELDS})
        return cfg

    def profile_from_form(self) -> Profile:
        cfg = self.config_from_form()
        defaults = Destination()
        if cfg.kind == "redcap":
            defaults = Destination(field=cfg.redcap_field, event=cfg.redcap_event,
                                   repeat_instance=self.repeat_spin.value() or None)
        return Profile(cfg, Credentials(), defaults)

    def current_field(self) -> str:
        data = self.field_combo.currentData()
        text = self.field_combo.currentText().strip()
        if data and text == self.field_combo.itemText(self.field_combo.currentIndex()):
            return str(data)
        return text.split(" — ")[0].strip()

    def current_event(self) -> str:
        data = self.event_combo.currentData()
        text = self.event_combo.currentText().strip()
        if data and text == self.event_combo.itemText(self.event_combo.currentIndex()):
            return str(data)
        return text.split(" — ")[0].strip()

    def _field_changed(self) -> None:
        if self._loading or self._project is None:
            return
        wanted = self.current_event()
        self.event_combo.clear()
        for event in self._project.events_for(self.current_field()):
            label = self._project.events.get(event, "")
            self.event_combo.addItem(f"{event} — {label}" if label else event, event)
        index = self.event_combo.findData(wanted)
        if index >= 0:
            self.event_combo.setCurrentIndex(index)

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Certificate authority (PEM)", "",
                                              "Certificates (*.pem *.crt *.cer);;All files (*)")
        if path:
            self.ca_edit.setText(path)
