"""The window's size and its splitter, remembered between runs (read on a worker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QCoreApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from uploader_gui.gui.tasks import TaskRunner


def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


def restore_geometry(window: QMainWindow, split: QSplitter | None, runner: TaskRunner, *,
                     size: bool = True) -> None:
    """A size from the font (high-DPI friendly), the preview a third wide; then, once read
    off the UI thread, the sizes the user left last time. The first frame restores the
    window's size (``split`` None); the built window then its splitter (``size`` False)."""
    em, line = window.fontMetrics().horizontalAdvance("M"), window.fontMetrics().height()
    width, height = em * 110, line * 48
    screen = window.screen().availableGeometry() if window.screen() else None
    if screen is not None:
        width, height = min(width, screen.width()), min(height, screen.height())
    if size:
        window.resize(width, height)
    if split is not None:
        split.setSizes([window.width() * 2 // 3, window.width() // 3] if not size
                       else [width * 2 // 3, width // 3])
    restores: list[tuple[str, Any]] = []
    if split is not None:
        restores.append(("split", split.restoreState))
    if size:
        restores.append(("geometry", window.restoreGeometry))

    def loaded(state: dict[str, Any] | None, error: BaseException | None) -> None:
        for key, restore in restores:
            value = (state or {}).get(key)
            if isinstance(value, str):
                try:
                    restore(QByteArray.fromBase64(value.encode("ascii")))
                except (ValueError, UnicodeEncodeError):
                    pass

    runner.run(_load_window_state, loaded)


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
