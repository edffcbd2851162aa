"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from uploader_gui import APP_NAME, __version__
from uploader_gui.gui.icons import app_icon

log = logging.getLogger(__name__)


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # High-DPI scale factors are not rounded (PassThrough): Qt 6's default, so not set
    # here (looking up Qt's namespace at start costs ~20 ms: see gui/roles.py).
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Clinic Document Uploader")
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_NAME)
    app.setWindowIcon(app_icon())
    return app


def close_on_terminate(window: QWidget) -> None:
    """SIGTERM (a logout, a shutdown, ``kill``) closes the window as the Quit action does,
    so the history is closed cleanly and the next start needs no integrity check.

    Python runs its signal handlers only between bytecodes; Qt's event loop is C++, so a
    pipe written by the C-level handler wakes a notifier on the UI thread."""
    if not hasattr(signal, "SIGTERM") or sys.platform == "win32":
        return
    reader, writer = os.pipe()  # a pipe, not a socket pair: no socket module at start
    os.set_blocking(reader, False)
    os.set_blocking(writer, False)
    signal.set_wakeup_fd(writer)
    notifier = QSocketNotifier(reader, QSocketNotifier.Type.Read, window)

    def woken() -> None:
        try:
            os.read(reader, 64)
        except OSError:
            pass

    notifier.activated.connect(woken)
    window._terminate_wakeup = (reader, writer, notifier)  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, lambda _sig, _frame: QTimer.singleShot(0, window.close))


def no_display_reason(environ: dict[str, str] | None = None,
                      platform: str | None = None) -> str:
    """Why no window can be shown here, as one plain line; empty when one can.

    Qt itself would abort (rc 134) with a misleading message about a missing xcb library.
    """
    env = dict(os.environ) if environ is None else environ
    system = sys.platform if platform is None else platform
    if not system.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return ""
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return ""
    return ("uploader-gui: there is no display to show the window on (DISPLAY and "
            "WAYLAND_DISPLAY are not set). Start it from a desktop session, or use the "
            "command line: uploader-gui --help.")


def run_gui(use_sandbox: bool = False) -> int:
    reason = no_display_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    app, window, sandbox = open_window(use_sandbox)
    code = app.exec()
    window.shutdown()
    if sandbox is not None:
        sandbox.stop()
    return int(code)


def open_window(use_sandbox: bool = False) -> tuple[QApplication, Any, Any]:
    """What the app does before its event loop runs: the application, and the main window
    shown as its first frame (the rest of it is built once that is painted); in sandbox
    mode the sandbox is started first. Returns (application, window, sandbox or None)."""
    from uploader_gui.core.log_buffer import buffer_early_records
    from uploader_gui.gui.main_window import MainWindow

    buffer_early_records()  # the log file is opened once the first frame is painted
    app = make_app()
    sandbox = None
    profiles: list[Any] = []
    banner = ""
    if use_sandbox:
        from html import escape

        from uploader_gui.cli.sandbox_profiles import sandbox_profiles
        from uploader_gui.core.paths import data_dir
        from uploader_gui.sandbox import Sandbox

        sandbox = Sandbox(data_dir() / "sandbox", keep_port=True).start()
        profiles = sandbox_profiles(sandbox.url, sandbox.credentials)
        banner = "<b>{}</b> {}".format(
            escape(QCoreApplication.translate("App", "Sandbox mode: nothing here reaches a "
                                              "real clinic system.")),
            escape(QCoreApplication.translate(
                "App", "Uploads go to built-in test systems on this computer; received files "
                "are kept in {folder}.").format(folder=data_dir() / "sandbox")))
    window = MainWindow(profiles=profiles, banner=banner, sandbox=use_sandbox, first_frame=True)
    if window.built:
        _open_log()
    else:
        window.windowBuilt.connect(_open_log)
    window.show()
    close_on_terminate(window)
    if not use_sandbox:
        window.start_keyring()
    return app, window, sandbox


def _open_log() -> None:
    from uploader_gui.core.logging_setup import configure_logging

    configure_logging()
