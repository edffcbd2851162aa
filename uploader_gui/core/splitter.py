"""Split a scanned batch at cover sheets, and read patient-label barcodes.

Each page is rendered in grey at a fixed resolution (:data:`READ_DPI`) with
pypdfium2 and searched with zxing-cpp (QR code and Code 128 for our cover
sheets, plus the profile's label barcode types). Then:

* a page with a cover sheet (:mod:`uploader_gui.core.coversheet`) starts a new
  part routed to the sheet's destination; the sheet itself is dropped;
* pages before the first sheet form a part with no sheet. A patient-label
  barcode on its first page that matches the profile's pattern *suggests* a
  destination; otherwise, and for a page whose barcode cannot be read, the part
  is "unmatched" and waits for a person.

Barcodes only ever suggest: the window shows each part with its pages and the
patient's name for a person to confirm; ``watch`` sends a part without a
person only when a cover sheet whose check value verifies routed it, to the
watch's own profile, and the profile allows it (:func:`unattended`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from uploader_gui.core.coversheet import SheetData, parse_sheet
from uploader_gui.core.pages import Edited, PageError, PageRef, compose, render_gray
from uploader_gui.core.targets.base import Destination, TargetConfig

#: Fixed render resolution for reading barcodes: cover sheets read reliably at 100 dpi,
#: labels (small Code 128) need more.
READ_DPI = 150
SHEET = "cover_sheet"
LABEL = "label"
UNMATCHED = "unmatched"

#: Names a profile may use for label barcodes (zxing-cpp's format names).
LABEL_FORMATS = ("Code128", "Code39", "Code93", "Codabar", "DataMatrix", "EAN13", "ITF",
                 "PDF417", "QRCode")

ProgressFn = Callable[[int, int], None]  # (pages read, of)


class LabelRuleError(ValueError):
    pass


@dataclass(frozen=True)
class Code:
    format: str
    text: str


@dataclass
class Part:
    """Pages of the batch (from 0) that form one document, and where they would go."""

    pages: list[int]
    route: str  # cover_sheet / label / unmatched
    sheet: SheetData | None = None
    sheet_page: int | None = None
    label: str | None = None  # the label barcode's text
    dest_id: str | None = None
    note: str = ""  # why it is unmatched, or what a person should check

    @property
    def page_numbers(self) -> list[int]:
        return [p + 1 for p in self.pages]

    def destination(self, config: TargetConfig, defaults: Destination | None = None
                    ) -> Destination | None:
        """The destination the barcode suggests (the profile's defaults filled in)."""
        if self.dest_id is None:
            return None
        dest = replace(defaults) if defaults is not None else Destination()
        if config.kind == "redcap":
            dest.record = self.dest_id
            dest.field = dest.field or config.redcap_field
            dest.event = dest.event or config.redcap_event
        else:
            dest.patient_id = self.dest_id
        if self.sheet is not None and self.sheet.doctype:
            dest.document_type = self.sheet.doctype
        return dest

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pages": self.page_numbers, "route": self.route}
        if self.dest_id is not None:
            out["destination"] = self.dest_id
        if self.sheet is not None:
            out.update(sheet_page=(self.sheet_page or 0) + 1, profile=self.sheet.profile,
                       document_type=self.sheet.doctype, verified=self.sheet.verified)
        if self.label is not None:
            out["label"] = self.label
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class SplitResult:
    source: Path
    page_count: int
    parts: list[Part] = field(default_factory=list)
    sheet_pages: list[int] = field(default_factory=list)
    codes: list[list[Code]] = field(default_factory=list)  # per page

    @property
    def routed(self) -> list[Part]:
        return [p for p in self.parts if p.route != UNMATCHED]

    @property
    def unmatched(self) -> list[Part]:
        return [p for p in self.parts if p.route == UNMATCHED]

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.source), "pages": self.page_count,
                "cover_sheets": [p + 1 for p in self.sheet_pages],
                "parts": [p.to_json() for p in self.parts]}


@dataclass(frozen=True)
class LabelRule:
    formats: tuple[str, ...]
    pattern: re.Pattern[str]

    def match(self, codes: Sequence[Code]) -> tuple[str, str] | None:
        """(barcode text, patient id) of the first code of a right type that matches."""
        for code in codes:
            if code.format in self.formats:
                m = self.pattern.search(code.text)
                if m:
                    ident = m.groupdict().get("id") or (m.group(1) if m.groups() else m.group(0))
                    if ident:
                        return code.text, ident
        return None


