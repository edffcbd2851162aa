"""Redox: OAuth (signed JWT) or legacy key auth, blob upload, a Media.New or Notes.New
message, and where it went (the Platform API's delivery logs).

Rule for where the file goes (TARGETS.md, seed 000): a file of 200 KB
(200 * 1024 bytes) or more is uploaded to ``{blob}/upload`` and referenced by
its URI in ``FileContents``; a smaller file goes inline as base64.

Delivery status comes from the Platform API in either of its shapes: the
organisation-based ``GET /platform/v1/organizations/{orgId}/logs/{logId}``, or the
environment-based ``POST /platform/v1/environments/{envId}/logs/search/metadata``
(``_count`` at most 50, ``_cursor`` paging), matched by log id.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from uploader_gui.core.logging_setup import register_secret
from uploader_gui.core.outcome import (
    AUTH,
    CONFIG,
    CancelFn,
    ProgressFn,
    Receipt,
    UploadError,
    server_text,
)
from uploader_gui.core.recheck import StagedFileError, read_regular
from uploader_gui.core.targets.base import (
    DELIVERY_STATUS,
    Credentials,
    Destination,
    Document,
    LogStatus,
    Target,
    TargetConfig,
    http_error,
    json_or_none,
    not_the_api,
    redirect_error,
)
from uploader_gui.core.targets.redox_platform import (
    SEARCH_PAGE,
    SEARCH_PAGES,
    SEARCH_SLACK,
    log_status,
    next_cursor,
    platform_error_text,
)
from uploader_gui.core.transport import Transport, join_url

log = logging.getLogger(__name__)

INLINE_LIMIT = 200 * 1024
DEFAULT_LIMIT = 10 * 1024 * 1024
ASSERTION_LIFETIME = 240  # seconds; Redox allows at most 5 minutes
RENEW_MARGIN = 60  # renew a token this many seconds before it expires
FILE_TYPES = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG"}
DATA_MODELS = {"Media": "Media", "Notes": "Note"}  # data model -> the part holding the file


class RedoxTarget(Target):
    kind = "redox"

    def __init__(self, config: TargetConfig, credentials: Credentials,
                 transport: Transport | None = None) -> None:
        super().__init__(config, credentials, transport)
        self._token: str | None = None
        self._token_expires = 0.0
        self._refresh_token: str | None = None
        self._platform: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @property
    def api(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def blob(self) -> str:
        return (self.config.blob_url or self.config.base_url).rstrip("/")

    # ------------------------------------------------------------------ checks

    def check(self, document: Document, destination: Destination) -> list[str]:
        problems = []
        if not (destination.patient_id or "").strip():
            problems.append("Enter the patient's identifier (for example the MRN).")
        if not (destination.patient_id_type or self.config.patient_id_type):
            problems.append("Choose the type of patient identifier (for example MR).")
        if not (destination.destinations or self.config.destinations):
            problems.append("Choose at least one Redox destination.")
        if not (destination.document_type or self.config.document_type):
            problems.append("Choose the document type.")
        if document.file_type not in FILE_TYPES:
            problems.append("Redox takes PDF, JPEG and PNG files only.")
        limit = self.config.size_limit or DEFAULT_LIMIT
        if document.size > limit:
            problems.append(f"The file is larger than this Redox profile's limit of "
                            f"{limit // (1024 * 1024)} MB.")
        if self.config.auth == "jwt":
            if not self.config.client_id or not self.config.key_id:
                problems.append("The profile needs the Redox client ID and key ID.")
            if not self.credentials.redox_private_key:
                problems.append("The Redox private key is not set for this profile.")
        else:
            if not self.credentials.redox_api_key or not self.credentials.redox_secret:
                problems.append("The Redox API key and secret are not set for this profile.")
        return problems

    # ------------------------------------------------------------------ auth

    def _assertion(self, audience: str, *, platform: bool = False) -> str:
        key_pem = self.credentials.platform_key if platform else self.credentials.redox_private_key
        client_id = self.config.platform_client_id if platform else self.config.client_id
        key_id = (self.config.platform_key_id or self.config.key_id) if platform else self.config.key_id
        if not key_pem:
            what = "Platform API key" if platform else "private key"
            raise UploadError(CONFIG, f"The Redox {what} is not set.", reached_server=False)
        alg = self.config.jwt_alg
        key: Any
        if alg == "HS384":
            key = key_pem.reveal().encode()
        else:
            try:
                key = load_pem_private_key(key_pem.reveal().encode(), password=None)
            except (ValueError, TypeError):
                raise UploadError(CONFIG, "The Redox private key could not be read. Paste the "
                                  "whole PEM text, including the BEGIN and END lines.",
                                  reached_server=False) from None
            if alg is None:
                if isinstance(key, rsa.RSAPrivateKey):
                    alg = "RS384"
                elif isinstance(key, ec.EllipticCurvePrivateKey):
                    alg = "ES384"
                else:
                    raise UploadError(CONFIG, "The Redox private key must be an RSA or EC key.",
                                      reached_server=False)
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": key_id})

    def _fetch_token(self) -> None:
        if self.config.auth == "jwt":
            url = join_url(self.api, "/v2/auth/token")
            resp = self.transport.request("POST", url, data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(url),
            })
            body = json_or_none(resp)
            if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise self._auth_failure(resp)
            self._token = str(body["access_token"])
            register_secret(self._token)  # a server echoing it back cannot show it
            self._token_expires = time.monotonic() + float(body.get("expires_in", 300))
            return
        key, secret = self.credentials.redox_api_key, self.credentials.redox_secret
        if not key or not secret:
            raise UploadError(CONFIG, "The Redox API key and secret are not set.",
                              reached_server=False)
        legacy: requests.Response | None = None
        if self._refresh_token:
            legacy = self.transport.request("POST", join_url(self.api, "/auth/refreshToken"), json={
                "apiKey": key.reveal(), "refreshToken": self._refresh_token})
            if legacy.status_code != 200:
                self._refresh_token = None
                legacy = None
        if legacy is None:
            legacy = self.transport.request("POST", join_url(self.api, "/auth/authenticate"), json={
                "apiKey": key.reveal(), "secret": secret.reveal()})
        body = json_or_none(legacy)
        if legacy.status_code != 200 or not isinstance(body, dict) or "accessToken" not in body:
            raise self._auth_failure(legacy)
        self._token = str(body["accessToken"])
        self._refresh_token = body.get("refreshToken") or self._refresh_token
        for issued in (self._token, self._refresh_token):
            register_secret(issued or "")
        self._token_expires = time.monotonic() + _seconds_until(body.get("expires"), 24 * 3600)

    def _auth_failure(self, resp: requests.Response) -> UploadError:
        text = _redox_error_text(resp)
        return UploadError(
            AUTH if resp.status_code < 500 else "server",
            "Redox refused the credentials of this profile"
            + (f": {text}" if text else f" (HTTP {resp.status_code}).")
            + (" Check the client ID, key ID and private key." if self.config.auth == "jwt"
               else " Check the API key and secret."),
            http_status=resp.status_code,
            server_message=server_text(resp),
        )

    def token(self, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or time.monotonic() > self._token_expires - RENEW_MARGIN:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _authed(self, call: Any) -> requests.Response:
        """Run ``call(token)``; on a 401 get a new token once and try once more."""
        resp = call(self.token())
        if resp.status_code == 401:
            log.info("Redox answered 401; renewing the token once")
            resp = call(self.token(force=True))
        return resp

    # ------------------------------------------------------------------ upload

    def upload(
        self,
        document: Document,
        destination: Destination,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> Receipt:
        if document.size >= INLINE_LIMIT:
            uri = self._upload_blob(document, progress, cancelled)
            contents, mode = uri, "blob"
        else:
            contents = base64.b64encode(_inline_bytes(document)).decode("ascii")
            mode = "inline"
            if progress:
                progress(document.size, document.size)
        message = self.document_message(document, destination, contents)
        url = join_url(self.api, "/endpoint")
        resp = self._authed(lambda tok: self.transport.request(
            "POST", url, json=message, headers={"Authorization": f"Bearer {tok}"}))
        body = json_or_none(resp)
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        if resp.status_code != 200:
            text = _redox_error_text(resp)
            raise http_error(resp, _status_sentence(resp.status_code, text),
                             server_message=text or server_text(resp))
        if not isinstance(body, dict) or not isinstance(body.get("Meta"), dict):
            raise not_the_api(resp, "Redox")
        logs = body["Meta"].get("Logs") or []
        log_ids = [str(entry.get("ID")) for entry in logs if isinstance(entry, dict) and entry.get("ID")]
        return Receipt(
            target=self.kind,
            remote_id=document.document_id,
            url=contents if mode == "blob" else None,
            log_ids=log_ids,
            http_status=resp.status_code,
            server_message=server_text(resp),
            extra={"mode": mode, "attempt_ids": [str(e.get("AttemptID")) for e in logs
                                                 if isinstance(e, dict) and e.get("AttemptID")]},
        )

    def _upload_blob(self, document: Document, progress: ProgressFn | None,
                     cancelled: CancelFn | None) -> str:
        url = join_url(self.blob, "/upload")
        resp = self._authed(lambda tok: self.transport.upload(
            url, file_field="file", path=document.path, filename=document.filename,
            headers={"Authorization": f"Bearer {tok}"}, progress=progress, cancelled=cancelled))
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        body = json_or_none(resp)
        if resp.status_code != 201 and not (200 <= resp.status_code < 300):
            text = _redox_error_text(resp)
            raise http_error(resp, _status_sentence(resp.status_code, text, blob=True),
                             server_message=text or server_text(resp))
        if not isinstance(body, dict) or not body.get("URI"):
            raise not_the_api(resp, "The Redox file upload")
        return str(body["URI"])

    @property
    def data_model(self) -> str:
        return "Notes" if (self.config.redox_data_model or "").lower().startswith("note") else "Media"

    def document_message(self, document: Document, destination: Destination, contents: str) -> dict:
        """The Media.New or Notes.New message (per profile) carrying ``contents``."""
        dest_ids = destination.destinations or [d["ID"] for d in self.config.destinations]
        names = {d.get("ID"): d.get("Name", "") for d in self.config.destinations}
        meta: dict[str, Any] = {
            "DataModel": self.data_model,
            "EventType": "New",
            "EventDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Test": bool(self.config.test),
            "Destinations": [{"ID": d, **({"Name": names[d]} if names.get(d) else {})}
                             for d in dest_ids],
        }
        if self.config.source_id:
            meta["Source"] = {"ID": self.config.source_id}
        part: dict[str, Any] = {
            "FileType": FILE_TYPES[document.file_type],
            "FileName": document.filename,
            "FileContents": contents,
            "DocumentType": destination.document_type or self.config.document_type,
            "DocumentID": document.document_id,
        }
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if self.data_model == "Media":
            part.update({"Availability": "Available", "CreationDateTime": now})
            if destination.description:
                part["DocumentDescription"] = destination.description
        else:
            part.update({"ContentType": "Base64 Encoded", "ServiceDateTime": now})
            if destination.description:
                part["DocumentDescription"] = destination.description
        return {
            "Meta": meta,
            "Patient": _patient(destination, self.config.patient_id_type),
            DATA_MODELS[self.data_model]: part,
        }

    media_message = document_message

    # ------------------------------------------------------------------ delivery status

    @property
    def platform_configured(self) -> bool:
        c = self.config
        return bool((c.platform_org_id or c.platform_environment_id) and c.platform_client_id
                    and self.credentials.platform_key)

    def supports(self, capability: str) -> bool:
        if capability == DELIVERY_STATUS:
            return self.platform_configured
        return super().supports(capability)

    def _platform_token(self, force: bool = False) -> str:
        with self._lock:
            if force or self._platform is None or time.monotonic() > self._platform[1] - RENEW_MARGIN:
                url = join_url(self.api, "/v2/auth/token")
                resp = self.transport.request("POST", url, data={
                    "grant_type": "client_credentials",
                    "client_assertion_type":
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": self._assertion(url, platform=True),
                })
                body = json_or_none(resp)
                if resp.status_code != 200 or not isinstance(body, dict) or \
                        "access_token" not in body:
                    raise self._auth_failure(resp)
                self._platform = (str(body["access_token"]),
                                  time.monotonic() + float(body.get("expires_in", 300)))
            return self._platform[0]

    def _platform_call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        def call(token: str) -> requests.Response:
            return self.transport.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                          timeout=(10.0, 70.0), **kwargs)

        resp = call(self._platform_token())
        if resp.status_code == 401:
            resp = call(self._platform_token(force=True))
        if resp.status_code != 200 or not isinstance(json_or_none(resp), dict):
            body = json_or_none(resp)
            text = platform_error_text(body) or server_text(resp)
            raise http_error(resp, f"The Redox Platform API did not give the delivery status "
                             f"(HTTP {resp.status_code}): {text}", server_message=text)
        return resp

    def delivery_status(self, log_id: str, created: float | None = None) -> LogStatus:
        """The latest attempt's status of one log: succeeded, failed, filtered or pending."""
        if not self.platform_configured:
            raise UploadError(CONFIG, "Delivery status needs the profile's Redox Platform API "
                              "organisation (or environment), client and key.",
                              reached_server=False)
        if self.config.platform_environment_id:
            found = self._search_log(log_id, created)
            if found is None:  # not indexed yet, or older than the search window
                return LogStatus(log_id, "pending",
                                 message="Redox's logs do not show this message yet.")
            return log_status(log_id, found)
        url = join_url(self.api, f"/platform/v1/organizations/{self.config.platform_org_id}"
                                 f"/logs/{log_id}")
        body = json_or_none(self._platform_call("GET", url))
        return log_status(log_id, (body.get("payload") or {}).get("result") or {})

    def _search_log(self, log_id: str, created: float | None) -> dict[str, Any] | None:
        """Page through the environment's log metadata for one log id."""
        url = join_url(self.api, f"/platform/v1/environments/{self.config.platform_environment_id}"
                                 "/logs/search/metadata")
        filters: dict[str, Any] = {}
        if created is not None:
            since = datetime.fromtimestamp(created - SEARCH_SLACK, UTC)
            filters["createdAfter"] = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if self.config.source_id:
            filters["sourceId"] = self.config.source_id
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            params: dict[str, Any] = {"_count": SEARCH_PAGE}
            if cursor:
                params["_cursor"] = cursor
            body = json_or_none(self._platform_call("POST", url, params=params, json=filters))
            payload = body.get("payload") or {}
            results = payload.get("results") if isinstance(payload, dict) else None
            for item in results if isinstance(results, list) else []:
                if isinstance(item, dict) and str(item.get("id")) == log_id:
                    return item
            cursor = next_cursor(body)
            if not cursor:
                return None
        return None

    # ------------------------------------------------------------------ other calls

    def test_connection(self) -> str:
        self.token(force=True)
        kind = "signed JWT (OAuth 2.0)" if self.config.auth == "jwt" else "legacy API key"
        return f"Connected to Redox at {self.api}: the {kind} credentials were accepted."

    def retry_decision(self, error: UploadError) -> str:
        # Redox asks clients to retry 5xx; DocumentID stays the same on every attempt.
        if error.http_status is not None and error.http_status >= 500:
            return "retry"
        if error.kind == "outcome_unknown":
            return "retry"
        return super().retry_decision(error)


