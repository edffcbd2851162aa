"""The keyring facade with an in-memory backend: roles, cleaning, refusals, locked, session-only."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from keyring.backends import fail, null

from uploader_gui.core import logging_setup
from uploader_gui.core.secrets import (
    LOCKED,
    NOT_SET,
    SERVICE,
    SET,
    InvalidSecretError,
    KeyringLockedError,
    MemoryKeyring,
    NoSecureKeyringError,
    SecretStore,
    classify_backend,
    clean_secret,
    credentials_for,
    missing_secrets,
    probe_backend,
    roles_for,
)
from uploader_gui.core.targets import Secret, TargetConfig

TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAx0fakefake\n"
       "QWERTYUIOPASDFGHJKLZXCVBNM0123456789abcdefghij\n-----END PRIVATE KEY-----")


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def store(backend: MemoryKeyring) -> SecretStore:
    return SecretStore(backend)


def test_one_entry_per_profile_and_role(store: SecretStore, backend: MemoryKeyring) -> None:
    store.set("Clinic REDCap", "token", "  " + TOKEN + "\n")
    store.set("Clinic Redox", "redox_private_key", PEM + "\r\n")
    assert backend.entries[(SERVICE, "Clinic REDCap/token")] == TOKEN
    assert backend.entries[(SERVICE, "Clinic Redox/redox_private_key")] == PEM
    got = store.get("Clinic REDCap", "token")
    assert isinstance(got, Secret) and got.reveal() == TOKEN
    assert TOKEN not in repr(got) and TOKEN not in str(got)
    assert store.get("Clinic REDCap", "platform_key") is None
    assert store.state("Clinic REDCap", ("token", "platform_key")) == {"token": SET,
                                                                       "platform_key": NOT_SET}
    store.delete("Clinic REDCap", "token")
    store.delete("Clinic REDCap", "token")  # deleting what is not there is fine
    assert store.get("Clinic REDCap", "token") is None


def test_rename_and_delete_profile(store: SecretStore, backend: MemoryKeyring) -> None:
    store.set("Old", "redox_api_key", "key-123456")
    store.set("Old", "redox_secret", "secret-123456")
    store.rename_profile("Old", "New")
    assert store.get("New", "redox_secret").reveal() == "secret-123456"
    assert store.get("Old", "redox_api_key") is None
    store.delete_profile("New")
    assert backend.entries == {}


@pytest.mark.parametrize("bad", ["abc\ndef", "tok\ten", "x\x00y", "x\x1b[31my", "tok\u0085en"])
def test_control_characters_refused_without_echo(store: SecretStore, bad: str) -> None:
    with pytest.raises(InvalidSecretError) as info:
        store.set("P", "token", bad)
    assert bad not in str(info.value) and "control characters" in str(info.value)


def test_cleaning() -> None:
    assert clean_secret("\t  abc123 \r\n") == "abc123"
    assert clean_secret(Secret(" k \n"), "platform_key") == "k"
    assert clean_secret("  " + PEM.replace("\n", "\r\n") + "\n\n", "redox_private_key") == PEM
    with pytest.raises(InvalidSecretError):
        clean_secret(" \n ")
    with pytest.raises(InvalidSecretError):
        clean_secret("x", "password")


def test_roles_follow_the_profile_kind() -> None:
    assert roles_for(TargetConfig("redcap", "https://r/api/")) == ("token",)
    assert roles_for(TargetConfig("redox", "https://r", auth="jwt")) == ("redox_private_key",
                                                                         "platform_key")
    assert roles_for(TargetConfig("redox", "https://r", auth="legacy"))[:2] == ("redox_api_key",
                                                                                "redox_secret")


def test_credentials_for(store: SecretStore) -> None:
    cfg = TargetConfig("redox", "https://r", name="R", auth="legacy")
    store.set("R", "redox_api_key", "key-123456")
    creds = credentials_for(cfg, store)
    assert creds.redox_api_key.reveal() == "key-123456" and creds.redox_secret is None
    assert missing_secrets(cfg, creds) == ["Redox API secret"]
    assert "key-123456" not in repr(creds)


def test_locked_keyring_reported_as_locked(store: SecretStore, backend: MemoryKeyring) -> None:
    store.set("P", "token", TOKEN)
    backend.locked = True
    with pytest.raises(KeyringLockedError) as info:
        store.get("P", "token")
    assert "locked" in str(info.value) and "not rejected" in str(info.value)
    assert store.state("P", ("token",)) == {"token": LOCKED}
    with pytest.raises(KeyringLockedError):
        store.set("P", "token", TOKEN)


class _FakePlaintext:  # stands in for keyrings.alt.file.PlaintextKeyring
    pass


_FakePlaintext.__module__ = "keyrings.alt.file"


@pytest.mark.parametrize("backend_obj, words", [
    (fail.Keyring(), "No secure keyring"),
    (null.Keyring(), "switched off"),
    (_FakePlaintext(), "keeps passwords in a file"),
])
def test_insecure_backends_refused(backend_obj, words: str, app_home: Path) -> None:
    status = classify_backend(backend_obj)
    assert not status.secure and words in status.message
    assert "GNOME Keyring" in status.message  # says how to get one
    store = SecretStore(backend_obj)
    assert not store.available and not store.persistent
    with pytest.raises(NoSecureKeyringError):
        store.set("P", "token", TOKEN)
    # Session-only mode is the only fallback, and it stays in memory.
    store.use_session_only()
    store.set("P", "token", TOKEN)
    assert store.get("P", "token").reveal() == TOKEN
    assert store.available and not store.persistent
    assert "memory" in store.describe()
    for f in app_home.rglob("*"):
        assert not f.is_file() or TOKEN.encode() not in f.read_bytes()


def test_secure_backends_recognised() -> None:
    from keyring.backends import SecretService

    assert classify_backend(SecretService.Keyring()).secure
    assert classify_backend(MemoryKeyring()).secure


def test_detection_is_bounded_in_time() -> None:
    release = threading.Event()

    def hangs():
        release.wait(5)
        return MemoryKeyring()

    backend, status = probe_backend(hangs, timeout=0.2)
    release.set()
    assert backend is None and not status.secure and "did not answer" in status.message
    store = SecretStore.detect(lambda: MemoryKeyring(), timeout=5)
    assert store.persistent and store.status.secure


def test_detection_error_in_words() -> None:
    def broken():
        raise RuntimeError("dbus said " + TOKEN)

    _, status = probe_backend(broken)
    assert not status.secure and "RuntimeError" in status.message and TOKEN not in status.message


def test_backend_failure_never_shows_the_exception_text(backend: MemoryKeyring) -> None:
    def explode(*a):
        raise OSError("weird failure " + TOKEN)

    backend.set_password = explode  # type: ignore[method-assign]
    with pytest.raises(Exception) as info:
        SecretStore(backend).set("P", "token", TOKEN)
    assert TOKEN not in str(info.value) and "OSError" in str(info.value)


def test_log_filter_redacts_loaded_secrets(store: SecretStore, app_home: Path) -> None:
    store.set("P", "token", "zz-secret-token-42")
    store.set("P", "redox_private_key", PEM)
    logger = logging.getLogger("uploader_gui.test")
    handler = logging.FileHandler(app_home / "t.log", encoding="utf-8")
    handler.addFilter(logging_setup.RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("token is %s", "zz-secret-token-42")
        logger.warning("key line %s", PEM.splitlines()[1])
        try:
            raise ValueError("boom zz-secret-token-42")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (app_home / "t.log").read_text()
    assert "zz-secret-token-42" not in text and PEM.splitlines()[1] not in text
    assert text.count("[secret]") >= 3  # message, key line, traceback (source line too)


def test_patient_identifiers_can_be_left_out(monkeypatch) -> None:
    logging_setup.note_patient_identifiers("MRN-778812", "1002")
    try:
        logging_setup.set_log_patient_identifiers(False)
        assert logging_setup.redact("patient MRN-778812 record 1002 id 10021") == \
            "patient [patient] record [patient] id 10021"
        logging_setup.set_log_patient_identifiers(None)
        monkeypatch.setenv(logging_setup.PATIENT_IDS_ENV, "0")
        assert "MRN-778812" not in logging_setup.redact("patient MRN-778812")
        monkeypatch.setenv(logging_setup.PATIENT_IDS_ENV, "1")
        assert "MRN-778812" in logging_setup.redact("patient MRN-778812")
    finally:
        logging_setup.set_log_patient_identifiers(None)
