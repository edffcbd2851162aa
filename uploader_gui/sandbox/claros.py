"""The Claros Health emulator (seed 003), shaped like the FastAPI service it documents.

* ``POST /patients/{patient_id}/pdf/``: header ``X-API-Key``; multipart part ``file`` and
  form field ``filename``. Checked in this order:
  401 missing/bad key; 422 ``patient_id`` not an integer (FastAPI's validation body,
  ``{"detail": [{"type": "int_parsing", "loc": ["path", "patient_id"], ...}]}``);
  403 patient of another account; 404 unknown patient (the message names the id);
  413 beyond ``claros_limit`` (refused on Content-Length alone when it shows it);
  422 not multipart, or ``file``/``filename`` missing (FastAPI "Field required" list);
  400 ``filename`` not ending in ``.pdf`` (any case); 400 bytes not starting ``%PDF-``.
  Every other error body is ``{"detail": "..."}``. Success 201 ``{"id": "pdf_<n>",
  "url", "filename", "created_at", "patient_id"}``.
* Without the trailing slash the route answers ``307 Temporary Redirect`` to the
  slashed URL, as Starlette's ``redirect_slashes`` does (no key check, nothing stored).
* ``GET /files/pdf_<n>.pdf`` (with the key) serves the stored PDF back.
* ``GET /patients`` (or ``/patients/``, with the key) lists the account's patients, each
  with ``pdf_count``: how many PDFs it holds (the vendor page shows that a patient has
  documents; whether a new one adds or replaces is not documented).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from . import accounts
from .exchange import MULTIPART_SLACK, Exchange, FileStore, Response, iso_z, json_response, utc_now
from .multipart import BodyError, BodyTooLarge

_PDF_ROUTE = re.compile(r"^/patients/(?P<pid>[^/]+)/pdf(?P<slash>/?)$")
_FILE_ROUTE = re.compile(r"^/files/(?P<id>pdf_[0-9]+)\.pdf$")


def _detail(status: int, message: str) -> Response:
    return json_response(status, {"detail": message})


def _field_required(*locations: tuple[str, ...]) -> Response:
    return json_response(
        422,
        {
            "detail": [
                {"type": "missing", "loc": list(loc), "msg": "Field required", "input": None}
                for loc in locations
            ]
        },
    )


class ClarosService:
    target = "claros"

    def __init__(self, store: FileStore, *, size_limit: int, public_url: str) -> None:
        self.store = store
        self.size_limit = size_limit
        self.public_url = public_url
        self._lock = threading.Lock()
        self._documents: dict[str, dict[str, Any]] = {}

    def owns(self, path: str) -> bool:
        return path == "/patients" or path.startswith(("/patients/", "/files/"))

    def error(self, ex: Exchange, status: int, message: str) -> Response:
        return _detail(status, message)

    def handle(self, ex: Exchange) -> Response:
        if match := _PDF_ROUTE.match(ex.path):
            if not match["slash"]:
                location = f"{ex.base_url}{ex.path}/"
                return Response(307, b"", None, {"Location": location})
            if ex.method != "POST":
                return _detail(405, "Method Not Allowed")
            return self._upload(ex, match["pid"])
        if match := _FILE_ROUTE.match(ex.path):
            if ex.method != "GET":
                return _detail(405, "Method Not Allowed")
            return self._serve(ex, match["id"])
        if ex.path in ("/patients", "/patients/"):
            if ex.method != "GET":
                return _detail(405, "Method Not Allowed")
            return self._patients(ex)
        return _detail(404, "Not Found")

    def _auth_problem(self, ex: Exchange) -> Response | None:
        key = ex.header("X-API-Key")
        if not key:
            return _detail(401, "Authentication required: send your API key in the X-API-Key header.")
        if key != accounts.CLAROS_API_KEY:
            return _detail(401, "Invalid API key.")
        return None

    def _upload(self, ex: Exchange, raw_pid: str) -> Response:
        if problem := self._auth_problem(ex):
            return problem
        try:
            patient_id = int(raw_pid)
        except ValueError:
            return json_response(
                422,
                {
                    "detail": [
                        {
                            "type": "int_parsing",
                            "loc": ["path", "patient_id"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": raw_pid,
                        }
                    ]
                },
            )
        if patient_id in accounts.CLAROS_FOREIGN_PATIENTS:
            return _detail(
                403,
                f"Unauthorized access: patient {patient_id} is not associated with your account. "
                "You can only upload PDFs for patients associated with your account.",
            )
        if patient_id not in accounts.CLAROS_PATIENTS:
            return _detail(404, f"Patient not found: no patient with ID {patient_id} exists.")
        too_large = f"File too large: the PDF exceeds the maximum allowed size of {self.size_limit} bytes."
        length = ex.content_length
        if length is not None and length > self.size_limit + MULTIPART_SLACK:
            return _detail(413, too_large)
        if not ex.is_multipart():
            return _field_required(("body", "file"), ("body", "filename"))
        try:
            form = ex.read_multipart(self.size_limit)
        except BodyTooLarge:
            return _detail(413, too_large)
        except BodyError as exc:
            return _detail(400, f"Invalid request: the upload could not be read ({exc}).")
        with form:
            part = form.files.get("file")
            filename = form.fields.get("filename")
            missing = [("body", n) for n, ok in (("file", part), ("filename", filename)) if not ok]
            if missing:
                return _field_required(*missing)
            assert part is not None and filename is not None
            if not filename.lower().endswith(".pdf"):
                return _detail(400, "Invalid request: the filename must include the .pdf extension.")
            if not part.head.startswith(b"%PDF-"):
                return _detail(400, "Invalid request: the file must be a valid PDF document.")
            number = self.store.next_number("claros")
            doc_id = f"pdf_{number}"
            path = self.store.keep_file(part.path, "claros", doc_id, filename)
            reply = {
                "id": doc_id,
                "url": f"{self.public_url}/files/{doc_id}.pdf",
                "filename": filename,
                "created_at": iso_z(utc_now()),
                "patient_id": patient_id,
            }
            with self._lock:
                self._documents[doc_id] = {"path": path, "patient_id": patient_id}
            self.store.add(
                {
                    "target": "claros",
                    "id": doc_id,
                    "filename": filename,
                    "part_filename": part.filename,
                    "path": str(path),
                    "sha256": part.sha256,
                    "size": part.size,
                    "patient_id": patient_id,
                    "url": reply["url"],
                    "created_at": reply["created_at"],
                }
            )
        return json_response(201, reply)

    def _serve(self, ex: Exchange, doc_id: str) -> Response:
        if problem := self._auth_problem(ex):
            return problem
        with self._lock:
            doc = self._documents.get(doc_id)
        if doc is None:
            return _detail(404, f"PDF {doc_id} not found.")
        return Response(200, doc["path"].read_bytes(), "application/pdf")

    def _patients(self, ex: Exchange) -> Response:
        if problem := self._auth_problem(ex):
            return problem
        with self._lock:
            counts: dict[int, int] = {}
            for doc in self._documents.values():
                counts[doc["patient_id"]] = counts.get(doc["patient_id"], 0) + 1
        return json_response(
            200, [{**p, "pdf_count": counts.get(pid, 0)} for pid, p in accounts.CLAROS_PATIENTS.items()]
        )
