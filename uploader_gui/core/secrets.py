"""The keyring facade: where profile secrets live, and only there.

One ``keyring`` entry per profile and role under the service ``uploader-gui``
(user name ``"<profile>/<role>"``). The backend is detected once, with a time
limit, and cached (probing D-Bus on every call is how other apps hung). Only
backends known to keep secrets in an OS store are used; the ``fail`` and
``null`` backends, ``keyrings.alt`` (plaintext or file) and anything unknown are
refused, and the user is told plainly how to get a secure keyring. The only
fallback is *session-only* mode: secrets held in this process's memory until it
ends. Nothing here ever writes a secret to a file.

A locked keyring, or an unlock prompt the user cancelled, raises
:class:`KeyringLockedError` ("the keyring is locked"), never a credential error.
Secret values are wrapped in :class:`Secret`, registered with the log redaction
filter, and never put into an exception's text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uploader_gui.core.logging_setup import register_secret
from uploader_gui.core.names import ROLE_LABELS, ROLES
from uploader_gui.core.targets.base import Credentials, Secret, TargetConfig

if TYPE_CHECKING:  # the keyring is imported when a secret is first looked up
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    """``MemoryKeyring`` is still importable from here; importing it loads the keyring."""
    if name == "MemoryKeyring":
        from uploader_gui.core.memory_keyring import MemoryKeyring

        return MemoryKeyring
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SERVICE = "uploader-gui"
#: Roles whose value may span several lines (PEM text). All others must be one line.
MULTILINE_ROLES = frozenset({"redox_private_key", "platform_key"})
DETECT_TIMEOUT = 8.0

SET = "set"
NOT_SET = "not set"
LOCKED = "locked"

HOW_TO_GET_ONE = (
    "On Linux, install and run a Secret Service such as GNOME Keyring (package "
    "“gnome-keyring”) or KWallet, and log in to a desktop session that unlocks it. On Windows "
    "and macOS the built-in store (Credential Manager, Keychain) works without any setup."
)

# Backends that keep secrets in an operating-system store, by module.
_SECURE_MODULES = {
    "keyring.backends.SecretService": "the Secret Service (GNOME Keyring or KWallet)",
    "keyring.backends.libsecret": "the Secret Service (libsecret)",
    "keyring.backends.kwallet": "KWallet",
    "keyring.backends.Windows": "Windows Credential Manager",
    "keyring.backends.macOS": "the macOS Keychain",
}


# --------------------------------------------------------------------------- errors


class SecretError(Exception):
    """A keyring problem, in words a clinic's IT person can act on. Never holds a secret."""


class KeyringLockedError(SecretError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (
            "The keyring is locked, so the saved credentials cannot be read. Unlock it (log in "
            "to the desktop again, or open “Passwords and Keys”) and try again. The credentials "
            "themselves were not rejected."))


class NoSecureKeyringError(SecretError):
    pass


class InvalidSecretError(ValueError):
    """The value typed or pasted is not usable as a secret. The message never repeats it."""


# --------------------------------------------------------------------------- values


def clean_secret(value: str | Secret, role: str = "token") -> str:
    """Strip surrounding whitespace and newlines; refuse control characters inside.

    A PEM private key keeps its inner line breaks (normalised to ``\\n``); every other
    role must be one line, so a pasted value can never inject an HTTP header.
    """
    if role not in ROLES:
        raise InvalidSecretError(f"Unknown secret kind “{role}”. Kinds: {', '.join(ROLES)}.")
    text = value.reveal() if isinstance(value, Secret) else str(value)
    text = text.strip()
    if role in MULTILINE_ROLES:
        text = "\n".join(line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n")
                         .split("\n"))
    if not text:
        raise InvalidSecretError(f"The {ROLE_LABELS[role]} is empty.")
    allowed = {"\n"} if role in MULTILINE_ROLES else set()
    if any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in allowed for c in text):
        raise InvalidSecretError(
            f"The {ROLE_LABELS[role]} contains control characters (such as a line break or a "
            "tab) in the middle. Copy it again, without anything around it.")
    return text


def entry_name(profile: str, role: str) -> str:
    return f"{profile}/{role}"


def roles_for(config: TargetConfig) -> tuple[str, ...]:
    """The secret roles a profile of this kind and auth uses."""
    if config.kind in ("claros", "redcap"):
        return ("token",)
    if config.kind == "redox":
        main = ("redox_private_key",) if config.auth == "jwt" else ("redox_api_key", "redox_secret")
        return (*main, "platform_key")
    return ()


def required_roles(config: TargetConfig) -> tuple[str, ...]:
    """The roles without which nothing can be sent (the Platform API secret is optional)."""
    return tuple(r for r in roles_for(config) if r != "platform_key")


