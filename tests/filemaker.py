"""Make good and hostile PDFs and images for the tests, from scratch."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)


def pdf_bytes(pages: int = 1, text: str = "") -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    if text:
        writer.add_metadata({"/Title": text})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def good_pdf(path: Path, pages: int = 1) -> Path:
    return write(path, pdf_bytes(pages))


def _writer_bytes(writer: PdfWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def names_js_pdf(path: Path) -> Path:
    """Document-level JavaScript in the catalog's /Names/JavaScript tree."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    action = writer._add_object(DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"),
        NameObject("/JS"): TextStringObject("app.alert('hello');"),
    }))
    tree = DictionaryObject({
        NameObject("/Names"): ArrayObject([TextStringObject("init"), action]),
    })
    writer._root_object[NameObject("/Names")] = DictionaryObject({
        NameObject("/JavaScript"): writer._add_object(tree),
    })
    return write(path, _writer_bytes(writer))


def open_action_js_pdf(path: Path) -> Path:
    """JavaScript as the catalog's /OpenAction (not in the names tree)."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    action = DictionaryObject({
        NameObject("/Type"): NameObject("/Action"),
        NameObject("/S"): NameObject("/JavaScript"),
        NameObject("/JS"): TextStringObject("app.alert(1)"),
    })
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return write(path, _writer_bytes(writer))


def launch_annotation_pdf(path: Path) -> Path:
    """A link annotation whose action launches a program."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    action = DictionaryObject({
        NameObject("/S"): NameObject("/Launch"),
        NameObject("/F"): TextStringObject("cmd.exe"),
    })
    annot = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/Subtype"): NameObject("/Link"),
        NameObject("/Rect"): ArrayObject([FloatObject(0), FloatObject(0),
                                          FloatObject(100), FloatObject(100)]),
        NameObject("/A"): action,
    })
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
    return write(path, _writer_bytes(writer))


def page_aa_js_pdf(path: Path) -> Path:
    """JavaScript in a page's additional actions (/AA /O: on page open)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    page[NameObject("/AA")] = DictionaryObject({
        NameObject("/O"): DictionaryObject({
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("this.print()"),
        })
    })
    return write(path, _writer_bytes(writer))


def goto_open_action_pdf(path: Path) -> Path:
    """A harmless /OpenAction that only sets the first view (as LibreOffice writes)."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    page_ref = writer.pages[0].indirect_reference
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [page_ref, NameObject("/XYZ"), NumberObject(0), NumberObject(792), NumberObject(0)]
    )
    return write(path, _writer_bytes(writer))


def encrypted_pdf(path: Path, user_password: str) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt(user_password=user_password, owner_password="owner-secret",
                   algorithm="AES-128")
    return write(path, _writer_bytes(writer))


def attachment_pdf(path: Path) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_attachment("notes.txt", b"attached text")
    return write(path, _writer_bytes(writer))


def zero_page_pdf(path: Path) -> Path:
    return write(path, _writer_bytes(PdfWriter()))


def truncated_pdf(path: Path) -> Path:
    data = pdf_bytes(3)
    return write(path, data[: len(data) // 2])


def no_xref_pdf(path: Path) -> Path:
    """%%EOF present but the xref table and trailer are gone."""
    data = pdf_bytes(1)
    start = data.rindex(b"xref")
    return write(path, data[:start] + b"%%EOF\n")


def bad_startxref_pdf(path: Path) -> Path:
    """startxref points into the middle of nowhere: a lenient reader would rebuild."""
    data = pdf_bytes(1)
    i = data.rindex(b"startxref")
    return write(path, data[:i] + b"startxref\n7\n%%EOF\n")


def junk_before_pdf(path: Path) -> Path:
    """A Windows executable header with a PDF appended (a polyglot)."""
    return write(path, b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + pdf_bytes(1))


def page_loop_pdf(path: Path) -> Path:
    body = (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\n"
    )
    xref_at = len(body)
    offsets = [body.index(b"1 0 obj"), body.index(b"2 0 obj")]
    xref = b"xref\n0 3\n0000000000 65535 f \n" + b"".join(
        b"%010d 00000 n \n" % o for o in offsets
    )
    trailer = b"trailer << /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return write(path, body + xref + trailer)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    img = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def good_png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    return write(path, image_bytes("PNG", size))


def good_jpeg(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    return write(path, image_bytes("JPEG", size))


def truncated_jpeg(path: Path) -> Path:
    data = image_bytes("JPEG", (400, 300))
    return write(path, data[: len(data) * 2 // 3])


def truncated_png(path: Path) -> Path:
    data = image_bytes("PNG", (400, 300))
    return write(path, data[: len(data) - 40])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
    )


def bomb_png(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG that claims 1.6 gigapixels: opening it for real would exhaust memory."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = comp.compress(row * 64) + comp.flush()
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))
    return write(path, data)


def big_pdf(path: Path, approx_bytes: int) -> Path:
    """A valid one-page PDF of at least ``approx_bytes``: a page of incompressible noise."""
    side = max(16, int((approx_bytes / 3) ** 0.5))
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="PDF", quality=95)
        if buf.tell() >= approx_bytes:
            return write(path, buf.getvalue())
        side = int(side * max(1.05, (approx_bytes / buf.tell()) ** 0.5 * 1.02))
