"""The Redox emulator: auth, file upload, the Media.New send, and the Platform API logs.

Routes (all at the root of the sandbox's one port; the "blob host" is the same host):

* ``POST /v2/auth/token``, ``POST /auth/authenticate``, ``POST /auth/refreshToken``
  (see ``redox_auth``).
* ``POST /upload``: Bearer (a source's token). Multipart part ``file``. Errors are
  ``{"errorDetail": "..."}``: 401 no/expired token, 403 platform token, 400 not
  multipart or no ``file`` part, 413 beyond ``redox_limit`` (refused on the
  Content-Length alone when that already shows it). Success ``201 {"URI"}`` with
  ``<sandbox url>/blob/<id>``; the file belongs to the token's source.
* ``GET /blob/<id>``: the uploaded bytes, for the owning source only (404 otherwise).
* ``POST /endpoint``: Bearer; a JSON Media.New. Errors are ``{"Meta": {"DataModel",
  "EventType", "Errors": [{"ID", "Text", "Type": "message", "Module": "Request"}]}}``
  with 400 (every validation problem listed, worded like Redox's
  ``Required field missing - Media.FileName in Media:New``), 401, 403, 413. Success 200
  echoes ``Meta`` with ``Logs`` (one ``{"ID", "AttemptID"}`` per destination) and
  ``Message.ID``. Only Media.New is emulated; any other data model is a 400.
* ``GET /platform/v1/organizations/{orgId}/logs[/{logId}]`` (platform token). Single:
  ``{"meta": {"version"}, "payload": {"result": log}}``; list: ``{"meta": {"version",
  "page": {"currentPage", "pageType", "pageSize", "totalRecords", "totalPages",
  "links": {"self", "first", "next"?, "prev"?}}}, "payload": {"results": [...]}}``,
  newest first, paged with ``_page``/``_count`` (``page``/``pageSize`` also accepted;
  at most 50 per page, more is a 400). A log's status (``status`` and
  ``attempts.latest.status``) is ``pending`` until ``log_settle_seconds`` after it was
  created, ``succeeded`` after. Errors: ``{"meta": {"version"}, "payload": {"error":
  {"code": <status>, "message": "..."}}}`` (401 no token, 403 not a platform token or
  another organisation, 404 unknown log or route, 400 bad filter).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import threading
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from . import accounts
from .exchange import (
    MULTIPART_SLACK,
    BadRequest,
    Exchange,
    FileStore,
    Response,
    iso_z,
    json_response,
    parse_iso,
    utc_now,
)
from .multipart import BodyError, BodyTooLarge
from .redox_auth import Grant, TokenDesk, oauth_error, redox_error

INLINE_LIMIT = 200 * 1024  # decoded FileContents must be smaller than this
MEDIA_FILE_TYPES = {"PDF", "JPG", "JPEG", "PNG"}
PLATFORM_VERSION = "1.0.0"
MAX_PAGE_SIZE = 50

_PLATFORM_LOGS = re.compile(r"^/platform/v1/organizations/(?P<org>[^/]+)/logs(?:/(?P<log>[^/]+))?/?$")
_BLOB = re.compile(r"^/blob/(?P<id>[A-Za-z0-9_-]+)$")


class RedoxService:
    target = "redox"
    prefixes = ("/v2/auth/", "/auth/", "/upload", "/endpoint", "/blob/", "/platform/")

    def __init__(
        self,
        store: FileStore,
        public_keys: dict[str, Any],
        *,
        token_ttl: float,
        size_limit: int,
        public_url: str,
    ) -> None:
        self.store = store
        self.tokens = TokenDesk(public_keys, token_ttl)
        self.size_limit = size_limit
        self.public_url = public_url
        self.log_settle_seconds = 1.0
        self._lock = threading.Lock()
        self._blobs: dict[str, dict[str, Any]] = {}  # blob id -> record
        self._logs: list[dict[str, Any]] = []  # platform log records, oldest first

    def owns(self, path: str) -> bool:
        return path in ("/upload", "/endpoint") or path.startswith(self.prefixes)

    # --- dispatch ------------------------------------------------------------------
    def handle(self, ex: Exchange) -> Response:
        path = ex.path
        if path == "/v2/auth/token":
            urls = {f"{self.public_url}/v2/auth/token", f"{ex.base_url}/v2/auth/token"}
            return self.tokens.oauth_token(ex, urls)
        if path == "/auth/authenticate":
            return self.tokens.authenticate(ex)
        if path == "/auth/refreshToken":
            return self.tokens.refresh(ex)
        if path == "/upload":
            return self._upload(ex)
        if path == "/endpoint":
            return self._endpoint(ex)
        if match := _BLOB.match(path):
            return self._get_blob(ex, match["id"])
        if path.startswith("/platform/"):
            return self._platform(ex)
        return redox_error(404, f"No Redox route at {path}.")

    def error(self, ex: Exchange, status: int, message: str) -> Response:
        """An error in the shape the route at ``ex.path`` documents (used for faults)."""
        if ex.path == "/upload":
            return json_response(status, {"errorDetail": message})
        if ex.path == "/v2/auth/token":
            return oauth_error(status, "server_error", message)
        if ex.path.startswith("/platform/"):
            return platform_error(status, message)
        return redox_error(status, message)

    # --- file upload -----------------------------------------------------------------
    def _upload(self, ex: Exchange) -> Response:
        def fail(status: int, detail: str) -> Response:
            return json_response(status, {"errorDetail": detail})

        if ex.method != "POST":
            return fail(405, "Use POST to upload a file.")
        grant = self.tokens.grant_for(ex.bearer_token())
        if grant is None:
            return fail(401, "Missing, invalid or expired access token.")
        if grant.kind != "source":
            return fail(403, "Platform API tokens cannot upload files; use a source's token.")
        too_large = f"The file exceeds the {self.size_limit} byte limit for uploaded files."
        length = ex.content_length
        if length is not None and length > self.size_limit + MULTIPART_SLACK:
            return fail(413, too_large)
        if not ex.is_multipart():
            return fail(400, "Send the file as multipart/form-data in a part named 'file'.")
        try:
            form = ex.read_multipart(self.size_limit)
        except BodyTooLarge:
            return fail(413, too_large)
        except BodyError as exc:
            return fail(400, f"The upload could not be read: {exc}.")
        with form:
            part = form.files.get("file")
            if part is None:
                return fail(400, "No file was attached. Send it in a multipart part named 'file'.")
            blob_id = uuid.uuid4().hex
            path = self.store.keep_file(part.path, "redox/blobs", blob_id, part.filename)
            uri = f"{self.public_url}/blob/{blob_id}"
            record = {
                "id": blob_id,
                "uri": uri,
                "source": grant.principal,
                "filename": part.filename,
                "content_type": part.content_type,
                "path": str(path),
                "sha256": part.sha256,
                "size": part.size,
                "uploaded_at": iso_z(utc_now()),
            }
            with self._lock:
                self._blobs[blob_id] = record
        return json_response(201, {"URI": uri})

    def blobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(b) for b in self._blobs.values()]

    def _get_blob(self, ex: Exchange, blob_id: str) -> Response:
        if ex.method != "GET":
            return json_response(405, {"errorDetail": "Use GET."})
        grant = self.tokens.grant_for(ex.bearer_token())
        if grant is None:
            return json_response(401, {"errorDetail": "Missing, invalid or expired access token."})
        with self._lock:
            record = self._blobs.get(blob_id)
        if record is None or record["source"] != grant.principal:
            return json_response(404, {"errorDetail": "No such file for this source."})
        with open(record["path"], "rb") as src:
            data = src.read()
        return Response(200, data, record["content_type"] or "application/octet-stream")

    # --- Media.New -------------------------------------------------------------------
    def _endpoint(self, ex: Exchange) -> Response:
        if ex.method != "POST":
            return redox_error(405, "Use POST to send a message.")
        grant = self.tokens.grant_for(ex.bearer_token())
        if grant is None:
            return redox_error(401, "Authentication failed: missing, invalid or expired access token.")
        if grant.kind != "source":
            return redox_error(403, "Platform API tokens cannot send data-model messages.")
        too_large = "Payload sent exceeds the payload size limit of 10mb."
        length = ex.content_length
        if length is not None and length > self.size_limit:
            return redox_error(413, too_large)
        try:
            message = ex.read_json(self.size_limit)
        except BodyTooLarge:
            return redox_error(413, too_large)
        except BodyError as exc:
            return redox_error(400, f"Request is formatted incorrectly: {exc}.")
        if not isinstance(message, dict):
            return redox_error(400, "Request is formatted incorrectly: the body must be a JSON object.")
        meta = message.get("Meta") if isinstance(message.get("Meta"), dict) else {}
        data_model, event_type = meta.get("DataModel"), meta.get("EventType")
        errors = _validate_media(message)
        document: bytes | None = None
        blob: dict[str, Any] | None = None
        if not errors:
            try:
                document, blob = self._resolve_contents(message["Media"]["FileContents"], grant)
            except BadRequest as exc:
                errors.append(exc.message)
        if errors:
            return redox_error(400, errors, data_model=data_model, event_type=event_type)
        return self._accept_media(message, grant, document, blob)

    def _resolve_contents(self, contents: str, grant: Grant) -> tuple[bytes | None, dict[str, Any] | None]:
        if contents.startswith(("http://", "https://")):
            with self._lock:
                blob = next((b for b in self._blobs.values() if b["uri"] == contents), None)
            if blob is None:
                raise BadRequest(400, "Media.FileContents refers to a file URI Redox did not issue.")
            if blob["source"] != grant.principal:
                raise BadRequest(
                    400,
                    "Media.FileContents refers to a file uploaded by another source; "
                    "a file can only be referenced by the source that uploaded it.",
                )
            return None, blob
        try:
            data = base64.b64decode("".join(contents.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(400, "Media.FileContents is neither a file URI nor valid base64.") from exc
        if len(data) >= INLINE_LIMIT:
            raise BadRequest(
                400,
                f"Media.FileContents holds {len(data)} bytes inline; files of 200KB or more "
                "must be uploaded to the file upload endpoint (/upload) and referenced by URI.",
            )
        return data, None

    def _accept_media(
        self,
        message: dict[str, Any],
        grant: Grant,
        document: bytes | None,
        blob: dict[str, Any] | None,
    ) -> Response:
        meta, media, patient = message["Meta"], message["Media"], message["Patient"]
        number = self.store.next_number("redox")
        entry_id = f"media_{number}"
        if blob is not None:
            path, sha, size = blob["path"], blob["sha256"], blob["size"]
        else:
            assert document is not None
            kept = self.store.keep_bytes(document, "redox", entry_id, media["FileName"])
            path, sha, size = str(kept), _sha256(document), len(document)
        now = utc_now()
        logs: list[dict[str, str]] = []
        for dest in meta["Destinations"]:
            log = {"ID": str(uuid.uuid4()), "AttemptID": str(uuid.uuid4())}
            logs.append(log)
            with self._lock:
                self._logs.append(
                    {
                        "id": log["ID"],
                        "attempt_id": log["AttemptID"],
                        "created": now,
                        "data_model": meta["DataModel"],
                        "event_type": meta["EventType"],
                        "source": grant.principal,
                        "destination_id": dest["ID"],
                        "destination_name": accounts.REDOX_DESTINATIONS[dest["ID"]],
                        "created_mono": time.monotonic(),
                    }
                )
        earlier = self.store.find(target="redox", source=grant.principal, document_id=media["DocumentID"])
        identifiers = [dict(i) for i in patient["Identifiers"]]
        self.store.add(
            {
                "target": "redox",
                "id": entry_id,
                "filename": media["FileName"],
                "path": str(path),
                "sha256": sha,
                "size": size,
                "uri": blob["uri"] if blob else None,
                "inline": blob is None,
                "source": grant.principal,
                "document_id": media["DocumentID"],
                "document_type": media["DocumentType"],
                "file_type": media["FileType"],
                "patient_id": identifiers[0]["ID"],
                "patient_identifiers": identifiers,
                "destinations": [dict(d) for d in meta["Destinations"]],
                "logs": logs,
                "test": bool(meta.get("Test", False)),
                "duplicate_of": earlier[0]["id"] if earlier else None,
                "received_at": iso_z(now),
            }
        )
        reply_meta = dict(meta)
        reply_meta["Logs"] = logs
        reply_meta["Message"] = {"ID": number}
        reply_meta.setdefault("EventDateTime", iso_z(now, millis=True))
        return json_response(200, {"Meta": reply_meta})

    # --- Platform API ----------------------------------------------------------------
    def _platform(self, ex: Exchange) -> Response:
        match = _PLATFORM_LOGS.match(ex.path)
        if match is None:
            return platform_error(404, f"No Platform API route at {ex.path}.")
        if ex.method != "GET":
            return platform_error(405, "Use GET.")
        grant = self.tokens.grant_for(ex.bearer_token())
        if grant is None:
            return platform_error(401, "Missing, invalid or expired access token.")
        if grant.kind != "platform":
            return platform_error(
                403, "This token belongs to a source; the Platform API needs a user-level API key."
            )
        if match["org"] != accounts.REDOX_ORG_ID:
            return platform_error(403, f"You do not have access to organization {match['org']}.")
        if match["log"]:
            with self._lock:
                record = next((r for r in self._logs if r["id"] == match["log"]), None)
            if record is None:
                return platform_error(404, f"Log {match['log']} was not found.")
            return json_response(
                200, {"meta": {"version": PLATFORM_VERSION}, "payload": {"result": self._log_view(record)}}
            )
        try:
            return self._list_logs(ex)
        except BadRequest as exc:
            return platform_error(exc.status, exc.message)

    def _list_logs(self, ex: Exchange) -> Response:
        page = _int_param(ex, ("_page", "page"), default=1, minimum=1)
        count = _int_param(ex, ("_count", "pageSize"), default=MAX_PAGE_SIZE, minimum=1)
        if count > MAX_PAGE_SIZE:
            raise BadRequest(400, f"The maximum page size is {MAX_PAGE_SIZE}.")
        bounds = {}
        for name in ("createdAfter", "createdBefore", "updatedAfter", "updatedBefore"):
            value = ex.query_value(name)
            if value:
                try:
                    bounds[name] = parse_iso(value)
                except ValueError as exc:
                    raise BadRequest(400, f"{name} must be an ISO 8601 date-time.") from exc
        data_model = (ex.query_value("dataModel") or "").lower()
        event_type = (ex.query_value("eventType") or "").lower()
        with self._lock:
            records = list(reversed(self._logs))
        views = []
        for record in records:
            view = self._log_view(record)
            created, updated = record["created"], parse_iso(view["updatedAt"])
            if data_model and view["dataModel"].lower() != data_model:
                continue
            if event_type and view["eventType"].lower() != event_type:
                continue
            if "createdAfter" in bounds and created < bounds["createdAfter"]:
                continue
            if "createdBefore" in bounds and created > bounds["createdBefore"]:
                continue
            if "updatedAfter" in bounds and updated < bounds["updatedAfter"]:
                continue
            if "updatedBefore" in bounds and updated > bounds["updatedBefore"]:
                continue
            views.append(view)
        total = len(views)
        pages = max(1, math.ceil(total / count))
        results = views[(page - 1) * count : page * count]
        filters = {k: v[0] for k, v in ex.query.items() if k not in ("_page", "_count", "page", "pageSize")}

        def link(number: int) -> str:
            query = urlencode({**filters, "_page": number, "_count": count})
            return f"{ex.path}?{query}"

        links = {"self": link(page), "first": link(1)}
        if page < pages:
            links["next"] = link(page + 1)
        if 1 < page <= pages:
            links["prev"] = link(page - 1)
        meta = {
            "version": PLATFORM_VERSION,
            "page": {
                "currentPage": page,
                "pageType": "offset",
                "pageSize": count,
                "totalRecords": total,
                "totalPages": pages,
                "links": links,
            },
        }
        return json_response(200, {"meta": meta, "payload": {"results": results}})

    def _log_view(self, record: dict[str, Any]) -> dict[str, Any]:
        settled = time.monotonic() - record["created_mono"] >= self.log_settle_seconds
        status = "succeeded" if settled else "pending"
        created = record["created"]
        updated = created + timedelta(seconds=self.log_settle_seconds) if settled else created
        organization = {"id": accounts.REDOX_ORG_ID, "name": "Sandbox Organization"}
        return {
            "id": record["id"],
            "createdAt": iso_z(created, millis=True),
            "updatedAt": iso_z(updated, millis=True),
            "dataModel": record["data_model"],
            "eventType": record["event_type"],
            "status": status,
            "type": "send",
            "source": {"id": record["source"], "name": record["source"], "organization": organization},
            "destination": {
                "id": record["destination_id"],
                "name": record["destination_name"],
                "organization": organization,
            },
            "attempts": {
                "total": 1,
                "latest": {
                    "id": record["attempt_id"],
                    "attemptAt": iso_z(created, millis=True),
                    "status": status,
                },
            },
        }


def platform_error(status: int, message: str) -> Response:
    return json_response(
        status,
        {"meta": {"version": PLATFORM_VERSION}, "payload": {"error": {"code": status, "message": message}}},
    )


def _int_param(ex: Exchange, names: tuple[str, ...], *, default: int, minimum: int) -> int:
    for name in names:
        raw = ex.query_value(name)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError as exc:
            raise BadRequest(400, f"{name} must be an integer.") from exc
        if value < minimum:
            raise BadRequest(400, f"{name} must be at least {minimum}.")
        return value
    return default


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _missing(field: str) -> str:
    return f"Required field missing - {field} in Media:New"


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _validate_media(message: dict[str, Any]) -> list[str]:
    """Every problem with a Media.New message, worded the way Redox words them."""
    errors: list[str] = []
    meta = message.get("Meta")
    if not isinstance(meta, dict):
        return [_missing("Meta")]
    if meta.get("DataModel") != "Media":
        return [f"Unsupported DataModel {meta.get('DataModel')!r}: this sandbox accepts only Media:New."]
    if meta.get("EventType") != "New":
        return [f"Unsupported EventType {meta.get('EventType')!r} for Media: use New."]
    if "Test" in meta and not isinstance(meta["Test"], bool):
        errors.append("Meta.Test must be true or false.")
    destinations = meta.get("Destinations")
    if not isinstance(destinations, list) or not destinations:
        errors.append(_missing("Meta.Destinations"))
    else:
        for index, dest in enumerate(destinations):
            dest_id = dest.get("ID") if isinstance(dest, dict) else None
            if not _nonempty_str(dest_id):
                errors.append(_missing(f"Meta.Destinations[{index}].ID"))
            elif dest_id not in accounts.REDOX_DESTINATIONS:
                errors.append(f"Destination {dest_id} is not a valid destination for this source.")
    patient = message.get("Patient")
    identifiers = patient.get("Identifiers") if isinstance(patient, dict) else None
    if not isinstance(identifiers, list) or not identifiers:
        errors.append(_missing("Patient.Identifiers"))
    else:
        for index, ident in enumerate(identifiers):
            for key in ("ID", "IDType"):
                if not isinstance(ident, dict) or not _nonempty_str(ident.get(key)):
                    errors.append(_missing(f"Patient.Identifiers[{index}].{key}"))
    media = message.get("Media")
    if not isinstance(media, dict):
        errors.append(_missing("Media"))
        return errors
    for key in ("FileType", "FileName", "FileContents", "DocumentType", "DocumentID", "Availability"):
        if not _nonempty_str(media.get(key)):
            errors.append(_missing(f"Media.{key}"))
    file_type = media.get("FileType")
    if _nonempty_str(file_type) and str(file_type).upper() not in MEDIA_FILE_TYPES:
        errors.append(f"Media.FileType {file_type!r} is not supported; use PDF, JPG or PNG.")
    availability = media.get("Availability")
    if _nonempty_str(availability) and availability not in ("Available", "Unavailable"):
        errors.append("Media.Availability must be Available or Unavailable.")
    return errors
