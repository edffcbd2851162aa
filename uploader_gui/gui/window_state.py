"""The window's size and its splitter, remembered between runs (read on a worker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QCoreApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from uploader_gui.gui.tasks import TaskRunner


def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


def initial_size(window: QMainWindow) -> tuple[int, int]:
    """A size from the font (high-DPI friendly), within the screen; the window takes it."""
    em, line = window.fontMetrics().horizontalAdvance("M"), window.fontMetrics().height()
    width, height = em * 110, line * 48
    screen = window.screen().availableGeometry() if window.screen() else None
    if screen is not None:
        width, height = min(width, screen.width()), min(height, screen.height())
    window.resize(width, height)
    return width, height


def apply_state(window: QMainWindow | None, split: QSplitter | None,
                state: dict[str, Any] | None) -> None:
    """The sizes the user left last time (read off the UI thread), where they are saved."""
    for key, restore in (("split", split.restoreState if split is not None else None),
                         ("geometry", window.restoreGeometry if window is not None else None)):
        value = (state or {}).get(key)
        if restore is not None and isinstance(value, str):
            try:
                restore(QByteArray.fromBase64(value.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                pass


def restore_geometry(window: QMainWindow, split: QSplitter | None, runner: TaskRunner, *,
                     size: bool = True) -> None:
    """A size from the font, the preview a third wide; then, once read off the UI thread,
    the sizes the user left last time. The first frame restores the window's size
    (``split`` None); the built window then its splitter (``size`` False)."""
    width = initial_size(window)[0] if size else window.width()
    if split is not None:
        split.setSizes([width * 2 // 3, width // 3])
    runner.run(_load_window_state, lambda state, _error: apply_state(
        window if size else None, split, state))


def _load_window_state() -> dict[str, Any] | None:
    """Worker thread (the module that reads it, too)."""
    from uploader_gui.core.recent import load_window_state

    return load_window_state()


def save_geometry(window: QMainWindow, split: QSplitter) -> None:
    from uploader_gui.core.recent import save_window_state

    save_window_state({
        "split": bytes(split.saveState().toBase64().data()).decode("ascii"),
        "geometry": bytes(window.saveGeometry().toBase64().data()).decode("ascii"),
    })
