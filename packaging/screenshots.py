"""Regenerate the README's screenshots under Xvfb, from the sandbox, at 1280×800.

    python3 packaging/screenshots.py [--out resources/screenshots]

Without a display it starts itself again under ``xvfb-run`` (package ``xvfb``). It uses a
throw-away app home and the built-in sandbox, makes its own documents (a referral letter
drawn with Qt), and writes: send.png, confirm.png, results.png, history.png,
profiles.png and dark.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 800)


def _reexec_under_xvfb() -> int:
    if shutil.which("xvfb-run") is None:
        print("screenshots: no display and no xvfb-run; install the xvfb package.",
              file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["SCREENSHOTS_UNDER_XVFB"] = "1"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24 -dpi 96", sys.executable,
           str(Path(__file__).resolve()), *sys.argv[1:]]
    return subprocess.call(cmd, env=env)


def letter(path: Path, lines: list[str]) -> Path:
    """A one-page letter with readable text, drawn with Qt's PDF writer."""
    from PySide6.QtCore import QMarginsF, QRectF
    from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter

    writer = QPdfWriter(str(path))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait, QMarginsF(20, 20, 20, 20)))
    writer.setResolution(150)
    painter = QPainter(writer)
    font = QFont("DejaVu Sans", 14)
    y = 0.0
    for i, line in enumerate(lines):
        font.setBold(i == 0)
        font.setPointSize(20 if i == 0 else 12)
        painter.setFont(font)
        height = painter.fontMetrics().height() * 1.6
        painter.drawText(QRectF(0, y, writer.width(), height), line)
        y += height
    painter.end()
    return path


def photo(path: Path) -> Path:
    from PySide6.QtGui import QColor, QImage, QPainter

    image = QImage(900, 600, QImage.Format.Format_RGB32)
    image.fill(QColor("#d9c3a5"))
    p = QPainter(image)
    p.setBrush(QColor("#b5653b"))
    p.drawEllipse(330, 200, 240, 160)
    p.end()
    image.save(str(path), "JPEG")
    return path


def make_documents(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    body = ["Referral letter", "Patient: Ben Sandbox, born 1975-06-15", "Patient ID: 1002", "",
            "Dear colleague,", "please see Mr Sandbox about his left ankle.",
            "The wound photo is attached separately.", "", "Dr A. Okafor, Ward 7"]
    docs = [
        letter(folder / "referral-letter-dr-okafor.pdf", body),
        letter(folder / "lab-results-cbc.pdf", ["Laboratory results", "Full blood count",
                                                "Patient: Ben Sandbox (1002)"]),
        photo(folder / "wound-photo-left-ankle.jpg"),
        letter(folder / "discharge-summary-ward-7.pdf", ["Discharge summary",
                                                         "Patient: Ben Sandbox (1002)"]),
    ]
    bad = folder / "scan-cut-off.pdf"
    bad.write_bytes(docs[1].read_bytes()[:600])
    return [*docs, bad]


def wait(condition, timeout_ms: int = 20_000) -> bool:  # type: ignore[no-untyped-def]
    from uploader_gui.cli.selftest import wait_until

    return wait_until(condition, timeout_ms)


def settle(ms: int = 400) -> None:
    from uploader_gui.cli.selftest import wait_until

    wait_until(lambda: False, ms)


def shoot(widget, out: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    settle()
    path = out / name
    widget.grab().save(str(path))
    print(f"wrote {path}")


def dark_palette():  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d30", QPalette.ColorRole.WindowText: "#e8e8e8",
        QPalette.ColorRole.Base: "#1f2023", QPalette.ColorRole.AlternateBase: "#27292c",
        QPalette.ColorRole.Text: "#e8e8e8", QPalette.ColorRole.Button: "#35373b",
        QPalette.ColorRole.ButtonText: "#e8e8e8", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#35373b",
        QPalette.ColorRole.ToolTipText: "#e8e8e8", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
        QPalette.ColorRole.Link: "#7fb0ff",
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7175"))
    return pal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("SCREENSHOTS_UNDER_XVFB"):
        return _reexec_under_xvfb()
    args.out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="uploader-gui-screenshots-"))
    os.environ["UPLOADER_GUI_HOME"] = str(home / "home")
    sys.path.insert(0, str(ROOT))

    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.app import make_app
    from uploader_gui.gui.confirm_send import ConfirmSendDialog
    from uploader_gui.gui.history_model import COL_STATUS
    from uploader_gui.gui.main_window import MainWindow
    from uploader_gui.gui.sandbox_profiles import sandbox_profiles_html
    from uploader_gui.sandbox import Sandbox

    app = make_app()
    app.setStyle("Fusion")
    light = app.palette()
    docs = make_documents(home / "documents")
    with Sandbox(home / "sandbox") as sandbox:
        profiles = sandbox_profiles(sandbox.url, sandbox.credentials)
        banner = ("<b>Sandbox mode: nothing here reaches a real clinic system.</b> Uploads go "
                  "to built-in test systems on this computer.")
        w = MainWindow(profiles=profiles, banner=banner, sandbox=True)
        w.resize(*SIZE)
        w.show()
        wait(lambda: w.history is not None)
        combo = w.upload_panel.profile_combo
        combo.setCurrentIndex(combo.findData("Sandbox Claros"))
        w.add_paths(docs)
        wait(lambda: w.model.rowCount() == len(docs) and w.counts()["checking"] == 0)
        w.upload_panel.patient.setText("1002")
        wait(lambda: "Ben Sandbox" in w.upload_panel.destination_label.text())
        w.view.selectRow(0)
        wait(lambda: not w.preview.image.pixmap().isNull())
        shoot(w, args.out, "send.png")

        # The confirmation, as the planner asks it; then send (one file fails on purpose).
        def confirm(plan):  # type: ignore[no-untyped-def]
            dialog = ConfirmSendDialog(plan, w)
            dialog.show()
            shoot(dialog, args.out, "confirm.png")
            dialog.close()
            return dialog.answers()

        w.uploads.confirm = confirm
        sandbox.add_fault(r"^/patients/1002/pdf/$", status=400, times=1,
                          body={"detail": "The PDF could not be read by Claros."})
        w.uploads.dispatcher.set_concurrency(1)
        wait(w.upload_panel.upload_button.isEnabled)
        w.start_upload()
        wait(lambda: w.model.batch_progress().answered == w.model.batch_progress().files >= 4,
             60_000)
        w.view.clearSelection()
        shoot(w, args.out, "results.png")

        w.tabs.setCurrentIndex(1)
        hist = w.history_panel
        wait(lambda: hist.proxy.rowCount() >= 4)
        for r in range(hist.proxy.rowCount()):
            if str(hist.proxy.index(r, COL_STATUS).data()).startswith("Failed"):
                hist.view.selectRow(r)
        shoot(w, args.out, "history.png")

        w.tabs.setCurrentIndex(0)
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

        dialog = QDialog(w)
        dialog.setWindowTitle("Sandbox profiles (read-only)")
        lay = QVBoxLayout(dialog)
        text = QLabel(sandbox_profiles_html(profiles))
        text.setWordWrap(True)
        lay.addWidget(text)
        lay.addWidget(QDialogButtonBox(QDialogButtonBox.StandardButton.Close))
        dialog.resize(720, 300)
        dialog.show()
        shoot(dialog, args.out, "profiles.png")
        dialog.close()

        app.setPalette(dark_palette())
        w.view.selectRow(2)
        shoot(w, args.out, "dark.png")
        app.setPalette(light)
        w.shutdown()
        w.close()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
