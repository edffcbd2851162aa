"""PDFs with the faults real-world files have, written byte by byte by the tests.

Each maker reproduces one fault class met in public PDF test suites (see
docs/pdf-corpus.md): the files themselves are not redistributed, these are.
Every page carries a line of text, so tests can compare extracted text
before and after a repair.
"""

from __future__ import annotations

import zlib
from pathlib import Path


def page_text(n: int) -> str:
    return f"Referral letter page {n}"


def build(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"",
          header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A PDF from numbered object bodies (object i+1 is objects[i]), with a correct xref."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, root, trailer_extra, xref_at)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", compress: bool = False,
           filter_name: bytes = b"/FlateDecode") -> bytes:
    if compress:
        data = zlib.compress(data)
        extra += b" /Filter " + filter_name
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_objects(pages: int = 2, catalog_extra: bytes = b"", page_extra: bytes = b"",
                 compress: bool = False, filter_name: bytes = b"/FlateDecode") -> list[bytes]:
    """Objects of a text PDF: 1 catalog, 2 page tree, 3 font, then (page, content) pairs."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        content = b"BT /F1 18 Tf 72 720 Td (" + page_text(i + 1).encode() + b") Tj ET"
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R " % (5 + 2 * i)
            + page_extra + b">>")
        objs.append(stream(content, compress=compress, filter_name=filter_name))
    return objs


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def text_pdf(path: Path, pages: int = 2) -> Path:
    return write(path, build(text_objects(pages)))


# ------------------------------------------------------------------ fault classes


def trailing_data(path: Path, size: int = 4096) -> Path:
    """Padding after %%EOF, further than 2 KB, as scanners and mail gateways leave."""
    return write(path, build(text_objects()) + b"\x00" * size)


def scanner_garbage_after_eof(path: Path) -> Path:
    """About 11 KB of binary after %%EOF, like the Canon scan in pdf.js's tests."""
    noise = bytes((i * 73 + 41) % 251 for i in range(11_000))
    return write(path, build(text_objects()) + noise)


def comment_before_eof(path: Path) -> Path:
    data = build(text_objects())
    cut = data.rindex(b"%%EOF")
    return write(path, data[:cut] + b"%scanner-id 7\n" + data[cut:])


def wrong_startxref(path: Path) -> Path:
    """startxref points at the wrong place (viewers rebuild the xref)."""
    data = build(text_objects(3))
    i = data.rindex(b"startxref")
    return write(path, data[:i] + b"startxref\n17\n%%EOF\n")


def shifted_xref(path: Path) -> Path:
    """Every xref offset is off by a few bytes: a broken xref table (Word, Inkscape)."""
    data = build(text_objects(3))
    head, _, rest = data.partition(b"xref\n")
    lines = rest.split(b"\n")
    fixed = [lines[0], lines[1]]
    for line in lines[2:]:
        if line.endswith(b" n "):
            fixed.append(b"%010d 00000 n " % (int(line[:10]) + 5))
        else:
            fixed.append(line)
    return write(path, head + b"xref\n" + b"\n".join(fixed))


def missing_object_outline(path: Path) -> Path:
    """An outline item whose /Next points at an object that does not exist (the Kodak scan)."""
    objs = text_objects(catalog_extra=b"/Outlines 8 0 R ")
    objs.append(b"<< /Type /Outlines /First 9 0 R /Last 9 0 R /Count 1 >>")  # 8
    objs.append(b"<< /Title (Page 1) /Parent 8 0 R /Dest [4 0 R /Fit] /Next 40 0 R >>")  # 9
    return write(path, build(objs))


def duplicate_keys(path: Path) -> Path:
    objs = text_objects()
    objs[0] = b"<< /Type /Catalog /Pages 2 0 R /Lang (en) /Lang (en-GB) >>"
    return write(path, build(objs))


def abbreviated_filter(path: Path) -> Path:
    """Content compressed with the filter name abbreviated to /Fl."""
    return write(path, build(text_objects(compress=True, filter_name=b"/Fl")))


def no_eof(path: Path) -> Path:
    """Cut off before %%EOF."""
    data = build(text_objects(3))
    return write(path, data[: data.rindex(b"startxref")])


def cut_incremental_update(path: Path) -> Path:
    """A complete file, then an incremental update cut off before its own %%EOF."""
    data = build(text_objects(2))
    update = b"10 0 obj\n<< /Producer (Scanner) >>\nendobj\nxref\n0 1\n0000000000 65535 f \n"
    return write(path, data + update)


def image_bomb(path: Path) -> Path:
    """A page holding a JBIG2 image declared 100,000 x 100,000 pixels."""
    objs = text_objects(1)
    objs[3] = objs[3].replace(b"/Font << /F1 3 0 R >>", b"/Font << /F1 3 0 R >> /XObject << /Im1 6 0 R >>")
    objs.append(stream(b"\x00" * 16, b" /Type /XObject /Subtype /Image /Width 100000 /Height 100000 "
                                      b"/BitsPerComponent 1 /ColorSpace /DeviceGray /Filter /JBIG2Decode"))
    return write(path, build(objs))


