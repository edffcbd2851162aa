"""A rotating log file in the app's log folder. Never logs request bodies or secrets."""

from __future__ import annotations

import logging
import logging.handlers
import os

from uploader_gui.core.paths import log_dir

LOG_NAME = "uploader-gui.log"


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_uploader_gui", False) for h in root.handlers):
        return
    path = log_dir() / LOG_NAME
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler._uploader_gui = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
