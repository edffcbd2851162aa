"""The main window: files to send, who they go to, and the history of what went."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QMainWindow

from uploader_gui import APP_NAME
from uploader_gui.gui.icons import app_icon
from uploader_gui.gui.tasks import TaskRunner

if TYPE_CHECKING:  # the rest of the window is imported once its first frame is painted
    from collections.abc import Iterable
    from pathlib import Path

    from PySide6.QtGui import (
        QCloseEvent,
        QDragEnterEvent,
        QDragLeaveEvent,
        QDragMoveEvent,
        QDropEvent,
    )

    from uploader_gui.core.history import HistoryStore
    from uploader_gui.core.profiles import Profile
    from uploader_gui.core.retry import RetryPolicy
    from uploader_gui.core.staging import StagedFile
    from uploader_gui.core.validation import IsolatedValidator
    from uploader_gui.gui.watch_controller import WatchController
    from uploader_gui.gui.window_history import OpenedHistory

log = logging.getLogger(__name__)

def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


class MainWindow(QMainWindow):
    """Send tab (files, patient, Upload) and History tab."""

    #: Emitted whenever the counts in the status bar change: (ready, rejected, checking).
    countsChanged = Signal(int, int, int)
    #: The upload history is open (or could not be opened: see ``history_problem``).
    historyReady = Signal()
    #: The whole window is there now (emitted at once when there is no first frame).
    windowBuilt = Signal()

    def __init__(self, validator: IsolatedValidator | None = None,
                 profiles: list[Profile] | None = None, banner: str = "",
                 history: HistoryStore | bool | None = True,
                 policy: RetryPolicy | None = None, sandbox: bool = False, *,
                 first_frame: bool = False) -> None:
        """``first_frame``: paint a light frame first (the app's start), then import and
        build the rest in place (see :mod:`uploader_gui.gui.window_shell`); otherwise
        the whole window is built here."""
        super().__init__()
        self.setWindowTitle(tr("Clinic Document Uploader"))
        self.setWindowIcon(app_icon())
        self.setObjectName(APP_NAME)
        self._runner = TaskRunner(self, workers=2)
        self.shell = None
        args = (validator, profiles, banner, history, policy, sandbox)
        if first_frame and history is True:
            from uploader_gui.gui.window_shell import WindowShell

            self.shell = WindowShell(self, self._runner, list(profiles or []),
                                     lambda: self._build(*args), banner, sandbox)
            self.history_model = self.shell.model
            self._keyring_wanted: tuple[Any] | None = None
        else:
            self._build(*args)

    @property
    def built(self) -> bool:
        """Whether the whole window is there (not only its first frame)."""
        return self.shell is None or self.shell.built

    def _build(self, *args: Any) -> None:
        from uploader_gui.gui.window_build import build_window

        build_window(self, *args)
        self.windowBuilt.emit()

    # ------------------------------------------------------------------ history, uploads

    def _history_opened(self, opened: OpenedHistory | None, error: BaseException | None) -> None:
        from PySide6.QtWidgets import QMessageBox

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
            from PySide6.QtWidgets import QMessageBox

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
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.information(self, tr("Not sent again"), "\n".join(problems))

    # ------------------------------------------------------------------ profiles

    def _make_watches(self, profiles: list[Profile]) -> WatchController:
        from uploader_gui.gui.watch_controller import WatchController

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
        if not self.built:  # looked for once the window is built
            self._keyring_wanted = (detect,)
            return
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
        from uploader_gui.core.recent import save_last_profile
        from uploader_gui.gui.redcap_choices import project_choices

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
        if self.shell is not None and not self.shell.built:
            self.shell.drag_enter(event)
            return
        self.view.dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.shell is not None and not self.shell.built:
            self.shell.drag_enter(event)
            return
        self.view.dragMoveEvent(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        if self.built:
            self.view.dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if self.shell is not None and not self.shell.built:
            self.shell.drop(event)
            return
        self.view.dropEvent(event)

    # ------------------------------------------------------------------ the file list

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Stage files and folders. Folders are walked on a worker thread."""
        self.files.add_paths(paths)

    def selected_rows(self) -> list[int]:
        return self.files.selected_rows()

    def stage_copies(self, items: list[tuple[Path, list[dict[str, str]]]]) -> None:
        """Stage the app's private copies (scans, edited pages), each with its originals."""
        from uploader_gui.core.staging import staging_key

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
        from uploader_gui.core.names import KIND_LABELS
        from uploader_gui.gui.batch_summary import batch_summary

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
        if not self.built:  # closed at once: nothing was sent or staged yet
            self.shutdown()
            super().closeEvent(event)
            return
        from uploader_gui.gui.background import (
            BACKGROUND,
            CANCEL,
            CLOSE,
            BackgroundUploads,
            ask_on_close,
        )
        from uploader_gui.gui.window_state import save_geometry

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
        if not self.built:  # only the first frame: its worker and, once open, the history
            self._runner.shutdown()
            if self.shell is not None:
                self.shell.abandon_early()
            opened = self.shell.opened[0] if self.shell and self.shell.opened else None
            for store in (getattr(opened, "store", None), getattr(opened, "view", None)):
                if store is not None:
                    store.close()
            return
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
