"""From checked files to jobs: the steps shared by the window, `send` and `watch`.

1. :func:`new_job` builds a job from a validated file (no disk, no network);
2. :func:`check_jobs` asks the target's cheap checks, allowing for images that
   will become PDFs for a PDF-only system;
3. :func:`convert_images` (disk) turns those images into PDFs, keeping the
   originals' paths and hashes in ``job.sources``;
4. :func:`make_sendable_copy` (disk) sends a PDF that needs it as a copy:
   repaired (the verdict said ``repair == "structural"``), or with its scripts
   removed (``remedy == "remove_scripts"``, when the person or the profile
   said yes), keeping the original's path and hash in ``job.sources``;
5. :func:`find_duplicates` (history) finds earlier uploads of the same bytes to
   the same place.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from uploader_gui import __version__
from uploader_gui.core.convert import ConversionError, convert_for_upload, converted_dir
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.identity import os_user, workstation
from uploader_gui.core.jobs import Job, sha256_of
from uploader_gui.core.logging_setup import note_patient_identifiers
from uploader_gui.core.targets import Destination, Document, Target, TargetConfig
from uploader_gui.core.validation import REMOVE_SCRIPTS, ValidationResult
from uploader_gui.core.validation.pdfrepair import CopyError, write_sendable_copy

if TYPE_CHECKING:
    from uploader_gui.core.validation import IsolatedValidator

#: Systems that take PDF only: images are converted before sending.
PDF_ONLY = frozenset({"claros"})


def needs_conversion(kind: str, file_type: str) -> bool:
    return kind in PDF_ONLY and file_type in ("jpeg", "png")


def new_job(path: Path, result: ValidationResult, config: TargetConfig,
            destination: Destination, profile: str | None) -> Job:
    assert result.type is not None and result.size is not None and result.sha256
    note_patient_identifiers(destination.patient_id, destination.record)
    return Job(path=str(path), name=path.name, size=result.size, sha256=result.sha256,
               file_type=result.type, pages=result.pages, target=config.kind,
               destination=destination, target_config=config, profile=profile,
               user=os_user(), workstation=workstation(), app_version=__version__)


def check_job(target: Target, job: Job) -> list[str]:
    """The target's cheap checks, as the file will be sent (an image as its PDF)."""
    converted = needs_conversion(target.kind, job.file_type)
    document = Document(
        path=Path(job.path),
        file_type="pdf" if converted else job.file_type,
        size=job.size,
        upload_name=(Path(job.name).stem + ".pdf") if converted else None,
    )
    return target.check(document, job.destination)


def convert_images(job: Job) -> Job:
    """For a PDF-only system: the image becomes a PDF in the app's private folder.

    Raises ConversionError. The user's file is only read.
    """
    if not needs_conversion(job.target, job.file_type):
        return job
    original = Path(job.path)
    pdf = convert_for_upload([original], name=original.stem + ".pdf")
    return replace(
        job, path=str(pdf), name=pdf.name, size=pdf.stat().st_size, sha256=sha256_of(pdf),
        file_type="pdf", pages=1, sources=[{"path": str(original), "sha256": job.sha256}],
    )


def needs_copy(result: ValidationResult, remove_scripts: bool) -> bool:
    """Whether this checked PDF goes as a copy: repaired, or without its scripts."""
    return bool(result.repair) or (remove_scripts and result.remedy == REMOVE_SCRIPTS)


def make_sendable_copy(job: Job, result: ValidationResult, remove_scripts: bool = False,
                       validator: IsolatedValidator | None = None) -> Job:
    """The job as it must be sent: unchanged, or pointing at a repaired / script-free copy.

    The copy is written in the app's private folder (0700, the file 0600) and
    removed after sending, like a converted image (:func:`convert.discard`).
    It is made from a snapshot of the user's file whose SHA-256 must still be
    the one that was checked, so a file changed since is never sent. With a
    ``validator`` the rewrite runs in its helper process (time and memory
    limits). Raises CopyError, with a sentence for the user.
    """
    if job.file_type != "pdf" or not needs_copy(result, remove_scripts):
        return job
    original = Path(job.path)
    folder = converted_dir() / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    snapshot = folder / "original.part"
    out = folder / job.name
    try:
        try:
            fd = os.open(snapshot, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with original.open("rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        except OSError as exc:
            raise CopyError(f"{job.name} could not be read to make a copy to send "
                            f"({exc.strerror or exc}).") from None
        if sha256_of(snapshot) != job.sha256:
            raise CopyError(f"{job.name} has changed since it was checked. Add it again.")
        if validator is not None:
            validator.write_copy(snapshot, out, remove_scripts=remove_scripts)
        else:
            write_sendable_copy(snapshot, out, remove_scripts=remove_scripts)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    snapshot.unlink()
    made = "without scripts" if remove_scripts and result.remedy == REMOVE_SCRIPTS else "repaired"
    return replace(
        job, path=str(out), size=out.stat().st_size, sha256=sha256_of(out),
        sources=[{"path": str(original), "sha256": job.sha256, "copy": made}],
    )


def find_duplicates(history: HistoryStore, job: Job) -> list[Job]:
    """Earlier uploads of the same bytes (the original's, for a converted image) to the same place."""
    digests = {job.sha256} | {s["sha256"] for s in job.sources}
    found: dict[int, Job] = {}
    for digest in digests:
        for earlier in history.find_duplicates(digest, job.target, job.dest_key):
            if earlier.id is not None:
                found[earlier.id] = earlier
        for earlier in history.find_source_duplicates(digest, job.target, job.dest_key):
            if earlier.id is not None:
                found[earlier.id] = earlier
    return sorted(found.values(), key=lambda j: j.created, reverse=True)


__all__ = ["PDF_ONLY", "ConversionError", "CopyError", "check_job", "convert_images",
           "find_duplicates", "make_sendable_copy", "needs_conversion", "needs_copy", "new_job"]
