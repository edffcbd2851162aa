"""The file list of the Send tab: the table, its buttons, the preview and the details line.

Given the window's actions, task runners, validator and a ``target_provider``; the window
puts the upload panel under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.validation import IsolatedValidator
from uploader_gui.gui.preview import PreviewPane, Thumbnails
from uploader_gui.gui.staging_controller import StagingController
from uploader_gui.gui.staging_model import StagingModel, Tally
from uploader_gui.gui.staging_view import StagingView, setup_columns
from uploader_gui.gui.tasks import TaskRunner
from uploader_gui.gui.window_actions import FileButtons, WindowActions

FILE_FILTER = "Documents (*.pdf *.PDF *.jpg *.JPG *.jpeg *.JPEG *.png *.PNG);;All files (*)"


def tr(text: str) -> str:
    return QCoreApplication.translate("SendTab", text)


class FileList(QWidget):
    def __init__(self, actions: WindowActions, runner: TaskRunner, thumb_runner: TaskRunner,
                 validator: IsolatedValidator, target_provider: Callable[[], str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.actions = actions
        self.model = StagingModel(self)
        self.view = StagingView()
        self.view.setModel(self.model)
        setup_columns(self.view)
        self.view.filesDropped.connect(self.add_paths)
        self.view.selectionModel().selectionChanged.connect(lambda *_a: self.update_actions())
        for act in (actions.remove, actions.move_up, actions.move_down):
            self.view.addAction(act)
        self.staging = StagingController(self.model, runner, validator, target_provider, self)
        self.buttons = FileButtons(actions)
        self.preview = PreviewPane()
        self.thumbnails = Thumbnails(thumb_runner, self.view.iconSize().height(),
                                     self.model.refresh_row)
        self.model.thumbnails = self.thumbnails
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setObjectName("stagingSplit")
        self.split.addWidget(self.view)
        self.split.addWidget(self.preview)
        self.split.setChildrenCollapsible(False)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("details")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.buttons)
        layout.addWidget(self.split, 1)
        layout.addWidget(self.details)

    # ------------------------------------------------------------------ adding

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, tr("Add files"), "", FILE_FILTER)
        if names:
            self.add_paths(names)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, tr("Add a folder"))
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Stage files and folders. Folders are walked on a worker thread."""
        self.staging.add_paths(paths)

    def is_staged(self, path: str | Path) -> bool:
        return staging_key(path) in {i.key for i in self.model.items()}

    # ------------------------------------------------------------------ the rows

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.view.selectionModel().selectedRows()})

    def chosen(self) -> list[StagedFile]:
        items = self.model.items()
        return [items[r] for r in self.selected_rows()]

    def remove_selected(self) -> bool:
        rows = self.selected_rows()
        if rows:
            self.model.remove_rows(rows)
        return bool(rows)

    def move_selected(self, delta: int) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            self.view.selectRow(self.model.move(rows[0], delta))

    def combine_selected(self) -> None:
        self.staging.combine(self.chosen())

    def clear_sent(self) -> None:
        self.model.remove_rows([r for r, item in enumerate(self.model.items())
                                if item.upload_state in ("sent", "verified")])

    # ------------------------------------------------------------------ what is shown

    def show_details(self) -> None:
        """The full verdict of the selected file, since the table cell may be cut short."""
        rows = self.selected_rows()
        self.preview.follow(self.model.items()[rows[0]] if len(rows) == 1 else None)
        if len(rows) != 1:
            self.details.setText(
                tr("{n} files selected.").format(n=len(rows)) if rows else
                tr("Select a file to see the full result of its check."))
            return
        item = self.model.items()[rows[0]]
        if item.result is None:
            self.details.setText(f"<b>{escape(item.name)}</b>: " + tr("being checked…"))
            return
        lines = [f"<b>{escape(item.name)}</b> — {escape(str(item.path.parent))}"]
        if item.upload_state:
            lines.append(escape(item.upload_message))
        elif not item.result.problems:
            lines.append(tr("Ready to upload."))
        for p in item.result.problems:
            label = tr("Caution") if p.severity == "warning" else tr("Not accepted")
            lines.append(f"{label}: {escape(p.message)}")
        self.details.setText("<br>".join(lines))

    def update_actions(self, tally: Tally | None = None) -> None:
        self.show_details()
        t = tally if isinstance(tally, Tally) else self.model.tally()
        a = self.actions
        selected = len(self.selected_rows())
        a.remove.setEnabled(bool(selected))
        a.move_up.setEnabled(selected == 1)
        a.move_down.setEnabled(selected == 1)
        a.combine.setEnabled(bool(self.staging.combinable(self.chosen())))
        a.clear_all.setEnabled(self.model.rowCount() > 0)
        a.clear_sent.setEnabled(bool(t.counts["sent"]))
        a.retry.setEnabled(bool(t.failed))
