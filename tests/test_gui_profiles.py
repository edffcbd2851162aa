"""The profile editor driven against the sandbox: REDCap discovery, test, save, secrets state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.profiles import load_profile_set, profiles_path, save_profile_set
from uploader_gui.core.secrets import SERVICE, MemoryKeyring, SecretStore
from uploader_gui.gui.keyring_status import KeyringProbe, load_session_profiles
from uploader_gui.gui.profile_dialog import ProfileDialog
from uploader_gui.gui.tasks import TaskRunner
from uploader_gui.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def dialog(qtbot, backend):
    d = ProfileDialog(SecretStore(backend))
    qtbot.addWidget(d)
    d.show()
    yield d
    d.done(0)


def type_secret(dialog: ProfileDialog, role: str, value: str) -> None:
    edit = dialog.secret_edits[role]
    if hasattr(edit, "setText"):
        edit.setText(value)
        edit.editingFinished.emit()
    else:
        edit.setPlainText(value)


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def combo_data(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


def test_redcap_profile_discovers_fields_tests_and_saves(qtbot, dialog: ProfileDialog, sandbox,
                                                         backend: MemoryKeyring) -> None:
    token = sandbox.credentials["redcap_longitudinal_token"]
    assert dialog.name_edit.text() == "New profile"  # an empty list starts a new profile
    dialog.name_edit.setText("Study REDCap")
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("redcap"))
    assert not dialog.secrets_form.isRowVisible(dialog.secret_edits["redox_secret"].parentWidget())
    dialog.url_edit.setText(sandbox.url + "/api/")
    type_secret(dialog, "token", f"  {token}\n")  # entering the token loads the project
    qtbot.waitUntil(lambda: dialog.field_combo.count() > 0, timeout=15_000)
    assert combo_data(dialog.field_combo) == ["lab_report", "scan_doc"]  # "sig" is a signature
    assert "Signature fields are left out" in dialog.result_label.text()
    dialog.field_combo.setCurrentIndex(dialog.field_combo.findData("scan_doc"))
    assert combo_data(dialog.event_combo) == ["baseline_arm_1", "followup_arm_1"]
    dialog.event_combo.setCurrentIndex(dialog.event_combo.findData("followup_arm_1"))
    dialog.repeat_spin.setValue(2)

    click(qtbot, dialog.test_button)
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled()
                    and "Testing" not in dialog.result_label.text(), timeout=15_000)
    assert "Connected to REDCap" in dialog.result_label.text()

    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: dialog.secret_state("token") == "set", timeout=10_000)
    assert backend.entries[(SERVICE, "Study REDCap/token")] == token
    assert dialog.secret_edits["token"].text() == ""  # never shown again
    saved = load_profile_set()["Study REDCap"]
    assert saved.config.redcap_field == "scan_doc" and saved.config.redcap_event == "followup_arm_1"
    assert saved.defaults.repeat_instance == 2
    assert token not in profiles_path().read_text()

    # Reopened later: the token shows only as "set", and the stored one is used for a test.
    again = ProfileDialog(SecretStore(backend))
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.secret_state("token") == "set", timeout=10_000)
    click(qtbot, again.test_button)
    qtbot.waitUntil(lambda: "Connected" in again.result_label.text(), timeout=15_000)
    again.done(0)


def test_redox_fields_and_bad_secret(qtbot, dialog: ProfileDialog, sandbox) -> None:
    creds = sandbox.credentials
    dialog.name_edit.setText("Redox")
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("redox"))
    assert dialog.form.isRowVisible(dialog.client_id_edit)
    assert not dialog.form.isRowVisible(dialog.field_combo)
    dialog.url_edit.setText(sandbox.url)
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("legacy"))
    assert not dialog.form.isRowVisible(dialog.client_id_edit)
    dialog.destinations_edit.setPlainText(f"{creds['redox_destinations'][0]['ID']} = Sandbox EHR")
    type_secret(dialog, "redox_api_key", creds["redox_api_key"])
    type_secret(dialog, "redox_secret", "not-the-secret")
    click(qtbot, dialog.test_button)
    qtbot.waitUntil(lambda: "The test failed" in dialog.result_label.text(), timeout=15_000)
    assert "not-the-secret" not in dialog.result_label.text()
    type_secret(dialog, "redox_secret", creds["redox_secret"])
    click(qtbot, dialog.test_button)
    qtbot.waitUntil(lambda: "Connected to Redox" in dialog.result_label.text(), timeout=15_000)
    assert dialog.profile_from_form().config.destinations == [
        {"ID": creds["redox_destinations"][0]["ID"], "Name": "Sandbox EHR"}]


def test_http_refused_and_control_characters_refused(qtbot, dialog: ProfileDialog,
                                                     backend: MemoryKeyring) -> None:
    dialog.name_edit.setText("Plain")
    dialog.url_edit.setText("http://backend.example.org")
    assert dialog.save() is False
    assert "does not use HTTPS" in dialog.result_label.text()
    dialog.url_edit.setText("https://backend.example.org")
    type_secret(dialog, "token", "abc\ndef")
    assert dialog.save() is False and "control characters" in dialog.result_label.text()
    assert not profiles_path().exists() and backend.entries == {}


def test_duplicate_rename_and_delete(qtbot, backend: MemoryKeyring, sandbox) -> None:
    save_profile_set(sandbox_profiles(sandbox.url, sandbox.credentials))
    store = SecretStore(backend)
    store.set("Sandbox Claros", "token", "sandbox-claros-key")
    d = ProfileDialog(store)
    qtbot.addWidget(d)
    assert d.list.count() == 3 and d.name_edit.text() == "Sandbox Claros"
    qtbot.waitUntil(lambda: d.secret_state("token") == "set", timeout=10_000)

    click(qtbot, d.duplicate_button)
    assert d.name_edit.text() == "Sandbox Claros (copy)" and d.secret_state("token") == "not set"
    assert d.save()
    assert list(load_profile_set()) == ["Sandbox Claros", "Sandbox REDCap", "Sandbox Redox",
                                        "Sandbox Claros (copy)"]

    d.list.setCurrentRow(0)
    d.name_edit.setText("Front desk Claros")
    assert d.save()
    qtbot.waitUntil(lambda: (SERVICE, "Front desk Claros/token") in backend.entries, timeout=10_000)
    assert (SERVICE, "Sandbox Claros/token") not in backend.entries
    assert next(iter(load_profile_set())) == "Front desk Claros"

    d.confirm = lambda text: True
    click(qtbot, d.delete_button)
    qtbot.waitUntil(lambda: backend.entries == {}, timeout=10_000)
    assert "Front desk Claros" not in load_profile_set() and d.list.count() == 3
    d.done(0)


def test_no_secure_keyring_offers_session_only(qtbot, app_home: Path, sandbox) -> None:
    store = SecretStore(fail.Keyring())
    d = ProfileDialog(store)
    qtbot.addWidget(d)
    d.show()
    assert "No secure keyring" in d.keyring_label.text() and d.session_button.isVisible()
    d.name_edit.setText("Claros")
    d.url_edit.setText(sandbox.url)
    type_secret(d, "token", "sandbox-claros-key")
    assert d.save() is False and "session-only" in d.result_label.text()
    click(qtbot, d.session_button)
    assert "Session-only" in d.keyring_label.text()
    assert d.save()
    qtbot.waitUntil(lambda: d.secret_state("token") == "set", timeout=10_000)
    click(qtbot, d.test_button)
    qtbot.waitUntil(lambda: "Connected to Claros" in d.result_label.text(), timeout=15_000)
    for f in app_home.rglob("*"):
        assert not f.is_file() or b"sandbox-claros-key" not in f.read_bytes()
    d.done(0)


def test_locked_keyring_shown_as_locked(qtbot, backend: MemoryKeyring, sandbox) -> None:
    save_profile_set(sandbox_profiles(sandbox.url, sandbox.credentials)[:1])
    SecretStore(backend).set("Sandbox Claros", "token", "sandbox-claros-key")
    backend.locked = True
    d = ProfileDialog(SecretStore(backend))
    qtbot.addWidget(d)
    qtbot.waitUntil(lambda: d.secret_state("token") == "keyring locked", timeout=10_000)
    click(qtbot, d.test_button)
    qtbot.waitUntil(lambda: "The test failed" in d.result_label.text(), timeout=15_000)
    assert "keyring is locked" in d.result_label.text() and "refused" not in d.result_label.text()
    d.done(0)


def test_probe_and_session_profiles(qtbot, backend: MemoryKeyring, sandbox) -> None:
    save_profile_set(sandbox_profiles(sandbox.url, sandbox.credentials))
    SecretStore(backend).set("Sandbox REDCap", "token", sandbox.credentials["redcap_token"])
    runner = TaskRunner(workers=1)
    probe = KeyringProbe(runner, detect=lambda: SecretStore.detect(lambda: backend))
    with qtbot.waitSignal(probe.ready, timeout=10_000) as blocker:
        probe.start()
    store = blocker.args[0]
    assert store.persistent
    profiles, problems = load_session_profiles(store)
    by_name = {p.name: p for p in profiles}
    assert not problems
    assert by_name["Sandbox REDCap"].credentials.token.reveal() == sandbox.credentials["redcap_token"]
    assert by_name["Sandbox Claros"].credentials.token is None
    assert json.loads(profiles_path().read_text())["format"] == "uploader-gui profiles"
    runner.shutdown()


def test_redox_delivery_settings_notes_and_help(qtbot, dialog: ProfileDialog, sandbox,
                                                backend: MemoryKeyring) -> None:
    creds = sandbox.credentials
    dialog.name_edit.setText("Redox logs")
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("redox"))
    dialog.url_edit.setText(sandbox.url)
    # What each secret is for, legacy keys deprecated, and today's 30 MB figure.
    assert "sends documents" in dialog.secrets_help.text()
    assert "delivery logs" in dialog.secrets_help.text()
    assert dialog.form.isRowVisible(dialog.size_help) and "30 MB" in dialog.size_help.text()
    assert not dialog.form.isRowVisible(dialog.legacy_note)
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("legacy"))
    assert dialog.form.isRowVisible(dialog.legacy_note) and "deprecated" in dialog.legacy_note.text()
    assert "JWT" in dialog.legacy_note.text()
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("jwt"))
    assert dialog.data_model_combo.currentData() == "Media"  # the default
    dialog.data_model_combo.setCurrentIndex(dialog.data_model_combo.findData("Notes"))
    dialog.client_id_edit.setText("sandbox-client")
    dialog.key_id_edit.setText("sandbox-rsa")
    dialog.destinations_edit.setPlainText(f"{creds['redox_destinations'][0]['ID']} = Sandbox EHR")
    dialog.platform_env_edit.setText(creds["redox_environment_id"])
    dialog.platform_client_edit.setText(creds["redox_platform_client_id"])
    type_secret(dialog, "redox_private_key", creds["redox_rsa_private_key"])
    type_secret(dialog, "platform_key", creds["redox_rsa_private_key"])  # PEM: several lines
    assert dialog.save() is True, dialog.result_label.text()
    qtbot.waitUntil(lambda: dialog.secret_state("platform_key") == "set", timeout=10_000)
    [saved] = load_profile_set().values()
    c = saved.config
    assert (c.redox_data_model, c.platform_environment_id, c.platform_client_id) == (
        "Notes", "sandbox-env", "sandbox-platform-key")
    assert backend.entries[(SERVICE, "Redox logs/platform_key")].startswith("-----BEGIN")
    assert creds["redox_rsa_private_key"] not in profiles_path().read_text()
    again = ProfileDialog(SecretStore(backend))
    qtbot.addWidget(again)
    assert again.data_model_combo.currentData() == "Notes"
    assert again.platform_env_edit.text() == "sandbox-env"
    again.done(0)
