"""Page tools for staged PDFs and scan batches: a thumbnail strip to rotate, delete,
reorder, split and merge, with a "looks blank" mark for the person to confirm.

The pages are shown as they will be; nothing is written until *Save as new
document(s)*, which makes copies in the app's private folder
(:func:`uploader_gui.core.pages.compose`) and gives them to the window to
stage in place of the originals. The originals are never changed. Rendering
thumbnails, the blank check and writing run on a worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QTransform
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.pages import (
    BLANK_DPI,
    BLANK_INK,
    Edited,
    PageRef,
    compose,
    ink_ratio,
    render_gray,
)
from uploader_gui.gui.tasks import TaskRunner

THUMB = 110
RefRole = Qt.ItemDataRole.UserRole + 1


def tr(text: str) -> str:
    return QCoreApplication.translate("PageTools", text)


@dataclass
class PageThumb:
    ref: PageRef
    pixels: bytes
    width: int
    height: int
    blank: bool


def load_pages(files: Sequence[Path]) -> list[PageThumb]:
    """Thumbnails and the blank check of every page of the files (worker thread)."""
    import pypdfium2

    out = []
    for path in files:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            for i in range(len(pdf)):
                image = render_gray(pdf, i, BLANK_DPI)
                blank = ink_ratio(image) < BLANK_INK
                image.thumbnail((THUMB, THUMB))
                out.append(PageThumb(PageRef(Path(path), i), image.tobytes(), image.width,
                                     image.height, blank))
        finally:
            pdf.close()
    return out


def save_documents(segments: list[list[PageRef]], stem: str,
                   origins: Mapping[Path, Sequence[Mapping[str, str]]]) -> list[Edited]:
    """Each segment as a new private PDF (worker thread)."""
    if len(segments) == 1:
        return [compose(segments[0], stem + "-edited", origins)]
    return [compose(seg, f"{stem}-part{n}", origins) for n, seg in enumerate(segments, 1)]


class PageStrip(QListWidget):
    """The pages as thumbnails, in order; drag to reorder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setMovement(QListWidget.Movement.Snap)
        self.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setSpacing(6)
        self.setAccessibleName(tr("Pages"))


