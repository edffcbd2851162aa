"""Drop-downs instead of free text for a profile's technicalities.

REDCap's file fields and events come from the project's metadata (read on a worker when a
REDCap profile is chosen); Redox's document type offers the profile's and the usual ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QComboBox, QWidget

from uploader_gui.core.profiles import Profile

#: Offered for Redox besides the profile's own document type.
DOCUMENT_TYPES = ("Clinical Document", "Referral", "Lab Result", "Consent Form",
                  "Discharge Summary", "Imaging Report")


def tr(text: str) -> str:
    return QCoreApplication.translate("Choices", text)


@dataclass
class ProjectChoices:
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, label)
    events: list[tuple[str, str]] = field(default_factory=list)
    repeating: bool = False


def project_choices(profile: Profile) -> ProjectChoices:
    """Worker thread: the fields and events the profile's target offers (REDCap's project)."""
    from uploader_gui.core.targets import make_target
    from uploader_gui.core.targets.base import DESTINATION_CHOICES

    target = make_target(profile.config, profile.credentials)
    try:
        if not target.supports(DESTINATION_CHOICES):
            return ProjectChoices()
        got = target.destination_choices()
        return ProjectChoices(fields=list(got.fields), events=list(got.events),
                              repeating=got.repeating)
    finally:
        target.close()


class ChoiceBox(QComboBox):
    """A drop-down of (value, label) pairs whose current value is kept across refills."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(False)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

    def set_choices(self, items: list[tuple[str, str]], keep: str | None = None) -> None:
        keep = keep if keep is not None else self.value()
        self.blockSignals(True)
        self.clear()
        for value, label in items:
            shown = f"{label} ({value})" if label and label != value else value
            self.addItem(shown, value)
        if keep and self.findData(keep) < 0:
            self.addItem(keep, keep)  # the profile's setting, even before the project answers
        index = self.findData(keep) if keep else (0 if items else -1)
        self.setCurrentIndex(max(index, 0) if self.count() else -1)
        self.blockSignals(False)
        self.currentIndexChanged.emit(self.currentIndex())

    def value(self) -> str | None:
        data = self.currentData()
        return str(data) if data else None
