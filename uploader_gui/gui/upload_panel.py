"""The "Send to" panel under the staging table: profile, destination, Upload, progress.

It only collects what the user chose and shows progress; the main window turns
that into jobs for the upload queue.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QStringListModel, Qt, Signal
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
from uploader_gui.core.targets.base import PatientInfo
from uploader_gui.core.validation import human_size
from uploader_gui.gui.patient_lookup import KNOWN, NO_LOOKUP, Lookup, PatientLookup
from uploader_gui.gui.queue_bridge import Throughput
from uploader_gui.gui.redcap_choices import DOCUMENT_TYPES, ChoiceBox, ProjectChoices
from uploader_gui.gui.staging_model import BatchProgress


def tr(text: str) -> str:
    return QCoreApplication.translate("UploadPanel", text)


def no_profile() -> str:
    return tr("No profile is set up yet, so nothing can be sent. Use “Profiles…” to add one, "
              "or start the app with “uploader-gui --sandbox” to try the built-in test systems.")


def files(n: int) -> str:
    return tr("1 file") if n == 1 else tr("{n} files").format(n=n)


class UploadPanel(QFrame):
    """Pick a profile and a destination, then send the ready files."""

    uploadRequested = Signal()
    findPatientRequested = Signal()
    #: "Sandbox Claros: patient 1001", whenever the profile or a destination field changes.
    destinationChanged = Signal(str)
    cancelAllRequested = Signal()
    pauseToggled = Signal(bool)

    def __init__(self, profiles: list[Profile], parent: QWidget | None = None,
                 lookup: PatientLookup | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.profiles = profiles
        self._ready_count = 0
        self._enabled_reason: str | None = None
        self._repeating = False
        #: Who the destination is; None until a lookup answers (no lookup: always known).
        self.lookup = lookup
        self._lookup = Lookup(NO_LOOKUP)
        if lookup is not None:
            lookup.changed.connect(self._lookup_changed)

        self.profile_combo = QComboBox()
        for p in profiles:
            self.profile_combo.addItem(f"{p.name} ({KIND_LABELS[p.config.kind]})", p.name)
        self.profile_combo.currentIndexChanged.connect(self._profile_changed)

        self.patient = QLineEdit()
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText(tr("First and last name, as in the record"))
        self.birth_date = QLineEdit()
        self.birth_date.setPlaceholderText(tr("YYYY-MM-DD, e.g. 1975-06-15"))
        self.patient_type = QLineEdit()
        self.record = QLineEdit()
        self.field_name = ChoiceBox()
        self.event = ChoiceBox()
        self.instance = QSpinBox()
        self.instance.setRange(0, 9999)
        self.instance.setSpecialValueText("(default)")
        self.document_type = ChoiceBox()
        self.patient.setPlaceholderText(tr("e.g. 1001 or an MRN"))
        self.record.setPlaceholderText(tr("REDCap record ID"))

        self.destination_label = QLabel()
        self.destination_label.setObjectName("destination")
        big = self.destination_label.font()
        big.setPointSizeF(big.pointSizeF() * 1.5)
        big.setBold(True)
        self.destination_label.setFont(big)
        self.destination_label.setWordWrap(True)
        self.lookup_label = QLabel()
        self.lookup_label.setObjectName("lookup")
        self.lookup_label.setWordWrap(True)
        for edit in (self.patient, self.patient_type, self.record, self.patient_name,
                     self.birth_date):
            edit.textChanged.connect(self._destination_changed)
        for box in (self.field_name, self.event, self.document_type):
            box.currentIndexChanged.connect(self._destination_changed)
        self.instance.valueChanged.connect(self._destination_changed)

        self.find_patient_button = QPushButton(tr("&Find patient…"))
        self.find_patient_button.setToolTip(tr("Search the patients of this account by name, "
                                               "date of birth or ID (Ctrl+F)."))
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
        rows: list[tuple[str, QWidget, QWidget, str]] = [
            (tr("&Send to:"), self.profile_combo, self.profile_combo,
             tr("The system and account the files go to")),
            (tr("&Patient ID:"), self.patient_box, self.patient,
             tr("The patient's number in the receiving system")),
            (tr("Patient &name:"), self.patient_name, self.patient_name,
             tr("The patient's full name, to check against the record")),
            (tr("Date of &birth:"), self.birth_date, self.birth_date,
             tr("The patient's date of birth, year-month-day")),
            (tr("Kind of ID:"), self.patient_type, self.patient_type,
             tr("What kind of number the patient ID is, for example MR for a medical record")),
            (tr("&Record:"), self.record, self.record, tr("The REDCap record ID")),
            (tr("&Field:"), self.field_name, self.field_name,
             tr("The REDCap file-upload field the document goes into")),
            (tr("&Event:"), self.event, self.event, tr("The REDCap event")),
            (tr("Repeat &number:"), self.instance, self.instance,
             tr("Which repeat of the form (REDCap repeat instance)")),
            (tr("Document &type:"), self.document_type, self.document_type,
             tr("What kind of document this is, for the receiving system")),
        ]
        for text, row_widget, focus, name in rows:
            label = QLabel(text)
            label.setBuddy(focus)
            focus.setAccessibleName(text.replace("&", "").rstrip(":"))
            focus.setAccessibleDescription(name)
            self.form.addRow(label, row_widget)
        self.form.addRow("", self.lookup_label)
        self.find_patient_button.setAccessibleName(tr("Find patient"))

        self.upload_button = QPushButton(tr("&Upload"))
        self.upload_button.setDefault(True)
        self.upload_button.setAutoDefault(True)
        self.upload_button.setObjectName("primary")
        bold = self.upload_button.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.upload_button.setFont(bold)
        self.upload_button.setMinimumHeight(self.fontMetrics().height() * 2 + 4)
        self.upload_button.clicked.connect(self.uploadRequested)
        self.pause_button = QPushButton(tr("P&ause"))
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip(tr("Start no new upload; the ones in progress finish."))
        self.pause_button.toggled.connect(self._pause_toggled)
        self.cancel_button = QPushButton(tr("Cancel a&ll"))
        self.cancel_button.setToolTip(tr("Stop every upload in progress or waiting."))
        self.cancel_button.clicked.connect(self.cancelAllRequested)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setAccessibleName(tr("Progress of the whole batch"))
        self.progress_label = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        #: "5 sent · 2 failed: Claros has no patient 9999 · 1 waiting"
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # Upload is the primary button: larger and first; Pause and Cancel are small.
        self.upload_button.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 16)
        row = QHBoxLayout()
        row.addWidget(self.upload_button)
        row.addWidget(self.progress_bar, 1)
        row.addStretch(0)
        row.addWidget(self.pause_button)
        row.addWidget(self.cancel_button)
        for label in (self.progress_label, self.summary, self.message):
            label.setVisible(False)  # shown when they have something to say
            label.setProperty("hideWhenEmpty", True)

        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.destination_label)
        layout.addLayout(row)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.summary)
        layout.addWidget(self.message)

        if not profiles:
            self.say(no_profile())
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
        if self.profiles and self.message.text() == no_profile():
            self.say("")
        elif not self.profiles:
            self.say(no_profile())
        self.profile_combo.currentIndexChanged.emit(self.profile_combo.currentIndex())

    def current_profile(self) -> Profile | None:
        name = self.profile_combo.currentData()
        return next((p for p in self.profiles if p.name == name), None)

    def _profile_changed(self) -> None:
        p = self.current_profile()
        kind = p.config.kind if p else None
        self.find_patient_button.setVisible(kind == "claros")
        self.load_recent()
        visible = {
            self.patient_box: kind in ("claros", "redox"),
            self.patient_name: kind == "redox",
            self.birth_date: kind == "redox",
            self.patient_type: False,  # the profile's (e.g. MR); not something to type
            self.document_type: kind == "redox",
            self.record: kind == "redcap",
            self.field_name: kind == "redcap",
            self.event: kind == "redcap" and self.event.count() > 1,
            self.instance: kind == "redcap" and self._repeating,
        }
        for widget, show in visible.items():
            self.form.setRowVisible(widget, show)
        if p is not None:
            d = p.defaults
            self.patient.setText(d.patient_id or "")
            self.patient_name.setText(d.patient_name or "")
            self.birth_date.setText(d.patient_birth_date or "")
            self.patient_type.setText(d.patient_id_type or p.config.patient_id_type)
            self.record.setText(d.record or "")
            self._repeating = False
            field = d.field or p.config.redcap_field
            self.field_name.set_choices([(field, "")] if field else [], keep=field)
            event = d.event or p.config.redcap_event
            self.event.set_choices([(event, "")] if event else [], keep=event)
            self.instance.setValue(d.repeat_instance or 0)
            doc = d.document_type or p.config.document_type
            self.document_type.set_choices([(t, "") for t in dict.fromkeys((doc, *DOCUMENT_TYPES))],
                                           keep=doc)
        self._update_button()
        self._destination_changed()

    def set_project_choices(self, profile_name: str, choices: ProjectChoices) -> None:
        """The REDCap project answered: its file fields and events as drop-downs."""
        p = self.current_profile()
        if p is None or p.name != profile_name:
            return
        self.field_name.set_choices(choices.fields)
        self.event.set_choices(choices.events)
        self._repeating = choices.repeating
        self.form.setRowVisible(self.event, bool(choices.events))
        self.form.setRowVisible(self.instance, choices.repeating)

    def load_recent(self) -> None:
        """Offer this profile's recent patients or records as completions."""
        p = self.current_profile()
        items = load_recent(p.name) if p else []
        self._recent.setStringList([i["id"] for i in items])
        labels = {i["id"]: i.get("label") for i in items}
        tip = "\n".join(f"{k}: {v}" for k, v in labels.items() if v)
        self.patient.setToolTip(tr("Recent: type to pick.") + "\n" + tip if tip else "")

    def destination_text(self) -> str:
        """"Sandbox Claros: Ben Sandbox, born 1975-06-15 (patient 1002)" once the patient is
        known."""
        p = self.current_profile()
        if p is None:
            return ""
        patient = self.patient_info()
        dest = destination_key(p.config.kind, self.destination())
        if patient is not None and patient.name:  # as the planner's Plan.where says it
            who = patient.name + (f", born {patient.birth_date}" if patient.birth_date else "")
            return f"{p.name}: {who} ({dest})"
        return f"{p.name}: {dest}"

    def patient_info(self) -> PatientInfo | None:
        """Who the destination is, when the lookup found them (or the user typed it, Redox)."""
        return self._lookup.patient if self._lookup.state in (KNOWN, NO_LOOKUP) else None

    @property
    def lookup_state(self) -> Lookup:
        return self._lookup

    def _destination_changed(self) -> None:
        if self.lookup is not None:
            self.lookup.request(self.current_profile(), self.destination())
        self._show_destination()

    def _lookup_changed(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._show_destination()
        self._update_button()

    def _show_destination(self) -> None:
        text = self.destination_text()
        self.destination_label.setText(f"→ {text}" if text else "")
        self.destination_label.setAccessibleName(tr("Goes to: {where}").format(where=text))
        note = self._lookup.patient.note if self._lookup.patient else ""
        self.lookup_label.setText(self._lookup.reason or note)
        self.lookup_label.setVisible(bool(self._lookup.reason or note))
        self.destinationChanged.emit(text)

    def destination(self) -> Destination:
        p = self.current_profile()
        redox = p is not None and p.config.kind == "redox"
        return Destination(
            patient_id=self.patient.text().strip() or None,
            patient_id_type=self.patient_type.text().strip() or None,
            patient_name=(self.patient_name.text().strip() or None) if redox else None,
            patient_birth_date=(self.birth_date.text().strip() or None) if redox else None,
            record=self.record.text().strip() or None,
            field=self.field_name.value(),
            event=self.event.value(),
            repeat_instance=self.instance.value() or None,
            document_type=self.document_type.value(),
            destinations=[d["ID"] for d in p.config.destinations] if p else [],
        )

    # ------------------------------------------------------------------ state

    def set_ready_count(self, n: int) -> None:
        self._ready_count = n
        self._update_button()

    def say(self, text: str) -> None:
        """A sentence about sending as a whole (hidden when empty)."""
        _say(self.message, text)

    def set_unavailable(self, reason: str | None, say: bool = True) -> None:
        """Disable sending with a reason (e.g. the history cannot be written); ``say``: also
        under the button, not only in its tooltip."""
        previous, self._enabled_reason = self._enabled_reason, reason
        if reason and say:
            self.say(reason)
        elif previous and self.message.text() == previous:
            self.say(no_profile() if not self.profiles else "")
        self._update_button()

    def blocked_reason(self, need_files: bool = True) -> str:
        """Why Upload cannot be pressed now, as a sentence; empty when it can."""
        if self._enabled_reason:
            return self._enabled_reason
        if self.current_profile() is None:
            return tr("Choose where to send the files.")
        if self.lookup is not None and self._lookup.blocks_upload:
            return self._lookup.reason or tr("Checking who the patient is…")
        if need_files and not self._ready_count:
            return tr("Add files that passed the check.")
        return ""

    def _update_button(self) -> None:
        n = self._ready_count
        p = self.current_profile()
        self.upload_button.setText(tr("&Upload {files}").format(files=files(n)) if n
                                   else tr("&Upload"))
        reason = self.blocked_reason()
        self.upload_button.setEnabled(not reason)
        self.upload_button.setAccessibleName(self.upload_button.text().replace("&", ""))
        if reason:
            self.upload_button.setToolTip(reason)
            self.upload_button.setAccessibleDescription(reason)
        elif p is not None:
            tip = tr("Send the ready files to {where} (Ctrl+Enter).").format(
                where=self.destination_text())
            self.upload_button.setToolTip(tip)
            self.upload_button.setAccessibleDescription(tip)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText(tr("Res&ume") if paused else tr("P&ause"))
        self.pauseToggled.emit(paused)

    def show_batch(self, progress: BatchProgress, summary: str, waiting_for: str) -> None:
        """The whole batch: bytes, files answered of files, and who is being waited for."""
        _say(self.summary, summary)
        busy = bool(progress.files) and progress.answered < progress.files
        self.progress_bar.setVisible(bool(progress.files))
        if not progress.files:
            return
        # setValue() repaints the bar at once (not later, with the rest): a whole percent
        # at a time is smooth enough and costs the UI thread a tenth of the paints.
        value, bar = int(1000 * progress.fraction), self.progress_bar
        if abs(value - bar.value()) >= 10 or (value != bar.value() and value in (0, 1000)):
            bar.setValue(value)
        text = tr("{done} of {total} answered · {sent} of {size}").format(
            done=progress.answered, total=files(progress.files),
            sent=human_size(int(progress.bytes_done)), size=human_size(progress.bytes_total))
        if busy and progress.waiting:
            text += " · " + tr("waiting for {who} to confirm").format(who=waiting_for)
        if text != bar.format():
            bar.setFormat(text)
            bar.setAccessibleDescription(text)

    def show_throughput(self, t: Throughput) -> None:
        busy = bool(t.running or t.waiting)
        self.cancel_button.setEnabled(busy)
        self.pause_button.setEnabled(busy or self.pause_button.isChecked())
        if not busy:
            _say(self.progress_label, "")
            return
        parts = [tr("{n} uploading").format(n=t.running), tr("{n} waiting").format(n=t.waiting)]
        if t.speed > 0:
            parts.append(f"{human_size(t.speed)}/s")
        if t.eta is not None:
            parts.append(f"about {_duration(t.eta)} left for the files in progress")
        if self.pause_button.isChecked():
            parts.append("paused: no new upload starts")
        _say(self.progress_label, " · ".join(parts))


def _say(label: QLabel, text: str) -> None:
    """A line under the progress bar: shown only when it has something to say."""
    label.setText(text)
    label.setVisible(bool(text))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