def label_rule(config: TargetConfig) -> LabelRule | None:
    """The profile's patient-label rule, or None when it has none. Raises LabelRuleError."""
    if not config.label_pattern:
        return None
    problems = check_label_rule(config.label_barcodes, config.label_pattern)
    if problems:
        raise LabelRuleError(" ".join(problems))
    return LabelRule(tuple(config.label_barcodes or ("Code128",)), re.compile(config.label_pattern))


def check_label_rule(formats: Sequence[str], pattern: str | None) -> list[str]:
    """What is wrong with a label rule, in sentences (for the profile checks)."""
    problems = []
    bad = [f for f in formats if f not in LABEL_FORMATS]
    if bad:
        problems.append(f"Unknown label barcode type {', '.join(bad)}; use one of "
                        f"{', '.join(LABEL_FORMATS)}.")
    if formats and not pattern:
        problems.append("Label barcode types need a pattern that finds the patient id, "
                        r"e.g. ^MRN(\d+)$.")
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            problems.append(f"The label pattern is not a valid pattern: {exc}.")
        else:
            if rx.groups < 1:
                problems.append(r"The label pattern needs a group around the id, e.g. ^MRN(\d+)$.")
    return problems


def _formats(names: Sequence[str]) -> Any:
    import zxingcpp

    return tuple(getattr(zxingcpp.BarcodeFormat, n) for n in dict.fromkeys(names))


_NAMES = {"QR Code": "QRCode", "Code 128": "Code128", "Code 39": "Code39", "Code 93": "Code93",
          "Data Matrix": "DataMatrix", "EAN-13": "EAN13", "PDF417": "PDF417", "ITF": "ITF",
          "Codabar": "Codabar"}


def read_codes(image: Any, formats: Any) -> list[Code]:
    import zxingcpp

    found = zxingcpp.read_barcodes(image, formats=formats)
    out = []
    for code in found:
        if code.valid and code.text:
            name = str(code.format)
            out.append(Code(_NAMES.get(name, name.replace(" ", "")), code.text))
    return out


def scanned_image(page: Any, dpi: int) -> Any:
    """A scanned page's own image at about ``dpi`` (JPEG decoded at a reduced scale), or None
    when the page is not one image (then it is rendered). Much faster than rendering a scan."""
    import io

    import pikepdf
    from PIL import Image

    try:
        resources = page.obj.get("/Resources", {})
        if "/Font" in resources:
            return None
        found = page.get_images() if hasattr(page, "get_images") else page.images
        images = list(found.values())
        if len(images) != 1:
            return None
        raw = images[0]
        width_in = float(page.mediabox[2] - page.mediabox[0]) / 72.0
        if width_in <= 0:
            return None
        pdf_image = pikepdf.PdfImage(raw)
        want_w = max(1, min(pdf_image.width, int(width_in * dpi)))
        image: Image.Image
        if raw.get("/Filter") == pikepdf.Name.DCTDecode:
            jpeg = Image.open(io.BytesIO(raw.read_raw_bytes()))
            scale = want_w / max(1, jpeg.width)
            jpeg.draft("L", (int(jpeg.width * scale), int(jpeg.height * scale)))
            image = jpeg
        else:
            image = pdf_image.as_pil_image()
        image = image.convert("L")
        if image.width > want_w * 1.5:
            image = image.reduce(max(1, round(image.width / want_w)))
        return image
    except (pikepdf.PdfError, OSError, ValueError, NotImplementedError, KeyError):
        return None


def read_pages(path: Path, formats: Sequence[str], dpi: int = READ_DPI,
               progress: ProgressFn | None = None,
               cancelled: Callable[[], bool] | None = None) -> list[list[Code]]:
    """The barcodes on each page: a scanned page's own image, else the page rendered."""
    import pikepdf
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path))
        doc = pikepdf.open(path)
    except (pypdfium2.PdfiumError, pikepdf.PdfError, OSError) as exc:
        raise PageError(f"{Path(path).name} cannot be read as a PDF ({exc}).") from None
    wanted = _formats(formats)
    out: list[list[Code]] = []
    try:
        total = len(pdf)
        for i in range(total):
            if cancelled is not None and cancelled():
                break
            image = scanned_image(doc.pages[i], dpi) if i < len(doc.pages) else None
            if image is None:
                image = render_gray(pdf, i, dpi)
            out.append(read_codes(image, wanted))
            if progress is not None:
                progress(i + 1, total)
    finally:
        pdf.close()
        doc.close()
    return out


