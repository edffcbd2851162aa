"""``uploader-gui --self-test``: prove that this build (frozen or not) can do its job.

It runs the real window against an in-process sandbox: stage a generated PDF,
wait for its check, upload it to the sandbox's Claros profile, and confirm the
sandbox holds the same bytes and the history has a ``sent`` row. Before that it
imports what a frozen bundle tends to lose (keyring backends, truststore and the
system certificates, Pillow's JPEG and PNG plugins, pypdf, Qt's platform plugin).

One line per check; exit status 0 when all pass, 1 when one fails, 2 on a usage
error and 3 when the whole run overruns its time limit. Everything the app writes
goes under a temporary ``UPLOADER_GUI_HOME`` unless one is set already.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import importlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from uploader_gui import __version__

DEFAULT_TIMEOUT_S = 60.0
#: Keyring backends by platform: the one the app relies on there must import.
PLATFORM_KEYRINGS = {
    "linux": ("SecretService", ("keyring.backends.SecretService", "secretstorage", "jeepney")),
    "win32": ("Windows", ("keyring.backends.Windows", "win32ctypes.pywin32.win32cred")),
    "darwin": ("macOS", ("keyring.backends.macOS",)),
}


class CheckFailed(Exception):
    """A check did not pass; the message says why, in words."""


class SelfTest:
    def __init__(self, deadline: float, out: TextIO) -> None:
        self.deadline = deadline
        self.out = out
        self.passed = 0

    def check(self, name: str, func: Callable[[], str]) -> None:
        """Run one check and print its line; a failure ends the run."""
        try:
            detail = func()
        except CheckFailed as exc:
            self.out.write(f"FAIL  {name}: {exc}\n")
            self.out.flush()
            raise
        except Exception as exc:  # any error is a failed check, with its reason
            self.out.write(f"FAIL  {name}: {type(exc).__name__}: {exc}\n")
            self.out.flush()
            raise CheckFailed(f"{name}: {exc}") from exc
        self.passed += 1
        self.out.write(f"ok    {name}" + (f": {detail}" if detail else "") + "\n")
        self.out.flush()

    def remaining_ms(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# --------------------------------------------------------------------------- module checks


def check_keyring() -> str:
    from importlib import metadata

    name, modules = PLATFORM_KEYRINGS.get(sys.platform, PLATFORM_KEYRINGS["linux"])
    for module in modules:
        importlib.import_module(module)
    # keyring finds its backends through entry points: without the package metadata
    # (a frozen build that forgot copy_metadata) it silently falls back to "fail".
    found = {ep.name: ep for ep in metadata.entry_points(group="keyring.backends")}
    if name not in found:
        raise CheckFailed(f"keyring's entry points do not list the {name} backend "
                          f"(found: {', '.join(sorted(found)) or 'none'})")
    for ep in found.values():
        try:
            ep.load()
        except ImportError:  # e.g. kwallet without dbus-python: keyring skips it too
            if ep.name == name:
                raise
    import keyring.backend

    classes = {f"{c.__module__}.{c.__name__}" for c in keyring.backend.KeyringBackend._classes}
    return f"{name} backend present; {len(classes)} backend classes known"


def check_truststore() -> str:
    import ssl

    import truststore

    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ctx.verify_mode != ssl.CERT_REQUIRED:
        raise CheckFailed("truststore's context does not verify certificates")
    if sys.platform in ("win32", "darwin"):
        return "SSL context built (the OS verifies certificates)"
    # On Linux truststore hands OpenSSL the system's CA files; count them the same way.
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_default_verify_paths()
    count = probe.cert_store_stats()["x509_ca"]
    source = "OpenSSL's default paths"
    if count == 0:
        for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/cert.pem",
                          "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem",
                          "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"):
            if os.path.isfile(candidate):
                probe.load_verify_locations(cafile=candidate)
                count, source = probe.cert_store_stats()["x509_ca"], candidate
                break
    if count == 0:
        raise CheckFailed("no CA certificates found on this computer; install the "
                          "ca-certificates package")
    return f"SSL context built; {count} CA certificates from {source}"


def check_pillow() -> str:
    from PIL import Image, JpegImagePlugin, PngImagePlugin  # noqa: F401 - the plugins must import

    sizes = []
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, fmt)
        buf.seek(0)
        with Image.open(buf) as img:
            img.load()
            if img.format != fmt or img.size != (32, 24):
                raise CheckFailed(f"a {fmt} written by Pillow read back as {img.format} {img.size}")
        sizes.append(f"{fmt} {len(buf.getvalue())} bytes")
    import PIL

    return f"Pillow {PIL.__version__}: " + ", ".join(sizes) + " round-tripped"


def make_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "uploader-gui self-test"})
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def check_pypdf(pdf: Path) -> str:
    import pypdf

    reader = pypdf.PdfReader(str(pdf), strict=True)
    if len(reader.pages) != 1:
        raise CheckFailed(f"the generated PDF has {len(reader.pages)} pages, not 1")
    return f"pypdf {pypdf.__version__}: wrote and read a 1-page PDF ({pdf.stat().st_size} bytes)"


def check_pikepdf(pdf: Path, work: Path) -> str:
    """qpdf through pikepdf: a PDF with padding after %%EOF is judged and repaired."""
    import pikepdf

    from uploader_gui.core.validation import validate_file
    from uploader_gui.core.validation.pdfrepair import write_sendable_copy

    padded = work / "self-test-padded.pdf"
    padded.write_bytes(pdf.read_bytes() + b"\0" * 4096)
    res = validate_file(padded)
    if not res.ok or res.repair != "structural":
        raise CheckFailed(f"a padded PDF was not accepted as repairable: {res.to_json()}")
    copy = write_sendable_copy(padded, work / "self-test-repaired.pdf")
    with pikepdf.open(copy, attempt_recovery=False) as repaired:
        if len(repaired.pages) != 1:
            raise CheckFailed(f"the repaired copy has {len(repaired.pages)} pages, not 1")
    return (f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__}): "
            "repaired a PDF with data after %%EOF")


def check_sqlite() -> str:
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


# --------------------------------------------------------------------------- the window


def wait_until(condition: Callable[[], bool], timeout_ms: int, interval_ms: int = 50) -> bool:
    """Run the Qt event loop until ``condition()`` holds or the time is up (no busy loop)."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return True
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(interval_ms)
    poll.timeout.connect(lambda: condition() and loop.quit())
    give_up = QTimer()
    give_up.setSingleShot(True)
    give_up.timeout.connect(loop.quit)
    poll.start()
    give_up.start(max(1, timeout_ms))
    loop.exec()
    poll.stop()
    give_up.stop()
    return condition()