def _redox_error_text(resp: requests.Response) -> str:
    body = json_or_none(resp)
    if isinstance(body, dict):
        if body.get("errorDetail"):
            return str(body["errorDetail"])
        meta = body.get("Meta")
        if isinstance(meta, dict) and isinstance(meta.get("Errors"), list):
            texts = [str(e.get("Text")) for e in meta["Errors"] if isinstance(e, dict) and e.get("Text")]
            if texts:
                return "; ".join(texts)
        for key in ("error_description", "error", "message"):
            if body.get(key):
                return str(body[key])
    return ""


def _status_sentence(status: int, text: str, blob: bool = False) -> str:
    what = "the file upload" if blob else "the document"
    lead = {
        400: f"Redox did not accept {what}",
        401: "Redox refused this profile's credentials",
        403: "Redox refused access",
        404: "Redox did not find that address",
        413: "The file is larger than Redox accepts",
        429: "Redox is receiving too many requests; it will be tried again",
    }.get(status, f"Redox had a problem (HTTP {status})")
    return f"{lead}: {text}" if text else f"{lead}."


def _seconds_until(expires: Any, default: float) -> float:
    if not expires:
        return default
    try:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except ValueError:
        return default


def _inline_bytes(document: Document) -> bytes:
    """The small file's bytes, read as checked: a regular file, never more than its size."""
    try:
        return read_regular(document.path, document.size)
    except StagedFileError as exc:
        raise UploadError(CONFIG, exc.message, reached_server=False) from None


def _patient(destination: Destination, default_id_type: str) -> dict[str, Any]:
    """``Patient``: the identifier, and the name and date of birth the user typed."""
    patient: dict[str, Any] = {"Identifiers": [{
        "ID": (destination.patient_id or "").strip(),
        "IDType": destination.patient_id_type or default_id_type,
    }]}
    demographics: dict[str, Any] = {}
    name = (destination.patient_name or "").strip()
    if name:
        first, _, last = name.rpartition(" ")
        demographics["FirstName"] = first or last
        if first:
            demographics["LastName"] = last
    if destination.patient_birth_date:
        demographics["DOB"] = destination.patient_birth_date.strip()
    if demographics:
        patient["Demographics"] = demographics
    return patient
