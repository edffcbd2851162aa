"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import sys
from html import escape

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


def run_gui(use_sandbox: bool = False) -> int:
    from uploader_gui.core.logging_setup import configure_logging
    from uploader_gui.gui.main_window import MainWindow

    configure_logging()
    app = make_app()
    sandbox = None
    profiles = []
    banner = ""
    if use_sandbox:
        from uploader_gui.cli.sandbox_profiles import sandbox_profiles
        from uploader_gui.core.paths import data_dir
        from uploader_gui.sandbox import Sandbox

        sandbox = Sandbox(data_dir() / "sandbox", keep_port=True).start()
        profiles = sandbox_profiles(sandbox.url, sandbox.credentials)
        banner = (
            "<b>Sandbox mode</b>: uploads go to a built-in test system on this computer, "
            f"not to any real clinic system. Received files are kept in "
            f"{escape(str(data_dir() / 'sandbox'))}."
        )
    window = MainWindow(profiles=profiles, banner=banner)
    window.show()
    if not use_sandbox:
        window.start_keyring()
    code = app.exec()
    window.shutdown()
    if sandbox is not None:
        sandbox.stop()
    return int(code)
