"""Proof right after sending: ask a target that can check an upload (:data:`VERIFY`).

REDCap reads the field back and compares the bytes; Claros's receipt must name the
patient and the file that were sent. The job is then ``verified``, or ``failed``
when the proof shows otherwise; when nothing could be proven it stays ``sent``
(accepted, not verified) with the reason in its error. Redox's proof comes later,
from its delivery logs (``core.delivery``).
"""

from __future__ import annotations

import logging

from uploader_gui.core.jobs import FAILED, VERIFIED, Job
from uploader_gui.core.outcome import Receipt, UploadError
from uploader_gui.core.targets.base import Document, Target

log = logging.getLogger(__name__)


def prove(target: Target, job: Job, document: Document, receipt: Receipt) -> str | None:
    """Check the upload now; set ``job.verified``, ``proof`` and ``error``.

    Returns the state to move to (VERIFIED or FAILED), or None when the job stays sent.
    Never raises: the upload itself succeeded, whatever happens here.
    """
    try:
        result = target.verify(document, job.destination, receipt, job.sha256)
    except UploadError as err:
        log.info("job %s could not be verified: %s", job.id, err.message)
        job.error = f"Accepted, but it could not be checked: {err.message}"
        return None
    except Exception:  # the upload succeeded; a failing check must not undo that
        log.exception("verifying job %s failed unexpectedly", job.id)
        job.error = "Accepted, but checking it failed unexpectedly; see the log."
        return None
    if result.verified is True:
        job.verified, job.proof, job.error = True, result.proof or None, None
        return VERIFIED
    if result.verified is False:
        job.verified, job.proof, job.error = False, result.proof or None, result.message
        return FAILED
    job.error = result.message or None  # why it stays accepted, not verified
    return None
