"""Unlocking an idle window: the same OS user confirms who they are.

* Linux with PAM: the user's own login password, checked by PAM (python-pam).
* Elsewhere, or where PAM is not usable: a PIN the user chose, kept only as a
  salted scrypt hash in the keyring (never the PIN itself, never a file).

Wrong answers are counted: after five in a row, unlocking waits 30 seconds.
Checks take a moment (scrypt, PAM): callers run them off the UI thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from uploader_gui.core.identity import os_user

PIN_ENTRY = "unlock-pin"
MIN_PIN = 4
MAX_FAILURES = 5
BACKOFF_SECONDS = 30.0
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class UnlockError(Exception):
    """Unlocking cannot be set up or checked; the message says why, in words."""


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(
        **_SCRYPT, salt=base64.b64encode(salt).decode(), digest=base64.b64encode(digest).decode())


def check_pin(pin: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if kind != "scrypt":
            return False
        salt, want = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


class EntryStore(Protocol):
    def get_app_entry(self, name: str) -> str | None: ...
    def set_app_entry(self, name: str, value: str) -> None: ...


def pam_usable() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import importlib.util

    if importlib.util.find_spec("pam") is None:  # python-pam; imported when a person unlocks
        return False
    return os.path.exists("/etc/pam.d/login") or os.path.exists("/etc/pam.d/other")


@dataclass
class Unlocker:
    """Checks that whoever unlocks is the user the window belongs to."""

    store: EntryStore | None
    use_pam: bool = False
    user: str = ""

    def __post_init__(self) -> None:
        self.user = self.user or os_user()
        self._failures = 0
        self._wait_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_this_desk(cls, store: EntryStore | None) -> Unlocker:
        return cls(store, use_pam=pam_usable())

    @property
    def method(self) -> str:
        return "password" if self.use_pam else "pin"

    def has_pin(self) -> bool:
        return bool(self.store and self.store.get_app_entry(PIN_ENTRY))

    def set_pin(self, pin: str) -> None:
        if len(pin) < MIN_PIN or not pin.isdigit():
            raise UnlockError(f"A PIN is at least {MIN_PIN} digits.")
        if self.store is None:
            raise UnlockError("There is no keyring to keep the PIN in on this computer.")
        self.store.set_app_entry(PIN_ENTRY, hash_pin(pin))

    def wait_left(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self._wait_until - now)

    def verify(self, answer: str) -> bool:
        """True when ``answer`` is this user's password (PAM) or PIN. Counts failures."""
        with self._lock:
            if self.wait_left() > 0:
                return False
        ok = self._check(answer)
        with self._lock:
            if ok:
                self._failures = 0
            else:
                self._failures += 1
                if self._failures >= MAX_FAILURES:
                    self._wait_until = time.monotonic() + BACKOFF_SECONDS
                    self._failures = 0
        return ok

    def _check(self, answer: str) -> bool:
        if not answer:
            return False
        if self.use_pam:
            import pam

            return bool(pam.authenticate(self.user, answer, service="login"))
        stored = self.store.get_app_entry(PIN_ENTRY) if self.store else None
        return bool(stored) and check_pin(answer, stored or "")
