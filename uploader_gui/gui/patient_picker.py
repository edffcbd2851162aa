"""*Find patient…*: a list to search by part of a name, a date of birth or an id."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QSortFilterProxyModel, QStringListModel, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)


def tr(text: str) -> str:
    return QCoreApplication.translate("PatientPicker", text)


class PatientPicker(QDialog):
    def __init__(self, parent: QWidget | None, title: str, label: str, items: list[str]) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Part of a name, a date of birth or an ID"))
        self.search.setAccessibleName(tr("Search patients"))
        self.search.setClearButtonEnabled(True)
        caption = QLabel(label)
        caption.setBuddy(self.search)
        self._model = QStringListModel(items, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self._model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.list = QListView()
        self.list.setModel(self.proxy)
        self.list.setAccessibleName(tr("Patients"))
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.list.doubleClicked.connect(lambda _i: self.accept())
        self.search.textChanged.connect(self._filter)
        self.buttons = QDialogButtonBox()
        self.choose = self.buttons.addButton(tr("&Choose"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.choose.setDefault(True)
        layout = QVBoxLayout(self)
        layout.addWidget(caption)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        em = self.fontMetrics().horizontalAdvance("M")
        self.resize(em * 36, self.fontMetrics().height() * 22)
        self._filter("")

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if self.proxy.rowCount():
            self.list.setCurrentIndex(self.proxy.index(0, 0))
        self.choose.setEnabled(self.proxy.rowCount() > 0)

    def chosen(self) -> str:
        index = self.list.currentIndex()
        return str(index.data()) if index.isValid() else ""


def pick_patient(parent: QWidget | None, title: str, label: str,
                 items: list[str]) -> tuple[str, bool]:
    dialog = PatientPicker(parent, title, label, items)
    ok = dialog.exec() == QDialog.DialogCode.Accepted and bool(dialog.chosen())
    return dialog.chosen(), ok