def register_credentials(credentials: Credentials) -> None:
    """Tell the log redaction filter about every secret in these credentials."""
    for role in ROLES:
        value = getattr(credentials, role, None)
        if value:
            register_secret(value.reveal())


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class BackendStatus:
    """What the keyring backend is, and whether the app may keep secrets in it."""

    name: str  # module.Class
    label: str  # in words
    secure: bool
    message: str  # a full sentence for the user
    locked: bool | None = None  # None: unknown

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.name, "label": self.label, "secure": self.secure,
                "locked": self.locked, "message": self.message}


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def classify_backend(backend: Any) -> BackendStatus:
    """Is this backend a real OS store? Plaintext, file, fail and null backends are not."""
    name = _backend_name(backend)
    module = type(backend).__module__
    if module == "keyring.backends.chainer":
        children = list(getattr(backend, "backends", []))
        verdicts = [classify_backend(c) for c in children]
        if verdicts and all(v.secure for v in verdicts):
            return BackendStatus(name, " and ".join(v.label for v in verdicts), True,
                                 f"Credentials are kept in {verdicts[0].label}.")
        bad = [v for v in verdicts if not v.secure]
        why = bad[0].message if bad else "No keyring is available."
        return BackendStatus(name, "a chain of keyrings", False, why)
    from uploader_gui.core.memory_keyring import MemoryKeyring

    if isinstance(backend, MemoryKeyring):
        return BackendStatus(name, "an in-memory keyring", True,
                             "Credentials are kept in memory only (test keyring).")
    if module in _SECURE_MODULES:
        label = _SECURE_MODULES[module]
        return BackendStatus(name, label, True, f"Credentials are kept in {label}.")
    if module == "keyring.backends.fail":
        why = "No secure keyring (password store) was found on this computer."
    elif module == "keyring.backends.null":
        why = "The keyring is switched off (the “null” keyring is configured)."
    elif module.startswith("keyrings.alt") or "file" in module.lower():
        why = (f"The configured keyring ({name}) keeps passwords in a file, which this app "
               "does not allow for patient-data credentials.")
    else:
        why = f"The configured keyring ({name}) is not one this app knows to be secure."
    return BackendStatus(name, name, False, f"{why} {HOW_TO_GET_ONE}")


def _locked_state(backend: Any) -> bool | None:
    """For the Secret Service, whether the default collection is locked (no prompt)."""
    if type(backend).__module__ != "keyring.backends.SecretService":
        return None
    try:
        import secretstorage

        conn = secretstorage.dbus_init()
        try:
            collection = secretstorage.get_default_collection(conn)
            return bool(collection.is_locked())
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - a probe; the store call will report properly
        log.info("could not read the keyring's lock state: %s", type(exc).__name__)
        return None


def _default_probe() -> Any:
    import keyring

    return keyring.get_keyring()


