"""The automatic lock: idle time, the lock screen, PINs (salted hashes) and wrong answers."""

from __future__ import annotations

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
    idle = IdleWatcher(0.005)  # 300 ms
    idle.idle.connect(lambda: fired.append(1))
    try:
        for _ in range(5):  # keep typing every 100 ms: never idle
            qtbot.keyClick(label, Qt.Key.Key_A)
            qtbot.wait(100)
        assert fired == []
        qtbot.waitUntil(lambda: fired == [1], timeout=5000)
    finally:
        idle.stop()
