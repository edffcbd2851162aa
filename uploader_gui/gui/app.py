"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from uploader_gui import APP_NAME, __version__
from uploader_gui.gui.icons import app_icon

log = logging.getLogger(__name__)


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Clinic Document Uploader")
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_NAME)
    app.setWindowIcon(app_icon())
    return app


def run_gui(sandbox: bool = False) -> int:
    from uploader_gui.core.logging_setup import configure_logging
    from uploader_gui.gui.main_window import MainWindow

    configure_logging()
    app = make_app()
    window = MainWindow()
    window.show()
    code = app.exec()
    window.shutdown()
    return int(code)