def probe_backend(probe: Callable[[], Any] = _default_probe,
                  timeout: float = DETECT_TIMEOUT) -> tuple[Any, BackendStatus]:
    """Find the keyring backend in a helper thread, giving up after ``timeout`` seconds.

    Blocking: call it off the UI thread. Returns ``(backend or None, status)``.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            backend = probe()
            status = classify_backend(backend)
            if status.secure:
                locked = _locked_state(backend)
                if locked:
                    status = BackendStatus(status.name, status.label, True,
                                           f"{status.message} It is locked at the moment.", True)
                elif locked is False:
                    status = BackendStatus(status.name, status.label, True, status.message, False)
            box["result"] = (backend, status)
        except Exception as exc:  # noqa: BLE001 - reported in words below
            box["error"] = exc

    thread = threading.Thread(target=run, name="keyring-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, BackendStatus("timeout", "no answer", False,
                                   f"The keyring did not answer within {timeout:g} seconds. "
                                   f"{HOW_TO_GET_ONE}")
    if "error" in box:
        exc = box["error"]
        log.warning("keyring detection failed: %s", type(exc).__name__)
        return None, BackendStatus("error", "unavailable", False,
                                   f"The keyring could not be opened ({type(exc).__name__}). "
                                   f"{HOW_TO_GET_ONE}")
    return box["result"]


# --------------------------------------------------------------------------- the store


def _is_locked_error(exc: BaseException) -> bool:
    from keyring.errors import KeyringLocked

    if isinstance(exc, KeyringLocked):
        return True
    try:
        from secretstorage.exceptions import LockedException, PromptDismissedException
    except ImportError:  # pragma: no cover - not on Linux
        return False
    return isinstance(exc, LockedException | PromptDismissedException)


class SecretStore:
    """Profile secrets in the OS keyring, or (session-only mode) in this process's memory.

    ``backend`` is a keyring backend; it is used only when :func:`classify_backend` finds
    it secure. Without a secure backend the store refuses to keep anything until
    :meth:`use_session_only` is called. It never writes to disk itself.
    """

    def __init__(self, backend: KeyringBackend | None = None, *,
                 status: BackendStatus | None = None, session_only: bool = False) -> None:
        self._status = status or (classify_backend(backend) if backend is not None else
                                  BackendStatus("none", "none", False,
                                                f"No keyring is available. {HOW_TO_GET_ONE}"))
        self._backend = backend if self._status.secure else None
        self._session: dict[str, str] = {}
        self._session_only = session_only
        self._lock = threading.Lock()

    @classmethod
    def detect(cls, probe: Callable[[], Any] = _default_probe,
               timeout: float = DETECT_TIMEOUT) -> SecretStore:
        """Probe the system keyring once (blocking, with a time limit)."""
        backend, status = probe_backend(probe, timeout)
        log.info("keyring: %s (secure: %s, locked: %s)", status.name, status.secure, status.locked)
        return cls(backend, status=status)

    # ------------------------------------------------------------------ state

    @property
    def status(self) -> BackendStatus:
        return self._status

    @property
    def session_only(self) -> bool:
        return self._session_only

    @property
    def available(self) -> bool:
        """Secrets can be kept (in the keyring, or in memory in session-only mode)."""
        return self._session_only or self._backend is not None

    @property
    def persistent(self) -> bool:
        """Secrets survive the end of this process."""
        return self._backend is not None and not self._session_only

    def use_session_only(self) -> None:
        """Keep secrets in memory until the app quits; never on disk."""
        self._session_only = True

    def describe(self) -> str:
        if self._session_only:
            return ("Session-only mode: credentials are kept in memory until the app is closed, "
                    "and must be entered again next time. " +
                    ("" if self._backend is not None else self._status.message))
        return self._status.message

    def _require(self) -> KeyringBackend:
        if self._backend is None:
            raise NoSecureKeyringError(self._status.message)
        return self._backend

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except SecretError:
            raise
        except Exception as exc:  # noqa: BLE001 - keyring backends raise anything
            if _is_locked_error(exc):
                raise KeyringLockedError() from None
            log.warning("keyring %s failed: %s", what, type(exc).__name__)
            raise SecretError(f"The keyring could not {what} the credential "
                              f"({type(exc).__name__}). Check that the keyring is running and "
                              "unlocked, then try again.") from None

    # ------------------------------------------------------------------ entries

    def get(self, profile: str, role: str) -> Secret | None:
        if role not in ROLES:
            raise InvalidSecretError(f"Unknown secret kind “{role}”.")
        key = entry_name(profile, role)
        if self._session_only and key in self._session:
            value: str | None = self._session[key]
        elif self._session_only and self._backend is None:
            value = None
        else:
            backend = self._require()
            value = self._call("read", lambda: backend.get_password(SERVICE, key))
        if not value:
            return None
        register_secret(value)
        return Secret(value)

    def set(self, profile: str, role: str, value: str | Secret) -> None:
        text = clean_secret(value, role)
        register_secret(text)
        key = entry_name(profile, role)
        if self._session_only:
            with self._lock:
                self._session[key] = text
            return
        backend = self._require()
        self._call("save", lambda: backend.set_password(SERVICE, key, text))

    def delete(self, profile: str, role: str) -> None:
        key = entry_name(profile, role)
        with self._lock:
            self._session.pop(key, None)
        if self._backend is None:
            return
        backend = self._backend

        def remove() -> None:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(SERVICE, key)
            except PasswordDeleteError:
                pass  # nothing was stored

        if self._session_only:
            try:
                self._call("delete", remove)
            except SecretError:
                pass
        else:
            self._call("delete", remove)

    def delete_profile(self, profile: str) -> None:
        for role in ROLES:
            self.delete(profile, role)

    def rename_profile(self, old: str, new: str) -> None:
        if old == new:
            return
        for role in ROLES:
            value = self.get(old, role)
            if value:
                self.set(new, role, value)
                self.delete(old, role)

    def state(self, profile: str, roles: Iterable[str] = ROLES) -> dict[str, str]:
        """``{role: "set" | "not set" | "locked"}``, for showing instead of the values."""
        out: dict[str, str] = {}
        for role in roles:
            try:
                out[role] = SET if self.get(profile, role) else NOT_SET
            except KeyringLockedError:
                out[role] = LOCKED
            except NoSecureKeyringError:
                out[role] = NOT_SET
        return out

    def credentials(self, profile: str, roles: Iterable[str] = ROLES) -> Credentials:
        creds = Credentials()
        for role in roles:
            setattr(creds, role, self.get(profile, role))
        return creds

    # ------------------------------------------------------------------ app entries

    def get_app_entry(self, name: str) -> str | None:
        """An entry of the app's own (not a profile's), e.g. the unlock PIN's salted hash."""
        key = f"app/{name}"
        if self._session_only:
            return self._session.get(key)
        backend = self._require()
        value = self._call("read", lambda: backend.get_password(SERVICE, key))
        return str(value) if value else None

    def set_app_entry(self, name: str, value: str) -> None:
        key = f"app/{name}"
        if self._session_only:
            with self._lock:
                self._session[key] = value
            return
        backend = self._require()
        self._call("save", lambda: backend.set_password(SERVICE, key, value))


def credentials_for(config: TargetConfig, store: SecretStore) -> Credentials:
    """The secrets this profile needs, read from the store. Raises :class:`SecretError`."""
    return store.credentials(config.name, roles_for(config))


def missing_secrets(config: TargetConfig, credentials: Credentials) -> list[str]:
    """Labels of the required secrets that are not set."""
    return [ROLE_LABELS[r] for r in required_roles(config) if not getattr(credentials, r)]

