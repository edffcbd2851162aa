"""The main window: a staging table that files and folders are dropped on."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uploader_gui import APP_NAME
from uploader_gui.core.profiles import Profile
from uploader_gui.core.staging import staging_key
from uploader_gui.core.validation import (
    TARGET_LABELS,
    IsolatedValidator,
    Problem,
    ValidationResult,
    expand_paths,
)
from uploader_gui.gui.icons import app_icon
from uploader_gui.gui.staging_model import (
    COL_DETAILS,
    COL_NAME,
    COL_SIZE,
    COL_STATUS,
    COL_TYPE,
    StagingModel,
)
from uploader_gui.gui.tasks import TaskRunner
from uploader_gui.gui.upload_panel import UploadPanel

log = logging.getLogger(__name__)

FILE_FILTER = "Documents (*.pdf *.PDF *.jpg *.JPG *.jpeg *.JPEG *.png *.PNG);;All files (*)"
#: Rows added to the model per event-loop turn when a large folder arrives.
ADD_CHUNK = 100


def local_paths_from_mime(mime: Any) -> list[Path]:
    """The local files and folders in a drag, ignoring web links and the like."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class StagingView(QTableView):
    """The staging table. Accepts drops of files and folders, always as a copy."""

    filesDropped = Signal(list)  # list[str]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.empty_text = (
            "Drag PDF, JPEG or PNG files or whole folders here,\n"
            "or click “Add files…” (Ctrl+O)."
        )

    # Drops: accept only local files, and always as a copy. Qt's proposed
    # action can be a move (Shift-drag), which some file managers honour by
    # deleting the source.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths_from_mime(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths_from_mime(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        names = [str(p) for p in paths]
        # Do the work after the drop handler has returned to the drag source.
        QTimer.singleShot(0, lambda: self.filesDropped.emit(names))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            rect: QRect = self.viewport().rect().adjusted(12, 12, -12, -12)
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.empty_text)
            painter.end()


