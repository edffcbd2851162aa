"""The automatic lock: idle time, the lock screen, PINs (salted hashes) and wrong answers."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget

from uploader_gui.core.secrets import MemoryKeyring, SecretStore
from uploader_gui.core.unlock import (
    MAX_FAILURES,
    PIN_ENTRY,
    Unlocker,
    UnlockError,
    check_pin,
    hash_pin,
    pam_usable,
)
from uploader_gui.gui.lock_screen import IdleWatcher, LockScreen


@pytest.fixture
def store() -> SecretStore:
    return SecretStore(MemoryKeyring())


def test_pins_are_kept_as_salted_hashes(store) -> None:
    unlocker = Unlocker(store)
    with pytest.raises(UnlockError, match="at least 4 digits"):
        unlocker.set_pin("12")
    unlocker.set_pin("4821")
    stored = store.get_app_entry(PIN_ENTRY)
    assert stored and "4821" not in stored and stored.startswith("scrypt$")
    assert hash_pin("4821") != hash_pin("4821")  # a new salt every time
    assert check_pin("4821", stored) and not check_pin("4820", stored)
    assert not check_pin("4821", "garbage")


def test_wrong_answers_are_counted_and_slow_down(store) -> None:
    unlocker = Unlocker(store)
    unlocker.set_pin("4821")
    for _ in range(MAX_FAILURES):
        assert not unlocker.verify("0000")
    assert unlocker.wait_left() > 0
    assert not unlocker.verify("4821")  # even the right PIN waits now


def test_pam_rejects_a_wrong_password() -> None:
    if not pam_usable():
        if os.environ.get("CI"):  # python-pam comes with the app on Linux; CI must run this
            pytest.fail("PAM is not usable here (python-pam, /etc/pam.d/login)")
        pytest.skip("PAM is not usable here")
    assert not Unlocker(None, use_pam=True).verify("certainly-not-the-password")


def test_idle_window_locks_and_unlocks_with_the_pin(qtbot, store) -> None:
    unlocker = Unlocker(store)
    unlocker.set_pin("4821")
    stack = QStackedWidget()
    patient = QLabel("Ada Sandbox, born 1980-01-01 (1001)")
    lock = LockScreen(unlocker)
    stack.addWidget(patient)
    stack.addWidget(lock)
    qtbot.addWidget(stack)
    stack.show()
    idle = IdleWatcher(0.002)  # 120 ms

    def locked() -> None:
        stack.setCurrentWidget(lock)
        idle.pause()  # no countdown while locked

    def unlocked() -> None:
        stack.setCurrentWidget(patient)
        idle.minutes = 10  # the countdown starts again, too long to lock again in this test
        idle.resume()

    idle.idle.connect(locked)
    lock.unlocked.connect(unlocked)
    try:
        qtbot.waitUntil(lambda: stack.currentWidget() is lock, timeout=5000)
        assert not patient.isVisible() and lock.isVisible()
        qtbot.keyClicks(lock.answer, "1111")
        qtbot.keyClick(lock.answer, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "not right" in lock.problem.text(), timeout=10_000)
        assert stack.currentWidget() is lock and lock.answer.text() == ""
        qtbot.keyClicks(lock.answer, "4821")
        qtbot.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: stack.currentWidget() is patient, timeout=10_000)
        assert patient.isVisible()
        assert lock.answer.accessibleName() == "PIN" and lock.unlock_button.text() == "&Unlock"
    finally:
        idle.stop()
        lock.shutdown()


def test_input_restarts_the_countdown(qtbot) -> None:
    label = QLabel("x")
    qtbot.addWidget(label)
    label.show()
    fired = []
    idle = IdleWatcher(0.05)  # 3 s: no stall of a loaded machine between two keys is as long
    idle.idle.connect(lambda: fired.append(1))
    try:
        for _ in range(40):  # keep typing every 100 ms, for longer than the idle time
            qtbot.keyClick(label, Qt.Key.Key_A)
            qtbot.wait(100)
        assert fired == []
        qtbot.waitUntil(lambda: fired == [1], timeout=10_000)
    finally:
        idle.stop()


def test_the_window_locks_hiding_names_preview_and_history(qtbot, validator, sandbox,
                                                           tmp_path) -> None:
    """The real window: patient name, preview and History are hidden while locked; a first
    lock asks for a PIN; a wrong PIN fails; the right one unlocks. (PAM would ask for the
    login password of this user, which a test does not know: the PIN way is tested.)"""
    import filemaker as fm

    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.main_window import MainWindow

    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   sandbox=True)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.history is not None, timeout=10_000)
        lock = w.window_lock
        lock.unlocker.use_pam = False
        w.upload_panel.profile_combo.setCurrentIndex(
            w.upload_panel.profile_combo.findData("Sandbox Claros"))
        w.add_paths([fm.good_pdf(tmp_path / "letter.pdf")])
        qtbot.waitUntil(lambda: w.counts()["checking"] == 0 and w.model.rowCount() == 1,
                        timeout=30_000)
        w.upload_panel.patient.setText("1002")
        qtbot.waitUntil(lambda: "Ben Sandbox" in w.upload_panel.destination_label.text(),
                        timeout=10_000)
        w.view.selectRow(0)
        sensitive = [w.upload_panel.destination_label, w.preview, w.view]
        assert all(x.isVisible() for x in sensitive)
        lock.action.trigger()  # File ▸ Lock now; the idle timer does the same
        assert lock.locked and not any(x.isVisible() for x in sensitive)
        assert lock.screen.isVisible()
        screen = lock.screen
        qtbot.waitUntil(lambda: "choose one now" in screen.note.text(), timeout=10_000)
        qtbot.keyClicks(screen.answer, "12")  # too short
        qtbot.keyClick(screen.answer, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "at least 4 digits" in screen.problem.text(), timeout=10_000)
        qtbot.keyClicks(screen.answer, "2468")
        qtbot.keyClick(screen.answer, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not lock.locked, timeout=10_000)
        assert all(x.isVisible() for x in sensitive)
        w.tabs.setCurrentWidget(w.history_panel)
        assert w.history_panel.isVisible()
        lock.lock()
        assert not w.history_panel.isVisible()
        qtbot.waitUntil(lambda: "Type the PIN" in screen.note.text(), timeout=10_000)
        qtbot.keyClicks(screen.answer, "1357")
        qtbot.keyClick(screen.answer, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "not right" in screen.problem.text(), timeout=10_000)
        assert lock.locked and not w.history_panel.isVisible()
        qtbot.keyClicks(screen.answer, "2468")
        qtbot.keyClick(screen.answer, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not lock.locked, timeout=10_000)
        assert w.history_panel.isVisible()
        assert "Ben Sandbox" in w.upload_panel.destination_label.text()
    finally:
        w.shutdown()