def _sheet(codes: Sequence[Code], key: bytes | None) -> SheetData | None:
    sheets = [s for c in codes if (s := parse_sheet(c.text, key)) is not None]
    verified = [s for s in sheets if s.verified]
    found = verified or sheets
    return found[0] if found else None


def split_codes(path: Path, codes: list[list[Code]], rule: LabelRule | None,
                key: bytes | None = None) -> SplitResult:
    """Parts from the codes found on each page (no rendering: see :func:`analyse`)."""
    result = SplitResult(Path(path), len(codes), codes=codes)
    current: Part | None = None
    for i, page_codes in enumerate(codes):
        sheet = _sheet(page_codes, key)
        if sheet is not None:
            result.sheet_pages.append(i)
            note = "" if sheet.verified else (
                "The cover sheet's check value does not match this installation's key (printed "
                "elsewhere, misread or edited): check the patient before sending.")
            current = Part([], SHEET, sheet, i, dest_id=sheet.dest_id, note=note)
            result.parts.append(current)
            continue
        if current is None:
            current = Part([], UNMATCHED)
            result.parts.append(current)
        current.pages.append(i)
    for part in list(result.parts):
        if not part.pages:
            result.parts.remove(part)  # two sheets in a row, or a sheet at the end
            continue
        first = codes[part.pages[0]]
        label = rule.match(first) if rule is not None else None
        if part.route == SHEET:
            if label is not None and label[1] != part.dest_id:
                part.note = (f"The patient label on page {part.pages[0] + 1} says {label[1]}, "
                             f"the cover sheet {part.dest_id}: check which is right.")
                part.label = label[0]
            continue
        if label is not None:
            part.route, part.label, part.dest_id = LABEL, label[0], label[1]
            part.note = "Suggested by the patient label on its first page: confirm the patient."
        else:
            part.note = ("No cover sheet before these pages and no patient label could be read "
                         "on the first one: choose the patient by hand.")
    return result


def analyse(path: Path, config: TargetConfig, dpi: int = READ_DPI,
            progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None,
            key: bytes | None = None) -> SplitResult:
    """Read every page's barcodes and split the batch. Worker thread only."""
    rule = label_rule(config)
    formats = ["QRCode", "Code128", *(rule.formats if rule else ())]
    codes = read_pages(path, formats, dpi, progress, cancelled)
    return split_codes(path, codes, rule, key)


def unattended(part: Part, config: TargetConfig, profile: str | None) -> bool:
    """May ``watch`` send this part without a person? Only behind a verified cover sheet
    for this very profile, with no conflicting label, when the profile allows it."""
    return (config.unattended_cover_sheets and part.route == SHEET and part.sheet is not None
            and part.sheet.verified and part.sheet.profile == (profile or config.name)
            and not part.note)


def why_not_unattended(part: Part, config: TargetConfig, profile: str | None) -> str:
    """Why ``watch`` leaves this part for a person, in words ("" when it may go)."""
    if unattended(part, config, profile):
        return ""
    if part.route == LABEL:
        return "a patient label only suggests the patient"
    if part.route == UNMATCHED or part.sheet is None:
        return "no cover sheet or patient label says where it goes"
    if not part.sheet.verified:
        return "the cover sheet's check value does not match this installation's key"
    if part.sheet.profile != (profile or config.name):
        return f"the cover sheet is for the profile “{part.sheet.profile}”"
    if part.note:
        return part.note[0].lower() + part.note[1:].rstrip(".")
    return "this profile does not send cover-sheet batches without a person"


def write_parts(result: SplitResult, parts: Sequence[Part] | None = None,
                sources: Sequence[dict[str, str]] | None = None) -> list[tuple[Part, Edited]]:
    """Each part as its own PDF in the private folder (sheets left out); the batch is kept."""
    out = []
    stem = result.source.stem
    origins = {result.source: sources} if sources else None
    for n, part in enumerate(parts if parts is not None else result.parts, 1):
        who = f"-{part.dest_id}" if part.dest_id else "-unmatched"
        refs = [PageRef(result.source, i) for i in part.pages]
        out.append((part, compose(refs, f"{stem}-part{n}{who}", origins)))
    return out


__all__ = ["LABEL", "LABEL_FORMATS", "READ_DPI", "SHEET", "UNMATCHED", "Code", "LabelRule",
           "LabelRuleError", "Part", "SplitResult", "analyse", "check_label_rule", "label_rule",
           "read_codes", "read_pages", "split_codes", "unattended", "why_not_unattended", "write_parts"]
