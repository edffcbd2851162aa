"""The window's size and its splitter, remembered between runs (read on a worker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QCoreApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from uploader_gui.core.recent import load_window_state, save_window_state
from uploader_gui.gui.tasks import TaskRunner


def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


def restore_geometry(window: QMainWindow, split: QSplitter, runner: TaskRunner) -> None:
    """A size from the font (high-DPI friendly), the preview a third wide; then, once read
    off the UI thread, the sizes the user left last time."""
    em, line = window.fontMetrics().horizontalAdvance("M"), window.fontMetrics().height()
    width, height = em * 110, line * 48
    screen = window.screen().availableGeometry() if window.screen() else None
    if screen is not None:
        width, height = min(width, screen.width()), min(height, screen.height())
    window.resize(width, height)
    split.setSizes([width * 2 // 3, width // 3])

    def loaded(state: dict[str, Any] | None, error: BaseException | None) -> None:
        for key, restore in (("split", split.restoreState), ("geometry", window.restoreGeometry)):
            value = (state or {}).get(key)
            if isinstance(value, str):
                try:
                    restore(QByteArray.fromBase64(value.encode("ascii")))
                except (ValueError, UnicodeEncodeError):
                    pass

    runner.run(load_window_state, loaded)


def save_geometry(window: QMainWindow, split: QSplitter) -> None:
    save_window_state({
        "split": bytes(split.saveState().toBase64().data()).decode("ascii"),
        "geometry": bytes(window.saveGeometry().toBase64().data()).decode("ascii"),
    })
