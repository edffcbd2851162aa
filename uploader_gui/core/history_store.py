"""Which history this computer uses: the clinic's PostgreSQL when IT configured one
(``UPLOADER_GUI_DATABASE`` or ``database`` in settings.toml), else this desk's SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING

from uploader_gui.core.history import HistoryError, HistoryStore
from uploader_gui.core.settings import SettingsError, database_url

if TYPE_CHECKING:
    from uploader_gui.core.history_pg import PostgresHistoryStore


def open_store(**sqlite_options: bool) -> HistoryStore | PostgresHistoryStore:
    """Raises HistoryError, in words, when the configured history cannot be used."""
    try:
        url = database_url()
    except SettingsError as exc:
        raise HistoryError(str(exc)) from None
    if url:
        from uploader_gui.core.history_pg import PostgresHistoryStore

        return PostgresHistoryStore(url)
    return HistoryStore(**sqlite_options)  # type: ignore[arg-type]


def shared() -> bool:
    """Whether the history is the clinic's (other desks write to it too)."""
    try:
        return bool(database_url())
    except SettingsError:
        return False
