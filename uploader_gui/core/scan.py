"""Scanning paper into a PDF: the scanners the OS offers, behind one interface.

* Linux: SANE, through its command-line frontend ``scanimage`` (package
  ``sane-utils``). Pages are scanned with ``--batch`` as PNG files into a
  private folder of the app (0700; files 0600), reported one by one as they
  arrive, and assembled into a PDF with img2pdf, which embeds the pixels
  without re-encoding them.
* Windows (WIA) and macOS (ImageCaptureCore): defined behind the same
  interface, but not implemented or tested yet; they say so in words.

Qt-free: the window runs a scan on a worker (``gui/tasks.py``), ``uploader-gui
scan`` in the foreground. Cancelling ends the ``scanimage`` process; the pages
scanned so far are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from uploader_gui.core.paths import data_dir

FLATBED = "flatbed"
ADF = "adf"
SOURCES = (FLATBED, ADF)
GRAY = "gray"
COLOR = "color"
MODES = (GRAY, COLOR)
#: What clinics use: readable, small, and enough for barcodes.
DEFAULT_RESOLUTION = 200
SCANIMAGE = "scanimage"

PageFn = Callable[[int, Path], None]  # (page number from 1, the page's image)
CancelFn = Callable[[], bool]


class ScanError(Exception):
    """Scanning could not start or failed; the message says what to do, in words."""


@dataclass(frozen=True)
class ScannerDevice:
    id: str  # what the backend needs (SANE: "test:0", "epson2:libusb:001:004")
    vendor: str = ""
    model: str = ""
    kind: str = ""

    def label(self) -> str:
        name = " ".join(x for x in (self.vendor, self.model) if x and x != "Noname")
        return f"{name or self.id} ({self.id})"


@dataclass
class ScanOptions:
    device: str | None = None  # None: the first scanner found
    source: str = FLATBED
    duplex: bool = False
    mode: str = GRAY
    resolution: int = DEFAULT_RESOLUTION
    #: Pages to scan; None: until the feeder is empty (one page on a flatbed).
    pages: int | None = None
    #: Backend-specific scanimage options, e.g. ("--test-picture", "Grid") for SANE's test device.
    extra: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        out = []
        if self.source not in SOURCES:
            out.append("The source must be the flatbed or the document feeder.")
        if self.mode not in MODES:
            out.append("The colour mode must be grey or colour.")
        if not 50 <= self.resolution <= 1200:
            out.append("The resolution must be between 50 and 1200 dpi.")
        if self.pages is not None and self.pages < 1:
            out.append("The number of pages must be at least 1.")
        if self.duplex and self.source != ADF:
            out.append("Both sides can only be scanned from the document feeder.")
        return out


@dataclass
class ScanResult:
    pages: list[Path] = field(default_factory=list)
    cancelled: bool = False
    folder: Path | None = None


class Scanner:
    """One platform's scanners. Subclasses implement :meth:`devices` and :meth:`scan`."""

    name = "scanner"

    def available(self) -> bool:
        return False

    def devices(self) -> list[ScannerDevice]:
        raise ScanError(self.unavailable_text())

    def scan(self, options: ScanOptions, on_page: PageFn | None = None,
             cancelled: CancelFn | None = None) -> ScanResult:
        raise ScanError(self.unavailable_text())

    def unavailable_text(self) -> str:
        return (f"Scanning through {self.name} is not available on this system yet. Scan with "
                "the scanner's own program into the watched folder, or add the file by hand.")


class WiaScanner(Scanner):
    """Windows Image Acquisition. Defined, not implemented or tested here yet."""

    name = "Windows Image Acquisition (WIA)"


class ImageCaptureScanner(Scanner):
    """macOS ImageCaptureCore. Defined, not implemented or tested here yet."""

    name = "macOS Image Capture"


