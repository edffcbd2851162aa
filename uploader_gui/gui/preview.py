"""See before you send: a preview of the selected file, and table thumbnails.

Pages are rendered by Qt's PDF module (PDFium) and images are decoded by
QImageReader, always on a worker thread, never on the UI thread. Only files that
passed validation are rendered: a hostile file is never handed to a renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QIcon,
    QImage,
    QImageReader,
    QPainter,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.staging import StagedFile
from uploader_gui.gui.tasks import TaskRunner

#: Zoom steps of + and −, relative to the whole page.
ZOOM_STEP = 1.25
FIT_PAGE, FIT_WIDTH = "page", "width"


def tr(text: str) -> str:
    return QCoreApplication.translate("Preview", text)


def render_page(path: str, file_type: str, page: int, size: QSize) -> tuple[QImage, int]:
    """Worker thread: one page (or the image) scaled to fit ``size``; and the page count."""
    if file_type == "pdf":
        from PySide6.QtPdf import QPdfDocument  # on the worker, when a PDF is first shown

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


#: Page thumbnails for the strip under a multi-page PDF: at most this many, this tall.
STRIP_PAGES = 60
STRIP_HEIGHT = 56


def render_thumbnails(path: str, height: int, limit: int = STRIP_PAGES) -> list[QImage]:
    """Worker thread: the first ``limit`` pages of a PDF, ``height`` pixels tall."""
    from PySide6.QtPdf import QPdfDocument

    doc = QPdfDocument()
    try:
        if doc.load(path) != QPdfDocument.Error.None_:
            return []
        out = []
        for page in range(min(doc.pageCount(), limit)):
            points = doc.pagePointSize(page)
            if points.isEmpty():
                out.append(QImage())
                continue
            size = points.toSize().scaled(QSize(height * 2, height),
                                          Qt.AspectRatioMode.KeepAspectRatio)
            out.append(doc.render(page, size))
        return out
    finally:
        doc.close()


class PreviewPane(QWidget):
    """The selected file's pages, with page navigation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = TaskRunner(self, workers=1)
        self._item: StagedFile | None = None
        self._page = 0
        self._pages = 0
        self.rendered_page = -1  # the page now on screen; -1 before the first render
        self._request = 0
        self._shown: tuple[str, bool, bool | None] | None = None
        #: "page" (the whole page), "width" (the page's width), or a zoom factor of the page.
        self.zoom: str | float = FIT_PAGE
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setAccessibleName(tr("Preview of the selected file"))
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.image)
        self.scroll.setWidgetResizable(True)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setMinimumSize(self.fontMetrics().horizontalAdvance("M") * 14,
                                   self.fontMetrics().height() * 10)
        self.scroll.setAccessibleName(tr("Preview"))
        self.caption = QLabel(tr("Select a file to preview it."))
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        # A fixed height: a caption that grows would resize the pane, which re-renders.
        self.caption.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 4)
        self._rendered_size = QSize()
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self._resized)
        self.prev_button = self._button("◀", tr("Previous page"),
                                        lambda: self.show_page(self._page - 1))
        self.next_button = self._button("▶", tr("Next page"),
                                        lambda: self.show_page(self._page + 1))
        self.zoom_out_button = self._button("−", tr("Zoom out"), lambda: self.zoom_by(1 / ZOOM_STEP))
        self.zoom_in_button = self._button("+", tr("Zoom in"), lambda: self.zoom_by(ZOOM_STEP))
        self.fit_page_button = QPushButton(tr("Whole pa&ge"))
        self.fit_page_button.clicked.connect(lambda: self.set_zoom(FIT_PAGE))
        self.fit_width_button = QPushButton(tr("Fit &width"))
        self.fit_width_button.clicked.connect(lambda: self.set_zoom(FIT_WIDTH))
        self.open_button = QPushButton(tr("Open in &viewer"))
        self.open_button.setToolTip(tr("Open the file in the computer's default viewer. The "
                                       "file is not changed."))
        self.open_button.clicked.connect(self.open_in_viewer)
        # Page thumbnails under a multi-page PDF: click (or arrow keys, Enter) to go there.
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setIconSize(QSize(STRIP_HEIGHT * 2, STRIP_HEIGHT))
        self.strip.setFixedHeight(STRIP_HEIGHT + self.fontMetrics().height() * 2 + 8)
        self.strip.setAccessibleName(tr("Pages"))
        self.strip.setVisible(False)
        self.strip.currentRowChanged.connect(self._strip_chosen)
        self._strip_for: str | None = None
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(self.caption, 1)
        nav.addWidget(self.next_button)
        tools = QHBoxLayout()
        for b in (self.fit_page_button, self.fit_width_button, self.zoom_out_button,
                  self.zoom_in_button):
            tools.addWidget(b)
        tools.addStretch(1)
        tools.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.strip)
        layout.addLayout(nav)
        self._update_nav()

    def _button(self, glyph: str, name: str, slot: Callable[[], object]) -> QPushButton:
        b = QPushButton(glyph)
        b.setToolTip(name)
        b.setAccessibleName(name)
        b.clicked.connect(lambda: slot())
        b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        b.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 3)
        return b

    # ------------------------------------------------------------------ zoom

    def set_zoom(self, zoom: str | float) -> None:
        self.zoom = zoom
        ignored, preferred = QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        self.image.setSizePolicy(preferred if isinstance(zoom, float) else ignored,
                                 ignored if zoom == FIT_PAGE else preferred)
        self.show_page(self._page)

    def zoom_by(self, factor: float) -> None:
        current = self.zoom if isinstance(self.zoom, float) else 1.0
        self.set_zoom(max(0.25, min(8.0, current * factor)))

    def _target_size(self) -> QSize:
        view = self.scroll.viewport().size()
        if self.zoom == FIT_WIDTH:
            return QSize(view.width(), view.width() * 20)
        if isinstance(self.zoom, float):
            return view * self.zoom
        return view

    def open_in_viewer(self) -> None:
        if self._item is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._item.path)))

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
            self._page, self._pages, self.rendered_page = 0, 0, -1
            self._strip_for = None
            self.strip.clear()
            # Shown at once for a multi-page PDF (its page count is known from the check),
            # so the page is not rendered for one size and then shrunk by the strip.
            res = item.result if item is not None else None
            self.strip.setVisible(bool(res and res.ok and res.type == "pdf"
                                       and (res.pages or 0) > 1))
        self.image.clear()
        if item is None:
            self.caption.setText(tr("Select a file to preview it."))
        elif item.result is None:
            self.caption.setText(tr("Checking…"))
        elif not item.result.ok or item.result.type is None:
            self.caption.setText(tr("No preview: this file was not accepted."))
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
        self._rendered_size = self.scroll.viewport().size()
        size = self._target_size() * self.devicePixelRatioF()
        # Once the page count is known, the caption names the page asked for at once, so
        # a re-render (a resize, a zoom) never blanks it to "Rendering…".
        self.caption.setText(self._page_caption(page, self._pages) if self._pages
                             else tr("Rendering…"))
        self._runner.run(render_page, lambda res, err: self._rendered(request, res, err),
                         str(item.path), item.result.type, page, size)

    def _rendered(self, request: int, res: tuple[QImage, int] | None,
                  error: BaseException | None) -> None:
        if request != self._request:
            return  # a newer page or file was asked for meanwhile
        if error is not None or res is None or res[0].isNull():
            self.caption.setText(tr("This file could not be previewed."))
            self._update_nav()
            return
        image, pages = res
        self._pages = pages
        self.rendered_page = self._page
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.image.setPixmap(pixmap)
        size = pixmap.deviceIndependentSize().toSize()
        if self.zoom == FIT_PAGE:
            size = QSize(0, 0)
        elif self.zoom == FIT_WIDTH:
            size.setWidth(0)
        self.image.setMinimumSize(size)
        self.caption.setText(self._page_caption(self._page, pages))
        self._update_nav()
        self._fill_strip()

    def _page_caption(self, page: int, pages: int) -> str:
        name = self._item.name if self._item else ""
        return tr("{name} — page {page} of {pages}").format(
            name=name, page=page + 1, pages=pages) if pages > 1 else name

    def _fill_strip(self) -> None:
        item = self._item
        if item is None or self._pages < 2 or item.result is None or item.result.type != "pdf":
            return
        if self._strip_for == item.key:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(self._page)
            self.strip.blockSignals(False)
            return
        self._strip_for = item.key
        key, height = item.key, int(STRIP_HEIGHT * self.devicePixelRatioF())
        self._runner.run(render_thumbnails, lambda res, err: self._strip_ready(key, res, err),
                         str(item.path), height)

    def _strip_ready(self, key: str, images: list[QImage] | None,
                     error: BaseException | None) -> None:
        if self._item is None or self._item.key != key or not images:
            return
        self.strip.blockSignals(True)
        self.strip.clear()
        for n, image in enumerate(images, 1):
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.devicePixelRatioF())
            entry = QListWidgetItem(QIcon(pixmap), str(n))
            entry.setToolTip(tr("Page {n}").format(n=n))
            self.strip.addItem(entry)
        self.strip.setCurrentRow(self._page)
        self.strip.blockSignals(False)

    def _strip_chosen(self, row: int) -> None:
        if row >= 0 and row != self._page:
            self.show_page(row)

    def _update_nav(self) -> None:
        shown = self._pages > 0
        for b in (self.zoom_in_button, self.zoom_out_button, self.fit_page_button,
                  self.fit_width_button, self.open_button):
            b.setEnabled(shown)
        self.prev_button.setEnabled(self._pages > 1 and self._page > 0)
        self.next_button.setEnabled(self._pages > 1 and self._page < self._pages - 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._resize_timer.start()  # re-render once the user has finished resizing

    def _resized(self) -> None:
        old, new = self._rendered_size, self.scroll.viewport().size()
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
            x = (self._size.width() - picture.width()) // 2
            y = (self._size.height() - picture.height()) // 2
            painter.drawPixmap(x, y, picture)
            # A thin frame, so that a white page does not vanish into a white row.
            painter.setPen(QApplication.palette().mid().color())
            painter.drawRect(x, y, picture.width() - 1, picture.height() - 1)
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
