"""The staging table's counts: what the status bar, the buttons and the batch line show.

Kept row by row (see :class:`Totals`), so a burst of 2,000 verdicts costs the window one
small update per changed row, not a pass over every row per refresh.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from uploader_gui.core.staging import StagedFile

UPLOAD_STATES = ("queued", "uploading", "sent", "verified", "failed", "unknown", "cancelled",
                 "rejected")


def row_state(item: StagedFile, fraction: float | None = None) -> str:
    """The row's state, one of :data:`uploader_gui.gui.states.ROW_STATES`."""
    if item.upload_state in UPLOAD_STATES:
        if item.upload_state == "uploading" and fraction is not None and fraction >= 0.999:
            return "waiting"  # every byte went; the server has not answered yet
        return item.upload_state
    if item.result is None:
        return "checking"
    if not item.result.ok:
        return "rejected"
    if item.result.warnings:
        return "warning"
    return "ready"


@dataclass
class BatchProgress:
    """The whole batch (the files of the last Upload presses, until all have an answer)."""

    files: int = 0
    answered: int = 0
    bytes_total: int = 0
    bytes_done: float = 0.0
    waiting: int = 0  # every byte sent, no answer yet

    @property
    def fraction(self) -> float:
        """1.0 only when every file has its answer."""
        if not self.files:
            return 0.0
        if self.answered == self.files:
            return 1.0
        f = self.bytes_done / self.bytes_total if self.bytes_total else self.answered / self.files
        return min(f, 0.999)


@dataclass
class Tally:
    counts: dict[str, int]
    ready: int = 0  # files Upload would send
    failed: int = 0  # files Retry failed would send
    batch: Counter[str] = field(default_factory=Counter)  # row state -> rows of the batch
    reasons: dict[str, Counter[str]] = field(default_factory=dict)  # state -> first sentences
    progress: BatchProgress = field(default_factory=BatchProgress)


def sendable(item: StagedFile) -> bool:
    """Upload sends it: never tried, or cancelled or refused before sending."""
    return ((item.ready or item.offers_copy)
            and item.upload_state in (None, "", "cancelled", "rejected"))


def first_sentence(text: str) -> str:
    text = text.strip()
    cut = text.find(". ")
    return (text[:cut] if cut > 0 else text).rstrip(".")


#: One row's part of the counts: (its kind, Upload would send it, Retry failed would).
Part = tuple[str, bool, bool]
_KINDS = ("checking", "ready", "warning", "rejected", "sent", "sending", "failed", "unknown",
          "cancelled")


def part(item: StagedFile) -> Part:
    state = row_state(item)
    kind = "sent" if state == "verified" else (
        "sending" if state in ("queued", "uploading", "waiting") else state)
    return (kind, sendable(item),
            not sendable(item) and item.ready and item.upload_state in ("failed", "unknown"))


class Totals:
    """The counts over every row, as the sum of the rows' parts."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(_KINDS, 0)
        self.ready = 0
        self.failed = 0

    def add(self, share: Part | None, sign: int) -> None:
        if share is None:
            return
        kind, ready, failed = share
        if kind in self.counts:
            self.counts[kind] += sign
        self.ready += sign * ready
        self.failed += sign * failed
