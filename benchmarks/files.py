"""The documents the cases send and check, generated from scratch for each run.

PDFs are written by hand (five objects and a correct xref) so that thousands of them,
each with different bytes, take well under a second to make.
"""

from __future__ import annotations

import io
import random  # reproducible file contents, not secrets
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject


def pdf_bytes(payload: bytes = b"", text: str = "page") -> bytes:
    """A valid one-page PDF; ``payload`` goes into an (unused) stream to give it size."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(payload) + payload + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_of_size(path: Path, size: int, seed: int) -> Path:
    """A valid one-page PDF of about ``size`` bytes whose bytes differ for every seed."""
    payload = random.Random(seed).randbytes(max(0, size - 700))  # noqa: S311
    path.write_bytes(pdf_bytes(payload, text=f"document {seed}"))
    return path


def raw_file(path: Path, size: int, seed: int, chunk: int = 8 * 1024 * 1024) -> Path:
    """A big file (PDF header, random body) written in chunks; for transfer cases only."""
    rng = random.Random(seed)  # noqa: S311
    with open(path, "wb") as fh:
        fh.write(b"%PDF-1.7\n")
        left = size - 9
        while left > 0:
            n = min(chunk, left)
            fh.write(rng.randbytes(n))
            left -= n
    return path


def many_pages_pdf(path: Path, pages: int) -> Path:
    """A PDF of ``pages`` pages, each with its own small content stream (pypdf-made)."""
    writer = PdfWriter()
    for i in range(pages):
        page = writer.add_blank_page(width=612, height=792)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 10 Tf 72 720 Td (page {i + 1}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return path


def _image(fmt: str, seed: int) -> bytes:
    rng = random.Random(seed)  # noqa: S311
    img = Image.new("RGB", (64, 48), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def mixed_set(folder: Path, count: int) -> dict[str, int]:
    """``count`` files as a clinic's scan folder might hold them; returns how many of each.

    85% one-page PDFs, 5% JPEG, 5% PNG, 5% bad: truncated PDFs, data before the
    header, a JPEG named .pdf, empty files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {"pdf": 0, "jpeg": 0, "png": 0, "bad": 0}
    jpeg, png = _image("JPEG", 1), _image("PNG", 2)
    for i in range(count):
        slot = i % 20
        if slot < 17:
            (folder / f"scan-{i:05d}.pdf").write_bytes(pdf_bytes(b"%d" % i, text=f"scan {i}"))
            kinds["pdf"] += 1
        elif slot == 17:
            (folder / f"photo-{i:05d}.jpg").write_bytes(jpeg + b"\x00" * (i % 7))
            kinds["jpeg"] += 1
        elif slot == 18:
            (folder / f"photo-{i:05d}.png").write_bytes(png)
            kinds["png"] += 1
        else:
            good = pdf_bytes(b"%d" % i)
            bad = [good[: len(good) // 2], b"MZ\x90\x00" + good, jpeg, b""][(i // 20) % 4]
            (folder / f"bad-{i:05d}.pdf").write_bytes(bad)
            kinds["bad"] += 1
    return kinds