class PageToolsDialog(QDialog):
    #: The new documents (list of :class:`Edited`), to stage in place of the originals.
    saved = Signal(list)

    def __init__(self, files: Sequence[Path],
                 origins: Mapping[Path, Sequence[Mapping[str, str]]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.files = [Path(f) for f in files]
        self.origins = dict(origins or {})
        self.setWindowTitle(tr("Pages of %s") % ", ".join(f.name for f in self.files))
        self._runner = TaskRunner(self, workers=1)
        self._thumbs: dict[tuple[Path, int], PageThumb] = {}
        self.split_before: set[tuple[Path, int]] = set()
        self.result: list[Edited] = []

        self.strip = PageStrip()
        self.status = QLabel(tr("Reading the pages…"))
        self.status.setWordWrap(True)
        self.rotate_left = QPushButton(tr("Turn left"))
        self.rotate_right = QPushButton(tr("Turn right"))
        self.delete_button = QPushButton(tr("Delete"))
        self.left_button = QPushButton(tr("Move left"))
        self.right_button = QPushButton(tr("Move right"))
        self.split_button = QPushButton(tr("Split before"))
        self.split_button.setToolTip(tr("Start a new document at the selected page (again to "
                                        "undo)."))
        self.blank_button = QPushButton(tr("Delete blank-looking pages…"))
        self.blank_button.setToolTip(tr("Pages marked “looks blank” are selected; check them, "
                                        "then choose Delete."))
        self.save_button = QPushButton(tr("Save as new document"))
        self.save_button.setDefault(True)
        close = QPushButton(tr("Cancel"))
        self.rotate_left.clicked.connect(lambda: self.rotate_selected(-90))
        self.rotate_right.clicked.connect(lambda: self.rotate_selected(90))
        self.delete_button.clicked.connect(self.delete_selected)
        self.left_button.clicked.connect(lambda: self.move_selected(-1))
        self.right_button.clicked.connect(lambda: self.move_selected(1))
        self.split_button.clicked.connect(self.toggle_split)
        self.blank_button.clicked.connect(self.select_blank)
        self.save_button.clicked.connect(self.save)
        close.clicked.connect(self.reject)
        tools = QHBoxLayout()
        for b in (self.rotate_left, self.rotate_right, self.delete_button, self.left_button,
                  self.right_button, self.split_button, self.blank_button):
            tools.addWidget(b)
        tools.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.strip, 1)
        layout.addLayout(bottom)
        self.resize(820, 520)
        self._set_enabled(False)
        self._runner.run(load_pages, self._loaded, self.files)

    # ------------------------------------------------------------------ pages

    def _set_enabled(self, on: bool) -> None:
        for b in (self.rotate_left, self.rotate_right, self.delete_button, self.left_button,
                  self.right_button, self.split_button, self.blank_button, self.save_button):
            b.setEnabled(on)

    def _loaded(self, thumbs: list[PageThumb] | None, error: BaseException | None) -> None:
        if error is not None or thumbs is None:
            self.status.setText(tr("The pages could not be read: %s") % error)
            return
        for t in thumbs:
            self._thumbs[(t.ref.source, t.ref.index)] = t
            item = QListWidgetItem()
            item.setData(RefRole, t.ref)
            self.strip.addItem(item)
            self._refresh(item)
        self._set_enabled(bool(thumbs))
        blank = sum(t.blank for t in thumbs)
        self.status.setText(tr("%d page(s).") % len(thumbs) + (
            tr(" %d look blank: choose “Delete blank-looking pages…” to check them.") % blank
            if blank else ""))

    def refs(self) -> list[PageRef]:
        return [self.strip.item(i).data(RefRole) for i in range(self.strip.count())]

    def looks_blank(self) -> list[bool]:
        return [self._thumbs[(r.source, r.index)].blank for r in self.refs()]

    def _refresh(self, item: QListWidgetItem) -> None:
        ref: PageRef = item.data(RefRole)
        t = self._thumbs[(ref.source, ref.index)]
        image = QImage(t.pixels, t.width, t.height, t.width, QImage.Format.Format_Grayscale8)
        pixmap = QPixmap.fromImage(image.copy())
        if ref.rotate:
            pixmap = pixmap.transformed(QTransform().rotate(ref.rotate))
        item.setIcon(QIcon(pixmap))
        label = str(self.strip.row(item) + 1)
        if len(self.files) > 1:
            label += f" ({ref.source.name} p{ref.index + 1})"
        if (ref.source, ref.index) in self.split_before and self.strip.row(item) > 0:
            label = "✂ " + label
        if t.blank:
            label += tr(" · looks blank")
        item.setText(label)
        item.setToolTip(tr("Page %d of %s") % (ref.index + 1, ref.source.name))

    def _refresh_all(self) -> None:
        for i in range(self.strip.count()):
            self._refresh(self.strip.item(i))

    def selected_rows(self) -> list[int]:
        return sorted(self.strip.row(i) for i in self.strip.selectedItems())

    def rotate_selected(self, degrees: int) -> None:
        for row in self.selected_rows():
            item = self.strip.item(row)
            item.setData(RefRole, item.data(RefRole).turned(degrees))
            self._refresh(item)

    def delete_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) >= self.strip.count():
            self.status.setText(tr("A document needs at least one page; keep one."))
            return
        for row in reversed(rows):
            self.strip.takeItem(row)
        self._refresh_all()
        self.status.setText(tr("%d page(s) left.") % self.strip.count())

    def move_selected(self, delta: int) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        row, new = rows[0], rows[0] + delta
        if not 0 <= new < self.strip.count():
            return
        item = self.strip.takeItem(row)
        self.strip.insertItem(new, item)
        self.strip.setCurrentRow(new)
        self._refresh_all()

    def toggle_split(self) -> None:
        for row in self.selected_rows():
            ref: PageRef = self.strip.item(row).data(RefRole)
            self.split_before ^= {(ref.source, ref.index)}
        self._refresh_all()

    def select_blank(self) -> None:
        """Select the blank-looking pages, for the person to check and then delete."""
        self.strip.clearSelection()
        marked = [i for i, b in enumerate(self.looks_blank()) if b]
        for row in marked:
            self.strip.item(row).setSelected(True)
        self.status.setText(tr("%d page(s) look blank and are selected. Check them, then "
                               "choose Delete.") % len(marked) if marked else
                            tr("No page looks blank."))

    def segments(self) -> list[list[PageRef]]:
        out: list[list[PageRef]] = []
        for row, ref in enumerate(self.refs()):
            if not out or (row > 0 and (ref.source, ref.index) in self.split_before):
                out.append([])
            out[-1].append(ref)
        return out

    # ------------------------------------------------------------------ saving

    def save(self) -> None:
        self._set_enabled(False)
        self.status.setText(tr("Saving…"))
        self._runner.run(save_documents, self._saved, self.segments(), self.files[0].stem,
                         self.origins)

    def _saved(self, docs: list[Edited] | None, error: BaseException | None) -> None:
        if error is not None or docs is None:
            self._set_enabled(True)
            self.status.setText(tr("The pages could not be saved: %s") % error)
            return
        self.result = docs
        self.saved.emit(docs)
        self.accept()

    def done(self, code: int) -> None:
        self._runner.shutdown()
        super().done(code)
