"""Make scan-like PDFs for the scan-to-send tests, from scratch (no fetched files).

* :func:`text_pdf`: vector pages, each with its own text (pypdf can extract it);
* :func:`label_page_pdf`: a page with a patient-label barcode (Code 128), or one
  whose barcode has been damaged so that nothing can read it;
* :func:`rasterise`: every page rendered to a greyscale image, turned by some
  angle and sprinkled with specks, then written back as an image-only PDF, the
  way a scanner sees paper.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import img2pdf
import pikepdf
import pypdfium2
import zxingcpp
from PIL import Image, ImageDraw


def text_pdf(path: Path, texts: Sequence[str]) -> Path:
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
        Encoding=pikepdf.Name.WinAnsiEncoding))
    for text in texts:
        page = pdf.add_blank_page(page_size=(612, 792))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        ops = [([], pikepdf.Operator("BT")), ([pikepdf.Name.F1, 24], pikepdf.Operator("Tf")),
               ([72, 700], pikepdf.Operator("Td")), ([pikepdf.String(text)],
                                                      pikepdf.Operator("Tj")),
               ([], pikepdf.Operator("ET"))]
        page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
    pdf.save(path)
    return path


def barcode_image(text: str, fmt: str = "Code128", scale: int = 4) -> Image.Image:
    code = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    image = Image.fromarray(zxingcpp.write_barcode_to_image(code, scale=scale))  # type: ignore[arg-type]
    if fmt == "Code128":
        image = image.resize((image.width, 120 if scale >= 2 else 60))
    return image.convert("L")


def label_page_pdf(path: Path, label: str | None, damaged: bool = False, dpi: int = 200) -> Path:
    """A letter page with a line of text and, at the top right, a label barcode."""
    page = Image.new("L", (int(8.5 * dpi), 11 * dpi), 255)
    draw = ImageDraw.Draw(page)
    draw.text((int(dpi), int(3 * dpi)), "Referral letter: the patient was seen today.", fill=0)
    if label is not None:
        code = barcode_image(label)
        x, y = page.width - code.width - dpi // 2, dpi // 2
        page.paste(code, (x, y))
        if damaged:  # a smudged, torn label: bars wiped out across the middle
            draw.rectangle((x + code.width // 4, y - 5, x + 3 * code.width // 4,
                            y + code.height + 5), fill=0)
    buf = io.BytesIO()
    page.save(buf, format="PNG", dpi=(dpi, dpi))
    path.write_bytes(img2pdf.convert(buf.getvalue()))
    return path


def rasterise(src: Path, out: Path, turns: Mapping[int, int], dpi: int = 150,
              seed: int = 17) -> Path:
    """Render each page (numbered from 0) to grey, turn it clockwise by ``turns[i]`` degrees,
    add specks, and write an image-only PDF."""
    rng = random.Random(seed)
    pdf = pypdfium2.PdfDocument(str(src))
    images = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            page.close()
            angle = turns.get(i, 0)
            if angle:
                image = image.rotate(-angle, expand=True)
            draw = ImageDraw.Draw(image)
            for _ in range(300):
                x, y = rng.randrange(image.width), rng.randrange(image.height)
                draw.point((x, y), fill=rng.choice((0, 90, 160)))
            buf = io.BytesIO()
            image.save(buf, format="JPEG", quality=80, dpi=(dpi, dpi))
            images.append(buf.getvalue())
    finally:
        pdf.close()
    out.write_bytes(img2pdf.convert(images))
    return out


def concat(out: Path, parts: Sequence[Path]) -> Path:
    new = pikepdf.new()
    opened = [pikepdf.open(p) for p in parts]
    try:
        for src in opened:
            new.pages.extend(src.pages)
        new.save(out)
    finally:
        for src in opened:
            src.close()
    return out