class DialogAnswerer:
    """Confirms the questions the window asks before sending, as the person would.

    The window asks with modal message boxes ("Check before sending"); each one seen is
    answered with its accepting button and noted, so the run shows what was asked.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.answered: list[str] = []
        self._timer = QTimer()
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._answer)
        self._timer.start()

    def _answer(self) -> None:
        from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

        box = QApplication.activeModalWidget()
        if box is None or not box.isVisible():
            return
        if isinstance(box, QMessageBox):
            buttons = [(box.buttonRole(b), b) for b in box.buttons()]
        else:  # a dialog of our own: its button box
            found = box.findChild(QDialogButtonBox)
            if found is None:
                return
            buttons = [(found.buttonRole(b), b) for b in found.buttons()]
        roles = (QMessageBox.ButtonRole.AcceptRole, QMessageBox.ButtonRole.YesRole,
                 QDialogButtonBox.ButtonRole.AcceptRole, QDialogButtonBox.ButtonRole.YesRole)
        for role in roles:
            for button_role, button in buttons:
                if button_role == role:
                    self.answered.append(f"{box.windowTitle()!r} ({button.text()})")
                    button.click()
                    return

    def stop(self) -> None:
        self._timer.stop()


def _row(window: Any, name: str) -> tuple[str | None, str]:
    from uploader_gui.gui.staging_model import COL_NAME, COL_STATUS, StateRole

    m = window.model
    for r in range(m.rowCount()):
        if m.index(r, COL_NAME).data() == name:
            return m.index(r, COL_STATUS).data(StateRole), str(m.index(r, COL_STATUS).data())
    return None, ""


def run_window_checks(t: SelfTest, work: Path, pdf: Path) -> None:
    from uploader_gui.gui.app import make_app
    from uploader_gui.gui.icons import app_icon

    app = make_app()

    def qt() -> str:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtGui import QImageWriter

        if app_icon().isNull():
            raise CheckFailed("the app icon could not be loaded")
        formats = {bytes(f).decode() for f in QImageWriter.supportedImageFormats()}
        if "png" not in formats:
            raise CheckFailed("Qt cannot write PNG images")
        return (f"PySide6 {pyside_version}, platform plugin "
                f"'{app.platformName()}', app icon loaded")

    t.check("Qt", qt)

    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.main_window import MainWindow
    from uploader_gui.sandbox import Sandbox

    sandbox = Sandbox(work / "sandbox").start()
    opened: list[MainWindow] = []
    try:
        t.check("sandbox", lambda: f"emulator listening on {sandbox.url}")

        def open_window() -> str:
            opened.append(MainWindow(profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                                     banner="Self-test"))
            opened[0].show()
            return f"{opened[0].windowTitle()!r} shown"

        t.check("window", open_window)
        win = opened[0]

        def staged() -> str:
            # The window opens the history on a worker thread: wait for it.
            wait_until(lambda: win.history is not None or bool(win.history_problem),
                       min(10_000, t.remaining_ms()))
            if win.history is None:
                raise CheckFailed(f"the upload history cannot be opened: {win.history_problem}")
            combo = win.upload_panel.profile_combo
            index = combo.findData("Sandbox Claros")
            if index < 0:
                raise CheckFailed("the window does not offer the Sandbox Claros profile")
            combo.setCurrentIndex(index)
            win.add_paths([pdf])
            done = wait_until(lambda: win.model.rowCount() == 1 and win.counts()["checking"] == 0,
                              t.remaining_ms())
            state, text = _row(win, pdf.name)
            if not done:
                raise CheckFailed(f"the file was not checked in time (row: {state or 'missing'})")
            if win.counts()["ready"] != 1:
                raise CheckFailed(f"the generated PDF was not accepted: {text}")
            return f"{pdf.name} checked in a helper process: {text}"

        t.check("validation in the window", staged)

        def uploaded() -> str:
            button = win.upload_panel.upload_button
            if not wait_until(button.isEnabled, min(5000, t.remaining_ms())):
                raise CheckFailed(f"the Upload button stays disabled "
                                  f"({win.upload_panel.message.text()})")
            answerer = DialogAnswerer()
            try:
                button.click()
                # Claros's receipt is checked at once: "sent" becomes "verified".
                final = ("verified", "not_sent", "rejected", "failed", "unknown", "cancelled")
                wait_until(lambda: _row(win, pdf.name)[0] in final, t.remaining_ms())
            finally:
                answerer.stop()
            state, text = _row(win, pdf.name)
            if state != "verified":
                raise CheckFailed(f"the upload did not finish as verified ({state}): {text}")
            asked = "; confirmed " + ", ".join(answerer.answered) if answerer.answered else ""
            return text + asked

        t.check("upload to the sandbox", uploaded)

        def received() -> str:
            want = hashlib.sha256(pdf.read_bytes()).hexdigest()
            got = [r for r in sandbox.received("claros") if r.get("filename") == pdf.name]
            if len(got) != 1:
                raise CheckFailed(f"the sandbox holds {len(got)} copies of {pdf.name}, not 1")
            stored = Path(got[0]["path"])
            if got[0].get("sha256") != want or stored.read_bytes() != pdf.read_bytes():
                raise CheckFailed("the file the sandbox received differs from the one sent")
            return f"byte-identical ({stored.stat().st_size} bytes, sha256 {want[:12]}…)"

        t.check("sandbox received the file", received)

        def history() -> str:
            store = win.history
            if store is None:
                raise CheckFailed("the history is closed")
            if not wait_until(lambda: any(j.name == pdf.name for j in store.jobs(status="verified")),
                              min(5000, t.remaining_ms())):
                rows = [(j.name, j.status) for j in store.jobs()]
                raise CheckFailed(f"no 'verified' history row for {pdf.name} (rows: {rows})")
            [job] = [j for j in store.jobs(status="verified") if j.name == pdf.name]
            return f"job {job.id} verified ({job.proof}), remote id {job.remote_id}"

        t.check("history", history)
    finally:
        for window in opened:
            window.shutdown()
            window.hide()
            window.deleteLater()
        sandbox.stop()


# --------------------------------------------------------------------------- entry point


@contextmanager
def _environment(out: TextIO) -> Iterator[Path]:
    """A display for Qt and a private UPLOADER_GUI_HOME; both undone afterwards."""
    saved = {k: os.environ.get(k) for k in ("QT_QPA_PLATFORM", "UPLOADER_GUI_HOME")}
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    work = Path(tempfile.mkdtemp(prefix="uploader-gui-selftest-"))
    if not os.environ.get("UPLOADER_GUI_HOME"):
        os.environ["UPLOADER_GUI_HOME"] = str(work / "home")
    out.write(f"uploader-gui {__version__} self-test; app data in {os.environ['UPLOADER_GUI_HOME']}\n")
    try:
        yield work
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)


def _watchdog(seconds: float, out: TextIO) -> threading.Timer:
    """End the process if the run hangs somewhere the event loop cannot notice."""

    def expire() -> None:
        out.write(f"FAIL  self-test: still running after {seconds:g} s; giving up\n")
        out.flush()
        if sys.stderr is not None:
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def run_self_test(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="uploader-gui --self-test",
        description="Check that this installation can validate and send a document.",
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"give up after this long (default {DEFAULT_TIMEOUT_S:g})")
    try:
        args = parser.parse_args(argv if argv is not None else [])
    except SystemExit as exc:
        return int(exc.code or 0)
    # A windowed Windows build has no stdout; its console twin (uploader-gui-cli.exe) does.
    out = sys.stdout if sys.stdout is not None else io.StringIO()
    started = time.monotonic()
    watchdog = _watchdog(args.timeout + 15, out)
    try:
        with _environment(out) as work:
            t = SelfTest(started + args.timeout, out)
            try:
                frozen = getattr(sys, "frozen", False)
                t.check("build", lambda: f"{'frozen' if frozen else 'source'}; Python "
                        f"{sys.version.split()[0]} on {sys.platform}; {sys.executable}")
                t.check("keyring backends", check_keyring)
                t.check("truststore", check_truststore)
                t.check("Pillow JPEG/PNG", check_pillow)
                pdf = make_pdf(work / "self-test.pdf")
                t.check("pypdf", lambda: check_pypdf(pdf))
                t.check("pikepdf", lambda: check_pikepdf(pdf, work))
                t.check("SQLite", check_sqlite)
                run_window_checks(t, work, pdf)
            except CheckFailed:
                out.write("self-test FAILED\n")
                return 1
            out.write(f"self-test passed: {t.passed} checks in {time.monotonic() - started:.1f} s\n")
            return 0
    finally:
        watchdog.cancel()
