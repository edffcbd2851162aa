"""Case 17: splitting a 50-page scanned batch at cover sheets (issue 17: under 5 s here).

The batch is made for each run: five patients, each a cover sheet (as printed by the
app) followed by nine text pages, all rendered to 200 dpi grey JPEG images and wrapped
with img2pdf, as a scanner's PDF is. Measured: ``splitter.analyse()`` from call to
result (pypdfium2 renders each page at 150 dpi, zxing-cpp reads QR, Code 128 and the
profile's label type). Reference: rendering the same pages alone, the floor.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from benchmarks.harness import CaseResult, Stats
from uploader_gui.core import coversheet
from uploader_gui.core.pages import render_gray
from uploader_gui.core.splitter import READ_DPI, analyse
from uploader_gui.core.targets import TargetConfig

PATIENTS = ("1001", "1002", "1003", "1004", "1005")
DOC_PAGES = 9
PROFILE = "Bench desk"


def scanned_batch(work: Path) -> Path:
    import img2pdf
    import pikepdf
    import pypdfium2

    vector = pikepdf.new()
    font = vector.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    for pid in PATIENTS:
        sheet = coversheet.write_sheet(work / f"sheet-{pid}.pdf",
                                       coversheet.make_sheet_data(PROFILE, pid, "Referral"),
                                       None, "claros")
        with pikepdf.open(sheet) as src:
            vector.pages.extend(src.pages)
        for n in range(DOC_PAGES):
            page = vector.add_blank_page(page_size=(612, 792))
            page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
            lines = [f"BT /F1 11 Tf 72 {720 - 14 * k} Td (Patient {pid}, page {n + 1}, line "
                     f"{k + 1}: seen in clinic, letter text.) Tj ET" for k in range(40)]
            page.Contents = vector.make_stream("\n".join(lines).encode())
    vector.save(work / "batch-vector.pdf")
    pdf = pypdfium2.PdfDocument(str(work / "batch-vector.pdf"))
    images = []
    for i in range(len(pdf)):
        image = render_gray(pdf, i, 200)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=75, dpi=(200, 200))
        images.append(buf.getvalue())
    pdf.close()
    out = work / "batch-scanned.pdf"
    out.write_bytes(img2pdf.convert(images))
    return out


def render_only(path: Path) -> None:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    for i in range(len(pdf)):
        render_gray(pdf, i, READ_DPI)
    pdf.close()


def run(work: Path, quick: bool) -> CaseResult:
    batch = scanned_batch(work)
    cfg = TargetConfig(kind="claros", base_url="https://localhost", name=PROFILE,
                       label_barcodes=["Code128"], label_pattern=r"^MRN(\d+)$")
    reps = 2 if quick else 5
    app, ref = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = analyse(batch, cfg)
        app.append(time.perf_counter() - t0)
        if [p.dest_id for p in result.parts] != list(PATIENTS) or any(
                len(p.pages) != DOC_PAGES for p in result.parts):
            raise RuntimeError(f"the 50-page batch split wrongly: {result.to_json()}")
        t0 = time.perf_counter()
        render_only(batch)
        ref.append(time.perf_counter() - t0)
    stats = Stats.of(app)
    case = CaseResult(
        "17", "split a 50-page scanned batch",
        "splitter.analyse() on a 50-page image-only PDF (5 cover sheets + 45 text pages, "
        "200 dpi grey JPEG): render each page at 150 dpi and read its barcodes, from call to "
        "the split", "s", stats, "render the same pages only (pypdfium2, 150 dpi)",
        Stats.of(ref), "≤ 5 s (worst run)", None,
        extra={"pages": 5 * (DOC_PAGES + 1), "file_bytes": batch.stat().st_size})
    case.passed = stats.max <= 5.0
    return case
