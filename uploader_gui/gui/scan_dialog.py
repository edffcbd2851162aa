"""*Scan…*: choose a scanner and its options, scan with progress and cancel.

Looking for scanners and scanning run on a worker (:class:`TaskRunner`); each
page arrives as a small thumbnail made on the worker, so the window never
decodes an image. When the scan ends (or is cancelled after some pages) the
pages are one PDF in the app's private folder and :attr:`ScanDialog.scanned`
gives its path, for the window to stage as a scan batch.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSize, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.scan import (
    ADF,
    COLOR,
    DEFAULT_RESOLUTION,
    FLATBED,
    GRAY,
    Scanner,
    ScanOptions,
    ScanResult,
    scan_to_pdf,
    system_scanner,
)
from uploader_gui.gui.tasks import TaskRunner

THUMB = 96


def tr(text: str) -> str:
    return QCoreApplication.translate("ScanDialog", text)


def thumbnail(path: Path, size: int = THUMB) -> tuple[bytes, int, int]:
    """Grey thumbnail pixels of an image file (worker thread)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        im.thumbnail((size, size))
        return im.tobytes(), im.width, im.height


def thumb_icon(pixels: bytes, width: int, height: int) -> QIcon:
    image = QImage(pixels, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QIcon(QPixmap.fromImage(image))


class ScanDialog(QDialog):
    #: The scan's PDF (private, 0600), once scanning has ended with at least one page.
    scanned = Signal(object)
    #: (page number, thumbnail pixels, width, height), emitted from the worker.
    _page = Signal(int, bytes, int, int)

    def __init__(self, parent: QWidget | None = None, scanner: Scanner | None = None,
                 device: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Scan"))
        self.scanner = scanner or system_scanner()
        self._runner = TaskRunner(self, workers=1)
        self._cancel = threading.Event()
        self._preferred = device
        self.result_pdf: Path | None = None
        self.scanning = False

        self.device = QComboBox()
        self.device.setAccessibleName(tr("Scanner"))
        self.refresh_button = QPushButton(tr("Look again"))
        self.refresh_button.clicked.connect(self.find_devices)
        self.source = QComboBox()
        self.source.addItem(tr("Flatbed"), FLATBED)
        self.source.addItem(tr("Document feeder"), ADF)
        self.duplex = QCheckBox(tr("Both sides (feeder only)"))
        self.mode = QComboBox()
        self.mode.addItem(tr("Grey"), GRAY)
        self.mode.addItem(tr("Colour"), COLOR)
        self.resolution = QSpinBox()
        self.resolution.setRange(75, 600)
        self.resolution.setSingleStep(25)
        self.resolution.setSuffix(" dpi")
        self.resolution.setValue(DEFAULT_RESOLUTION)
        self.pages = QSpinBox()
        self.pages.setRange(0, 500)
        self.pages.setSpecialValueText(tr("All in the feeder"))
        self.source.currentIndexChanged.connect(self._update)

        form = QFormLayout()
        form.addRow(tr("Scanner:"), self.device)
        form.addRow("", self.refresh_button)
        form.addRow(tr("Source:"), self.source)
        form.addRow("", self.duplex)
        form.addRow(tr("Colour:"), self.mode)
        form.addRow(tr("Resolution:"), self.resolution)
        form.addRow(tr("Pages:"), self.pages)

        self.status = QLabel(tr("Looking for scanners…"))
        self.status.setWordWrap(True)
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setAccessibleName(tr("Scanned pages"))
        self.strip.setMinimumHeight(THUMB + 40)

        buttons = QDialogButtonBox()
        self.scan_button = buttons.addButton(tr("&Scan"), QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button = buttons.addButton(tr("S&top"), QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.scan_button.clicked.connect(self.start_scan)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.strip)
        layout.addWidget(buttons)
        self._page.connect(self._page_arrived)
        self._update()
        self.find_devices()

    # ------------------------------------------------------------------ devices

    def find_devices(self) -> None:
        self.device.clear()
        self.scan_button.setEnabled(False)
        self.status.setText(tr("Looking for scanners…"))
        self._runner.run(self.scanner.devices, self._devices_found)

    def _devices_found(self, devices: list | None, error: BaseException | None) -> None:
        if error is not None:
            self.status.setText(str(error))
            return
        for d in devices or []:
            self.device.addItem(d.label(), d.id)
        if self._preferred:  # the profile's scanner, when it is connected
            index = self.device.findData(self._preferred)
            if index >= 0:
                self.device.setCurrentIndex(index)
        if self.device.count() == 0:
            self.status.setText(tr("No scanner was found. Check that it is on and connected, "
                                   "then choose Look again."))
        else:
            self.status.setText(tr("Put the pages in the scanner, then choose Scan."))
        self._update()

    # ------------------------------------------------------------------ scanning

    def options(self) -> ScanOptions:
        return ScanOptions(device=self.device.currentData(), source=self.source.currentData(),
                           duplex=self.duplex.isChecked() and self.source.currentData() == ADF,
                           mode=self.mode.currentData(), resolution=self.resolution.value(),
                           pages=self.pages.value() or None)

    def _update(self) -> None:
        feeder = self.source.currentData() == ADF
        self.duplex.setEnabled(feeder and not self.scanning)
        self.pages.setEnabled(feeder and not self.scanning)
        self.scan_button.setEnabled(not self.scanning and self.device.count() > 0)
        self.cancel_button.setEnabled(self.scanning)
        for w in (self.device, self.source, self.mode, self.resolution, self.refresh_button):
            w.setEnabled(not self.scanning)

    def start_scan(self) -> None:
        options = self.options()
        problems = options.problems()
        if problems:
            self.status.setText(" ".join(problems))
            return
        self._cancel.clear()
        self.strip.clear()
        self.scanning = True
        self.status.setText(tr("Scanning…"))
        self._update()

        def on_page(n: int, path: Path) -> None:  # worker thread: no widgets here
            pixels, w, h = thumbnail(path)
            self._page.emit(n, pixels, w, h)

        self._runner.run(lambda: scan_to_pdf(self.scanner, options, on_page=on_page,
                                             cancelled=self._cancel.is_set), self._scan_done)

    def _page_arrived(self, n: int, pixels: bytes, width: int, height: int) -> None:
        item = QListWidgetItem(thumb_icon(pixels, width, height), tr("Page %n").replace("%n",
                                                                                       str(n)))
        self.strip.addItem(item)
        self.status.setText(tr("Scanned page %n…").replace("%n", str(n)))

    def cancel(self) -> None:
        self._cancel.set()
        self.status.setText(tr("Stopping the scanner…"))

    def _scan_done(self, outcome: tuple[Path | None, ScanResult] | None,
                   error: BaseException | None) -> None:
        self.scanning = False
        self._update()
        if error is not None or outcome is None:
            self.status.setText(str(error))
            return
        pdf, result = outcome
        if pdf is None:
            self.status.setText(tr("Scanning was stopped before any page; nothing was kept."))
            return
        self.result_pdf = pdf
        n = len(result.pages)
        text = (tr("Stopped after %n page(s); they were added to the list as a scan batch.")
                if result.cancelled else
                tr("Scanned %n page(s); they were added to the list as a scan batch."))
        self.status.setText(text.replace("%n", str(n)))
        self.scanned.emit(pdf)

    def done(self, code: int) -> None:  # closing while scanning stops the scanner
        if self.scanning:
            self._cancel.set()
        self._runner.shutdown()
        super().done(code)
