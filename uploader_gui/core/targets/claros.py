"""Claros Health: ``POST {base}/patients/{id}/pdf/`` with an X-API-Key (seed 003).

Claros takes PDF only, and each POST creates a new document, so a failure
after the whole body went out leaves the outcome unknown: never re-sent
automatically.
"""

from __future__ import annotations

import re

import requests

from uploader_gui.core.outcome import (
    CancelFn,
    ProgressFn,
    Receipt,
    UploadError,
    server_text,
)
from uploader_gui.core.targets.base import (
    FIND_PATIENTS,
    LOOKUP,
    VERIFY,
    Destination,
    Document,
    PatientInfo,
    Target,
    Verification,
    http_error,
    json_or_none,
    not_the_api,
    redirect_error,
)
from uploader_gui.core.transport import join_url

DEFAULT_LIMIT = 32 * 1024 * 1024
PATIENT_ID = re.compile(r"^[0-9]{1,18}$")


class ClarosTarget(Target):
    kind = "claros"
    capabilities = frozenset({FIND_PATIENTS, LOOKUP, VERIFY})

    def check(self, document: Document, destination: Destination) -> list[str]:
        problems = []
        pid = (destination.patient_id or "").strip()
        if not pid:
            problems.append("Enter the Claros patient ID (a number).")
        elif not PATIENT_ID.match(pid):
            problems.append(f"“{pid}” is not a Claros patient ID: it must be a whole number "
                            "such as 1234.")
        if document.file_type != "pdf":
            problems.append("Claros Health accepts PDF files only. Convert the image to a PDF "
                            "first; your original stays as it is.")
        if not document.filename.lower().endswith(".pdf"):
            problems.append("The name sent to Claros must end in .pdf.")
        limit = self.config.size_limit or DEFAULT_LIMIT
        if document.size > limit:
            problems.append(f"The file is larger than this Claros profile's limit of "
                            f"{limit // (1024 * 1024)} MB.")
        if not self.credentials.token:
            problems.append("The Claros API key is not set for this profile.")
        return problems

    def _headers(self) -> dict[str, str]:
        token = self.credentials.token
        return {"X-API-Key": token.reveal() if token else "", "Accept": "application/json"}

    def upload(
        self,
        document: Document,
        destination: Destination,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> Receipt:
        pid = (destination.patient_id or "").strip()
        url = join_url(self.config.base_url, f"/patients/{pid}/pdf/")
        resp = self.transport.upload(
            url, file_field="file", path=document.path, filename=document.filename,
            fields={"filename": document.filename}, headers=self._headers(),
            content_type="application/pdf", progress=progress, cancelled=cancelled,
        )
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        body = json_or_none(resp)
        if 200 <= resp.status_code < 300:
            if not isinstance(body, dict) or not body.get("id"):
                raise not_the_api(resp, "Claros Health")
            return Receipt(
                target=self.kind,
                remote_id=str(body["id"]),
                url=str(body["url"]) if body.get("url") else None,
                http_status=resp.status_code,
                server_message=server_text(resp),
                extra={k: body[k] for k in ("id", "filename", "created_at", "patient_id") if k in body},
            )
        raise self._error(resp, pid)

    def _error(self, resp: requests.Response, pid: str) -> UploadError:
        text = _claros_error_text(resp)
        status = resp.status_code
        lead = {
            400: "Claros did not accept the file: it must be a valid PDF whose name ends in .pdf",
            401: "Claros refused the API key of this profile. Check the key in the profile",
            403: f"Patient {pid} belongs to another Claros account; you can only upload for "
                 "your own patients",
            404: f"Claros has no patient with ID {pid}. Check the patient ID",
            413: "The file is too large for Claros",
            429: "Claros is receiving too many requests; it will be tried again",
        }.get(status, f"Claros had a problem (HTTP {status})")
        message = f"{lead}. Claros said: {text}" if text else f"{lead}."
        return http_error(resp, message, server_message=text or server_text(resp))

    def retry_decision(self, error: UploadError) -> str:
        # Each POST creates a document: once the whole body went out, a 5xx (other
        # than 503) or a lost answer may mean it arrived. The user decides.
        if error.http_status is not None and error.http_status >= 500 and error.http_status != 503:
            return "unknown"
        return super().retry_decision(error)

    def find_patients(self, query: str = "") -> list[PatientInfo]:
        """The account's patients (``GET /patients``) whose name, birth date or id holds ``query``."""
        resp = self.transport.request("GET", join_url(self.config.base_url, "/patients"),
                                      headers=self._headers())
        if resp.status_code != 200:
            raise self._error(resp, "")
        body = json_or_none(resp)
        items = body.get("results", body.get("patients", [])) if isinstance(body, dict) else body
        out = []
        needle = query.strip().lower()
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            name = " ".join(str(item[k]) for k in ("first_name", "last_name") if item.get(k))
            name = name or str(item.get("name") or "")
            born = str(item.get("date_of_birth") or item.get("dob") or "")
            patient = PatientInfo(id=str(item["id"]), name=name, birth_date=born,
                                  note=_pdf_note(item))
            if needle and needle not in " ".join((patient.id, name, born)).lower():
                continue
            out.append(patient)
        return out

    def lookup(self, destination: Destination) -> PatientInfo | None:
        wanted = (destination.patient_id or "").strip()
        return next((p for p in self.find_patients() if p.id == wanted), None)

    def verify(self, document: Document, destination: Destination, receipt: Receipt,
               sha256: str) -> Verification:
        """The receipt must name a document for the patient and the file name that were sent."""
        got = receipt.extra
        pid = (destination.patient_id or "").strip()
        problems = []
        if not receipt.remote_id or str(got.get("id", receipt.remote_id)) != receipt.remote_id:
            problems.append("no document id")
        if str(got.get("patient_id", "")).strip() != pid:
            shown = got.get("patient_id")
            problems.append(f"patient {shown}" if shown not in (None, "") else "no patient")
        if str(got.get("filename", "")) != document.filename:
            shown = got.get("filename")
            problems.append(f"the name “{shown}”" if shown else "no file name")
        if not problems:
            return Verification(True, proof="claros-receipt",
                                message=f"Claros confirmed document {receipt.remote_id} for "
                                f"patient {pid} as {document.filename}.")
        return Verification(False, proof="claros-receipt",
                            message=f"Claros's reply does not match what was sent (patient {pid}, "
                            f"{document.filename}): it names {', '.join(problems)}. Check patient "
                            f"{pid} in Claros before sending it again.")

    def test_connection(self) -> str:
        resp = self.transport.request("GET", join_url(self.config.base_url, "/patients"),
                                      headers=self._headers())
        if resp.status_code in (401, 403):
            raise http_error(resp, "Claros refused the API key of this profile.")
        if resp.status_code >= 400 and resp.status_code != 404:
            raise http_error(resp, f"Claros answered HTTP {resp.status_code}.")
        return f"Connected to Claros Health at {self.config.base_url}: the API key was accepted."


def _pdf_note(item: dict) -> str:
    """What the patient list says about PDFs the patient already has, in words."""
    count = item.get("pdf_count")
    if count is None:
        pdfs = item.get("pdfs", item.get("documents"))
        count = len(pdfs) if isinstance(pdfs, list) else (1 if item.get("has_pdf") else 0)
    try:
        count = int(count)
    except (TypeError, ValueError):
        return ""
    if count <= 0:
        return ""
    what = "a PDF" if count == 1 else f"{count} PDFs"
    return (f"Claros already holds {what} for this patient. Claros does not document whether a "
            "new upload adds a document or replaces one.")


def _claros_error_text(resp: requests.Response) -> str:
    body = json_or_none(resp)
    if isinstance(body, dict):
        for key in ("detail", "error", "message", "errors"):
            if body.get(key):
                value = body[key]
                return value if isinstance(value, str) else str(value)
    if isinstance(body, str):
        return body
    return ""
