"""Sendable copies of a PDF: repaired, or with its scripts removed.

The copy is a structural rewrite by qpdf (through pikepdf): the xref is
rebuilt, data after ``%%EOF`` is dropped, and, when asked, JavaScript and
Launch actions are deleted. Streams are copied as they are (no decoding or
recompression), so page content is unchanged. The copy is checked before it
is used: it must open strictly, have the same pages, and carry no active
content. The user's file is only read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from uploader_gui.core.validation import pdferrors
from uploader_gui.core.validation.activecontent import find_active_content, remove_active_content


def save_rewrite(pdf: Any, target: Any) -> None:
    """qpdf's structural rewrite of ``pdf`` to a path or stream: streams kept byte for byte."""
    import pikepdf

    if "/Size" not in pdf.trailer:
        # qpdf writes the right /Size only over an existing one; a trailer
        # without it (which the repair tolerates) would give a copy without it.
        pdf.trailer["/Size"] = 0
    pdf.save(target, stream_decode_level=pikepdf.StreamDecodeLevel.none, encryption=False)


class CopyError(Exception):
    """A sendable copy could not be made; the message says why, in words."""


def write_sendable_copy(src: str | os.PathLike[str], out: str | os.PathLike[str],
                        remove_scripts: bool = False) -> Path:
    """Write the repaired (and, if asked, script-free) copy of ``src`` to ``out``, mode 0600.

    Raises CopyError.
    """
    import pikepdf

    src, out = Path(src), Path(out)
    name = src.name
    tmp = out.with_name(out.name + ".part")
    try:
        with pikepdf.open(src, password="") as pdf:
            pages = len(pdf.pages)
            if remove_scripts:
                remove_active_content(pdf)
            elif find_active_content(pdf):
                raise CopyError(f"{name} contains scripts, so no copy of it was made to send.")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                save_rewrite(pdf, fh)
        with pikepdf.open(tmp, attempt_recovery=False) as copy:
            if len(copy.pages) != pages:
                raise CopyError(f"A faithful copy of {name} could not be made: its pages "
                                "changed. Open it and save or print it to a new PDF.")
            if find_active_content(copy):
                raise CopyError(f"The scripts could not all be removed from {name}. "
                                "Print it to a new PDF and add that file instead.")
        os.replace(tmp, out)
    except CopyError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CopyError(f"A copy of {name} could not be written ({exc.strerror or exc}). "
                        "Check that the disk is not full.") from None
    except pdferrors.pikepdf_errors() as exc:
        tmp.unlink(missing_ok=True)
        problem = pdferrors.pikepdf_problem(exc)
        raise CopyError(f"A copy of {name} could not be made. {problem.message}") from None
    return out
