"""The table model behind the staging area."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.validation import TYPE_LABELS, ValidationResult, human_size
from uploader_gui.gui.staging_tally import (
    BatchProgress,
    Part,
    Tally,
    Totals,
    first_sentence,
    part,
    row_state,
    sendable,
)
from uploader_gui.gui.states import ANSWERED, state_icon

COLUMNS = ("Name", "Status", "Goes to", "Type", "Size", "Pages / dimensions")
COL_NAME, COL_STATUS, COL_DEST, COL_TYPE, COL_SIZE, COL_DETAILS = range(len(COLUMNS))

#: Role carrying the row's state as text ("checking", "ready", "warning", "rejected").
StateRole = Qt.ItemDataRole.UserRole + 1
#: Role carrying the staged file's full path.
PathRole = Qt.ItemDataRole.UserRole + 2
#: Role carrying the fraction sent (0..1) while a file uploads, else None.
ProgressRole = Qt.ItemDataRole.UserRole + 3

AnyIndex = QModelIndex | QPersistentModelIndex

#: The roles :meth:`StagingModel.data` answers; a view asks for a dozen more per cell while
#: painting (font, colours, check state…), and those return at once.
_DISPLAY, _DECORATION, _TOOLTIP, _ALIGN = (
    int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.DecorationRole),
    int(Qt.ItemDataRole.ToolTipRole), int(Qt.ItemDataRole.TextAlignmentRole))
_ROLES = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _ALIGN,
                    int(StateRole), int(PathRole), int(ProgressRole)})
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _details(res: ValidationResult | None) -> str:
    if res is None:
        return ""
    if res.pages is not None:
        return f"{res.pages} page" + ("" if res.pages == 1 else "s")
    if res.width is not None and res.height is not None:
        return f"{res.width} × {res.height} px"
    return ""


class StagingModel(QAbstractTableModel):
    """Staged files, one row each, keyed by resolved path so none is staged twice."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[StagedFile] = []
        self._rows: dict[str, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._progress: dict[str, float] = {}
        #: Keys of the rows of the batch in progress (see :meth:`start_batch`).
        self.batch: set[str] = set()
        #: "Sandbox Claros: patient 1001": where ready files would go now.
        self.current_destination = ""
        #: Optional provider of row thumbnails (gui.preview.Thumbnails).
        self.thumbnails: Any = None
        #: The last :meth:`tally`, until a row changes (every change signals, so the
        #: status bar, the buttons and the batch line cost one pass per burst of changes).
        self._tally: Tally | None = None
        #: The counts over every row, kept up to date row by row: each row's part of them
        #: (None: not counted yet), and the rows changed since (None: count them all again).
        self._parts: list[Part | None] = []
        self._totals = Totals()
        self._dirty: set[int] | None = None
        self.dataChanged.connect(self._rows_changed)
        self.rowsInserted.connect(self._rows_added)
        for signal in (self.rowsRemoved, self.modelReset, self.layoutChanged, self.rowsMoved):
            signal.connect(self._invalidate)

    # ------------------------------------------------------------------ Qt API

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return QCoreApplication.translate("StagingModel", COLUMNS[section])
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        role = int(role)
        if role not in _ROLES:
            return None
        row = index.row()
        if not 0 <= row < len(self._items) or not index.isValid():
            return None
        item = self._items[row]
        col = index.column()
        if role == _DISPLAY:
            return self.display_text(item, col)
        res = item.result
        if role == _DECORATION:
            if col == COL_STATUS:
                return self._icon(self._row_state(item))
            if col == COL_NAME and self.thumbnails:
                return self.thumbnails.get(item)
        elif role == _TOOLTIP:
            if col == COL_NAME:
                return str(item.path)
            if col == COL_DEST:
                return self._destination(item) or None
            if col == COL_STATUS and item.upload_state:
                return item.upload_message
            if col == COL_STATUS and res is not None and res.problems:
                return "\n".join(p.message for p in res.problems)
            return self.display_text(item, col) or None
        elif role == _ALIGN:
            return _RIGHT if col in (COL_SIZE, COL_DETAILS) else None
        elif role == StateRole:
            return self._row_state(item)
        elif role == ProgressRole:
            return self._progress.get(item.key) if item.upload_state == "uploading" else None
        elif role == PathRole:
            return str(item.path)
        return None

    def display_text(self, item: StagedFile, col: int) -> str:
        """The text of one cell (what ``data()`` gives for the display role)."""
        res = item.result
        if col == COL_NAME:
            return item.name
        if col == COL_STATUS:
            if item.upload_state:
                return item.upload_message
            return "Checking…" if res is None else res.summary
        if col == COL_DEST:
            # The profile chosen now is named above Upload; a row says who, and names
            # its profile only when it went somewhere else (the tooltip always does).
            text = self._destination(item)
            profile = self.current_destination.partition(": ")[0]
            if profile and text.startswith(profile + ": "):
                return text[len(profile) + 2:]
            return text
        if col == COL_TYPE:
            if res is None:
                return "…"
            return TYPE_LABELS.get(res.type, "Unknown") if res.type else "Unknown"
        if col == COL_SIZE:
            return human_size(res.size) if res and res.size is not None else ""
        if col == COL_DETAILS:
            return _details(res)
        return ""

    def column_texts(self, col: int, rows: list[int]) -> list[str]:
        """The display texts of these rows in one column (for fitting its width)."""
        items, text = self._items, self.display_text
        return [text(items[r], col) for r in rows if r < len(items)]

    # ------------------------------------------------------------------ ours

    def _destination(self, item: StagedFile) -> str:
        if item.destination_text:
            return item.destination_text
        return self.current_destination if item.ready else ""

    def _row_state(self, item: StagedFile) -> str:
        return row_state(item, self._progress.get(item.key))

    def _icon(self, state: str) -> QIcon:
        if state not in self._icons:
            self._icons[state] = state_icon(state)
        return self._icons[state]

    def items(self) -> list[StagedFile]:
        return list(self._items)

    def contains(self, path: str | Path) -> bool:
        return staging_key(path) in self._rows

    def add_paths(self, paths: list[Path] | list[tuple[Path, str]]) -> list[StagedFile]:
        """Append files not already staged; return the new entries.

        Entries may come with their staging key already computed (off the UI
        thread: it resolves symlinks, which touches the disk).
        """
        fresh: list[StagedFile] = []
        seen: set[str] = set()
        for entry in paths:
            if isinstance(entry, tuple):
                path = entry[0] if isinstance(entry[0], Path) else Path(entry[0])
                item = StagedFile(path, key_cache=entry[1])
            else:
                item = StagedFile(Path(entry))
            key = item.key
            if key in self._rows or key in seen:
                continue
            seen.add(key)
            fresh.append(item)
        if not fresh:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, item in enumerate(fresh):
            self._items.append(item)
            self._rows[item.key] = first + offset
        self.endInsertRows()
        return fresh

    def set_result(self, key: str, result: ValidationResult) -> bool:
        row = self._rows.get(key)
        if row is None:  # removed while it was being checked
            return False
        self._items[row].result = result
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def set_results(self, results: list[tuple[str, ValidationResult]]) -> None:
        """Many verdicts at once: one change signal per run of adjacent rows."""
        rows = []
        for key, result in results:
            row = self._rows.get(key)
            if row is not None:  # else removed while it was being checked
                self._items[row].result = result
                rows.append(row)
        rows.sort()
        last = len(COLUMNS) - 1
        i = 0
        while i < len(rows):
            j = i
            while j + 1 < len(rows) and rows[j + 1] <= rows[j] + 1:
                j += 1
            self.dataChanged.emit(self.index(rows[i], 0), self.index(rows[j], last))
            i = j + 1

    def set_current_destination(self, text: str) -> None:
        self.current_destination = text
        if self._items:
            self.dataChanged.emit(self.index(0, COL_DEST), self.index(len(self._items) - 1, COL_DEST))

    def refresh_row(self, key: str) -> None:
        row = self._rows.get(key)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def item(self, key: str) -> StagedFile | None:
        row = self._rows.get(key)
        return self._items[row] if row is not None else None

    def set_upload_progress(self, fractions: dict[str, float]) -> None:
        for key, fraction in fractions.items():
            row = self._rows.get(key)
            if row is not None and self._items[row].upload_state == "uploading":
                self._progress[key] = fraction
                self.dataChanged.emit(self.index(row, COL_STATUS), self.index(row, COL_STATUS))

    def set_upload_states(self, changes: list[tuple[str, str, str]]) -> None:
        """Many rows at once, with one change signal over the rows touched."""
        touched = []
        for key, state, message in changes:
            row = self._rows.get(key)
            if row is None:
                continue
            item = self._items[row]
            item.upload_state, item.upload_message = state, message
            if state != "uploading":
                self._progress.pop(key, None)
            touched.append(row)
        if touched:
            self.dataChanged.emit(self.index(min(touched), 0),
                                  self.index(max(touched), len(COLUMNS) - 1))

    def set_upload_state(self, key: str, state: str, message: str) -> bool:
        row = self._rows.get(key)
        if row is None:
            return False
        item = self._items[row]
        item.upload_state, item.upload_message = state, message
        if state != "uploading":
            self._progress.pop(key, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def reset_results(self) -> None:
        for item in self._items:
            item.result = None
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, len(COLUMNS) - 1))

    def remove_rows(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._items):
                self.beginRemoveRows(QModelIndex(), row, row)
                self.batch.discard(self._items[row].key)
                self._progress.pop(self._items[row].key, None)
                del self._items[row]
                self.endRemoveRows()
        self._reindex()

    def move(self, row: int, delta: int) -> int:
        """Move one row up (-1) or down (+1); return its new row."""
        to = row + delta
        if not (0 <= row < len(self._items)) or not (0 <= to < len(self._items)):
            return row
        # Qt's destination index is "before this row" in the old numbering.
        dest = to + 1 if delta > 0 else to
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self._items.insert(to, self._items.pop(row))
        self.endMoveRows()
        self._reindex()
        return to

    def clear(self) -> None:
        self.beginResetModel()
        self._items.clear()
        self._rows.clear()
        self._progress.clear()
        self.batch.clear()
        self.endResetModel()

    # ------------------------------------------------------------------ the batch

    def start_batch(self, keys: list[str]) -> None:
        """Files going out now: a new batch, or more of the one still in progress."""
        if all(self._row_state(i) in ANSWERED for i in self._items if i.key in self.batch):
            self.batch = set()
        self.batch |= set(keys)
        self._tally = None

    def batch_items(self) -> list[StagedFile]:
        return [i for i in self._items if i.key in self.batch]

    def batch_progress(self) -> BatchProgress:
        out = BatchProgress()
        for item in self.batch_items():
            size = item.result.size if item.result and item.result.size else 0
            state = self._row_state(item)
            out.files += 1
            out.bytes_total += size
            if state in ANSWERED:
                out.answered += 1
                out.bytes_done += size
            elif state in ("uploading", "waiting"):
                out.bytes_done += size * min(self._progress.get(item.key, 0.0), 0.99)
                out.waiting += state == "waiting"
        return out

    def batch_states(self) -> Counter[str]:
        return Counter(self._row_state(i) for i in self.batch_items())

    def _invalidate(self, *_args: Any) -> None:
        """Rows moved or went: count them all again at the next tally."""
        self._tally = None
        self._dirty = None

    def _rows_changed(self, top: QModelIndex, bottom: QModelIndex, *_roles: Any) -> None:
        self._tally = None
        if self._dirty is not None:
            self._dirty.update(range(top.row(), bottom.row() + 1))

    def _rows_added(self, _parent: QModelIndex, first: int, last: int) -> None:
        self._tally = None
        if self._dirty is not None and first == len(self._parts):  # appended
            self._parts.extend([None] * (last - first + 1))
            self._dirty.update(range(first, last + 1))
        else:
            self._dirty = None

    def tally(self) -> Tally:
        """Everything the status bar, the buttons and the batch line need (kept until a row
        changes; only the rows changed since are counted again)."""
        if self._tally is None:
            self._tally = self._count()
        return self._tally

    def _count(self) -> Tally:
        totals, parts, items = self._totals, self._parts, self._items
        if self._dirty is None or len(parts) != len(items):
            totals, parts = Totals(), [None] * len(items)
            self._totals, self._parts = totals, parts
            dirty: Iterable[int] = range(len(items))
        else:
            dirty = self._dirty
        for row in dirty:
            if not 0 <= row < len(items):
                continue
            old, new = parts[row], part(items[row])
            if old != new:
                totals.add(old, -1)
                totals.add(new, 1)
                parts[row] = new
        self._dirty = set()
        t = Tally(counts=dict(totals.counts), ready=totals.ready, failed=totals.failed)
        if self.batch:
            self._count_batch(t)
        return t

    def _count_batch(self, t: Tally) -> None:
        """The batch line's part of the tally: the rows of the batch only."""
        progress, rows = t.progress, self._rows
        for row in sorted(rows[k] for k in self.batch if k in rows):
            item = self._items[row]
            state = self._row_state(item)
            t.batch[state] += 1
            if state in ("failed", "rejected") and item.upload_message:
                t.reasons.setdefault(state, Counter())[first_sentence(item.upload_message)] += 1
            size = item.result.size if item.result and item.result.size else 0
            progress.files += 1
            progress.bytes_total += size
            if state in ANSWERED:
                progress.answered += 1
                progress.bytes_done += size
            elif state in ("uploading", "waiting"):
                progress.bytes_done += size * min(self._progress.get(item.key, 0.0), 0.99)
                progress.waiting += state == "waiting"

    def _reindex(self) -> None:
        self._rows = {item.key: row for row, item in enumerate(self._items)}

    def counts(self) -> dict[str, int]:
        """Rows per kind: checking, ready, warning, rejected, sending, sent, failed, unknown…"""
        return dict(self.tally().counts)

    def ready_files(self) -> list[StagedFile]:
        """Files Upload sends: accepted by the check (or offered as a copy without scripts,
        if a person agrees), and not sent, failed or on their way."""
        return [i for i in self._items if sendable(i)]

    def failed_files(self) -> list[StagedFile]:
        """Files *Retry failed* sends again: failed, or whose outcome is unknown."""
        return [i for i in self._items if i.ready and i.upload_state in ("failed", "unknown")]

    def sendable_files(self) -> list[StagedFile]:
        """Ready files, and those that may go as a copy without scripts if a person agrees."""
        return self.ready_files()


class ProgressDelegate(QStyledItemDelegate):
    """Draws a progress bar in the status cell of a file that is uploading."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        fraction = index.data(ProgressRole)
        if fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(1000 * max(0.0, min(1.0, fraction)))
        bar.text = f"Uploading… {int(100 * fraction)}%"
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
