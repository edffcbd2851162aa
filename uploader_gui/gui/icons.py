"""The app icon, from the installed package or from a source checkout."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resource_dir() -> Path:
    """Folder holding resources/ files: installed as uploader_gui.resources (inside the
    package), or the checkout's. Found by path, without importlib.resources (this runs
    before the window's first paint)."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "resources", package.parent / "resources"):
        if (candidate / "icons").is_dir():
            return candidate
    return package.parent / "resources"


@cache
def app_icon() -> QIcon:
    icons = resource_dir() / "icons"
    icon = QIcon()
    names = os.listdir(icons) if icons.is_dir() else []
    for png in sorted(n for n in names if n.startswith("uploader-gui-") and n.endswith(".png")):
        icon.addFile(str(icons / png))
    svg = icons / "uploader-gui.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon
