"""The verdict on a PDF: a ladder, as PDF readers see files.

1. **Strict.** qpdf (through pikepdf) opens the file without reconstructing
   anything: it goes as it is.
2. **Repaired.** The strict read fails, but qpdf's repair (it rebuilds the
   xref and ignores data after ``%%EOF``) gives a document whose pages a
   lenient pypdf read counts the same (of the original, or of the rewrite
   when pypdf cannot read the original), and whose rewrite opens strictly: it is
   accepted with a ``pdf_repaired`` warning and sent as a repaired copy
   (:mod:`.pdfrepair`); the user's file is never touched.
3. **Refused.** Nothing reads it consistently: "this file cannot be opened by
   PDF readers".

On the way: passwords, certificate encryption, a cut-off end, active content
(refused, with the remedy of a copy without it), image bombs, and pages whose
content fails to decode (a warning naming the page).
"""

from __future__ import annotations

import io
import logging
import mmap
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uploader_gui.core.validation import pdferrors
from uploader_gui.core.validation.activecontent import find_active_content
from uploader_gui.core.validation.pdfrepair import save_rewrite
from uploader_gui.core.validation.result import (
    MAX_CONTENT_CHECKED,
    MAX_IMAGE_BYTES,
    MAX_PAGES_WALKED,
    MB,
    REMOVE_SCRIPTS,
    STRUCTURAL,
    WARNING,
    Problem,
    ValidationResult,
)

log = logging.getLogger(__name__)

#: Leading bytes of programs: data in front of a PDF that starts like these is
#: what a disguised program looks like.
PROGRAM_MAGICS = (b"MZ", b"\x7fELF", b"#!")
#: After the last %%EOF, these mean a cut-off incremental update, not padding.
_PDF_SYNTAX_AFTER_EOF = re.compile(rb"\d+\s+\d+\s+obj\b|startxref|\btrailer\s*<<|\bxref\s")
_ENDS_WITH_STARTXREF = re.compile(rb"startxref\s+\d+\s*(%[^\r\n]*)?\s*\Z")
#: How much data after the last %%EOF is looked at.
_TAIL_SCAN = 4 * MB


def junk_before_header(head: bytes) -> Problem:
    """For a PDF behind data that starts like a program (other data in front is
    repaired away: see :func:`check_pdf`)."""
    return Problem(
        "junk_before_header",
        "This file starts like a program, with a PDF inside it, which is how disguised "
        "programs look. It was not accepted. Save or print the document to a new PDF.",
    )


def truncated() -> Problem:
    return Problem(
        "pdf_truncated",
        "This PDF is incomplete: its end is missing, so it was probably cut off while "
        "copying or downloading. Copy or download it again.",
    )


def repaired_warning() -> Problem:
    return Problem(
        "pdf_repaired",
        "This PDF has small structural faults that PDF readers ignore. A repaired copy will "
        "be sent; your file is not changed.",
        WARNING,
    )


def active_content_problem(found: str) -> Problem:
    return Problem(
        "pdf_active_content",
        f"This PDF contains {found}, which could run on the receiving computer, so it cannot "
        "be sent as it is. A copy with the scripts and launch actions removed can be sent "
        "instead; your file is not changed.",
    )


def is_cut_off(path: Path) -> bool:
    """No %%EOF at all, or PDF objects after the last one: the file was cut off.

    Padding after %%EOF (scanners, mail gateways) and a comment line before it
    are not: readers ignore both.
    """
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = data.rfind(b"%%EOF")
        if at < 0:
            # No marker, but the file ends with its startxref: complete, the
            # marker alone is missing (or mangled), which readers accept.
            return _ENDS_WITH_STARTXREF.search(data[-256:]) is None
        after = data[at + 5: at + 5 + _TAIL_SCAN]
    return _PDF_SYNTAX_AFTER_EOF.search(after) is not None


@dataclass
class _Verdict:
    problems: list[Problem] = field(default_factory=list)
    pages: int | None = None
    remedy: str | None = None


class _RetryWithRepair(Exception):
    pass


def check_pdf(path: Path, result: ValidationResult, leading_junk: bool = False) -> None:
    """The verdict on a PDF. ``leading_junk``: the header is not at byte 0 (but
    the data in front does not look like a program): never sent as it is, only
    as a rewrite, which starts with the header."""
    if is_cut_off(path):
        result.problems.append(truncated())
        return
    try:
        if leading_junk:
            raise _RetryWithRepair
        verdict = _judge(path, recover=False)
        repaired = False
    except _RetryWithRepair:
        verdict = _judge(path, recover=True)
        repaired = True
    result.pages = verdict.pages
    if repaired and all(p.severity == WARNING or p.code == "pdf_active_content"
                        for p in verdict.problems):
        result.repair = STRUCTURAL
        verdict.problems.insert(0, repaired_warning())
    result.problems.extend(verdict.problems)
    result.remedy = verdict.remedy


