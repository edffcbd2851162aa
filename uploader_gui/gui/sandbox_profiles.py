"""In sandbox mode, *Profiles…* shows the built-in test profiles, read-only, saying why."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from uploader_gui.core.jobs import destination_key
from uploader_gui.core.profiles import Profile
from uploader_gui.core.targets import KIND_LABELS


def tr(text: str) -> str:
    return QCoreApplication.translate("SandboxProfiles", text)


def sandbox_profiles_html(profiles: list[Profile]) -> str:
    rows = "".join(
        f"<li><b>{escape(p.name)}</b> ({escape(KIND_LABELS[p.config.kind])}): "
        f"{escape(p.config.base_url)}, "
        f"{escape(tr('by default to'))} {escape(destination_key(p.config.kind, p.defaults))}</li>"
        for p in profiles)
    why = tr("In sandbox mode the app sends only to the built-in test systems on this "
             "computer, so these profiles cannot be changed here. Start the app without "
             "--sandbox to set up real profiles.")
    return f"<p>{escape(why)}</p><ul>{rows}</ul>"


def show_sandbox_profiles(parent: QWidget | None, profiles: list[Profile]) -> None:
    dialog = QDialog(parent)
    dialog.setWindowTitle(tr("Sandbox profiles (read-only)"))
    text = QLabel(sandbox_profiles_html(profiles))
    text.setWordWrap(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    buttons.accepted.connect(dialog.accept)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.exec()
