"""Room on the disk for a batch, checked before it starts.

A batch writes to the app's data folder: the history (a row per job and per
attempt), PDFs made from images (and, later, repaired copies), and REDCap backups
of files about to be replaced. A batch that would fill the disk half way is
refused up front, in words, rather than failing with the history half written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from uploader_gui.core.validation import human_size

#: Always left free: SQLite's WAL and journal, the log, the rest of the system.
RESERVE = 32 * 1024 * 1024
#: History rows, attempts and log lines for one job.
PER_JOB = 64 * 1024
#: A PDF made from an image is at most about this many times the image's size.
CONVERSION_FACTOR = 2


@dataclass(frozen=True)
class PlannedWrite:
    """What one job may write locally."""

    size: int  # the file's size
    converted: bool = False  # an image that becomes a PDF (or a repaired copy)
    backup: bool = False  # a REDCap replace: the old file is downloaded first


def bytes_needed(writes: Iterable[PlannedWrite]) -> int:
    """A generous estimate of what a batch writes in the data folder (without the reserve)."""
    total = 0
    for w in writes:
        total += PER_JOB
        if w.converted:
            total += CONVERSION_FACTOR * w.size
        if w.backup:
            total += max(w.size, 1024 * 1024)  # the old file: assume it is about as large
    return total


def free_space_problem(folder: Path, needed: int) -> str | None:
    """None when ``folder`` has room for ``needed`` bytes plus the reserve; else why not, in words."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return (f"The free space in the app's data folder ({folder}) could not be checked "
                f"({exc.strerror or exc}). Nothing was sent.")
    want = needed + RESERVE
    if free >= want:
        return None
    return (f"The disk is full: the app's data folder ({folder}) has {human_size(free)} free, "
            f"and this batch needs about {human_size(want)} for the upload history, converted "
            "copies and backups. Free some space, then send again. Nothing was sent.")
