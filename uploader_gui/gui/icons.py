"""The app icon, from the installed package or from a source checkout."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon


def resource_dir() -> Path:
    """Folder holding resources/ files: installed as uploader_gui.resources, or the checkout's."""
    try:
        found = Path(str(resources.files("uploader_gui.resources")))
        if (found / "icons").is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent.parent / "resources"


@cache
def app_icon() -> QIcon:
    icons = resource_dir() / "icons"
    icon = QIcon()
    for png in sorted(icons.glob("uploader-gui-*.png")):
        icon.addFile(str(png))
    svg = icons / "uploader-gui.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon
