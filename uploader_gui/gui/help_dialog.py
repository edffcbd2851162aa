"""F1: the README's "Using it" section, read off the UI thread and shown in a window."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from uploader_gui.gui.tasks import TaskRunner

SECTION = "Using it"


def tr(text: str) -> str:
    return QCoreApplication.translate("Help", text)


def readme_text() -> str:
    """The README from a source checkout, else the installed package's description."""
    checkout = Path(__file__).resolve().parents[2] / "README.md"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        return str(metadata("uploader-gui").get_payload() or "")  # type: ignore[attr-defined]
    except PackageNotFoundError:
        return ""


def using_it(markdown: str) -> str:
    """The "## Using it" section of the README (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(SECTION)}\s*$(.*?)(?=^## |\Z)", markdown,
                      re.MULTILINE | re.DOTALL)
    return f"# {SECTION}\n{match.group(1)}" if match else ""


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None, markdown: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Using the uploader"))
        self.text = QTextBrowser()
        self.text.setAccessibleName(tr("Help text"))
        self.text.setOpenExternalLinks(True)
        self.text.setMarkdown(markdown or tr(
            "The help text could not be found. See the README that came with the app."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        em = self.fontMetrics().horizontalAdvance("M")
        self.resize(em * 60, self.fontMetrics().height() * 36)


def show_help(parent: QWidget, runner: TaskRunner) -> None:
    def shown(text: str | None, error: BaseException | None) -> None:
        dialog = HelpDialog(parent, using_it(text or ""))
        dialog.setModal(False)
        dialog.show()
        parent.help_dialog = dialog  # type: ignore[attr-defined]  # kept alive, for tests too

    runner.run(readme_text, shown)


def show_about(parent: QWidget) -> None:
    from PySide6.QtWidgets import QMessageBox

    from uploader_gui import __version__

    QMessageBox.about(parent, tr("About"), tr(
        "Clinic Document Uploader {version}\n\nSends patient documents to Redox, Claros "
        "Health and REDCap, checking each file before anything leaves this computer.").format(
        version=__version__))
