"""Where the app writes: per-user platformdirs locations, or all under UPLOADER_GUI_HOME."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from uploader_gui import APP_NAME

if TYPE_CHECKING:
    from platformdirs import PlatformDirs

HOME_ENV = "UPLOADER_GUI_HOME"


def _dirs() -> PlatformDirs:
    from platformdirs import PlatformDirs  # only without UPLOADER_GUI_HOME, when first asked

    return PlatformDirs(appname=APP_NAME, appauthor=False)


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    """The folder, made 0700 if missing. A folder that cannot be made (a read-only or
    full disk) is returned anyway: whoever writes there reports the problem in words."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        pass
    return path


def config_dir() -> Path:
    home = _home()
    return _ensure(home / "config" if home else Path(_dirs().user_config_dir))


def data_dir() -> Path:
    home = _home()
    return _ensure(home / "data" if home else Path(_dirs().user_data_dir))


def log_dir() -> Path:
    home = _home()
    return _ensure(home / "logs" if home else Path(_dirs().user_log_dir))
