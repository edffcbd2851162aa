"""Cover sheets: one printed page on top of each patient's documents in a scan batch.

The sheet carries, in a QR code and again in a Code 128, the text::

    UGCS1|<profile>|<patient id or record>|<document type>|<check>

(fields percent-encoded, so ``|`` and non-ASCII survive Code 128). ``check``
is the first 10 hex digits of an HMAC-SHA256 of the other fields, keyed by
this installation's cover-sheet key: a sheet whose check verifies was printed
by an app holding the key for exactly that patient, so a watched folder may
send the part behind it without a person (when its profile allows it). A
misread, an edited or a hand-made sheet does not verify. A scan server that
reads sheets printed at the front desk needs the same key: copy the file
``cover-sheet.key`` from the config folder, or set ``UPLOADER_GUI_SHEET_KEY``.

The patient's name and date of birth (from the target's ``lookup()``) are
printed in large type for the person at the scanner; they are not in the
barcodes. The PDF is drawn with pikepdf (Helvetica, so names outside Latin-1
print with "?"; the barcodes are unaffected).
"""

from __future__ import annotations

import hmac
import os
import secrets
import zlib
from dataclasses import dataclass, replace
from datetime import date
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from uploader_gui.core.paths import config_dir
from uploader_gui.core.targets.base import (
    KIND_LABELS,
    Credentials,
    Destination,
    PatientInfo,
    Target,
    TargetConfig,
)

PREFIX = "UGCS1"
KEY_FILE = "cover-sheet.key"
KEY_ENV = "UPLOADER_GUI_SHEET_KEY"
CHECK_LEN = 10
PAGE = (612.0, 792.0)  # US Letter; fits A4 printers with the margins used
_SAFE = " -_.,()/:#'"


@dataclass(frozen=True)
class SheetData:
    """What a cover sheet says. ``verified``: its check value matches this installation's key."""

    profile: str
    dest_id: str
    doctype: str = ""
    check: str = ""
    verified: bool = False

    def text(self) -> str:
        fields = [PREFIX, *(quote(x, safe=_SAFE) for x in (self.profile, self.dest_id,
                                                          self.doctype)), self.check]
        return "|".join(fields)


def sheet_key() -> bytes:
    """This installation's key (created on first use, 0600), or ``UPLOADER_GUI_SHEET_KEY``."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return env.encode("utf-8")
    path = config_dir() / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def check_value(profile: str, dest_id: str, doctype: str, key: bytes | None = None) -> str:
    msg = "\0".join((PREFIX, profile, dest_id, doctype)).encode("utf-8")
    return hmac.new(key or sheet_key(), msg, sha256).hexdigest()[:CHECK_LEN]


def make_sheet_data(profile: str, dest_id: str, doctype: str = "") -> SheetData:
    return SheetData(profile, dest_id, doctype, check_value(profile, dest_id, doctype), True)


def parse_sheet(text: str, key: bytes | None = None) -> SheetData | None:
    """The sheet a barcode's text describes; None when it is not one of our sheets."""
    parts = text.strip().split("|")
    if len(parts) != 5 or parts[0] != PREFIX:
        return None
    profile, dest_id, doctype = (unquote(p) for p in parts[1:4])
    if not dest_id:
        return None
    check = parts[4]
    expected = check_value(profile, dest_id, doctype, key)
    return SheetData(profile, dest_id, doctype, check, hmac.compare_digest(check, expected))


# ---------------------------------------------------------------------- the PDF


def _barcode_image(pdf: object, text: str, fmt: str) -> object:
    """An image XObject of a barcode (1 pixel per module; the PDF scales it sharply)."""
    import pikepdf
    import zxingcpp

    kind = zxingcpp.BarcodeFormat.QRCode if fmt == "qr" else zxingcpp.BarcodeFormat.Code128
    opts = {"ec_level": "M"} if fmt == "qr" else {}
    code = zxingcpp.create_barcode(text, kind, **opts)
    image = zxingcpp.write_barcode_to_image(code, scale=1, add_quiet_zones=True)
    view = memoryview(image)  # type: ignore[arg-type]
    assert view.shape is not None
    height, width = view.shape[0], view.shape[1]
    data = view.tobytes()
    if fmt != "qr":  # a 1-D code: one row is the whole code
        data, height = data[:width], 1
    stream = pikepdf.Stream(pdf, zlib.compress(data))  # type: ignore[arg-type]
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = width, height
    stream.ColorSpace = pikepdf.Name.DeviceGray
    stream.BitsPerComponent = 8
    stream.Filter = pikepdf.Name.FlateDecode
    stream.Interpolate = False
    return stream


