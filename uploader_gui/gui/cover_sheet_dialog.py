"""*Print cover sheet…*: one page for the top of a patient's stack before scanning.

The target is asked who the patient is (on a worker) and the sheet is written
to a PDF the person chooses, to print. It shows the name and date of birth in
large print; its barcodes carry the profile, patient, document type and a
check value (:mod:`uploader_gui.core.coversheet`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.coversheet import make_cover_sheet
from uploader_gui.core.profiles import Profile
from uploader_gui.core.targets.base import PatientInfo
from uploader_gui.gui.tasks import TaskRunner


def tr(text: str) -> str:
    return QCoreApplication.translate("CoverSheet", text)


class CoverSheetDialog(QDialog):
    #: (the PDF written, who it is for)
    written = Signal(object, object)

    def __init__(self, profiles: Sequence[Profile], parent: QWidget | None = None,
                 patient: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Print cover sheet"))
        self.profiles = {p.name: p for p in profiles}
        self._runner = TaskRunner(self, workers=1)
        self.profile = QComboBox()
        for name in self.profiles:
            self.profile.addItem(name, name)
        self.patient = QLineEdit(patient)
        self.patient.setPlaceholderText(tr("Patient ID or record"))
        self.doctype = QLineEdit()
        self.doctype.setPlaceholderText(tr("e.g. Referral (optional)"))
        form = QFormLayout()
        form.addRow(tr("Profile:"), self.profile)
        form.addRow(tr("Patient:"), self.patient)
        form.addRow(tr("Document type:"), self.doctype)
        self.status = QLabel(tr("The sheet shows the patient's name and date of birth as the "
                                "system knows them. Put it on top of their pages."))
        self.status.setWordWrap(True)
        self.save_button = QPushButton(tr("Save cover sheet…"))
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.choose_file)
        close = QPushButton(tr("Close"))
        close.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_button)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.patient.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.save_button.setEnabled(bool(self.patient.text().strip()) and self.profile.count() > 0)

    def choose_file(self) -> None:
        name = f"cover-sheet-{self.patient.text().strip()}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, tr("Save cover sheet"), name, "PDF (*.pdf)")
        if path:
            self.save_to(Path(path))

    def save_to(self, out: Path) -> None:
        profile = self.profiles[self.profile.currentData()]
        patient, doctype = self.patient.text().strip(), self.doctype.text().strip()
        self.save_button.setEnabled(False)
        self.status.setText(tr("Asking %s who %s is…") % (profile.name, patient))
        self._runner.run(
            lambda: (out, make_cover_sheet(out, profile.name, profile.config,
                                           profile.credentials, profile.defaults, patient,
                                           doctype)), self._done)

    def _done(self, outcome: tuple[Path, PatientInfo | None] | None,
              error: BaseException | None) -> None:
        self._update()
        if error is not None or outcome is None:
            self.status.setText(str(error))
            return
        out, patient = outcome
        who = patient.label() if patient is not None else self.patient.text().strip()
        self.status.setText(tr("Cover sheet for %s saved as %s. Print it and put it on top of "
                               "their pages.") % (who, out.name))
        self.written.emit(out, patient)

    def done(self, code: int) -> None:
        self._runner.shutdown()
        super().done(code)
