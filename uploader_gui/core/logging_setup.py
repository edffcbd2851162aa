"""A rotating log file in the app's log folder. Never logs request bodies or secrets.

Every record written passes :class:`RedactingFilter`, which replaces any known
secret value (registered by the keyring facade when a secret is loaded or saved,
see :func:`register_secret`) with ``[secret]``: a second line of defence after
:class:`~uploader_gui.core.targets.base.Secret`, which never prints itself.

Patient identifiers: by default they may appear where needed (a failed upload
names its patient or record). With the setting off, either by
``UPLOADER_GUI_LOG_PATIENT_IDS=0`` in the environment or by
:func:`set_log_patient_identifiers(False) <set_log_patient_identifiers>`, every
identifier registered with :func:`note_patient_identifiers` (the queue does this
for each job's patient ID and record) is written as ``[patient]`` instead.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

from uploader_gui.core.log_buffer import (  # noqa: F401 - buffer_early_records re-exported
    EARLY_LIMIT,
    _EarlyRecords,
    buffer_early_records,
)

LOG_NAME = "uploader-gui.log"
PATIENT_IDS_ENV = "UPLOADER_GUI_LOG_PATIENT_IDS"
SECRET_MARK = "[secret]"  # noqa: S105 - the replacement text, not a secret
PATIENT_MARK = "[patient]"
#: Shorter values are too likely to match ordinary text; secrets are longer than this.
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_patient_ids: set[str] = set()
_log_patient_ids: bool | None = None  # None: from the environment


def secret_forms(value: str) -> set[str]:
    """The value as it may come back from a server: raw, URL-encoded, base64 (both alphabets)."""
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    raw = value.encode("utf-8")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.update((text, text.rstrip("=")))
    return forms


def register_secret(value: str) -> None:
    """Scrub this value (and, for PEM text, each of its lines) from logs and messages.

    Every form a server might echo is registered: raw, URL-encoded and base64.
    """
    if not value or not value.strip():
        return
    parts = {value.strip()}
    if "\n" in value:
        parts.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
    forms: set[str] = set()
    for part in parts:
        if len(part) >= MIN_SECRET_LENGTH:
            forms |= secret_forms(part)
    with _lock:
        _secrets.update(f for f in forms if len(f) >= MIN_SECRET_LENGTH)


def scrub_secrets(text: str) -> str:
    """The text with every registered secret, in any of its forms, replaced by ``[secret]``.

    The one place server messages, errors and anything stored or printed pass through
    (see ``core.outcome``); unlike :func:`redact` it leaves patient identifiers alone.
    """
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, SECRET_MARK)
    return text


def note_patient_identifiers(*values: str | None) -> None:
    """Identifiers to leave out of the log when the patient-identifier setting is off."""
    with _lock:
        _patient_ids.update(v.strip() for v in values if v and v.strip())


def set_log_patient_identifiers(enabled: bool | None) -> None:
    """Override the setting (None: follow ``UPLOADER_GUI_LOG_PATIENT_IDS``, default on)."""
    global _log_patient_ids
    _log_patient_ids = enabled


def log_patient_identifiers() -> bool:
    if _log_patient_ids is not None:
        return _log_patient_ids
    return os.environ.get(PATIENT_IDS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def redact(text: str) -> str:
    """The text with every registered secret (and, if so set, patient identifier) replaced."""
    text = scrub_secrets(text)
    with _lock:
        ids = sorted(_patient_ids, key=len, reverse=True) if not log_patient_identifiers() else []
    for value in ids:
        text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", PATIENT_MARK, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the record
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _swap_early(root: logging.Logger, handler: logging.Handler | None
                ) -> list[logging.LogRecord]:
    """Put ``handler`` where the early buffer was (one assignment, so a record logged on
    another thread meanwhile goes to one of them, never both); the buffer's records."""
    early = [h for h in root.handlers if isinstance(h, _EarlyRecords)]
    kept = [h for h in root.handlers if not isinstance(h, _EarlyRecords)]
    root.handlers = kept + ([handler] if handler is not None else [])
    records: list[logging.LogRecord] = []
    for buffer in early:
        records += buffer.take(handler)
    return records


def configure_logging(level: int = logging.INFO, name: str = LOG_NAME) -> None:
    """Log to ``name`` in the log folder (a helper process has a file of its own, so two
    processes never rotate one file). Records held by :func:`buffer_early_records` are
    written first."""
    from uploader_gui.core.log_file import PrivateRotatingFileHandler
    from uploader_gui.core.paths import log_dir

    root = logging.getLogger()
    if any(getattr(h, "_uploader_gui", False) for h in root.handlers):
        return
    path = log_dir() / name
    try:
        handler = PrivateRotatingFileHandler(
            path, maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:  # a read-only or full disk: go on without a log file
        import sys

        print(f"uploader-gui: the log file {path} cannot be written ({exc.strerror}); "
              "continuing without it.", file=sys.stderr)
        # What was held goes where it would have gone with no buffer: warnings to stderr.
        for record in _swap_early(root, None):
            if record.levelno >= logging.WARNING and logging.lastResort is not None:
                logging.lastResort.handle(record)
        return
    handler._uploader_gui = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.setLevel(level)
    for record in _swap_early(root, handler):
        if record.levelno >= level:
            handler.handle(record)
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


def __getattr__(name: str) -> Any:
    """``PrivateRotatingFileHandler`` lives in ``core.log_file`` (imported when asked for)."""
    if name == "PrivateRotatingFileHandler":
        from uploader_gui.core.log_file import PrivateRotatingFileHandler

        return PrivateRotatingFileHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
