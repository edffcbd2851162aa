"""The main window: files to send, who they go to, and the history of what went."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from uploader_gui import APP_NAME
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import INTERRUPTED
from uploader_gui.core.profiles import Profile
from uploader_gui.core.recent import save_last_profile
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.targets import KIND_LABELS
from uploader_gui.core.validation import IsolatedValidator
from uploader_gui.gui.background import BACKGROUND, CANCEL, CLOSE, BackgroundUploads, ask_on_close
from uploader_gui.gui.batch_summary import batch_summary, make_banner
from uploader_gui.gui.clinic_history import ClinicHistory
from uploader_gui.gui.focus_style import install_focus_style
from uploader_gui.gui.history_panel import HistoryPanel
from uploader_gui.gui.icons import app_icon
from uploader_gui.gui.patient_lookup import PatientLookup
from uploader_gui.gui.redcap_choices import project_choices
from uploader_gui.gui.send_tab import FileList
from uploader_gui.gui.tasks import TaskRunner, preload_network
from uploader_gui.gui.upload_controller import UploadController
from uploader_gui.gui.upload_panel import UploadPanel
from uploader_gui.gui.watch_controller import WatchController
from uploader_gui.gui.window_actions import build_menus, make_actions
from uploader_gui.gui.window_history import InterruptedBar, OpenedHistory, open_history
from uploader_gui.gui.window_lock import WindowLock
from uploader_gui.gui.window_profiles import ProfileManager
from uploader_gui.gui.window_state import restore_geometry, save_geometry

log = logging.getLogger(__name__)

def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


class MainWindow(QMainWindow):
    """Send tab (files, patient, Upload) and History tab."""

    #: Emitted whenever the counts in the status bar change: (ready, rejected, checking).
    countsChanged = Signal(int, int, int)
    #: The upload history is open (or could not be opened: see ``history_problem``).
    historyReady = Signal()

    def __init__(self, validator: IsolatedValidator | None = None,
                 profiles: list[Profile] | None = None, banner: str = "",
                 history: HistoryStore | bool | None = True,
                 policy: RetryPolicy | None = None, sandbox: bool = False) -> None:
        super().__init__()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            install_focus_style(app)
        self.setWindowTitle(tr("Clinic Document Uploader"))
        self.setWindowIcon(app_icon())
        self.setObjectName(APP_NAME)
        self._validator = validator or IsolatedValidator()
        self._owns_validator = validator is None
        self._runner = TaskRunner(self, workers=2)
        self._thumb_runner = TaskRunner(self, workers=1)
        self._checked_for: str | None = None
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(50)
        self._counts_timer.timeout.connect(self._refresh_counts)

        self.actions = make_actions(self, {
            "add_files": lambda: self.files.choose_files(),
            "add_folder": lambda: self.files.choose_folder(),
            "remove": self.remove_selected, "clear_all": self.clear_all,
            "clear_sent": self.clear_sent, "retry": self.retry_failed,
            "move_up": lambda: self.move_selected(-1), "move_down": lambda: self.move_selected(1),
            "combine": lambda: self.files.combine_selected(), "upload": self.start_upload,
            "cancel_all": lambda: self.uploads.cancel_all(),
            "find_patient": lambda: self.profiles.find_patient(),
            "profiles": lambda: self.profiles.edit_profiles(),
            "show_send": lambda: self.tabs.setCurrentIndex(0),
            "show_history": lambda: self.tabs.setCurrentIndex(1),
            "help": self.show_help, "about": self.show_about, "quit": self.close,
        })
        a = self.actions
        build_menus(self, a)
        self.files = FileList(a, self._runner, self._thumb_runner, self._validator,
                              self.current_target)
        self.model, self.view, self.staging = self.files.model, self.files.view, self.files.staging
        self.preview, self.details, self.split = (self.files.preview, self.files.details,
                                                  self.files.split)
        self.staging.changed.connect(self._update_counts)
        self.staging.settled.connect(self._refresh_counts)
        self.staging.status.connect(self._status)
        self.staging.failed.connect(lambda why: QMessageBox.warning(
            self, tr("Combine into one PDF"), why))
        for name in ("add_button", "add_folder_button", "remove_button", "clear_button",
                     "clear_sent_button", "retry_button", "up_button", "down_button",
                     "combine_button", "profiles_button"):
            setattr(self, name, getattr(self.files.buttons, name))
        from uploader_gui.gui.scan_tools import ScanTools  # issue 17: Scan…, Pages…, cover sheets

        self.scan_tools = ScanTools(self)
        self.files.buttons.arrange.insertWidget(3, self.scan_tools.button)
        a.profiles.setEnabled(sandbox)
        if not sandbox:
            a.profiles.setToolTip(tr("Looking for the system keyring…"))

        self.history_problem = ""
        self.history_view: HistoryStore | None = None  # read-only, when it can't be written
        self._interrupted: list[Any] = []
        self.history: HistoryStore | None = history if isinstance(history, HistoryStore) else None
        self.lookup = PatientLookup(self._runner, self)
        self.upload_panel = UploadPanel(profiles or [], lookup=self.lookup)
        self.upload_panel.profile_combo.currentIndexChanged.connect(self._profile_changed)
        self.uploads = UploadController(profiles or [], self.history, self, policy=policy)
        self.uploads.rowState.connect(self._upload_state)
        self.uploads.rowStates.connect(self._upload_states)
        self.uploads.rowDestination.connect(self._row_destination)
        self.upload_panel.destinationChanged.connect(self.model.set_current_destination)
        self.model.set_current_destination(self.upload_panel.destination_text())
        self.upload_panel.destinationChanged.connect(lambda _t: self._sync_upload_action())
        self.lookup.changed.connect(lambda _l: self._sync_upload_action())
        self.uploads.rowProgress.connect(self._upload_progress)
        self.uploads.throughputChanged.connect(self.upload_panel.show_throughput)
        self.uploads.message.connect(self.upload_panel.say)
        self.uploads.resendProblems.connect(lambda problems: QMessageBox.information(
            self, tr("Not sent again"), "\n".join(problems)))
        self.uploads.helperRestarted.connect(self._show_interrupted)  # the upload helper died
        self.upload_panel.uploadRequested.connect(self.start_upload)
        self.upload_panel.findPatientRequested.connect(a.find_patient.trigger)
        self.upload_panel.cancelAllRequested.connect(self.uploads.cancel_all)
        self.upload_panel.pauseToggled.connect(self.uploads.pause)

        self.profiles = ProfileManager(self._runner, self, self.upload_panel.current_profile)
        self.profiles.profilesLoaded.connect(self.set_profiles)
        self.profiles.problem.connect(self._show_problem)
        self.profiles.status.connect(lambda text: self._status(text, 5000))
        self.profiles.keyringReady.connect(self._keyring_ready)
        self.profiles.patientPicked.connect(self._patient_picked)
        self.profiles.recentChanged.connect(self.upload_panel.load_recent)
        self.profiles.searching.connect(
            lambda busy: self.upload_panel.find_patient_button.setEnabled(not busy))
        if sandbox:
            self.profiles.sandbox_profiles = list(profiles or [])
            a.profiles.setToolTip(tr("Show the built-in sandbox profiles (read-only)"))

        self.watches = self._make_watches(profiles or [])
        self.history_panel = HistoryPanel(self.history)
        self.uploads.jobsChanged.connect(self.history_panel.jobs_changed)
        self.history_panel.resendRequested.connect(self.resend)

        self.banner = make_banner(banner, sandbox)

        self.interrupted_bar = InterruptedBar()
        self.interrupted_bar.resumeRequested.connect(self.resume_interrupted)
        self.interrupted_bar.reviewRequested.connect(self.review_interrupted)
        self.interrupted_label = self.interrupted_bar.label
        self.resume_button = self.interrupted_bar.resume_button

        staging = QWidget()
        layout = QVBoxLayout(staging)
        layout.addWidget(self.files, 1)
        layout.addWidget(self.upload_panel)

        self.tabs = QTabWidget()
        self.tabs.addTab(staging, tr("&Send"))
        self.tabs.addTab(self.history_panel, tr("&History"))
        self.tabs.tabBar().setAccessibleName(tr("Send or History"))
        central = QWidget()
        outer = QVBoxLayout(central)
        margin = self.fontMetrics().horizontalAdvance("M") // 2
        outer.setContentsMargins(margin, margin, margin, 0)
        outer.addWidget(self.banner)
        outer.addWidget(self.interrupted_bar)
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.window_lock = WindowLock(self, lambda: self.profiles.secret_store, self._runner)
        self.clinic = ClinicHistory(self.history_panel, self._runner)
        file_menu = self.menuBar().actions()[0].menu() if self.menuBar().actions() else None
        if file_menu is not None:
            file_menu.insertAction(file_menu.actions()[-1], self.window_lock.action)

        self.count_label = QLabel()
        self.count_label.setAccessibleName(tr("File counts"))
        self.statusBar().addPermanentWidget(self.count_label)
        self.setAcceptDrops(True)
        restore_geometry(self, self.split, self._runner)
        self._refresh_counts()
        self._profile_changed()
        if history is True:
            self.upload_panel.set_unavailable(tr("Opening the upload history…"), say=False)
            self._runner.run(open_history, self._history_opened)
        elif self.history is None:
            self.upload_panel.set_unavailable(tr("Sending is off: the upload history cannot "
                                                 "be used."))
        else:  # a store given by the caller: the rest as after opening one
            store = self.history
            self._runner.run(lambda: OpenedHistory(store, interrupted=store.jobs(
                status=INTERRUPTED)), self._history_opened)
        # The HTTP stack is not needed to show the window; load it in the background
        # soon after, so the first Upload click does not pay for it on the UI thread.
        QTimer.singleShot(2000, lambda: self._runner.run(preload_network, lambda _r, _e: None))

    # ------------------------------------------------------------------ history, uploads

    def _history_opened(self, opened: OpenedHistory | None, error: BaseException | None) -> None:
        if error is not None or opened is None or opened.store is None:
            self.history_problem = (opened.problem if opened is not None else str(error))
            self.upload_panel.set_unavailable(self.history_problem or tr(
                "Sending is off: the upload history cannot be used."))
            if opened is not None and opened.view is not None:
                self.history_view = opened.view  # the earlier uploads, read-only
                self.history_panel.set_history(opened.view)
            self.historyReady.emit()
            return
        store = self.history = opened.store
        if self.uploads.dispatcher is None:  # not yet: the store was given already open
            self.uploads.attach_history(store)
        self.watches.shutdown()
        self.watches = self._make_watches(list(self.uploads.profiles.values()))
        self.history_panel.set_history(store, opened.first_page)
        self.clinic.attach(store)  # the clinic's history: other desks' uploads, live
        self.upload_panel.set_unavailable(None)
        self._show_interrupted(opened.interrupted)  # read on the worker, with the history
        if opened.recovery:  # always announced, with its path: here and on stderr
            print(f"uploader-gui: {opened.recovery}", file=sys.stderr)
            QMessageBox.warning(self, tr("Upload history repaired"), opened.recovery)
        self.historyReady.emit()

    def _show_interrupted(self, jobs: list[Any]) -> None:
        self._interrupted = jobs
        self.interrupted_bar.show_jobs(jobs)

    def resume_interrupted(self) -> None:
        """Send again the interrupted jobs that are safe to repeat; never Claros in-flight ones."""
        jobs = [j for j in self._interrupted if j.safe_to_resume()]
        problems = self.uploads.resend([j.id for j in jobs if j.id is not None])
        if problems:
            QMessageBox.information(self, tr("Some uploads were not resumed"), "\n".join(problems))
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
            QMessageBox.information(self, tr("Not sent again"), "\n".join(problems))

    # ------------------------------------------------------------------ profiles

    def _make_watches(self, profiles: list[Profile]) -> WatchController:
        watches = WatchController(profiles, self.history, self.uploads.dispatcher,
                                  self._validator, self)
        watches.stageRequested.connect(self.add_paths)
        watches.message.connect(lambda text: self._status(text, 10_000))
        return watches

    def set_profiles(self, profiles: list[Profile]) -> None:
        from uploader_gui.core.recent import load_last_profile

        self.lookup.forget()
        self.upload_panel.set_profiles(profiles, select=load_last_profile())
        self.uploads.profiles = {p.name: p for p in profiles}
        self.watches.shutdown()
        self.watches = self._make_watches(profiles)

    def start_keyring(self, detect: Any = None) -> None:
        self.profiles.start_keyring(detect)

    @property
    def secret_store(self) -> Any:
        return self.profiles.secret_store

    def _keyring_ready(self, where: str) -> None:
        self.actions.profiles.setEnabled(True)
        self.actions.profiles.setToolTip(where)

    def _show_problem(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(True)

    def _patient_picked(self, profile: str, ident: str, label: str) -> None:
        current = self.upload_panel.current_profile()
        if current is not None and current.name == profile:
            self.upload_panel.patient.setText(ident)

    def _profile_changed(self) -> None:
        """Files are checked against the chosen profile's system and its size limit."""
        profile = self.upload_panel.current_profile()
        kind = profile.config.kind if profile else None
        self.actions.find_patient.setEnabled(kind == "claros")
        if profile is None:
            return
        self._runner.run(save_last_profile, lambda _r, _e: None, profile.name)
        if kind == "redcap":  # its fields and events, as drop-downs
            self._runner.run(project_choices, lambda res, err: res is not None and
                             self.upload_panel.set_project_choices(profile.name, res), profile)
        if kind != self._checked_for:
            self._checked_for = kind
            if self.model.rowCount():
                self.staging.recheck()

    def current_target(self) -> str | None:
        """The kind of system the files are checked for: the chosen profile's."""
        profile = self.upload_panel.current_profile()
        return profile.config.kind if profile else None

    # ------------------------------------------------------------------ sending

    def start_upload(self) -> None:
        self._send(self.model.ready_files())

    def retry_failed(self) -> None:
        """Send the failed rows again, through the same duplicate and unknown-outcome rules."""
        self._send(self.model.failed_files())

    def _send(self, files: list[StagedFile]) -> None:
        panel = self.upload_panel
        profile = panel.current_profile()
        reason = panel.blocked_reason(need_files=False)
        if profile is None or not files or reason:
            if reason:
                self._status(reason, 8000)
            return
        where = panel.destination_text()
        for item in files:  # the rows say by name where they go, before the queue answers
            item.destination_text = where
            self.model.refresh_row(item.key)
        self.model.start_batch([i.key for i in files])
        self.uploads.upload(files, profile, panel.destination())
        self._update_counts()

    def _sync_upload_action(self) -> None:
        self.actions.upload.setEnabled(self.upload_panel.upload_button.isEnabled())

    # ------------------------------------------------------------------ drops on the window

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.view.dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.view.dragMoveEvent(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.view.dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.view.dropEvent(event)

    # ------------------------------------------------------------------ the file list

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Stage files and folders. Folders are walked on a worker thread."""
        self.files.add_paths(paths)

    def selected_rows(self) -> list[int]:
        return self.files.selected_rows()

    def stage_copies(self, items: list[tuple[Path, list[dict[str, str]]]]) -> None:
        """Stage the app's private copies (scans, edited pages), each with its originals."""
        for path, sources in items:
            if sources:
                self.staging._pending_sources[staging_key(path)] = list(sources)
        self.add_paths([path for path, _ in items])

    def remove_selected(self) -> None:
        items = self.model.items()
        gone = [items[r] for r in self.selected_rows() if r < len(items)]
        if self.files.remove_selected():
            self._refresh_counts()
            digests = [i.result.sha256 for i in gone if i.result is not None and i.result.sha256]
            store = self.history
            if store is not None and digests:  # the audit trail: who took what off the list
                self._runner.run(lambda: [store.audit("deleted_from_list", sha256=d)
                                          for d in digests], lambda _r, _e: None)

    def move_selected(self, delta: int) -> None:
        self.files.move_selected(delta)

    def clear_all(self) -> None:
        self.staging.clear()
        self.uploads.message.emit("")
        self._refresh_counts()

    def clear_sent(self) -> None:
        self.files.clear_sent()
        self._refresh_counts()

    def is_staged(self, path: str | Path) -> bool:
        return self.files.is_staged(path)

    # ------------------------------------------------------------------ status

    def _status(self, text: str, ms: int) -> None:
        if text:
            self.statusBar().showMessage(text, ms)
        else:
            self.statusBar().clearMessage()

    def _row_destination(self, key: str, text: str) -> None:
        item = self.model.item(key)
        if item is not None:
            item.destination_text = text
            self.model.refresh_row(key)

    def _upload_states(self, changes: list[tuple[str, str, str]]) -> None:
        self.model.set_upload_states(changes)
        self._update_counts()

    def _upload_progress(self, fractions: dict[str, float]) -> None:
        self.model.set_upload_progress(fractions)
        self._update_counts()

    def _upload_state(self, key: str, state: str, message: str) -> None:
        self.model.set_upload_state(key, state, message)
        self._update_counts()

    def _update_counts(self) -> None:
        """Refresh the counts soon; many verdicts arriving together cause one refresh."""
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _refresh_counts(self) -> None:
        t = self.model.tally()
        c = t.counts
        ready = c["ready"] + c["warning"]
        parts = [tr("{n} ready").format(n=ready), tr("{n} rejected").format(n=c["rejected"])]
        for key, words in (("sending", tr("{n} sending")), ("sent", tr("{n} sent")),
                           ("failed", tr("{n} failed")), ("unknown", tr("{n} outcome unknown")),
                           ("checking", tr("{n} checking…"))):
            if c[key]:
                parts.append(words.format(n=c[key]))
        self.count_label.setText(" · ".join(parts))
        self.files.update_actions(t)
        self.countsChanged.emit(ready, c["rejected"], c["checking"])
        self.upload_panel.set_ready_count(t.ready)
        self._sync_upload_action()
        profile = self.upload_panel.current_profile()
        who = KIND_LABELS.get(profile.config.kind, "") if profile else ""
        self.upload_panel.show_batch(t.progress, batch_summary(t), who)

    def counts(self) -> dict[str, int]:
        return self.model.counts()

    # ------------------------------------------------------------------ help

    def show_help(self) -> None:
        from uploader_gui.gui.help_dialog import show_help

        show_help(self, self._runner)

    def show_about(self) -> None:
        from uploader_gui.gui.help_dialog import show_about

        show_about(self)

    # ------------------------------------------------------------------ size, closing

    def closeEvent(self, event: QCloseEvent) -> None:
        choice = ask_on_close(self, self.uploads.active) if self.uploads.active else CLOSE
        if choice == CANCEL:
            event.ignore()
            return
        save_geometry(self, self.split)
        if choice == BACKGROUND and self.uploads.keep_sending():
            self.background = BackgroundUploads(self.uploads)  # says when they are done
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.window_lock.shutdown()
        self.clinic.shutdown()
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
