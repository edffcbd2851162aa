"""Image-to-PDF conversion for PDF-only systems."""

from __future__ import annotations

import io
from pathlib import Path

import filemaker as fm
from PIL import Image
from pypdf import PdfReader

from uploader_gui.core.convert import convert_for_upload, converted_dir, discard, images_to_pdf
from uploader_gui.core.validation import validate_file


def rotated_jpeg(path: Path, size=(400, 200)) -> Path:
    """A landscape-stored JPEG whose EXIF says: rotate 90° to view (orientation 6)."""
    img = Image.new("RGB", size, (20, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    return fm.write(path, buf.getvalue())


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(pdf).pages]


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    src = rotated_jpeg(tmp_path / "card.jpg")
    before = src.read_bytes()
    out = images_to_pdf([src], tmp_path / "out" / "card.pdf")
    [(w, h)] = page_sizes(out)
    assert h > w  # stored 400x200, shown upright as 200x400
    assert src.read_bytes() == before  # the user's file is untouched
    assert validate_file(out).ok


def test_one_page_per_image_in_order_and_no_upscaling(tmp_path: Path) -> None:
    a = fm.good_png(tmp_path / "a.png", size=(300, 150))
    b = fm.good_jpeg(tmp_path / "b.jpg", size=(3000, 4000))
    out = images_to_pdf([a, b], tmp_path / "both.pdf")
    reader = PdfReader(out)
    assert len(reader.pages) == 2
    (w1, h1), (w2, h2) = page_sizes(out)
    assert w1 > h1 and h2 > w2  # landscape then portrait, in the order given
    # The large photo fits an A4/Letter page (in points: 8.27 x 11 in at most).
    assert w2 <= 8.27 * 72 + 1 and h2 <= 11 * 72 + 1
    images = [img for page in reader.pages for img in page.images]
    assert [im.image.size for im in images] == [(300, 150), (3000, 4000)]  # pixels kept


def test_transparent_png_gets_a_white_page(tmp_path: Path) -> None:
    img = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    src = tmp_path / "t.png"
    img.save(src)
    out = images_to_pdf([src], tmp_path / "t.pdf")
    [page_image] = PdfReader(out).pages[0].images
    assert page_image.image.convert("RGB").getpixel((10, 10)) == (255, 255, 255)


def test_convert_for_upload_lives_in_a_private_folder(tmp_path: Path, app_home: Path) -> None:
    src = fm.good_jpeg(tmp_path / "Insurance card.jpg")
    pdf = convert_for_upload([src])
    assert pdf.name == "Insurance card.pdf"
    assert pdf.parent.parent == converted_dir()
    assert (pdf.parent.stat().st_mode & 0o777) == 0o700
    discard(pdf)
    assert not pdf.parent.exists() and src.exists()
    discard(src)  # never removes anything outside the app's folder
    assert src.exists()
