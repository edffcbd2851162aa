"""Records logged before the log file is open, kept in memory until it is.

The window opens its log file only after its first frame is painted (the file handler
and what it imports cost start-up time); :func:`buffer_early_records` keeps what is
logged before that, and :func:`uploader_gui.core.logging_setup.configure_logging`
writes it to the file, scrubbed, once. Imports only ``logging``: loaded first thing.
"""

from __future__ import annotations

import logging
from collections import deque

#: Records kept in memory before the log file is open (the oldest go first beyond this).
EARLY_LIMIT = 1000


class _EarlyRecords(logging.Handler):
    """Holds the records logged before :func:`configure_logging` opens the log file.

    The message is fixed when the record is logged (its arguments may change later);
    scrubbing happens on the way into the file, by the file's own filter, so a secret
    registered in between is caught too. Once the file is open, a record that still
    reaches this handler (another thread, at that moment) goes straight to the file.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: deque[logging.LogRecord] = deque(maxlen=EARLY_LIMIT)
        self.forward: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        record = logging.makeLogRecord(record.__dict__)  # the other handlers' stays as it is
        try:
            record.msg, record.args = record.getMessage(), None
        except Exception:  # noqa: BLE001 - a bad format string must not hide the record
            record.msg, record.args = str(record.msg), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # the text is kept, not the traceback's frames
        if self.forward is not None:
            self.forward.handle(record)
        else:
            self.records.append(record)

    def take(self, forward: logging.Handler | None) -> list[logging.LogRecord]:
        """The records held so far; later ones go to ``forward`` (None: dropped)."""
        self.acquire()
        try:
            self.forward = forward
            records = list(self.records)
            self.records.clear()
        finally:
            self.release()
        return records


def buffer_early_records() -> None:
    """Keep INFO and above in memory until :func:`configure_logging` (the window opens its
    log file after its first paint), which writes them to the file, scrubbed, once."""
    root = logging.getLogger()
    if any(getattr(h, "_uploader_gui", False) or isinstance(h, _EarlyRecords)
           for h in root.handlers):
        return
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(_EarlyRecords())
