"""Images to PDF, for systems that take PDF only (Claros).

* one page per image, in the order given;
* EXIF orientation honoured (a phone photo taken sideways comes out upright);
* never upscaled: the pixels are kept, only the page's physical size is chosen,
  so that the image fits an A4 or Letter page (portrait or landscape) at no
  less than 150 dpi, or is shown at its own size when it is smaller;
* the user's files are never changed: output goes to a private folder of the
  app and is removed once the upload has ended.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from uploader_gui.core.paths import data_dir

if TYPE_CHECKING:  # Pillow is imported when an image is converted, not with the queue
    from PIL import Image

# A4 is 8.27 x 11.69 in, Letter 8.5 x 11 in: the page must fit both.
PAGE_INCHES = (8.27, 11.0)
MIN_DPI = 150.0
JPEG_QUALITY = 92


class ConversionError(Exception):
    """An image could not be turned into a PDF; the message says why, in words."""


def converted_dir() -> Path:
    path = data_dir() / "converted"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def page_dpi(width: int, height: int) -> float:
    """The resolution that fits the image on the page without resampling it."""
    short_in, long_in = PAGE_INCHES
    short_px, long_px = sorted((width, height))
    return max(MIN_DPI, short_px / short_in, long_px / long_in)


def _page_image(path: Path) -> Image.Image:
    from PIL import Image, ImageOps

    with Image.open(path, formats=["JPEG", "PNG"]) as im:
        im.load()
        upright = ImageOps.exif_transpose(im) or im
        if upright.mode in ("RGBA", "LA") or (upright.mode == "P" and "transparency" in upright.info):
            rgba = upright.convert("RGBA")
            page = Image.new("RGB", rgba.size, "white")
            page.paste(rgba, mask=rgba.getchannel("A"))
            return page
        if upright.mode not in ("RGB", "L", "CMYK"):
            return upright.convert("RGB")
        return upright.copy()


def images_to_pdf(images: Sequence[Path], out: Path, title: str = "") -> Path:
    """Write one PDF with a page per image. Raises ConversionError."""
    if not images:
        raise ConversionError("There is no image to convert.")
    pages: list[Image.Image] = []
    try:
        for path in images:
            try:
                pages.append(_page_image(Path(path)))
            except (OSError, ValueError, SyntaxError) as exc:
                raise ConversionError(f"{Path(path).name} could not be converted to PDF "
                                      f"({type(exc).__name__}). Scan or save it again.") from None
        buf = io.BytesIO()
        first, rest = pages[0], pages[1:]
        # Pillow takes one resolution for the whole file; each page keeps its own
        # pixels, so use the highest one needed, and no page is larger than A4/Letter.
        dpi = max(page_dpi(*p.size) for p in pages)
        first.save(buf, format="PDF", save_all=True, append_images=rest, resolution=dpi,
                   quality=JPEG_QUALITY, title=title or None, producer="uploader-gui")
    finally:
        for p in pages:
            p.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(tmp, out)
    return out


def convert_for_upload(images: Sequence[Path], name: str | None = None) -> Path:
    """Convert into a fresh private folder; the caller removes it with :func:`discard`."""
    folder = converted_dir() / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    stem = name or Path(images[0]).stem
    if not stem.lower().endswith(".pdf"):
        stem += ".pdf"
    return images_to_pdf(images, folder / stem, title=Path(stem).stem)


def discard(pdf: Path) -> None:
    """Remove a converted file and its private folder; never anything outside it."""
    root = converted_dir().resolve()
    folder = Path(pdf).resolve().parent
    if folder.parent == root:
        shutil.rmtree(folder, ignore_errors=True)