class MainWindow(QMainWindow):
    """Staging area plus status; the upload panel arrives with the targets."""

    #: Emitted whenever the counts in the status bar change: (ready, rejected, checking).
    countsChanged = Signal(int, int, int)

    def __init__(self, validator: IsolatedValidator | None = None,
                 profiles: list[Profile] | None = None, banner: str = "") -> None:
        super().__init__()
        self.setWindowTitle("Clinic Document Uploader")
        self.setWindowIcon(app_icon())
        self.setObjectName(APP_NAME)
        self._validator = validator or IsolatedValidator()
        self._owns_validator = validator is None
        self._runner = TaskRunner(self, workers=2)
        self._generation = 0
        self._checks_running = 0
        self._pending_add: list[tuple[Path, str]] = []

        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(50)
        self._counts_timer.timeout.connect(self._refresh_counts)

        self.model = StagingModel(self)
        self.view = StagingView()
        self.view.setModel(self.model)
        header = self.view.horizontalHeader()
        # Fixed, font-based widths: ResizeToContents re-measures every row on every
        # change, which stalls the window when thousands of verdicts arrive.
        em = self.fontMetrics().horizontalAdvance("M")
        widths = {COL_NAME: 22, COL_TYPE: 8, COL_SIZE: 6, COL_DETAILS: 9}
        for col, ems in widths.items():
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, em * ems)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + em // 2)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.filesDropped.connect(self.add_paths)
        self.view.selectionModel().selectionChanged.connect(self._update_actions)

        self.add_button = QPushButton("Add files…")
        self.add_button.setToolTip("Choose PDF, JPEG or PNG files to add (Ctrl+O)")
        self.add_button.clicked.connect(self.choose_files)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.setToolTip("Take the selected files off the list (Delete). "
                                      "The files themselves are not touched.")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear all")
        self.clear_button.setToolTip("Empty the list. The files themselves are not touched.")
        self.clear_button.clicked.connect(self.clear_all)

        self.target_combo = QComboBox()
        self.target_combo.addItem("Any system (32 MB limit)", None)
        for key, label in TARGET_LABELS.items():
            self.target_combo.addItem(label, key)
        self.target_combo.setToolTip("Files are checked against this system's size limit.")
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        target_label = QLabel("Check for:")
        target_label.setBuddy(self.target_combo)

        buttons = QHBoxLayout()
        for b in (self.add_button, self.add_folder_button, self.remove_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(target_label)
        buttons.addWidget(self.target_combo)

        intro = QLabel(
            "<b>Stage documents to send.</b> Every file is checked before anything leaves "
            "this computer: its real type, its size, and whether it is damaged, "
            "password-protected or carries active content. Your files are never changed."
        )
        intro.setWordWrap(True)

        self.upload_panel = UploadPanel(profiles or [])
        self.upload_area = self.upload_panel
        self.upload_panel.fileState.connect(self._upload_state)
        self.upload_panel.profile_combo.currentIndexChanged.connect(self._profile_changed)

        self.banner = QLabel(banner)
        self.banner.setWordWrap(True)
        self.banner.setVisible(bool(banner))
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("details")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.upload_area)
        self.setCentralWidget(central)

        self.count_label = QLabel()
        self.statusBar().addPermanentWidget(self.count_label)

        QShortcut(QKeySequence.StandardKey.Open, self, activated=self.choose_files)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.view, activated=self.remove_selected)
        delete.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        backspace = QShortcut(QKeySequence(Qt.Key.Key_Backspace), self.view,
                              activated=self.remove_selected)
        backspace.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self.setAcceptDrops(True)
        self.setMinimumSize(self.fontMetrics().horizontalAdvance("M") * 50,
                            self.fontMetrics().height() * 25)
        self.resize(self.fontMetrics().horizontalAdvance("M") * 80,
                    self.fontMetrics().height() * 36)
        self._refresh_counts()
        self._profile_changed()

    # ------------------------------------------------------------------ drops on the window

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.view.dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.view.dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.view.dropEvent(event)

    # ------------------------------------------------------------------ adding files

    def current_target(self) -> str | None:
        return self.target_combo.currentData()

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add files", "", FILE_FILTER)
        if names:
            self.add_paths(names)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder")
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Stage files and folders. Folders are walked on a worker thread."""
        items = [str(p) for p in paths]
        if not items:
            return
        self.statusBar().showMessage("Looking for files…", 2000)
        self._runner.run(
            lambda: [(p, staging_key(p)) for p in expand_paths(items)], self._expanded
        )

    def _expanded(self, paths: list[tuple[Path, str]] | None, error: BaseException | None) -> None:
        self.statusBar().clearMessage()
        if error is not None:
            self.statusBar().showMessage(f"Could not read that folder: {error}", 8000)
            return
        self._pending_add.extend(paths or [])
        self._add_chunk()

    def _add_chunk(self) -> None:
        chunk, self._pending_add = self._pending_add[:ADD_CHUNK], self._pending_add[ADD_CHUNK:]
        fresh = self.model.add_paths(chunk)
        skipped = len(chunk) - len(fresh)
        if skipped:
            self.statusBar().showMessage(
                f"{skipped} file(s) already on the list were not added again.", 5000
            )
        for item in fresh:
            self._check(item.key, item.path)
        self._update_counts()
        if self._pending_add:
            QTimer.singleShot(0, self._add_chunk)

    def _check(self, key: str, path: Path) -> None:
        generation = self._generation
        target = self.current_target()

        def done(result: ValidationResult | None, error: BaseException | None) -> None:
            if generation != self._generation:
                return  # the target changed since; a newer check is on its way
            if error is not None or result is None:
                log.error("validation failed for %s: %r", path, error)
                result = ValidationResult(path=str(path))
                result.problems.append(Problem(
                    "internal_error",
                    "This file could not be checked. Remove it and add it again.",
                ))
            self._checks_running -= 1
            self.model.set_result(key, result)
            if self._checks_running == 0:
                self._refresh_counts()  # the last verdict: show the final counts at once
            else:
                self._update_counts()

        self._checks_running += 1
        self._runner.run(self._validator.validate, done, path, target)

    def _target_changed(self) -> None:
        self._generation += 1
        self._checks_running = 0  # results of the old generation are ignored
        self.model.reset_results()
        for item in self.model.items():
            self._check(item.key, item.path)
        self._refresh_counts()

    # ------------------------------------------------------------------ removing

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.view.selectionModel().selectedRows()})

    def remove_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.model.remove_rows(rows)
            self._refresh_counts()

    def clear_all(self) -> None:
        self._pending_add.clear()
        self.model.clear()
        self._refresh_counts()

    def is_staged(self, path: str | Path) -> bool:
        return staging_key(path) in {i.key for i in self.model.items()}

    # ------------------------------------------------------------------ status

    def _show_details(self) -> None:
        """The full verdict of the selected file, since the table cell may be cut short."""
        rows = self.selected_rows()
        if len(rows) != 1:
            self.details.setText(
                f"{len(rows)} files selected." if rows else
                "Select a file to see the full result of its check."
            )
            return
        item = self.model.items()[rows[0]]
        if item.result is None:
            self.details.setText(f"<b>{escape(item.name)}</b>: being checked…")
            return
        lines = [f"<b>{escape(item.name)}</b> — {escape(str(item.path.parent))}"]
        if item.upload_state:
            lines.append(escape(item.upload_message))
        elif not item.result.problems:
            lines.append("Ready to upload.")
        for p in item.result.problems:
            label = "Caution" if p.severity == "warning" else "Not accepted"
            lines.append(f"{label}: {escape(p.message)}")
        self.details.setText("<br>".join(lines))

    def _update_actions(self, *args: Any) -> None:
        self._show_details()
        has_rows = self.model.rowCount() > 0
        self.remove_button.setEnabled(bool(self.view.selectionModel().selectedRows()))
        self.clear_button.setEnabled(has_rows)

    def _upload_state(self, key: str, state: str, message: str) -> None:
        self.model.set_upload_state(key, state, message)
        self._refresh_counts()

    def _profile_changed(self) -> None:
        """Check files against the chosen profile's system and its size limit."""
        profile = self.upload_panel.current_profile()
        if profile is None:
            return
        index = self.target_combo.findData(profile.config.kind)
        if index >= 0 and index != self.target_combo.currentIndex():
            self.target_combo.setCurrentIndex(index)

    def _update_counts(self) -> None:
        """Refresh the counts soon; many verdicts arriving together cause one refresh."""
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _refresh_counts(self) -> None:
        c = self.model.counts()
        ready = c["ready"] + c["warning"]
        parts = [f"{ready} ready", f"{c['rejected']} rejected"]
        if c["sent"]:
            parts.append(f"{c['sent']} sent")
        if c["checking"]:
            parts.append(f"{c['checking']} checking…")
        self.count_label.setText(" · ".join(parts))
        self._update_actions()
        self.countsChanged.emit(ready, c["rejected"], c["checking"])
        self.upload_panel.set_ready_files(self.model.ready_files())

    def counts(self) -> dict[str, int]:
        return self.model.counts()

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self._runner.shutdown()
        if self._owns_validator:
            self._validator.close()
