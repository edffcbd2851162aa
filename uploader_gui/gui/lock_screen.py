"""Automatic lock: after an idle time the window hides patient data behind a lock screen.

HIPAA's automatic logoff, 45 CFR 164.312(a)(2)(iii). Uploads go on while
locked; nothing is lost. Unlocking needs the same OS user: their login password
through PAM on Linux, else a PIN kept as a salted hash in the keyring. The
check runs on a worker, never on the UI thread.

* :class:`IdleWatcher`: any key or mouse input anywhere in the app restarts the
  countdown; at zero it emits ``idle``.
* :class:`LockScreen`: what the window shows instead of its content.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.unlock import Unlocker
from uploader_gui.gui.tasks import TaskRunner

_INPUT = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.Wheel, QEvent.Type.TouchBegin,
})


def tr(text: str) -> str:
    return QCoreApplication.translate("LockScreen", text)


class IdleWatcher(QObject):
    idle = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle)
        self._paused = False
        self._watching = False
        self.set_minutes(minutes)

    def set_minutes(self, minutes: float) -> None:
        self.minutes = minutes
        if minutes > 0 and not self._watching:
            # Only from now: every event of the app passes through this filter, and the
            # first of each kind costs PySide a wrapper type (~75 ms in all at start-up);
            # the window reads the setting on a worker, so this comes after its first paint.
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)
                self._watching = True
        if minutes > 0:
            self._timer.setInterval(int(minutes * 60_000))
            self._timer.start()
        else:
            self._timer.stop()

    def pause(self) -> None:
        self._paused = True
        self._timer.stop()

    def resume(self) -> None:
        self._paused = False
        self.set_minutes(self.minutes)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT and self.minutes > 0 and not self._paused:
            self._timer.start()  # restart the countdown
        return False

    def stop(self) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


class LockScreen(QWidget):
    unlocked = Signal()

    def __init__(self, unlocker: Unlocker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.unlocker = unlocker
        self._runner = TaskRunner(self, workers=1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        self.title = QLabel(tr("This window is locked"))
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.answer = QLineEdit()
        self.answer.setEchoMode(QLineEdit.EchoMode.Password)
        self.answer.returnPressed.connect(self.try_unlock)
        self.unlock_button = QPushButton(tr("&Unlock"))
        self.unlock_button.setDefault(True)
        self.unlock_button.setAccessibleName(tr("Unlock"))
        self.unlock_button.clicked.connect(self.try_unlock)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName(tr("Unlock problem"))
        row = QHBoxLayout()
        row.addWidget(self.answer, 1)
        row.addWidget(self.unlock_button)
        for w in (self.title, self.note):
            outer.addWidget(w)
        outer.addLayout(row)
        outer.addWidget(self.problem)
        outer.addStretch(2)
        self._setting_pin = False
        self._explain()

    def refresh(self) -> None:
        """Before showing: is there a PIN yet? (a keyring read, on the worker)."""
        if self.unlocker.method == "pin":
            self._runner.run(self.unlocker.has_pin, self._pin_known)

    def _pin_known(self, has: bool | None, error: BaseException | None) -> None:
        self._setting_pin = not has and error is None
        self._explain()

    def _explain(self) -> None:
        who = self.unlocker.user
        if self.unlocker.method == "password":
            what = tr("Type the login password of {user} to unlock.").format(user=who)
            self.answer.setAccessibleName(tr("Login password"))
        elif self._setting_pin:
            what = tr("No unlock PIN is set for {user} on this computer yet: choose one now "
                      "(4 or more digits). It is needed to unlock from now on.").format(user=who)
            self.answer.setAccessibleName(tr("New PIN"))
        else:
            what = tr("Type the PIN of {user} to unlock.").format(user=who)
            self.answer.setAccessibleName(tr("PIN"))
        self.note.setText(tr("Patient data is hidden because the window was not used for a "
                             "while. Uploads go on in the meantime.") + " " + what)

    def reset(self) -> None:
        self.answer.clear()
        self.problem.clear()
        self.answer.setFocus()

    def try_unlock(self) -> None:
        wait = self.unlocker.wait_left()
        if wait > 0:
            self.problem.setText(tr("Too many wrong tries: wait {s} seconds, then try again.")
                                 .format(s=int(wait) + 1))
            return
        answer = self.answer.text()
        self.answer.clear()
        self.unlock_button.setEnabled(False)
        if self._setting_pin:
            self._runner.run(self._set_pin, self._checked, answer)
            return
        self._runner.run(self.unlocker.verify, self._checked, answer)

    def _set_pin(self, pin: str) -> bool:
        self.unlocker.set_pin(pin)  # UnlockError (too short) comes back as the error
        self._setting_pin = False
        return True

    def _checked(self, ok: bool | None, error: BaseException | None) -> None:
        self.unlock_button.setEnabled(True)
        if ok:
            self.problem.clear()
            self.unlocked.emit()
            return
        if error is not None:
            self.problem.setText(str(error) if self._setting_pin else
                                 tr("The check could not be done: {e}").format(e=error))
        else:
            self.problem.setText(tr("That was not right. Try again."))
        self.answer.setFocus()

    def shutdown(self) -> None:
        self._runner.shutdown()
