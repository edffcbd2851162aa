"""Uploading from the window to the sandbox, the way a newcomer does in --sandbox mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

import filemaker as fm
import pytest
from PySide6.QtCore import Qt

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_NAME, COL_STATUS, StateRole


@pytest.fixture
def window(qtbot, validator, sandbox):
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   banner="Sandbox mode")
    w.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}  # dialog tested alone
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.history is not None, timeout=10_000)  # opened on a worker
    yield w
    w.shutdown()


def rows(window: MainWindow) -> dict[str, tuple[str, str]]:
    m = window.model
    return {m.index(r, COL_NAME).data(): (m.index(r, COL_STATUS).data(StateRole),
                                          m.index(r, COL_STATUS).data())
            for r in range(m.rowCount())}


def pick(window: MainWindow, name: str) -> None:
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData(name))


def test_sandbox_profiles_upload_to_claros(qtbot, window: MainWindow, sandbox, tmp_path: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "referral-gui.pdf", pages=2)
    png = fm.good_png(tmp_path / "photo-gui.png")
    pick(window, "Sandbox Claros")
    assert window.current_target() == "claros"
    window.add_paths([pdf, png])
    qtbot.waitUntil(lambda: window.counts()["checking"] == 0 and window.model.rowCount() == 2,
                    timeout=30_000)
    panel = window.upload_panel
    qtbot.waitUntil(panel.upload_button.isEnabled, timeout=30_000)  # the patient is looked up
    assert panel.upload_button.text() == "&Upload 2 files"
    assert panel.patient.text() == "1001"
    qtbot.mouseClick(panel.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: {s for s, _ in rows(window).values()} == {"verified"}, timeout=30_000)
    state = rows(window)
    assert state["referral-gui.pdf"][1].startswith("Sent and verified; id pdf_")
    # Claros takes PDF only: the photo went as a PDF made from it.
    [converted] = [r for r in sandbox.received("claros") if r["filename"] == "photo-gui.pdf"]
    assert Path(converted["path"]).read_bytes().startswith(b"%PDF-")
    [stored] = [r for r in sandbox.received("claros") if r["filename"] == "referral-gui.pdf"]
    assert stored["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: "2 sent" in window.count_label.text())
    # A sent file is not offered again.
    assert window.model.ready_files() == []
    assert panel.upload_button.text() == "&Upload" and not panel.upload_button.isEnabled()


def test_redcap_and_redox_from_the_window(qtbot, window: MainWindow, sandbox, tmp_path: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "lab-gui.pdf")
    window.add_paths([pdf])
    qtbot.waitUntil(lambda: window.counts()["ready"] == 1, timeout=30_000)
    pick(window, "Sandbox REDCap")
    qtbot.waitUntil(lambda: window.counts()["ready"] == 1, timeout=30_000)
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=30_000)
    qtbot.mouseClick(window.upload_panel.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows(window)["lab-gui.pdf"][0] == "verified", timeout=30_000)
    assert [r for r in sandbox.received("redcap") if r["filename"] == "lab-gui.pdf"]

    jpg = fm.good_jpeg(tmp_path / "wound-gui.jpg")
    window.add_paths([jpg])
    pick(window, "Sandbox Redox")
    qtbot.waitUntil(lambda: window.counts()["ready"] == 1, timeout=30_000)
    # Redox cannot look a patient up: the user types the name and date of birth.
    assert not window.upload_panel.upload_button.isEnabled()
    assert "name" in window.upload_panel.blocked_reason()
    window.upload_panel.patient_name.setText("Ada Sandbox")
    window.upload_panel.birth_date.setText("1980-01-01")
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=30_000)
    qtbot.mouseClick(window.upload_panel.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows(window)["wound-gui.jpg"][0] == "sent", timeout=30_000)
    assert "Redox log" in rows(window)["wound-gui.jpg"][1]
    assert "not yet confirmed" in rows(window)["wound-gui.jpg"][1]  # accepted, not verified


def test_unknown_patient_never_reaches_the_send_step(qtbot, window: MainWindow, sandbox,
                                                    tmp_path: Path) -> None:
    """Behaviour changed on purpose: a patient Claros does not list (here one of another
    account) keeps Upload disabled, with the reason in words, instead of failing on send."""
    pick(window, "Sandbox Claros")
    window.add_paths([fm.good_pdf(tmp_path / "other-account.pdf")])
    qtbot.waitUntil(lambda: window.counts()["ready"] == 1, timeout=30_000)
    panel = window.upload_panel
    panel.patient.setText("2001")
    qtbot.waitUntil(lambda: "has no patient 2001" in panel.lookup_label.text(), timeout=30_000)
    assert not panel.upload_button.isEnabled()
    assert "has no patient 2001" in panel.upload_button.toolTip()
    window.start_upload()  # a keyboard shortcut cannot get round it either
    assert rows(window)["other-account.pdf"][0] == "ready"
    assert not [r for r in sandbox.received("claros") if r["filename"] == "other-account.pdf"]
    assert window.uploads.history.jobs() == []


def test_server_error_is_shown_on_the_row(qtbot, window: MainWindow, sandbox, tmp_path: Path) -> None:
    pick(window, "Sandbox Claros")
    window.add_paths([fm.good_pdf(tmp_path / "server-error.pdf")])
    qtbot.waitUntil(lambda: window.counts()["ready"] == 1, timeout=30_000)
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=30_000)
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=400, body={"detail": "Scanner test."})
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=30_000)
    qtbot.mouseClick(window.upload_panel.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows(window)["server-error.pdf"][0] == "failed", timeout=30_000)
    qtbot.waitUntil(lambda: "1 failed" in window.count_label.text())
    assert "1 failed" in window.upload_panel.summary.text()


def test_no_profiles_means_no_upload(qtbot, validator, tmp_path: Path) -> None:
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.add_paths([fm.good_pdf(tmp_path / "a.pdf")])
    qtbot.waitUntil(lambda: w.counts()["ready"] == 1, timeout=30_000)
    assert not w.upload_panel.upload_button.isEnabled()
    assert "--sandbox" in w.upload_panel.message.text()
    w.shutdown()


def test_saved_profiles_load_with_keyring_secrets(qtbot, validator, sandbox, tmp_path) -> None:
    from uploader_gui.core.profiles import Profile, save_profile_set
    from uploader_gui.core.secrets import MemoryKeyring, SecretStore
    from uploader_gui.core.targets import Credentials, TargetConfig

    save_profile_set([Profile(TargetConfig(kind="claros", base_url=sandbox.url, name="Clinic A",
                                           confirm=False), Credentials())])
    store = SecretStore(MemoryKeyring())
    store.set("Clinic A", "token", "sandbox-claros-key\n")  # pasted with a newline
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.show()
    try:
        assert not w.profiles_button.isEnabled()
        w.start_keyring(detect=lambda: store)
        qtbot.waitUntil(lambda: w.upload_panel.current_profile() is not None, timeout=10_000)
        assert w.profiles_button.isEnabled()
        profile = w.upload_panel.current_profile()
        assert profile.name == "Clinic A" and profile.credentials.token
        assert "sandbox-claros-key" not in repr(profile.credentials)
        w.upload_panel.patient.setText("1002")
        w.add_paths([fm.good_pdf(tmp_path / "keyring.pdf")])
        qtbot.waitUntil(lambda: w.counts()["ready"] == 1, timeout=30_000)
        qtbot.waitUntil(w.upload_panel.upload_button.isEnabled, timeout=30_000)
        w.upload_panel.upload_button.click()
        qtbot.waitUntil(lambda: w.counts()["sent"] == 1, timeout=30_000)
    finally:
        w.shutdown()


def test_no_keyring_offers_session_only(qtbot, validator, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from uploader_gui.core.secrets import SecretStore
    from uploader_gui.gui import keyring_status, window_profiles

    asked = []

    def answer_yes(*args, **kwargs):
        asked.append(args[2])
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(window_profiles, "offer_session_only", lambda parent, store:
                        keyring_status.offer_session_only(parent, store, ask=answer_yes))
    store = SecretStore(None)
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    try:
        w.start_keyring(detect=lambda: store)
        qtbot.waitUntil(lambda: w.secret_store is not None, timeout=10_000)
        assert asked and "session-only" in asked[0]
        assert store.session_only and store.available
    finally:
        w.shutdown()
