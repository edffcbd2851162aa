"""The "Send to" panel under the staging table: profile, destination, Upload, progress.

It only collects what the user chose and shows progress; the main window turns
that into jobs for the upload queue.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.jobs import destination_key
from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import load_recent
from uploader_gui.core.targets import KIND_LABELS, Destination
from uploader_gui.core.validation import human_size
from uploader_gui.gui.queue_bridge import Throughput


class UploadPanel(QFrame):
    """Pick a profile and a destination, then send the ready files."""

    uploadRequested = Signal()
    findPatientRequested = Signal()
    #: "Sandbox Claros: patient 1001", whenever the profile or a destination field changes.
    destinationChanged = Signal(str)
    cancelAllRequested = Signal()
    pauseToggled = Signal(bool)

    def __init__(self, profiles: list[Profile], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.profiles = profiles
        self._ready_count = 0
        self._busy = False
        self._enabled_reason: str | None = None

        self.profile_combo = QComboBox()
        for p in profiles:
            self.profile_combo.addItem(f"{p.name} ({KIND_LABELS[p.config.kind]})", p.name)
        self.profile_combo.currentIndexChanged.connect(self._profile_changed)

        self.patient = QLineEdit()
        self.patient_type = QLineEdit()
        self.record = QLineEdit()
        self.field_name = QLineEdit()
        self.event = QLineEdit()
        self.instance = QSpinBox()
        self.instance.setRange(0, 9999)
        self.instance.setSpecialValueText("(default)")
        self.document_type = QLineEdit()
        self.patient.setPlaceholderText("e.g. 1001 or an MRN")
        self.record.setPlaceholderText("REDCap record ID")

        self.destination_label = QLabel()
        self.destination_label.setObjectName("destination")
        big = self.destination_label.font()
        big.setPointSizeF(big.pointSizeF() * 1.5)
        big.setBold(True)
        self.destination_label.setFont(big)
        self.destination_label.setWordWrap(True)
        for edit in (self.patient, self.patient_type, self.record, self.field_name, self.event,
                     self.document_type):
            edit.textChanged.connect(self._destination_changed)
        self.instance.valueChanged.connect(self._destination_changed)

        self.find_patient_button = QPushButton("Find patient…")
        self.find_patient_button.setToolTip("Pick from the patients of this Claros account.")
        self.find_patient_button.clicked.connect(self.findPatientRequested)
        patient_row = QHBoxLayout()
        patient_row.setContentsMargins(0, 0, 0, 0)
        patient_row.addWidget(self.patient, 1)
        patient_row.addWidget(self.find_patient_button)
        self.patient_box = QWidget()
        self.patient_box.setLayout(patient_row)
        self._recent = QStringListModel(self)
        for edit in (self.patient, self.record):
            completer = QCompleter(self._recent, edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            edit.setCompleter(completer)

        self.form = QFormLayout()
        self.form.addRow("Send to:", self.profile_combo)
        self.form.addRow("Patient ID:", self.patient_box)
        self.form.addRow("Patient ID type:", self.patient_type)
        self.form.addRow("Record:", self.record)
        self.form.addRow("Field:", self.field_name)
        self.form.addRow("Event:", self.event)
        self.form.addRow("Repeat instance:", self.instance)
        self.form.addRow("Document type:", self.document_type)

        self.upload_button = QPushButton("Upload")
        self.upload_button.clicked.connect(self.uploadRequested)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Start no new upload; the ones in progress finish.")
        self.pause_button.toggled.connect(self._pause_toggled)
        self.cancel_button = QPushButton("Cancel all")
        self.cancel_button.setToolTip("Stop every upload in progress or waiting.")
        self.cancel_button.clicked.connect(self.cancelAllRequested)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_label = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.upload_button)
        row.addWidget(self.pause_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress_bar, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.destination_label)
        layout.addLayout(row)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message)

        if not profiles:
            self.message.setText(
                "No profile is set up yet, so nothing can be sent. Use “Profiles…” to add one, "
                "or start the app with “uploader-gui --sandbox” to try the built-in test systems."
            )
        self._profile_changed()
        self.show_throughput(Throughput())

    # ------------------------------------------------------------------ profile

    def set_profiles(self, profiles: list[Profile], select: str | None = None) -> None:
        """Replace the list (after the keyring answered, or the profiles were edited)."""
        keep = select or self.profile_combo.currentData()
        self.profiles = list(profiles)
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        for p in self.profiles:
            self.profile_combo.addItem(f"{p.name} ({KIND_LABELS[p.config.kind]})", p.name)
        index = self.profile_combo.findData(keep) if keep else -1
        self.profile_combo.setCurrentIndex(max(0, index) if self.profiles else -1)
        self.profile_combo.blockSignals(False)
        if self.profiles and self.message.text().startswith("No profile"):
            self.message.setText("")
        elif not self.profiles:
            self.message.setText(
                "No profile is set up yet, so nothing can be sent. Use “Profiles…” to add one, "
                "or start the app with “uploader-gui --sandbox” to try the built-in test systems.")
        self.profile_combo.currentIndexChanged.emit(self.profile_combo.currentIndex())

    def current_profile(self) -> Profile | None:
        name = self.profile_combo.currentData()
        return next((p for p in self.profiles if p.name == name), None)

    def profile_named(self, name: str | None) -> Profile | None:
        return next((p for p in self.profiles if p.name == name), None)

    def _profile_changed(self) -> None:
        p = self.current_profile()
        kind = p.config.kind if p else None
        self.find_patient_button.setVisible(kind == "claros")
        self.load_recent()
        visible = {
            self.patient_box: kind in ("claros", "redox"),
            self.patient_type: kind == "redox",
            self.document_type: kind == "redox",
            self.record: kind == "redcap",
            self.field_name: kind == "redcap",
            self.event: kind == "redcap",
            self.instance: kind == "redcap",
        }
        for widget, show in visible.items():
            self.form.setRowVisible(widget, show)
        if p is not None:
            d = p.defaults
            self.patient.setText(d.patient_id or "")
            self.patient_type.setText(d.patient_id_type or p.config.patient_id_type)
            self.record.setText(d.record or "")
            self.field_name.setText(d.field or p.config.redcap_field or "")
            self.event.setText(d.event or p.config.redcap_event or "")
            self.instance.setValue(d.repeat_instance or 0)
            self.document_type.setText(d.document_type or p.config.document_type)
        self._update_button()
        self._destination_changed()

    def load_recent(self) -> None:
        """Offer this profile's recent patients or records as completions."""
        p = self.current_profile()
        items = load_recent(p.name) if p else []
        self._recent.setStringList([i["id"] for i in items])
        labels = {i["id"]: i.get("label") for i in items}
        tip = "\n".join(f"{k}: {v}" for k, v in labels.items() if v)
        self.patient.setToolTip("Recent: type to pick.\n" + tip if tip else "")

    def destination_text(self) -> str:
        p = self.current_profile()
        if p is None:
            return ""
        return f"{p.name}: {destination_key(p.config.kind, self.destination())}"

    def _destination_changed(self) -> None:
        text = self.destination_text()
        self.destination_label.setText(f"→ {text}" if text else "")
        self.destinationChanged.emit(text)

    def destination(self) -> Destination:
        p = self.current_profile()
        return Destination(
            patient_id=self.patient.text().strip() or None,
            patient_id_type=self.patient_type.text().strip() or None,
            record=self.record.text().strip() or None,
            field=self.field_name.text().strip() or None,
            event=self.event.text().strip() or None,
            repeat_instance=self.instance.value() or None,
            document_type=self.document_type.text().strip() or None,
            destinations=[d["ID"] for d in p.config.destinations] if p else [],
        )

    # ------------------------------------------------------------------ state

    def set_ready_count(self, n: int) -> None:
        self._ready_count = n
        self._update_button()

    def set_unavailable(self, reason: str | None) -> None:
        """Disable sending with a reason shown (e.g. the history cannot be written)."""
        self._enabled_reason = reason
        if reason:
            self.message.setText(reason)
        self._update_button()

    def _update_button(self) -> None:
        n = self._ready_count
        p = self.current_profile()
        self.upload_button.setText(f"Upload {n} file{'s' if n != 1 else ''}" if n else "Upload")
        self.upload_button.setEnabled(bool(n) and p is not None and not self._enabled_reason)
        if p is not None:
            self.upload_button.setToolTip(f"Send the ready files to {p.name}.")

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)

    @property
    def busy(self) -> bool:
        return self._busy

    def show_throughput(self, t: Throughput) -> None:
        self._busy = bool(t.running or t.waiting)
        self.cancel_button.setEnabled(self._busy)
        self.pause_button.setEnabled(self._busy or self.pause_button.isChecked())
        self.progress_bar.setVisible(self._busy)
        if not self._busy:
            self.progress_label.setText("")
            return
        self.progress_bar.setValue(int(1000 * t.fraction))
        self.progress_bar.setFormat(f"{human_size(t.sent)} of {human_size(t.total)}")
        parts = [f"{t.running} uploading", f"{t.waiting} waiting"]
        if t.speed > 0:
            parts.append(f"{human_size(t.speed)}/s")
        if t.eta is not None:
            parts.append(f"about {_duration(t.eta)} left for the files in progress")
        if self.pause_button.isChecked():
            parts.append("paused: no new upload starts")
        self.progress_label.setText(" · ".join(parts))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
