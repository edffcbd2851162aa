"""What a file is, and whether it may leave the machine.

Everything here is Qt-free and never raises on a file's content: every
outcome, however hostile the bytes, is a :class:`ValidationResult` whose
problems carry a stable ``code`` and a sentence a receptionist understands.

The package: :mod:`.result` (the vocabulary), :mod:`.pdfcheck` (the PDF
verdict ladder: strict, repaired copy, refused), :mod:`.activecontent`
(scripts and launch actions: found, or removed from a copy), :mod:`.pdfrepair`
(the sendable copies), :mod:`.pdferrors` (every parser exception mapped to a
problem code), :mod:`.images`, :mod:`.isolation` and :mod:`.files`.

Two entry points:

* :func:`validate_file` checks one file in this process. It is pure and is
  what the unit and property tests exercise.
* :class:`IsolatedValidator` runs the same check in helper processes with a
  time limit and a memory cap, so that a PDF crafted to loop, to recurse or to
  exhaust memory costs one helper process, never the app. The GUI and the CLI
  use this one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from pathlib import Path

from uploader_gui.core.validation.files import expand_paths
from uploader_gui.core.validation.images import check_image
from uploader_gui.core.validation.isolation import IsolatedValidator
from uploader_gui.core.validation.pdfcheck import PROGRAM_MAGICS, check_pdf, junk_before_header
from uploader_gui.core.validation.result import (
    DEFAULT_LIMITS,
    DEFAULT_MEMORY_CAP,
    DEFAULT_TIMEOUT_S,
    ERROR,
    EXTENSIONS,
    GENERIC_LIMIT,
    HEADER_SCAN,
    JPEG_MAGIC,
    MAX_IMAGE_PIXELS,
    MB,
    PDF_MAGIC,
    PNG_MAGIC,
    PREFERRED_EXTENSION,
    REMOVE_SCRIPTS,
    STRUCTURAL,
    TARGET_LABELS,
    TYPE_LABELS,
    WARNING,
    Problem,
    ValidationResult,
    human_size,
    memory_problem,
    size_limit,
    sniff,
    type_of_extension,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LIMITS", "DEFAULT_MEMORY_CAP", "DEFAULT_TIMEOUT_S", "ERROR", "EXTENSIONS",
    "GENERIC_LIMIT", "HEADER_SCAN", "JPEG_MAGIC", "MAX_IMAGE_PIXELS", "MB", "PDF_MAGIC",
    "PNG_MAGIC", "PREFERRED_EXTENSION", "REMOVE_SCRIPTS", "STRUCTURAL", "TARGET_LABELS",
    "TYPE_LABELS", "WARNING", "IsolatedValidator", "Problem", "ValidationResult",
    "expand_paths", "human_size", "size_limit", "sniff", "validate_file",
]


def validate_file(
    path: str | os.PathLike[str],
    target: str | None = None,
    max_bytes: int | None = None,
) -> ValidationResult:
    """Check one file in this process. Never raises for anything a file contains."""
    started = time.monotonic()
    result = ValidationResult(path=str(path))
    try:
        _validate_into(Path(path), target, max_bytes, result)
    except MemoryError:
        result.problems.append(memory_problem())
    except Exception as exc:
        log.exception("validator failed on %s", path)
        result.problems.append(
            Problem(
                "internal_error",
                "This file could not be checked because of an unexpected problem "
                f"({type(exc).__name__}). It was not accepted; please report it.",
            )
        )
    result.elapsed = time.monotonic() - started
    return result


def _validate_into(
    path: Path, target: str | None, max_bytes: int | None, result: ValidationResult
) -> None:
    add = result.problems.append
    try:
        st = path.stat()
    except FileNotFoundError:
        add(Problem("missing", "This file no longer exists. Check where it was moved and add it again."))
        return
    except OSError as exc:
        add(Problem("unreadable", f"This file cannot be read ({exc.strerror or exc}). "
                    "Check that you have permission to open it."))
        return
    if not stat.S_ISREG(st.st_mode):
        add(Problem("not_a_file",
                    "This is not a regular file. Only PDF, JPEG and PNG files can be uploaded."))
        return
    result.size = st.st_size
    if st.st_size == 0:
        add(Problem("empty", "This file is empty (0 bytes). Scan or save the document again."))
        return

    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_SCAN)
    except OSError as exc:
        add(Problem("unreadable", f"This file cannot be read ({exc.strerror or exc}). "
                    "Check that you have permission to open it."))
        return

    kind = sniff(head)
    ext_kind = type_of_extension(path.suffix)
    leading_junk = False
    if kind is None and PDF_MAGIC in head and not head.startswith(PROGRAM_MAGICS):
        # Extra data in front of the header (a mail gateway's, a converter's):
        # readers skip it; only a rewrite, which starts with the header, is sent.
        kind, leading_junk = "pdf", True
    if kind is None:
        if PDF_MAGIC in head:
            add(junk_before_header(head))
        elif ext_kind is not None:
            add(Problem(
                "unsupported_type",
                f"This file is named like a {TYPE_LABELS[ext_kind]} but its contents are not. "
                "It may be damaged or mislabelled. Only PDF, JPEG and PNG files can be uploaded.",
            ))
        else:
            add(Problem(
                "unsupported_type",
                "This type of file cannot be uploaded. Only PDF, JPEG and PNG files are "
                "accepted; save or scan the document as a PDF.",
            ))
        return
    result.type = kind
    if ext_kind != kind:
        shown = path.suffix or "no extension"
        add(Problem(
            "extension_mismatch",
            f"This file is a {TYPE_LABELS[kind]} but its name ends in “{shown}”. "
            f"Rename it to end in {PREFERRED_EXTENSION[kind]} "
            "if that is what it is, then add it again.",
        ))

    limit = max_bytes if max_bytes is not None else size_limit(target)
    if st.st_size > limit:
        where = f"{TARGET_LABELS[target]} accepts" if target in TARGET_LABELS else "The limit is"
        add(Problem(
            "too_large",
            f"This file is {human_size(st.st_size)}; {where} at most {human_size(limit)}. "
            "Split the document or scan it at a lower resolution.",
        ))
        # Content is still checked, so the user learns everything at once.

    if kind == "pdf":
        check_pdf(path, result, leading_junk)
    else:
        check_image(path, kind, result)
    if result.remedy and any(p.code != "pdf_active_content" for p in result.errors):
        result.remedy = None  # a copy without scripts would still be refused
    if result.ok or result.remedy:
        result.sha256 = _sha256(path)


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1024 * 1024):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
