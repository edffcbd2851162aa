"""Building the main window's widgets and wiring them together (all but its first frame).

The window calls :func:`build_window` from its constructor, or, at the app's start, once
its first frame is on screen (:mod:`uploader_gui.gui.window_shell`): everything imported
here is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import INTERRUPTED
from uploader_gui.core.validation import IsolatedValidator
from uploader_gui.gui.banner import make_banner
from uploader_gui.gui.clinic_history import ClinicHistory
from uploader_gui.gui.focus_style import install_focus_style
from uploader_gui.gui.history_panel import HistoryPanel
from uploader_gui.gui.launch import settled, window_built
from uploader_gui.gui.patient_lookup import PatientLookup
from uploader_gui.gui.send_tab import FileList
from uploader_gui.gui.tasks import TaskRunner, preload_network
from uploader_gui.gui.upload_controller import UploadController
from uploader_gui.gui.upload_panel import UploadPanel
from uploader_gui.gui.window_actions import build_menus, make_actions
from uploader_gui.gui.window_history import InterruptedBar, OpenedHistory, open_history
from uploader_gui.gui.window_lock import WindowLock
from uploader_gui.gui.window_profiles import ProfileManager
from uploader_gui.gui.window_state import restore_geometry

if TYPE_CHECKING:
    from uploader_gui.core.profiles import Profile
    from uploader_gui.core.retry import RetryPolicy
    from uploader_gui.gui.main_window import MainWindow


def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


def build_window(w: MainWindow, validator: IsolatedValidator | None,
                 profiles: list[Profile] | None, banner: str,
                 history: HistoryStore | bool | None, policy: RetryPolicy | None,
                 sandbox: bool) -> None:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        install_focus_style(app)
    w._validator = validator or IsolatedValidator()
    w._owns_validator = validator is None
    w._thumb_runner = TaskRunner(w, workers=1)
    w._checked_for: str | None = None
    w._counts_timer = QTimer(w)
    w._counts_timer.setSingleShot(True)
    w._counts_timer.setInterval(50)
    w._counts_timer.timeout.connect(w._refresh_counts)

    w.actions = make_actions(w, {
        "add_files": lambda: w.files.choose_files(),
        "add_folder": lambda: w.files.choose_folder(),
        "remove": w.remove_selected, "clear_all": w.clear_all,
        "clear_sent": w.clear_sent, "retry": w.retry_failed,
        "move_up": lambda: w.move_selected(-1), "move_down": lambda: w.move_selected(1),
        "combine": lambda: w.files.combine_selected(), "upload": w.start_upload,
        "cancel_all": lambda: w.uploads.cancel_all(),
        "find_patient": lambda: w.profiles.find_patient(),
        "profiles": lambda: w.profiles.edit_profiles(),
        "show_send": lambda: w.tabs.setCurrentIndex(0),
        "show_history": lambda: w.tabs.setCurrentIndex(1),
        "help": w.show_help, "about": w.show_about, "quit": w.close,
    })
    a = w.actions
    build_menus(w, a)
    w.files = FileList(a, w._runner, w._thumb_runner, w._validator,
                          w.current_target)
    w.model, w.view, w.staging = w.files.model, w.files.view, w.files.staging
    w.preview, w.details, w.split = (w.files.preview, w.files.details,
                                              w.files.split)
    w.staging.changed.connect(w._update_counts)
    w.staging.settled.connect(w._refresh_counts)
    w.staging.status.connect(w._status)
    w.staging.failed.connect(lambda why: QMessageBox.warning(
        w, tr("Combine into one PDF"), why))
    for name in ("add_button", "add_folder_button", "remove_button", "clear_button",
                 "clear_sent_button", "retry_button", "up_button", "down_button",
                 "combine_button", "profiles_button"):
        setattr(w, name, getattr(w.files.buttons, name))
    from uploader_gui.gui.scan_tools import ScanTools  # issue 17: Scan…, Pages…, cover sheets

    w.scan_tools = ScanTools(w)
    w.files.buttons.arrange.insertWidget(3, w.scan_tools.button)
    a.profiles.setEnabled(sandbox)
    if not sandbox:
        a.profiles.setToolTip(tr("Looking for the system keyring…"))

    w.history_problem = ""
    w.history_view: HistoryStore | None = None  # read-only, when it can't be written
    w._interrupted: list[Any] = []
    w.history: HistoryStore | None = history if isinstance(history, HistoryStore) else None
    w.lookup = PatientLookup(w._runner, w)
    w.upload_panel = UploadPanel(profiles or [], lookup=w.lookup)
    w.upload_panel.profile_combo.currentIndexChanged.connect(w._profile_changed)
    w.uploads = UploadController(profiles or [], w.history, w, policy=policy)
    w.uploads.rowState.connect(w._upload_state)
    w.uploads.rowStates.connect(w._upload_states)
    w.uploads.rowDestination.connect(w._row_destination)
    w.upload_panel.destinationChanged.connect(w.model.set_current_destination)
    w.model.set_current_destination(w.upload_panel.destination_text())
    w.upload_panel.destinationChanged.connect(lambda _t: w._sync_upload_action())
    w.lookup.changed.connect(lambda _l: w._sync_upload_action())
    w.uploads.rowProgress.connect(w._upload_progress)
    w.uploads.throughputChanged.connect(w.upload_panel.show_throughput)
    w.uploads.message.connect(w.upload_panel.say)
    w.uploads.resendProblems.connect(lambda problems: QMessageBox.information(
        w, tr("Not sent again"), "\n".join(problems)))
    w.uploads.helperRestarted.connect(w._show_interrupted)  # the upload helper died
    w.upload_panel.uploadRequested.connect(w.start_upload)
    w.upload_panel.findPatientRequested.connect(a.find_patient.trigger)
    w.upload_panel.cancelAllRequested.connect(w.uploads.cancel_all)
    w.upload_panel.pauseToggled.connect(w.uploads.pause)

    w.profiles = ProfileManager(w._runner, w, w.upload_panel.current_profile)
    w.profiles.profilesLoaded.connect(w.set_profiles)
    w.profiles.problem.connect(w._show_problem)
    w.profiles.status.connect(lambda text: w._status(text, 5000))
    w.profiles.keyringReady.connect(w._keyring_ready)
    w.profiles.patientPicked.connect(w._patient_picked)
    w.profiles.recentChanged.connect(w.upload_panel.load_recent)
    w.profiles.searching.connect(
        lambda busy: w.upload_panel.find_patient_button.setEnabled(not busy))
    if sandbox:
        w.profiles.sandbox_profiles = list(profiles or [])
        a.profiles.setToolTip(tr("Show the built-in sandbox profiles (read-only)"))

    w.watches = w._make_watches(profiles or [])
    w.history_panel = HistoryPanel(w.history, model=w.shell.model if w.shell else None)
    w.history_model = w.history_panel.model
    w.uploads.jobsChanged.connect(w.history_panel.jobs_changed)
    w.history_panel.resendRequested.connect(w.resend)

    w.banner = make_banner(banner, sandbox)

    w.interrupted_bar = InterruptedBar()
    w.interrupted_bar.resumeRequested.connect(w.resume_interrupted)
    w.interrupted_bar.reviewRequested.connect(w.review_interrupted)
    w.interrupted_label = w.interrupted_bar.label
    w.resume_button = w.interrupted_bar.resume_button

    staging = QWidget()
    layout = QVBoxLayout(staging)
    layout.addWidget(w.files, 1)
    layout.addWidget(w.upload_panel)

    w.tabs = QTabWidget()
    w.tabs.addTab(staging, tr("&Send"))
    w.tabs.addTab(w.history_panel, tr("&History"))
    w.tabs.tabBar().setAccessibleName(tr("Send or History"))
    central = QWidget()
    outer = QVBoxLayout(central)
    margin = w.fontMetrics().horizontalAdvance("M") // 2
    outer.setContentsMargins(margin, margin, margin, 0)
    outer.addWidget(w.banner)
    outer.addWidget(w.interrupted_bar)
    outer.addWidget(w.tabs, 1)
    w.setCentralWidget(central)
    w.window_lock = WindowLock(w, lambda: w.profiles.secret_store, w._runner)
    w.clinic = ClinicHistory(w.history_panel, w._runner)
    file_menu = w.menuBar().actions()[0].menu() if w.menuBar().actions() else None
    if file_menu is not None:
        file_menu.insertAction(file_menu.actions()[-1], w.window_lock.action)

    w.count_label = QLabel()
    w.count_label.setAccessibleName(tr("File counts"))
    w.statusBar().addPermanentWidget(w.count_label)
    w.setAcceptDrops(True)
    restore_geometry(w, w.split, w._runner, size=w.shell is None)
    w._refresh_counts()
    w._profile_changed()
    if w.shell is not None:  # opened by the first frame, on the worker
        w.upload_panel.set_unavailable(tr("Opening the upload history…"), say=False)
        if w.shell.opened is not None:
            w._history_opened(*w.shell.opened)
    elif history is True:
        w.upload_panel.set_unavailable(tr("Opening the upload history…"), say=False)
        w._runner.run(open_history, w._history_opened)
    elif w.history is None:
        w.upload_panel.set_unavailable(tr("Sending is off: the upload history cannot "
                                             "be used."))
    else:  # a store given by the caller: the rest as after opening one
        store = w.history
        w._runner.run(lambda: OpenedHistory(store, interrupted=store.jobs(
            status=INTERRUPTED)), w._history_opened)
    # The HTTP stack is not needed to show the window; load it in the background
    # soon after, so the first Upload click does not pay for it on the UI thread.
    QTimer.singleShot(2000, lambda: w._runner.run(preload_network, lambda _r, _e: settled()))
    # What start-up made (modules, classes, widgets' wrappers) lives as long as the window:
    # moved out of the collector's sight, a full collection no longer walks it all (one
    # took 33-58 ms in the middle of a 200-file batch). Again once the HTTP stack is in.
    # The app's start paused the collector until now (gui/launch.py).
    window_built()
    if w.shell is not None:  # what was asked of the first frame
        if w.shell.dropped:
            w.add_paths(w.shell.dropped)
        if w._keyring_wanted is not None:
            w.profiles.start_keyring(*w._keyring_wanted)
