"""The upload history as the commands open it: to record, or read-only to view."""

from __future__ import annotations

import argparse
import sys

from uploader_gui.core.history import (
    DISK_FULL,
    LOCKED,
    PERMISSION,
    READ_ONLY,
    HistoryError,
    HistoryStore,
)
from uploader_gui.core.history_store import open_store

#: History problems that still let it be read (and listed by `history`).
VIEWABLE = frozenset({LOCKED, DISK_FULL, READ_ONLY, PERMISSION})


def open_history(parser: argparse.ArgumentParser, *, viewing: bool = False) -> HistoryStore:
    """The history, or exit 2 with the reason in words (nothing is sent that can't be recorded).

    ``viewing``: when it cannot be written (locked, disk full, read-only), open it
    read-only instead, with a warning on stderr, so earlier uploads can still be listed.
    """
    try:
        store = open_store()
    except HistoryError as err:
        return _read_only_or_exit(parser, err, viewing)
    recovered = getattr(store, "recovery_message", None)  # SQLite only
    if recovered:
        print(f"uploader-gui: {recovered}", file=sys.stderr)
    try:
        store.mark_interrupted()
    except HistoryError as err:
        store.close()
        return _read_only_or_exit(parser, err, viewing)
    return store


def _read_only_or_exit(parser: argparse.ArgumentParser, err: HistoryError,
                       viewing: bool) -> HistoryStore:
    if not viewing or err.kind not in VIEWABLE:
        parser.exit(2, f"uploader-gui: {err}\n")
    try:
        store = HistoryStore(read_only=True)
    except HistoryError:
        parser.exit(2, f"uploader-gui: {err}\n")
    print(f"uploader-gui: {err} Showing it read-only.", file=sys.stderr)
    return store