def scans_dir() -> Path:
    path = data_dir() / "scans"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class SaneScanner(Scanner):
    """SANE through ``scanimage``. Honours ``SANE_CONFIG_DIR`` like every SANE frontend."""

    name = "SANE"

    def __init__(self, program: str | None = None) -> None:
        self.program = program or shutil.which(SCANIMAGE)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        return self.program is not None

    def _require(self) -> str:
        if self.program is None:
            raise ScanError("The scanning program “scanimage” is not installed. Install the "
                            "package sane-utils (sudo apt install sane-utils), then try again.")
        return self.program

    def devices(self) -> list[ScannerDevice]:
        prog = self._require()
        try:
            out = subprocess.run([prog, "-f", "%d\t%v\t%m\t%t%n"], capture_output=True,
                                 timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise ScanError("Looking for scanners took more than a minute. Check that the "
                            "scanner is on and connected, then try again.") from None
        found = []
        for line in out.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[0]:
                found.append(ScannerDevice(*parts))
        return found

    def device_options(self, device: str) -> dict[str, list[str]]:
        """The values the device offers for --source, --mode and --resolution (from ``-A``)."""
        prog = self._require()
        out = subprocess.run([prog, "-d", device, "-A"], capture_output=True, timeout=60,
                             check=False)
        found: dict[str, list[str]] = {}
        for line in out.stdout.decode("utf-8", "replace").splitlines():
            m = re.match(r"\s+--(source|mode|resolution) (.+?) \[", line)
            if m:
                found[m.group(1)] = m.group(2).replace("dpi", "").split("|")
        return found

    def _source_value(self, offered: list[str], options: ScanOptions) -> str | None:
        if not offered:
            return None
        lowered = [v.lower() for v in offered]
        if options.source == FLATBED:
            for v, low in zip(offered, lowered, strict=True):
                if "flatbed" in low or low == "normal":
                    return v
            return None
        feeder = [v for v, low in zip(offered, lowered, strict=True)
                  if "feeder" in low or "adf" in low or "duplex" in low]
        duplex = [v for v in feeder if "duplex" in v.lower()]
        simplex = [v for v in feeder if "duplex" not in v.lower()]
        if options.duplex:
            if not duplex:
                raise ScanError("This scanner cannot scan both sides from its feeder. Turn off "
                                "“both sides”, or turn the stack over and scan it again.")
            return duplex[0]
        if not simplex and not duplex:
            raise ScanError("This scanner has no document feeder. Choose the flatbed.")
        return (simplex or duplex)[0]

    def command(self, options: ScanOptions, device: str, folder: Path) -> list[str]:
        offered = self.device_options(device)
        cmd = [self._require(), "-d", device, "--format=png",
               f"--batch={folder / 'page-%04d.png'}", "--resolution", str(options.resolution)]
        modes = offered.get("mode", [])
        want = "gray" if options.mode == GRAY else "color"
        for value in modes:
            if value.lower() in (want, "grey" if want == "gray" else want):
                cmd += ["--mode", value]
                break
        source = self._source_value(offered.get("source", []), options)
        if source is not None:
            cmd += ["--source", source]
        if options.pages is not None:
            cmd += [f"--batch-count={options.pages}"]
        elif options.source == FLATBED:
            cmd += ["--batch-count=1"]
        return cmd + list(options.extra)

    def scan(self, options: ScanOptions, on_page: PageFn | None = None,
             cancelled: CancelFn | None = None) -> ScanResult:
        problems = options.problems()
        if problems:
            raise ScanError(" ".join(problems))
        device = options.device
        if device is None:
            devices = self.devices()
            if not devices:
                raise ScanError("No scanner was found. Check that it is on and connected, "
                                "then try again.")
            device = devices[0].id
        folder = scans_dir() / uuid.uuid4().hex
        folder.mkdir(mode=0o700)
        try:
            cmd = self.command(options, device, folder)
        except (ScanError, OSError, subprocess.SubprocessError):
            shutil.rmtree(folder, ignore_errors=True)
            raise
        result = ScanResult(folder=folder)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, umask=0o077)
        with self._lock:
            self._proc = proc
        watcher = threading.Thread(target=_stop_when_cancelled, args=(proc, cancelled),
                                   daemon=True)
        watcher.start()
        errors: list[str] = []
        assert proc.stderr is not None
        pending: list[int] = []  # scanned; the file is complete once the next page starts

        def collect() -> None:
            for number in pending:
                page = folder / f"page-{number:04d}.png"
                if page.exists():
                    os.chmod(page, 0o600)
                    result.pages.append(page)
                    if on_page is not None:
                        on_page(len(result.pages), page)
            pending.clear()

        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            m = re.match(r"Scanned page (\d+)", line)
            if m:
                pending.append(int(m.group(1)))
            elif line.startswith(("Scanning page", "Batch terminated")):
                collect()
            elif line and not line.startswith(("Scanning", "Output format")):
                errors.append(line)
        code = proc.wait()
        collect()
        watcher.join(timeout=1)
        with self._lock:
            self._proc = None
        result.cancelled = bool(cancelled and cancelled())
        if result.cancelled:
            return result
        # A feeder that runs empty ends the batch with "no documents": that is the normal end.
        empty = any("no documents" in e.lower() or "out of documents" in e.lower() for e in errors)
        if code != 0 and not (result.pages and empty):
            detail = errors[-1] if errors else f"exit status {code}"
            if empty:
                raise ScanError("The document feeder is empty. Put the pages in the feeder, "
                                "or choose the flatbed, then scan again.")
            raise ScanError(f"The scanner reported a problem ({detail}). Check the scanner "
                            "(paper jam, cover open), then scan again.")
        if not result.pages:
            raise ScanError("The scanner returned no page. Check the scanner, then scan again.")
        return result


