"""Closing the window while uploads run: stop them, or keep sending in the background.

With *Keep sending in the background* the window goes away at once; the upload helper
process (``core.dispatch_service``) finishes the queue and records every outcome. This
process stays only to say when it is done: a tray icon while it runs (where the desktop
has a tray) and a message at the end (the tray's, else a desktop notification), then it
quits.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from uploader_gui.core.jobs import FINAL, Job
from uploader_gui.gui.icons import app_icon
from uploader_gui.gui.upload_controller import UploadController

log = logging.getLogger(__name__)

CLOSE, BACKGROUND, CANCEL = "close", "background", "cancel"


def tr(text: str) -> str:
    return QCoreApplication.translate("Background", text)


def ask_on_close(parent: QWidget, n: int) -> str:
    """Ask before closing with uploads running: CLOSE, BACKGROUND or CANCEL (the default)."""
    box = QMessageBox(QMessageBox.Icon.Question, tr("Uploads are running"),
                      (tr("1 upload is still running or waiting.") if n == 1 else
                       tr("{n} uploads are still running or waiting.").format(n=n)),
                      parent=parent)
    box.setInformativeText(tr(
        "Keep sending: the window closes and the uploads go on; you are told when they are "
        "done. Stop: they are stopped now, and History keeps them so they can be resumed."))
    keep = box.addButton(tr("&Keep sending in the background"), QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton(tr("&Stop and close"), QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    return BACKGROUND if clicked is keep else CLOSE if clicked is stop else CANCEL


class BackgroundUploads(QObject):
    """Follows the uploads after the window closed; says how they ended; quits the app."""

    #: The sentence shown at the end (also for tests and the log).
    finished = Signal(str)

    def __init__(self, uploads: UploadController, quit_after_ms: int = 8000) -> None:
        app = QApplication.instance()
        super().__init__(app)
        self.uploads = uploads
        self.outcomes: dict[int, str] = {}
        self._quit_after = quit_after_ms
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(False)  # this object quits when the uploads are done
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip(tr("uploader-gui: sending in the background…"))
            self.tray.show()
        self.quit_timer = QTimer(self)
        self.quit_timer.setSingleShot(True)
        self.quit_timer.timeout.connect(QCoreApplication.quit)
        uploads.jobsChanged.connect(self._jobs_changed)
        uploads.backgroundFinished.connect(self._done)

    def _jobs_changed(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.id is not None and job.status in FINAL:
                self.outcomes[job.id] = job.status
        if self.tray is not None:
            n = self.uploads.active
            self.tray.setToolTip(tr("uploader-gui: {n} upload(s) still to go").format(n=n))

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for status in self.outcomes.values():
            counts[status] = counts.get(status, 0) + 1
        words = {"verified": tr("verified"), "sent": tr("sent, not yet verified"),
                 "failed": tr("failed"), "unknown": tr("not known whether they arrived"),
                 "cancelled": tr("cancelled")}
        parts = [f"{n} {words.get(status, status)}" for status, n in sorted(counts.items())]
        text = tr("The uploads sent in the background are done: {parts}.").format(
            parts=", ".join(parts) or tr("nothing more was sent"))
        if counts.get("failed") or counts.get("unknown"):
            text += " " + tr("Open uploader-gui and see History for what needs attention.")
        return text

    def _done(self) -> None:
        text = self.summary()
        log.info("%s", text)
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(tr("Uploads done"), text, QSystemTrayIcon.MessageIcon.Information)
        else:
            _notify(tr("Uploads done"), text)
        self.finished.emit(text)
        self.quit_timer.start(self._quit_after)  # time to read the message, then goodbye


def _notify(title: str, text: str) -> None:
    """A desktop notification (freedesktop) over the session bus, where there is one.

    jeepney comes with keyring on Linux; no bus (a service, a test) means no notification,
    and the sentence is in the log either way.
    """
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return
    address = DBusAddress("/org/freedesktop/Notifications",
                          bus_name="org.freedesktop.Notifications",
                          interface="org.freedesktop.Notifications")
    message = new_method_call(address, "Notify", "susssasa{sv}i",
                              ("uploader-gui", 0, "", title, text, [], {}, -1))
    try:
        with open_dbus_connection(bus="SESSION") as bus:
            bus.send_and_get_reply(message, timeout=2)
    except Exception as exc:  # noqa: BLE001 - no bus, no notification server: the log has it
        log.info("no desktop notification (%s)", type(exc).__name__)
