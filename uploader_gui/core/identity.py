"""Who is sending, and from which desk: for the history and the audit trail."""

from __future__ import annotations

import getpass
import os
import socket

WORKSTATION_ENV = "UPLOADER_GUI_WORKSTATION"


def os_user() -> str:
    """The OS login of whoever runs the app."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers): the numeric id
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def workstation() -> str:
    """This desk's name: ``UPLOADER_GUI_WORKSTATION`` (thin clients look alike), else the host."""
    return os.environ.get(WORKSTATION_ENV, "").strip() or socket.gethostname()
