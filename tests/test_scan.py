"""Scanning through the app's SANE code, from the virtual scanner of SANE's ``test`` backend.

See tests/sane_device.py: each test points SANE_CONFIG_DIR at a folder of its own whose
dll.conf says ``test``; in CI a missing ``scanimage`` fails these tests, never skips them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sane_device import use_test_device

from uploader_gui.core.scan import (
    ADF,
    FLATBED,
    ImageCaptureScanner,
    SaneScanner,
    ScanError,
    ScanOptions,
    WiaScanner,
    scan_to_pdf,
    scans_dir,
)

REPO = Path(__file__).resolve().parent.parent
GRID = ("--test-picture", "Grid")


@pytest.fixture
def sane_test_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_test_device(tmp_path, monkeypatch)


def test_lists_the_test_device_and_scans_three_pages_into_a_private_pdf(sane_test_device) -> None:
    scanner = SaneScanner()
    devices = scanner.devices()
    assert "test:0" in [d.id for d in devices]
    assert "frontend-tester" in devices[0].label()
    seen: list[tuple[int, str]] = []
    images: list[bytes] = []

    def on_page(n: int, path: Path) -> None:  # pages arrive one by one, as they are scanned
        seen.append((n, path.name))
        images.append(path.read_bytes())
        assert os.stat(path).st_mode & 0o777 == 0o600

    pdf, result = scan_to_pdf(scanner, ScanOptions(device="test", source=ADF, pages=3,
                                                   extra=GRID), on_page=on_page)
    assert pdf is not None and not result.cancelled
    assert seen == [(1, "page-0001.png"), (2, "page-0002.png"), (3, "page-0003.png")]
    assert pdf.parent.parent == scans_dir()
    assert os.stat(pdf).st_mode & 0o777 == 0o600 and os.stat(pdf.parent).st_mode & 0o777 == 0o700
    assert not list(pdf.parent.glob("*.png"))  # the page images were removed
    with pikepdf.open(pdf) as doc:
        assert len(doc.pages) == 3
        for page, png in zip(doc.pages, images, strict=True):
            [(_name, raw)] = list(page.get_images().items())
            image = pikepdf.PdfImage(raw)
            scanned = Image.open(io.BytesIO(png))
            assert (image.width, image.height) == scanned.size
            assert image.colorspace == "/DeviceGray" and image.bits_per_component == 8
            # 200 dpi grey by default: the page is as large as the paper was.
            assert float(page.mediabox[2]) == pytest.approx(scanned.size[0] * 72 / 200, rel=0.01)
            # Embedded without re-encoding: the very pixels the scanner gave.
            assert image.as_pil_image().tobytes() == scanned.tobytes()


def test_feeder_runs_empty_flatbed_scans_one_and_duplex_needs_a_duplex_feeder(
        sane_test_device) -> None:
    scanner = SaneScanner()
    pdf, result = scan_to_pdf(scanner, ScanOptions(device="test", source=ADF))
    assert pdf is not None and len(result.pages) == 10  # the test feeder holds 10 sheets
    pdf, result = scan_to_pdf(scanner, ScanOptions(device="test", source=FLATBED))
    assert pdf is not None and len(result.pages) == 1
    with pytest.raises(ScanError, match="cannot scan both sides"):
        scanner.scan(ScanOptions(device="test", source=ADF, duplex=True))
    with pytest.raises(ScanError, match="only be scanned from the document feeder"):
        scanner.scan(ScanOptions(device="test", source=FLATBED, duplex=True))
    with pytest.raises(ScanError, match="reported a problem"):
        scanner.scan(ScanOptions(device="nosuch:0", source=FLATBED))


def test_cancel_keeps_the_pages_scanned_so_far(sane_test_device) -> None:
    scanner = SaneScanner()
    arrived: list[int] = []
    slow = (*GRID, "--read-limit=yes", "--read-limit-size", "64", "--read-delay=yes",
            "--read-delay-duration", "20000")
    pdf, result = scan_to_pdf(scanner, ScanOptions(device="test", source=ADF, extra=slow,
                                                   resolution=50),
                              on_page=lambda n, _p: arrived.append(n),
                              cancelled=lambda: bool(arrived))
    assert result.cancelled
    assert 1 <= len(result.pages) < 10
    with pikepdf.open(pdf) as doc:
        assert len(doc.pages) == len(result.pages)


def test_windows_and_macos_backends_say_they_are_not_available_yet() -> None:
    for scanner in (WiaScanner(), ImageCaptureScanner()):
        assert not scanner.available()
        with pytest.raises(ScanError, match="not available on this system yet"):
            scanner.devices()
    with pytest.raises(ScanError, match="sane-utils"):
        _no_program().devices()


def _no_program() -> SaneScanner:
    scanner = SaneScanner()
    scanner.program = None
    return scanner


def test_scan_command_writes_the_pdf(sane_test_device, tmp_path: Path, app_home: Path) -> None:
    from uploader_gui.core.profiles import save_profiles
    from uploader_gui.core.targets import TargetConfig

    save_profiles({"Desk": TargetConfig(kind="claros", base_url="http://127.0.0.1:9",
                                        name="Desk", scan_device="test")})
    out = tmp_path / "batch.pdf"
    env = {**os.environ, "UPLOADER_GUI_HOME": str(app_home)}
    proc = subprocess.run([sys.executable, "-m", "uploader_gui", "scan", "--profile", "Desk",
                           "--source", "adf", "--pages", "3", "-o", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Scanned page 1.", "Scanned page 2.", "Scanned page 3.",
                                        f"Saved 3 page(s) to {out}."]
    assert os.stat(out).st_mode & 0o777 == 0o600
    with pikepdf.open(out) as doc:
        assert len(doc.pages) == 3
    listed = subprocess.run([sys.executable, "-m", "uploader_gui", "scan", "--profile", "Desk",
                             "--list"], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env=env)
    assert listed.returncode == 0 and listed.stdout.startswith("test:0\t")
    bad = subprocess.run([sys.executable, "-m", "uploader_gui", "scan", "--profile", "Desk",
                          "--device", "nosuch:0", "-o", str(tmp_path / "x.pdf")],
                         capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert bad.returncode == 1 and "reported a problem" in bad.stderr
    assert not (tmp_path / "x.pdf").exists()
