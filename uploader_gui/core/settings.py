"""Settings IT rolls out: which database holds the clinic's history and audit trail.

Read, in order: the ``UPLOADER_GUI_DATABASE`` environment variable; the user's
``settings.toml`` (in the app's config folder); the machine's
``/etc/uploader-gui/settings.toml``. Nothing configured: this desk's SQLite.

A password never belongs here: PostgreSQL takes it from the keyring, or from a
libpq service file or ``.pgpass`` that the admin manages.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from uploader_gui.core.paths import config_dir

DATABASE_ENV = "UPLOADER_GUI_DATABASE"
SYSTEM_SETTINGS = Path("/etc/uploader-gui/settings.toml")


class SettingsError(Exception):
    """A settings file cannot be used; the message says which and why."""


LOCK_ENV = "UPLOADER_GUI_LOCK_MINUTES"
DEFAULT_LOCK_MINUTES = 10.0


def _load(path: Path) -> dict[str, object]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"The settings file {path} cannot be read: {exc}.") from exc
    import tomllib  # only when there is a file to read (most desks have none)

    try:
        with fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"The settings file {path} cannot be read: {exc}.") from exc


def lock_after_minutes() -> float:
    """Idle minutes before the window hides patient data (0: never). IT may set
    ``lock_after_minutes`` in a settings file; ``UPLOADER_GUI_LOCK_MINUTES`` overrides."""
    raw: object = os.environ.get(LOCK_ENV, "").strip() or None
    for path in (config_dir() / "settings.toml", SYSTEM_SETTINGS):
        if raw is not None:
            break
        raw = _load(path).get("lock_after_minutes")
    if raw is None:
        return DEFAULT_LOCK_MINUTES
    try:
        minutes = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingsError("lock_after_minutes must be a number of minutes (0: never).") from None
    return max(0.0, minutes)


def history_scope() -> str:
    """"clinic" (every desk's uploads, the default) or "desk" (this one's), for History."""
    for path in (config_dir() / "settings.toml", SYSTEM_SETTINGS):
        value = _load(path).get("history_scope")
        if value in ("clinic", "desk"):
            return str(value)
    return "clinic"


def _from_file(path: Path) -> str | None:
    data = _load(path)
    value = data.get("database")
    if value is not None and not isinstance(value, str):
        raise SettingsError(f"In {path}, database must be text such as "
                            '"postgresql://uploader@db.clinic.local/uploads".')
    return value or None


def database_url() -> str | None:
    """The configured PostgreSQL address, or None for this desk's SQLite."""
    value = os.environ.get(DATABASE_ENV, "").strip() or None
    for path in (config_dir() / "settings.toml", SYSTEM_SETTINGS):
        if value:
            break
        value = _from_file(path)
    if value and urlsplit(value).password:
        raise SettingsError("The database address must not contain a password: keep it in the "
                            "keyring, or in a .pgpass or service file managed by IT.")
    return value
