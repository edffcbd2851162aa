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
  ``Message.ID``. Media.New and Notes.New (the file in ``Note`` instead of ``Media``,
  with the same ``FileContents`` rule; ``Availability`` is Media's alone) are emulated;
  any other data model is a 400.
* Every route counts against ``rate`` (``rate_limit``): beyond it a 429 whose
  ``X-RateLimit-*`` headers say when to try again.
* ``GET /platform/v1/organizations/{orgId}/logs[/{logId}]`` and
  ``POST /platform/v1/environments/{envId}/logs/search/metadata``: see ``redox_platform``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import uuid
from typing import Any

from . import accounts
from .exchange import (
    MULTIPART_SLACK,
    BadRequest,
    Exchange,
    FileStore,
    Response,
    iso_z,
    json_response,
    utc_now,
)
from .multipart import BodyError, BodyTooLarge
from .rate_limit import RateWindow
from .redox_auth import Grant, TokenDesk, oauth_error, redox_error
from .redox_platform import PlatformLogs, platform_error

INLINE_LIMIT = 200 * 1024  # decoded FileContents must be smaller than this
MEDIA_FILE_TYPES = {"PDF", "JPG", "JPEG", "PNG"}
PARTS = {"Media": "Media", "Notes": "Note"}  # data model -> the object carrying the file

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
        self.platform = PlatformLogs()
        self.rate = RateWindow()  # 10,000 requests per 5 minutes, then 429 (see rate_limit)
        self._lock = threading.Lock()
        self._blobs: dict[str, dict[str, Any]] = {}  # blob id -> record

    def owns(self, path: str) -> bool:
        return path in ("/upload", "/endpoint") or path.startswith(self.prefixes)

    # --- dispatch ------------------------------------------------------------------
    def handle(self, ex: Exchange) -> Response:
        allowed, limits = self.rate.take()
        if not allowed:
            response = self.error(ex, 429, "Rate limit exceeded: too many requests from this IP "
                                  "address. Wait until the window resets (X-RateLimit-Reset).")
        else:
            response = self._route(ex)
        response.headers.update(limits)
        return response

    def _route(self, ex: Exchange) -> Response:
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
            return self.platform.handle(ex, self.tokens.grant_for(ex.bearer_token()))
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
                part = message[PARTS[message["Meta"]["DataModel"]]]
                document, blob = self._resolve_contents(part["FileContents"], grant)
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
        meta, patient = message["Meta"], message["Patient"]
        media = message[PARTS[meta["DataModel"]]]
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
            self.platform.add(
                log_id=log["ID"],
                attempt_id=log["AttemptID"],
                created=now,
                data_model=meta["DataModel"],
                event_type=meta["EventType"],
                source=grant.principal,
                destination_id=dest["ID"],
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
                "data_model": meta["DataModel"],
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _missing(field: str, model: str = "Media") -> str:
    return f"Required field missing - {field} in {model}:New"


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _validate_media(message: dict[str, Any]) -> list[str]:
    """Every problem with a Media.New message, worded the way Redox words them."""
    errors: list[str] = []
    meta = message.get("Meta")
    if not isinstance(meta, dict):
        return [_missing("Meta")]
    model = meta.get("DataModel")
    if model not in PARTS:
        return [f"Unsupported DataModel {model!r}: this sandbox accepts Media:New and Notes:New."]
    if meta.get("EventType") != "New":
        return [f"Unsupported EventType {meta.get('EventType')!r} for {model}: use New."]
    part_name = PARTS[str(model)]
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
    media = message.get(part_name)
    if not isinstance(media, dict):
        errors.append(_missing(part_name, str(model)))
        return errors
    required = ["FileType", "FileName", "FileContents", "DocumentType", "DocumentID"]
    if part_name == "Media":
        required.append("Availability")
    for key in required:
        if not _nonempty_str(media.get(key)):
            errors.append(_missing(f"{part_name}.{key}", str(model)))
    file_type = media.get("FileType")
    if _nonempty_str(file_type) and str(file_type).upper() not in MEDIA_FILE_TYPES:
        errors.append(f"{part_name}.FileType {file_type!r} is not supported; use PDF, JPG or PNG.")
    availability = media.get("Availability")
    if _nonempty_str(availability) and availability not in ("Available", "Unavailable"):
        errors.append(f"{part_name}.Availability must be Available or Unavailable.")
    return errors