def _judge(path: Path, recover: bool) -> _Verdict:
    import pikepdf

    verdict = _Verdict()
    add = verdict.problems.append
    try:
        with pikepdf.open(path, password="", attempt_recovery=recover) as pdf:
            pages = len(pdf.pages)
            verdict.pages = pages
            if pdf.is_encrypted:
                add(Problem(
                    "pdf_encrypted",
                    "The PDF is encrypted but opens without a password; some systems may "
                    "not display it.",
                    WARNING,
                ))
            if pages == 0 and not recover:
                raise _RetryWithRepair  # a broken page tree the repair may read
            if pages == 0:
                add(Problem("pdf_no_pages", "This PDF has no pages. Save or scan the document again."))
                return verdict
            if recover and not _repair_holds(path, pdf, pages):
                add(pdferrors.pages_inconsistent())
                return verdict
            found = find_active_content(pdf)
            if found:
                add(active_content_problem(found))
                verdict.remedy = REMOVE_SCRIPTS
            verdict.problems.extend(_page_problems(pdf))
            if _has_embedded_files(pdf):
                add(Problem(
                    "pdf_embedded_files",
                    "The PDF carries attached files; the receiving system may ignore or "
                    "block them.",
                    WARNING,
                ))
    except pikepdf.PasswordError as exc:
        return _Verdict(problems=[pdferrors.pikepdf_problem(exc)])
    except _RetryWithRepair:
        raise
    except pdferrors.pikepdf_errors() as exc:
        problem = pdferrors.pikepdf_problem(exc)
        if not recover and problem.code == pdferrors.CANNOT_OPEN:
            raise _RetryWithRepair from None
        log.info("PDF not readable (%s): %s", type(exc).__name__, exc)
        return _Verdict(problems=[problem])
    return verdict


def _repair_holds(path: Path, pdf: Any, pages: int) -> bool:
    """A repaired read may be sent only if it is one that others agree with.

    The page count must agree with a lenient pypdf read of the original, and
    the rewrite (what :mod:`.pdfrepair` sends) must open strictly with the same
    pages.
    """
    import pikepdf

    lenient = lenient_page_count(path)
    if lenient is not None and lenient != pages:
        return False
    buf = io.BytesIO()
    save_rewrite(pdf, buf)
    buf.seek(0)
    with pikepdf.open(buf, attempt_recovery=False) as copy:
        if len(copy.pages) != pages:
            return False
    if lenient is None:
        # pypdf cannot read the original at all: its count of the rewrite is
        # the second opinion instead.
        buf.seek(0)
        return lenient_page_count(buf) == pages
    return True


def lenient_page_count(path: Path | io.BytesIO) -> int | None:
    """Pages as pypdf counts them without strictness; None when it cannot."""
    from pypdf import PdfReader

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                return None
            return len(reader.pages)
    except pdferrors.pypdf_errors() as exc:
        log.info("lenient pypdf read failed (%s)", pdferrors.pypdf_problem(exc).code)
        return None
    finally:
        pypdf_log.setLevel(level)


def _page_problems(pdf: Any) -> list[Problem]:
    """Image bombs (an error) and page content that fails to decode (a warning)."""
    import pikepdf

    problems: list[Problem] = []
    blank: list[int] = []
    budget = MAX_CONTENT_CHECKED
    for index, page in enumerate(pdf.pages):
        if index >= MAX_PAGES_WALKED:
            break
        obj = page.obj
        if _has_image_bomb(obj.get("/Resources")):
            return [Problem(
                "too_complex",
                f"Page {index + 1} of this PDF holds a picture declared far too large to open "
                "safely, which hostile files do. It was not accepted. Save or print it to a new "
                "PDF and try again.",
            )]
        contents = obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        for stream in streams:
            if not isinstance(stream, pikepdf.Stream):
                continue
            length = stream.get("/Length")
            budget -= int(length) if isinstance(length, int) else 0
            if budget < 0:
                break
            try:
                stream.read_bytes()
            except (pikepdf.PdfError, RuntimeError, ValueError, NotImplementedError):
                blank.append(index + 1)
                break
    if blank:
        shown = ", ".join(str(n) for n in blank[:5]) + (" and others" if len(blank) > 5 else "")
        word = "page" if len(blank) == 1 else "pages"
        problems.append(Problem(
            "pdf_page_content",
            f"Part of this PDF cannot be read, so {word} {shown} may appear blank on the "
            "receiving system. Check the document before sending it.",
            WARNING,
        ))
    return problems


def _has_image_bomb(resources: Any) -> bool:
    import pikepdf

    if not isinstance(resources, pikepdf.Dictionary):
        return False
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return False
    for key in list(xobjects.keys())[:1000]:
        xo = xobjects.get(key)
        if not isinstance(xo, pikepdf.Stream) or xo.get("/Subtype") != pikepdf.Name.Image:
            continue
        width, height = xo.get("/Width"), xo.get("/Height")
        if not (isinstance(width, int) and isinstance(height, int)):
            continue
        if xo.get("/ImageMask") is True or xo.get("/Filter") == pikepdf.Name.JBIG2Decode:
            bits = 1
        else:
            bpc = xo.get("/BitsPerComponent")
            bits = (bpc if isinstance(bpc, int) and 0 < bpc <= 16 else 8) * _components(xo)
        if width * height * bits // 8 > MAX_IMAGE_BYTES:
            return True
    return False


def _components(image: Any) -> int:
    import pikepdf

    space = image.get("/ColorSpace")
    if space == pikepdf.Name.DeviceGray or space == pikepdf.Name.CalGray:
        return 1
    if space == pikepdf.Name.DeviceCMYK:
        return 4
    return 3  # RGB, and anything more elaborate counted as RGB


def _has_embedded_files(pdf: Any) -> bool:
    import pikepdf

    names = pdf.Root.get("/Names")
    return isinstance(names, pikepdf.Dictionary) and names.get("/EmbeddedFiles") is not None