def _stop_when_cancelled(proc: subprocess.Popen[bytes], cancelled: CancelFn | None) -> None:
    if cancelled is None:
        return
    while proc.poll() is None:
        if cancelled():
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
            return
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue


def system_scanner() -> Scanner:
    """This platform's scanner backend."""
    if sys.platform.startswith("win"):
        return WiaScanner()
    if sys.platform == "darwin":
        return ImageCaptureScanner()
    return SaneScanner()


def assemble_pdf(pages: list[Path], out: Path, resolution: int | None = None) -> Path:
    """One PDF page per scanned image, the pixels embedded as they are (img2pdf). 0600."""
    import img2pdf

    if not pages:
        raise ScanError("There is no scanned page to save.")
    layout = img2pdf.get_fixed_dpi_layout_fun((resolution, resolution)) if resolution else None
    try:
        data = img2pdf.convert([str(p) for p in pages], layout_fun=layout,
                               producer="uploader-gui", rotation=img2pdf.Rotation.ifvalid)
    except (img2pdf.ImageOpenError, OSError, ValueError) as exc:
        raise ScanError(f"The scanned pages could not be saved as a PDF ({exc}). "
                        "Scan again.") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)
    return out


def scan_to_pdf(scanner: Scanner, options: ScanOptions, out: Path | None = None,
                on_page: PageFn | None = None, cancelled: CancelFn | None = None
                ) -> tuple[Path | None, ScanResult]:
    """Scan, then assemble the pages (also those before a cancel) into ``out`` or a private
    file ``scans/<id>/scan.pdf``. The page images are removed once the PDF is written."""
    result = scanner.scan(options, on_page, cancelled)
    if not result.pages:
        return None, result
    target = out or (result.folder or scans_dir()) / "scan.pdf"
    pdf = assemble_pdf(result.pages, target, options.resolution)
    for page in result.pages:
        page.unlink(missing_ok=True)
    if out is not None and result.folder is not None:
        shutil.rmtree(result.folder, ignore_errors=True)
    return pdf, result


__all__ = [
    "ADF", "COLOR", "DEFAULT_RESOLUTION", "FLATBED", "GRAY", "ImageCaptureScanner", "SaneScanner",
    "ScanError", "ScanOptions", "ScanResult", "Scanner", "ScannerDevice", "WiaScanner",
    "assemble_pdf", "scan_to_pdf", "scans_dir", "system_scanner",
]