def undecodable_page(path: Path, page: int = 3) -> Path:
    """Page ``page`` has a Flate stream that does not inflate."""
    objs = text_objects(3, compress=True)
    index = 4 + 2 * (page - 1)  # 0-based index of that page's content object
    objs[index] = stream(b"this is not zlib data at all" * 4, b" /Filter /FlateDecode")
    return write(path, build(objs))


def certificate_encrypted(path: Path) -> Path:
    """Encrypted for particular recipients' certificates (the public-key handler)."""
    objs = text_objects(1)
    objs.append(b"<< /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /R 4 /Length 128 "
                b"/CF << /DefaultCryptFilter << /CFM /AESV2 /Recipients [<3082>] >> >> "
                b"/StmF /DefaultCryptFilter /StrF /DefaultCryptFilter >>")
    return write(path, build(objs, trailer_extra=b"/Encrypt 6 0 R /ID [<00112233><00112233>] "))


def junk_before(path: Path) -> Path:
    """A mail gateway's text in front of the PDF, not a program."""
    return write(path, b"X-Scanned-By: gateway\r\n\r\n" + build(text_objects()))


def field_keystroke_js(path: Path) -> Path:
    """A form field whose script runs when a person types in it (/AA /K)."""
    objs = text_objects(1, catalog_extra=b"/AcroForm << /Fields [6 0 R] >> ",
                        page_extra=b"/Annots [6 0 R] ")
    objs.append(b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (amount) /Rect [72 600 300 630] "
                b"/P 4 0 R /AA << /K 7 0 R >> >>")  # 6
    objs.append(b"<< /S /JavaScript /JS (AFNumber_Keystroke\\(2\\);) >>")  # 7
    return write(path, build(objs))


def field_click_js_with_fault(path: Path) -> Path:
    """A button running JavaScript when clicked, in a file that also needs repair."""
    objs = text_objects(2, catalog_extra=b"/AcroForm << /Fields [8 0 R] >> /OpenAction 9 0 R ",
                        page_extra=b"/Annots [8 0 R] ")
    objs[5] = objs[5].replace(b"/Annots [8 0 R] ", b"")  # only page 1 holds the button
    objs.append(b"<< /Type /Annot /Subtype /Widget /FT /Btn /Ff 65536 /T (go) "
                b"/Rect [72 600 200 630] /P 4 0 R /A 10 0 R >>")  # 8
    objs.append(b"<< /S /Launch /F (cmd.exe) >>")  # 9
    objs.append(b"<< /S /JavaScript /JS (app.alert\\(1\\);) /Next 9 0 R >>")  # 10
    return write(path, build(objs) + b"\x00" * 3000)


def xfa_script(path: Path) -> Path:
    packet = b'<xdp:xdp><template><subform><script contentType="application/x-javascript">' \
             b"app.alert(1)</script></subform></template></xdp:xdp>"
    objs = text_objects(1, catalog_extra=b"/AcroForm << /Fields [] /XFA 6 0 R >> ")
    objs.append(stream(packet))
    return write(path, build(objs))


#: (maker, expected ok, expected codes, expected repair, why)
FAULTS = [
    (trailing_data, True, ["pdf_repaired"], "structural", "4 KB of padding after %%EOF"),
    (scanner_garbage_after_eof, True, ["pdf_repaired"], "structural", "11 KB of binary after %%EOF"),
    (comment_before_eof, True, [], None, "a comment line before %%EOF"),
    (wrong_startxref, True, ["pdf_repaired"], "structural", "startxref points elsewhere"),
    (shifted_xref, True, ["pdf_repaired"], "structural", "xref offsets all wrong"),
    (missing_object_outline, True, [], None, "outline item pointing at a missing object"),
    (duplicate_keys, True, [], None, "a dictionary key given twice"),
    (abbreviated_filter, True, [], None, "the filter name abbreviated to /Fl"),
    (no_eof, False, ["pdf_truncated"], None, "cut off before %%EOF"),
    (cut_incremental_update, False, ["pdf_truncated"], None, "an update cut off"),
    (image_bomb, False, ["too_complex"], None, "a 100,000 x 100,000 image"),
    (undecodable_page, True, ["pdf_page_content"], None, "page 3 does not decode"),
    (certificate_encrypted, False, ["pdf_encryption_unsupported"], None, "certificate encryption"),
    (junk_before, True, ["pdf_repaired"], "structural", "text in front of the header"),
    (field_keystroke_js, False, ["pdf_active_content"], None, "a field's keystroke script"),
    (field_click_js_with_fault, False, ["pdf_repaired", "pdf_active_content"], "structural",
     "a button's script and Launch, in a file needing repair"),
    (xfa_script, False, ["pdf_active_content"], None, "an XFA form script"),
]