def _latin(text: str) -> bytes:
    return text.encode("cp1252", "replace")


def write_sheet(out: Path, data: SheetData, patient: PatientInfo | None, kind: str,
                printed: date | None = None) -> Path:
    """Write the one-page cover sheet PDF (0600)."""
    import pikepdf

    pdf = pikepdf.new()
    width = PAGE[0]
    page = pdf.add_blank_page(page_size=PAGE)
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
        Encoding=pikepdf.Name.WinAnsiEncoding))
    bold = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name("/Type1"),
        BaseFont=pikepdf.Name("/Helvetica-Bold"), Encoding=pikepdf.Name.WinAnsiEncoding))
    text = data.text()
    page.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=font, F2=bold),
        XObject=pikepdf.Dictionary(QR=_barcode_image(pdf, text, "qr"),
                                   BC=_barcode_image(pdf, text, "code128")))
    system = KIND_LABELS.get(kind, kind)
    id_word = "Record" if kind == "redcap" else "Patient"
    lines: list[tuple[str, float, float, str]] = [
        ("F1", 14, 742, "COVER SHEET: put it on top of this patient's pages before scanning."),
    ]
    if patient is not None and patient.name:
        lines.append(("F2", 40, 672, patient.name))
    if patient is not None and patient.birth_date:
        lines.append(("F2", 28, 630, f"Born {patient.birth_date}"))
    lines.append(("F1", 16, 596, f"{id_word} {data.dest_id}  ·  {data.profile} ({system})"))
    if data.doctype:
        lines.append(("F1", 16, 574, f"Document type: {data.doctype}"))
    when = (printed or date.today()).isoformat()
    lines.append(("F1", 10, 60, f"Check value {data.check}. Printed {when} by uploader-gui. "
                  "This page is removed before sending."))
    ops: list[Any] = []
    for fnt, size, y, line in lines:
        ops += [([], pikepdf.Operator("BT")),
                ([pikepdf.Name("/" + fnt), size], pikepdf.Operator("Tf")),
                ([54, y], pikepdf.Operator("Td")),
                ([pikepdf.String(_latin(line))], pikepdf.Operator("Tj")),
                ([], pikepdf.Operator("ET"))]
    qr_size = 216.0
    ops += [([], pikepdf.Operator("q")),
            ([qr_size, 0, 0, qr_size, (width - qr_size) / 2, 300], pikepdf.Operator("cm")),
            ([pikepdf.Name.QR], pikepdf.Operator("Do")),
            ([], pikepdf.Operator("Q")),
            ([], pikepdf.Operator("q")),
            ([width - 72, 0, 0, 80, 36, 170], pikepdf.Operator("cm")),
            ([pikepdf.Name.BC], pikepdf.Operator("Do")),
            ([], pikepdf.Operator("Q"))]
    page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
    pdf.docinfo[pikepdf.Name.Title] = "Cover sheet"
    pdf.docinfo[pikepdf.Name.Producer] = "uploader-gui"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        pdf.save(fh)
    os.replace(tmp, out)
    return out


class CoverSheetError(Exception):
    """The sheet cannot be made (unknown patient, target unreachable), in words."""


def make_cover_sheet(out: Path, profile: str, config: TargetConfig, credentials: Credentials,
                     defaults: Destination, dest_id: str, doctype: str = "",
                     target: Target | None = None) -> PatientInfo | None:
    """Ask the target who ``dest_id`` is, then write the sheet. Worker thread (network).

    Returns who it is (None when the target cannot say). Raises CoverSheetError.
    """
    from uploader_gui.core.outcome import UploadError
    from uploader_gui.core.planner import unknown_patient_text
    from uploader_gui.core.targets import make_target
    from uploader_gui.core.targets.base import LOOKUP

    dest = replace(defaults)
    if config.kind == "redcap":
        dest.record, dest.field = dest_id, dest.field or config.redcap_field
    else:
        dest.patient_id = dest_id
    own = target is None
    patient = None
    try:
        if target is None:
            target = make_target(config, credentials)
        try:
            if target.supports(LOOKUP):
                patient = target.lookup(dest)
                if patient is None:
                    raise CoverSheetError(unknown_patient_text(config, dest))
        finally:
            if own:
                target.close()
    except UploadError as err:
        raise CoverSheetError(err.message) from None
    write_sheet(out, make_sheet_data(profile, dest_id, doctype), patient, config.kind)
    return patient


__all__ = ["KEY_ENV", "KEY_FILE", "PREFIX", "CoverSheetError", "SheetData", "check_value",
           "make_cover_sheet", "make_sheet_data", "parse_sheet", "sheet_key", "write_sheet"]
