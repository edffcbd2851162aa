"""See before you send: a preview of the selected file, and table thumbnails.

Pages are rendered by Qt's PDF module (PDFium) and images are decoded by
QImageReader, always on a worker thread, never on the UI thread. Only files that
passed validation are rendered: a hostile file is never handed to a renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QImage, QImageReader, QPainter, QPixmap, QResizeEvent
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from uploader_gui.core.staging import StagedFile
from uploader_gui.gui.tasks import TaskRunner


def render_page(path: str, file_type: str, page: int, size: QSize) -> tuple[QImage, int]:
    """Worker thread: one page (or the image) scaled to fit ``size``; and the page count."""
    if file_type == "pdf":
        doc = QPdfDocument()
        try:
            if doc.load(path) != QPdfDocument.Error.None_:
                return QImage(), 0
            count = doc.pageCount()
            page = max(0, min(page, count - 1))
            points = doc.pagePointSize(page)
            if points.isEmpty():
                return QImage(), count
            scaled = points.toSize().scaled(size, Qt.AspectRatioMode.KeepAspectRatio)
            return doc.render(page, scaled), count
        finally:
            doc.close()
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # EXIF orientation, as the photo was taken
    image = reader.read()
    if image.isNull():
        return image, 0
    if image.width() > size.width() or image.height() > size.height():  # never upscale
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image, 1


class PreviewPane(QWidget):
    """The selected file's pages, with page navigation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = TaskRunner(self, workers=1)
        self._item: StagedFile | None = None
        self._page = 0
        self._pages = 0
        self._request = 0
        self._shown: tuple[str, bool, bool | None] | None = None
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumSize(self.fontMetrics().horizontalAdvance("M") * 14,
                                  self.fontMetrics().height() * 10)
        self.caption = QLabel("Select a file to preview it.")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        # A fixed height: a caption that grows would resize the pane, which re-renders.
        self.caption.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 4)
        self._rendered_size = QSize()
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self._resized)
        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("Previous page")
        self.prev_button.clicked.connect(lambda: self.show_page(self._page - 1))
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next page")
        self.next_button.clicked.connect(lambda: self.show_page(self._page + 1))
        for b in (self.prev_button, self.next_button):
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            b.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 3)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(self.caption, 1)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image, 1)
        layout.addLayout(nav)
        self._update_nav()

    @property
    def page(self) -> int:
        return self._page

    @property
    def page_count(self) -> int:
        return self._pages

    def follow(self, item: StagedFile | None) -> None:
        """Show this file, unless it is already shown as it is (checked or not)."""
        state = None if item is None else (item.key, item.result is not None,
                                           item.result.ok if item.result else None)
        if state != self._shown:
            self._shown = state
            self.show_file(item)

    def show_file(self, item: StagedFile | None) -> None:
        same = item is not None and self._item is not None and item.key == self._item.key
        self._item = item
        if not same:
            self._page, self._pages = 0, 0
        self.image.clear()
        if item is None:
            self.caption.setText("Select a file to preview it.")
        elif item.result is None:
            self.caption.setText("Checking…")
        elif not item.result.ok or item.result.type is None:
            self.caption.setText("No preview: this file was not accepted.")
        else:
            self.show_page(self._page)
            return
        self._update_nav()

    def show_page(self, page: int) -> None:
        item = self._item
        if item is None or item.result is None or not item.result.ok or item.result.type is None:
            return
        if self._pages:
            page = max(0, min(page, self._pages - 1))
        self._page = page
        self._request += 1
        request = self._request
        self._rendered_size = self.image.size()
        size = self.image.size() * self.devicePixelRatioF()
        self.caption.setText("Rendering…")
        self._runner.run(render_page, lambda res, err: self._rendered(request, res, err),
                         str(item.path), item.result.type, page, size)

    def _rendered(self, request: int, res: tuple[QImage, int] | None,
                  error: BaseException | None) -> None:
        if request != self._request:
            return  # a newer page or file was asked for meanwhile
        if error is not None or res is None or res[0].isNull():
            self.caption.setText("This file could not be previewed.")
            self._update_nav()
            return
        image, pages = res
        self._pages = pages
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.image.setPixmap(pixmap)
        name = self._item.name if self._item else ""
        self.caption.setText(f"{name} — page {self._page + 1} of {pages}" if pages > 1 else name)
        self._update_nav()

    def _update_nav(self) -> None:
        self.prev_button.setEnabled(self._pages > 1 and self._page > 0)
        self.next_button.setEnabled(self._pages > 1 and self._page < self._pages - 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._resize_timer.start()  # re-render once the user has finished resizing

    def _resized(self) -> None:
        old, new = self._rendered_size, self.image.size()
        changed = abs(old.width() - new.width()) > 8 or abs(old.height() - new.height()) > 8
        if changed and self._item is not None and self._item.result is not None \
                and self._item.result.ok:
            self.show_page(self._page)

    def shutdown(self) -> None:
        self._runner.shutdown()


class Thumbnails:
    """Small first-page pictures for the staging table, rendered on demand, once each."""

    def __init__(self, runner: TaskRunner, size: int, changed: Callable[[str], None]) -> None:
        self._runner = runner
        self._size = QSize(size, size)
        self._changed = changed
        self._cache: dict[str, QPixmap | None] = {}
        self._blank: QPixmap | None = None

    def _square(self, picture: QPixmap | None) -> QPixmap:
        """Every row's picture in the same square, so that the names line up."""
        out = QPixmap(self._size)
        out.fill(Qt.GlobalColor.transparent)
        if picture is not None:
            painter = QPainter(out)
            painter.drawPixmap((self._size.width() - picture.width()) // 2,
                               (self._size.height() - picture.height()) // 2, picture)
            painter.end()
        return out

    def get(self, item: StagedFile) -> QPixmap | None:
        if self._blank is None:
            self._blank = self._square(None)
        if item.key in self._cache:
            return self._cache[item.key] or self._blank
        res = item.result
        if res is None or not res.ok or res.type is None:
            return self._blank
        self._cache[item.key] = None  # asked for; rendering
        key = item.key

        def done(out: tuple[QImage, int] | None, error: BaseException | None) -> None:
            if out is not None and not out[0].isNull():
                self._cache[key] = self._square(QPixmap.fromImage(out[0]))
                self._changed(key)

        self._runner.run(render_page, done, str(Path(item.path)), res.type, 0, self._size)
        return self._blank

    def forget(self, key: str | None = None) -> None:
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)
