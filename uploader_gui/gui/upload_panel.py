"""The "Send to" panel under the staging table: profile, destination, Upload.

Uploads run one after another on a worker thread through ``core.retry.deliver``.
Progress is read by a timer on the UI thread from a small shared record, so a
fast upload cannot flood the event loop with signals.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
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

from uploader_gui.core.profiles import Profile
from uploader_gui.core.retry import RetryPolicy, deliver
from uploader_gui.core.staging import StagedFile
from uploader_gui.core.targets import KIND_LABELS, Destination, Document, TargetConfig
from uploader_gui.core.targets.base import Target
from uploader_gui.core.transport import UploadError
from uploader_gui.gui.tasks import TaskRunner

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    """Written by the upload thread, read by the UI timer."""

    file_index: int = 0
    files: int = 0
    sent: int = 0
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class UploadPanel(QFrame):
    """Pick a profile and a destination, then send the ready files."""

    #: (staging key, state, message): state is uploading/sent/failed/unknown/cancelled/rejected.
    fileState = Signal(str, str, str)
    finished = Signal(int, int)  # sent, not sent

    def __init__(self, profiles: list[Profile], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.profiles = profiles
        self._runner = TaskRunner(self, workers=1)
        self._cancel = threading.Event()
        self._progress = _Progress()
        self._busy = False
        self._targets: dict[str, Target] = {}
        self._ready: list[StagedFile] = []
        self._refused = 0

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

        self.form = QFormLayout()
        self.form.addRow("Send to:", self.profile_combo)
        self.form.addRow("Patient ID:", self.patient)
        self.form.addRow("Patient ID type:", self.patient_type)
        self.form.addRow("Record:", self.record)
        self.form.addRow("Field:", self.field_name)
        self.form.addRow("Event:", self.event)
        self.form.addRow("Repeat instance:", self.instance)
        self.form.addRow("Document type:", self.document_type)

        self.upload_button = QPushButton("Upload")
        self.upload_button.clicked.connect(self.start_upload)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.upload_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress_bar, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(row)
        layout.addWidget(self.message)

        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._show_progress)
        if not profiles:
            self.message.setText(
                "No profile is set up yet, so nothing can be sent. Start the app with "
                "“uploader-gui --sandbox” to try it with the built-in test systems."
            )
        self._profile_changed()
        self.set_ready_files([])

    # ------------------------------------------------------------------ profile

    def current_profile(self) -> Profile | None:
        name = self.profile_combo.currentData()
        return next((p for p in self.profiles if p.name == name), None)

    def _profile_changed(self) -> None:
        p = self.current_profile()
        kind = p.config.kind if p else None
        visible = {
            self.patient: kind in ("claros", "redox"),
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

    # ------------------------------------------------------------------ files

    def set_ready_files(self, files: list[StagedFile]) -> None:
        self._ready = files
        self._update_button()

    def _update_button(self) -> None:
        n = len(self._ready)
        p = self.current_profile()
        self.upload_button.setText(f"Upload {n} file{'s' if n != 1 else ''}" if n else "Upload")
        self.upload_button.setEnabled(bool(n) and p is not None and not self._busy)
        if p is not None and not self._busy:
            self.upload_button.setToolTip(f"Send the ready files to {p.name}.")

    @property
    def busy(self) -> bool:
        return self._busy

    # ------------------------------------------------------------------ upload

    def _target(self, profile: Profile) -> Target:
        from uploader_gui.core.targets import make_target

        if profile.name not in self._targets:
            self._targets[profile.name] = make_target(profile.config, profile.credentials)
        return self._targets[profile.name]

    def start_upload(self) -> None:
        profile = self.current_profile()
        if profile is None or not self._ready or self._busy:
            return
        files = list(self._ready)
        destination = self.destination()
        target = self._target(profile)
        jobs: list[tuple[str, Document]] = []
        self._refused = 0
        for item in files:
            res = item.result
            assert res is not None and res.type is not None and res.size is not None
            document = Document(path=item.path, file_type=res.type, size=res.size)
            problems = target.check(document, destination)
            if problems:
                self._refused += 1
                self.fileState.emit(item.key, "rejected", " ".join(problems))
                continue
            jobs.append((item.key, document))
        if not jobs:
            self.message.setText("Nothing was sent: see the reasons in the list above.")
            return
        self._busy = True
        self._cancel.clear()
        self._progress = _Progress(files=len(jobs))
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.profile_combo.setEnabled(False)
        self.message.setText(f"Sending {len(jobs)} file(s) to {profile.name}…")
        for key, _ in jobs:
            self.fileState.emit(key, "queued", "Waiting to be sent…")
        self._timer.start()
        self._update_button()
        self._runner.run(self._send_all, self._all_done, target, destination, jobs)

    def _send_all(self, target: Target, destination: Destination,
                  jobs: list[tuple[str, Document]]) -> list[tuple[str, str, str]]:
        """Worker thread: network checks once, then each file in turn."""
        outcomes: list[tuple[str, str, str]] = []
        try:
            problems = target.prepare(destination)
        except UploadError as err:
            return [(key, "failed", err.message) for key, _ in jobs]
        if problems:
            return [(key, "rejected", " ".join(problems)) for key, _ in jobs]
        for index, (key, document) in enumerate(jobs):
            if self._cancel.is_set():
                outcomes.append((key, "cancelled", "Cancelled before it was sent."))
                continue
            with self._progress.lock:
                self._progress.file_index = index
                self._progress.sent, self._progress.total = 0, document.size

            def progress(sent: int, total: int) -> None:
                with self._progress.lock:
                    self._progress.sent, self._progress.total = sent, total

            result = deliver(target, document, destination, RetryPolicy(max_attempts=4),
                             progress=progress, cancelled=self._cancel.is_set)
            outcomes.append((key, result.status, _describe(result, target.config)))
        return outcomes

    def _show_progress(self) -> None:
        p = self._progress
        with p.lock:
            done = p.file_index + (p.sent / p.total if p.total else 0)
            files = max(1, p.files)
        self.progress_bar.setValue(int(1000 * done / files))
        self.progress_bar.setFormat(f"File {min(p.file_index + 1, files)} of {files}")

    def _all_done(self, outcomes: list[tuple[str, str, str]] | None,
                  error: BaseException | None) -> None:
        self._timer.stop()
        self._busy = False
        self.cancel_button.setEnabled(False)
        self.profile_combo.setEnabled(True)
        self.progress_bar.setVisible(False)
        if error is not None or outcomes is None:
            log.error("upload batch failed: %r", error)
            self.message.setText("The upload stopped because of an unexpected problem; "
                                 "see the log for details.")
            self._update_button()
            return
        for key, state, text in outcomes:
            self.fileState.emit(key, state, text)
        sent = sum(1 for _, s, _ in outcomes if s == "sent")
        tried = len(outcomes) + self._refused
        self.message.setText(f"{sent} of {tried} file(s) sent." + (
            " Files that were not sent show why in the list." if sent < tried else ""))
        self._update_button()
        self.finished.emit(sent, len(outcomes) - sent)

    def cancel(self) -> None:
        self._cancel.set()
        self.message.setText("Cancelling…")

    def shutdown(self) -> None:
        self._cancel.set()
        self._runner.shutdown()
        for t in self._targets.values():
            t.close()


def _describe(result: Any, config: TargetConfig) -> str:
    where = config.name
    if result.status == "sent":
        r = result.receipt
        bits = [f"Sent to {where}"]
        if r.remote_id:
            bits.append(f"id {r.remote_id}")
        if r.log_ids:
            bits.append(f"Redox log {', '.join(r.log_ids)}")
        if len(result.attempts) > 1:
            bits.append(f"after {len(result.attempts)} attempts")
        return "; ".join(bits) + "."
    if result.status == "unknown":
        return ("Not known whether it arrived: " + (result.error.message if result.error else "")
                + " Check in the receiving system before sending it again.")
    if result.status == "cancelled":
        return "Cancelled; it was not sent."
    return result.error.message if result.error else "Not sent."
