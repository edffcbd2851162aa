"""The main window: a staging table that files and folders are dropped on."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from uploader_gui import APP_NAME
from uploader_gui.core.convert import convert_for_upload
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import save_last_profile
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.secrets import SecretStore
from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.validation import (
    TARGET_LABELS,
    IsolatedValidator,
    Problem,
    ValidationResult,
    expand_paths,
)
from uploader_gui.gui.history_panel import HistoryPanel
from uploader_gui.gui.icons import app_icon
from uploader_gui.gui.preview import PreviewPane, Thumbnails
from uploader_gui.gui.staging_model import (
    COL_DEST,
    COL_DETAILS,
    COL_NAME,
    COL_SIZE,
    COL_STATUS,
    COL_TYPE,
    ProgressDelegate,
    StagingModel,
)
from uploader_gui.gui.staging_view import StagingView
from uploader_gui.gui.tasks import TaskRunner
from uploader_gui.gui.upload_controller import UploadController
from uploader_gui.gui.upload_panel import UploadPanel
from uploader_gui.gui.watch_controller import WatchController
from uploader_gui.gui.window_history import HistoryOpeningMixin
from uploader_gui.gui.window_profiles import ProfilesMixin

log = logging.getLogger(__name__)

FILE_FILTER = "Documents (*.pdf *.PDF *.jpg *.JPG *.jpeg *.JPEG *.png *.PNG);;All files (*)"
#: Rows added to the model per event-loop turn when a large folder arrives.
ADD_CHUNK = 100


def _preload_network() -> None:
    import importlib

    for name in ("uploader_gui.core.transport", "uploader_gui.core.targets.claros",
                 "uploader_gui.core.targets.redcap", "uploader_gui.core.targets.redox"):
        importlib.import_module(name)


class MainWindow(HistoryOpeningMixin, ProfilesMixin, QMainWindow):
    """Staging area plus status; the upload panel arrives with the targets."""

    #: Emitted whenever the counts in the status bar change: (ready, rejected, checking).
    countsChanged = Signal(int, int, int)

    def __init__(self, validator: IsolatedValidator | None = None,
                 profiles: list[Profile] | None = None, banner: str = "",
                 history: HistoryStore | bool | None = True,
                 policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Clinic Document Uploader")
        self.setWindowIcon(app_icon())
        self.setObjectName(APP_NAME)
        self._validator = validator or IsolatedValidator()
        self._owns_validator = validator is None
        self._runner = TaskRunner(self, workers=2)
        self._thumb_runner = TaskRunner(self, workers=1)
        self._generation = 0
        self._checks_running = 0
        self._pending_add: list[tuple[Path, str]] = []
        self._pending_sources: dict[str, list[dict[str, str]]] = {}

        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(50)
        self._counts_timer.timeout.connect(self._refresh_counts)

        self.model = StagingModel(self)
        self.view = StagingView()
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(COL_STATUS, ProgressDelegate(self.view))
        header = self.view.horizontalHeader()
        # Fixed, font-based widths: ResizeToContents re-measures every row on every
        # change, which stalls the window when thousands of verdicts arrive.
        em = self.fontMetrics().horizontalAdvance("M")
        widths = {COL_NAME: 20, COL_TYPE: 7, COL_SIZE: 6, COL_DETAILS: 11, COL_DEST: 14}
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
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("Move the selected file up (Alt+Up): the order used to "
                                  "combine images")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("Move the selected file down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        for b in (self.up_button, self.down_button):
            b.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 3)
        self.combine_button = QPushButton("Combine into one PDF")
        self.combine_button.setToolTip("Make one multi-page PDF of the selected images, in the "
                                       "order shown. Your images are not changed.")
        self.combine_button.clicked.connect(self.combine_selected)
        self.secret_store: SecretStore | None = None
        self.profiles_button = QPushButton("Profiles…")
        self.profiles_button.setToolTip("Add or change the systems this computer sends to.")
        self.profiles_button.setEnabled(False)
        self.profiles_button.clicked.connect(self.edit_profiles)
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
        buttons.addWidget(self.profiles_button)
        buttons.addWidget(target_label)
        buttons.addWidget(self.target_combo)
        arrange = QHBoxLayout()
        for b in (self.up_button, self.down_button, self.combine_button):
            arrange.addWidget(b)
        arrange.addStretch(1)

        intro = QLabel(
            "<b>Stage documents to send.</b> Every file is checked before anything leaves "
            "this computer: its real type, its size, and whether it is damaged, "
            "password-protected or carries active content. Your files are never changed."
        )
        intro.setWordWrap(True)

        self.history_problem = ""
        self.history_view: HistoryStore | None = None  # read-only, when it can't be written
        if history is True:
            history = self._open_history()
        self.history: HistoryStore | None = history or None
        self.upload_panel = UploadPanel(profiles or [])
        self.upload_area = self.upload_panel
        self.upload_panel.profile_combo.currentIndexChanged.connect(self._profile_changed)
        self.offer_session_only = True
        self.uploads = UploadController(profiles or [], self.history, self, policy=policy)
        self.uploads.rowState.connect(self._upload_state)
        self.uploads.rowStates.connect(self._upload_states)
        self.uploads.rowDestination.connect(self._row_destination)
        self.upload_panel.destinationChanged.connect(self.model.set_current_destination)
        self.model.set_current_destination(self.upload_panel.destination_text())
        self.uploads.rowProgress.connect(self.model.set_upload_progress)
        self.uploads.throughputChanged.connect(self.upload_panel.show_throughput)
        self.uploads.message.connect(self.upload_panel.message.setText)
        self.upload_panel.uploadRequested.connect(self.start_upload)
        self.upload_panel.findPatientRequested.connect(self.find_patient)
        self.upload_panel.cancelAllRequested.connect(self.uploads.cancel_all)
        self.upload_panel.pauseToggled.connect(self.uploads.pause)
        if self.history is None:
            self.upload_panel.set_unavailable(self.history_problem or
                                              "Sending is off: the upload history cannot be used.")

        self.watches = self._make_watches(profiles or [])

        self.history_panel = HistoryPanel(self.history or self.history_view)
        self.uploads.jobsChanged.connect(self.history_panel.jobs_changed)
        self.history_panel.resendRequested.connect(self.resend)

        self.banner = QLabel(banner)
        self.banner.setWordWrap(True)
        self.banner.setVisible(bool(banner))
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("details")

        self.interrupted_bar = QFrame()
        self.interrupted_bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self.interrupted_bar)
        self.interrupted_label = QLabel()
        self.interrupted_label.setWordWrap(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume_interrupted)
        self.review_button = QPushButton("Review")
        self.review_button.clicked.connect(self.review_interrupted)
        bar.addWidget(self.interrupted_label, 1)
        bar.addWidget(self.resume_button)
        bar.addWidget(self.review_button)
        self.interrupted_bar.setVisible(False)

        staging = QWidget()
        layout = QVBoxLayout(staging)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addLayout(arrange)
        self.preview = PreviewPane()
        self.thumbnails = Thumbnails(self._thumb_runner, self.fontMetrics().height() * 2,
                                     self.model.refresh_row)
        self.model.thumbnails = self.thumbnails
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.view)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.upload_area)

        self.tabs = QTabWidget()
        self.tabs.addTab(staging, "Send")
        self.tabs.addTab(self.history_panel, "History")
        central = QWidget()
        outer = QVBoxLayout(central)
        margin = self.fontMetrics().horizontalAdvance("M") // 2
        outer.setContentsMargins(margin, margin, margin, 0)
        outer.addWidget(self.banner)
        outer.addWidget(self.interrupted_bar)
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.count_label = QLabel()
        self.statusBar().addPermanentWidget(self.count_label)

        QShortcut(QKeySequence.StandardKey.Open, self, activated=self.choose_files)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.view, activated=self.remove_selected)
        delete.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        backspace = QShortcut(QKeySequence(Qt.Key.Key_Backspace), self.view,
                              activated=self.remove_selected)
        backspace.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for keys, delta in (("Alt+Up", -1), ("Alt+Down", 1)):
            QShortcut(QKeySequence(keys), self.view, activated=lambda d=delta: self.move_selected(d))

        self.setAcceptDrops(True)
        # Sizes in text units (high-DPI friendly); the layouts set the true minimum.
        em, line = self.fontMetrics().horizontalAdvance("M"), self.fontMetrics().height()
        width, height = em * 110, line * 48
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            width, height = min(width, screen.width()), min(height, screen.height())
        self.resize(width, height)
        self._refresh_counts()
        self._profile_changed()
        self.history_panel.load()
        self._show_interrupted()
        # The HTTP stack is not needed to show the window; load it in the background
        # soon after, so the first Upload click does not pay for it on the UI thread.
        QTimer.singleShot(2000, lambda: self._runner.run(_preload_network, lambda _r, _e: None))

    # ------------------------------------------------------------------ history, uploads

    def _show_interrupted(self) -> None:
        jobs = self.uploads.interrupted_jobs()
        if not jobs:
            self.interrupted_bar.setVisible(False)
            return
        held = sum(not j.safe_to_resume() for j in jobs)
        text = (f"{len(jobs)} upload{'s were' if len(jobs) != 1 else ' was'} interrupted when "
                "the app closed.")
        if held:
            text += (f" {held} of them went to Claros and may already have arrived: review "
                     "those before sending them again.")
        self.interrupted_label.setText(text)
        self.resume_button.setEnabled(held < len(jobs))
        self.interrupted_bar.setVisible(True)

    def resume_interrupted(self) -> None:
        """Send again the interrupted jobs that are safe to repeat; never Claros in-flight ones."""
        jobs = [j for j in self.uploads.interrupted_jobs() if j.safe_to_resume()]
        problems = self.uploads.resend([j.id for j in jobs if j.id is not None])
        if problems:
            QMessageBox.information(self, "Some uploads were not resumed", "\n".join(problems))
        self.interrupted_bar.setVisible(False)
        self.tabs.setCurrentWidget(self.history_panel)

    def review_interrupted(self) -> None:
        self.tabs.setCurrentWidget(self.history_panel)
        combo = self.history_panel.status_filter
        combo.setCurrentIndex(combo.findData("interrupted"))
        self.interrupted_bar.setVisible(False)

    def resend(self, job_ids: list[int]) -> None:
        problems = self.uploads.resend(job_ids)
        if problems:
            QMessageBox.information(self, "Not sent again", "\n".join(problems))

    # ------------------------------------------------------------------ profiles

    def _make_watches(self, profiles: list[Profile]) -> WatchController:
        watches = WatchController(profiles, self.history, self.uploads.dispatcher,
                                  self._validator, self)
        watches.stageRequested.connect(self.add_paths)
        watches.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        return watches

    def start_upload(self) -> None:
        profile = self.upload_panel.current_profile()
        files = self.model.sendable_files()
        if profile is None or not files:
            return
        self.uploads.upload(files, profile, self.upload_panel.destination())

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
        for item in fresh:
            item.sources = self._pending_sources.pop(item.key, item.sources)
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

    def move_selected(self, delta: int) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        new = self.model.move(rows[0], delta)
        self.view.selectRow(new)

    def _combinable(self) -> list[StagedFile]:
        items = self.model.items()
        chosen = [items[r] for r in self.selected_rows()]
        if len(chosen) < 2:
            return []
        if all(i.ready and i.result and i.result.type in ("jpeg", "png") for i in chosen):
            return chosen
        return []

    def combine_selected(self) -> None:
        """Selected images → one PDF in the app's private folder, staged in their place."""
        images = self._combinable()
        if not images:
            return
        name = f"{images[0].path.stem} and {len(images) - 1} more.pdf"
        sources = [{"path": str(i.path), "sha256": i.result.sha256 or ""} for i in images
                   if i.result is not None]
        keys = [i.key for i in images]

        def done(pdf: Path | None, error: BaseException | None) -> None:
            if error is not None or pdf is None:
                QMessageBox.warning(self, "Combine into one PDF", str(error))
                return
            self._pending_sources[staging_key(pdf)] = sources
            self.model.remove_rows([r for r, item in enumerate(self.model.items())
                                    if item.key in keys])
            self.add_paths([pdf])

        self._runner.run(lambda: convert_for_upload([i.path for i in images], name=name), done)

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
        self.preview.follow(self.model.items()[rows[0]] if len(rows) == 1 else None)
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
        single = len(self.view.selectionModel().selectedRows()) == 1
        self.up_button.setEnabled(single)
        self.down_button.setEnabled(single)
        self.combine_button.setEnabled(bool(self._combinable()))
        self.clear_button.setEnabled(has_rows)

    def _row_destination(self, key: str, text: str) -> None:
        item = self.model.item(key)
        if item is not None:
            item.destination_text = text
            self.model.refresh_row(key)

    def _upload_states(self, changes: list[tuple[str, str, str]]) -> None:
        self.model.set_upload_states(changes)
        self._update_counts()

    def _upload_state(self, key: str, state: str, message: str) -> None:
        self.model.set_upload_state(key, state, message)
        self._update_counts()

    def _profile_changed(self) -> None:
        """Check files against the chosen profile's system and its size limit."""
        profile = self.upload_panel.current_profile()
        if profile is None:
            return
        save_last_profile(profile.name)
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
        if c["sending"]:
            parts.append(f"{c['sending']} sending")
        if c["sent"]:
            parts.append(f"{c['sent']} sent")
        if c["checking"]:
            parts.append(f"{c['checking']} checking…")
        self.count_label.setText(" · ".join(parts))
        self._update_actions()
        self.countsChanged.emit(ready, c["rejected"], c["checking"])
        self.upload_panel.set_ready_count(len(self.model.sendable_files()))

    def counts(self) -> dict[str, int]:
        return self.model.counts()

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.uploads.active:
            answer = QMessageBox.question(
                self, "Uploads are running",
                f"{self.uploads.active} upload(s) are still running or waiting. Close anyway? "
                "They are stopped, and the history keeps them so they can be resumed later.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.watches.shutdown()
        self.preview.shutdown()
        self._thumb_runner.shutdown()
        self.uploads.shutdown()
        self.history_panel.shutdown()
        self._runner.shutdown()
        if self._owns_validator:
            self._validator.close()
        if self.history is not None:
            self.history.close()
            self.history = None
        if self.history_view is not None:
            self.history_view.close()
            self.history_view = None
