"""The log file itself: a rotating file that is private to the user (0600), always.

Apart from :mod:`uploader_gui.core.logging_setup` so that the scrubber, which nearly
every module imports, does not load :mod:`logging.handlers` (and with it socket, pickle
and queue) at start-up: only :func:`~uploader_gui.core.logging_setup.configure_logging`
needs this module.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the new one after each rollover included, is 0600.

    The log can name patients, so it is never readable by other users, whatever the umask.
    """

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):
            try:
                os.fchmod(fd, 0o600)
            except OSError:
                pass
        stream = os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        assert isinstance(stream, io.TextIOWrapper)
        return stream

    def handleError(self, record: logging.LogRecord) -> None:
        """A log line that cannot be written (disk full) costs one quiet note, no traceback."""
        if not getattr(self, "_complained", False):
            self._complained = True
            import sys

            if sys.stderr is not None:
                print("uploader-gui: the log file cannot be written (is the disk full?); "
                      "log lines are being dropped.", file=sys.stderr)
