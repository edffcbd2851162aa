"""The Redox Platform API, as far as this app needs it: delivery logs (seed 001).

``GET /platform/v1/organizations/{orgId}/logs/{logId}`` answers
``{"meta": {"version"}, "payload": {"result": log}}``; ``GET .../logs`` answers
``{"meta": {"version", "page": {"currentPage", "pageType", "pageSize", "totalRecords",
"totalPages", "links": {"self", "first", "next"?, "prev"?}}}, "payload": {"results": [...]}}``,
newest first, filtered by ``createdAfter``/``createdBefore``/``updatedAfter``/
``updatedBefore`` (ISO 8601, inclusive), ``dataModel`` and ``eventType``, paged with
``_page``/``_count`` (``page``/``pageSize`` also accepted; at most 50 per page, more is
a 400). An empty collection is a 200 with an empty list; an unknown log is a 404.

``POST /platform/v1/environments/{environmentId}/logs/search/metadata`` (the newer,
environment-based shape) takes a JSON body of filters (``createdAfter``,
``createdBefore``, ``sourceId``, ``destinationId``, ``dataModel``, ``eventType``,
``status``), pages with ``_count`` (at most 50, more is a 400) and ``_cursor`` in the
query string, and answers ``{"meta": {"version", "page": {"pageSize", "nextCursor"?}},
"payload": {"results": [...]}}``, newest first. An unknown environment is a 403.

A log's status (``status`` and ``attempts.latest.status``) reads ``pending`` until
``settle_seconds`` after it was created, then its outcome: ``succeeded`` unless
:meth:`PlatformLogs.set_outcome` chose ``failed`` or ``filtered`` (with Redox's words in
``attempts.latest.error.message``) for the destination before the message was sent.

Authentication: a Bearer token of the Platform API key (``sandbox-platform-key``; see
``accounts``). Errors: ``{"meta": {"version"}, "payload": {"error": {"code": <status>,
"message": "..."}}}`` with 401 (no/expired token), 403 (a source's token, or another
organisation), 404 (unknown log or route), 405, 400 (bad filter or paging).
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from . import accounts
from .exchange import BadRequest, Exchange, Response, iso_z, json_response, parse_iso
from .multipart import BodyError
from .redox_auth import Grant

PLATFORM_VERSION = "1.0.0"
MAX_PAGE_SIZE = 50

_PLATFORM_LOGS = re.compile(r"^/platform/v1/organizations/(?P<org>[^/]+)/logs(?:/(?P<log>[^/]+))?/?$")
_PLATFORM_SEARCH = re.compile(r"^/platform/v1/environments/(?P<env>[^/]+)/logs/search/metadata/?$")
OUTCOMES = ("succeeded", "failed", "filtered")
DEFAULT_WORDS = {
    "failed": "The destination endpoint responded with HTTP 500 on every attempt.",
    "filtered": "The message was filtered by a destination filter.",
}


class PlatformLogs:
    """One log per destination of every accepted message."""

    def __init__(self, settle_seconds: float = 1.0) -> None:
        self.settle_seconds = settle_seconds
        self._lock = threading.Lock()
        self._logs: list[dict[str, Any]] = []  # oldest first
        self._outcomes: dict[str, tuple[str, str]] = {}  # destination id or "*" -> outcome

    def set_outcome(self, status: str = "succeeded", destination_id: str | None = None,
                    message: str | None = None) -> None:
        """How logs created from now on end, for one destination or (None) every one."""
        if status not in OUTCOMES:
            raise ValueError(f"status must be one of {OUTCOMES}, not {status!r}")
        key = destination_id or "*"
        with self._lock:
            if destination_id is None:
                self._outcomes.clear()
            self._outcomes[key] = (status, message or DEFAULT_WORDS.get(status, ""))

    def add(
        self,
        *,
        log_id: str,
        attempt_id: str,
        created: datetime,
        data_model: str,
        event_type: str,
        source: str,
        destination_id: str,
    ) -> None:
        with self._lock:
            outcome = self._outcomes.get(destination_id) or self._outcomes.get("*") or ("succeeded", "")
            self._logs.append(
                {
                    "outcome": outcome,
                    "id": log_id,
                    "attempt_id": attempt_id,
                    "created": created,
                    "created_mono": time.monotonic(),
                    "data_model": data_model,
                    "event_type": event_type,
                    "source": source,
                    "destination_id": destination_id,
                    "destination_name": accounts.REDOX_DESTINATIONS.get(destination_id, ""),
                }
            )

    def handle(self, ex: Exchange, grant: Grant | None) -> Response:
        search = _PLATFORM_SEARCH.match(ex.path)
        match = _PLATFORM_LOGS.match(ex.path)
        if match is None and search is None:
            return platform_error(404, f"No Platform API route at {ex.path}.")
        if ex.method != ("POST" if search else "GET"):
            return platform_error(405, "Use POST." if search else "Use GET.")
        if grant is None:
            return platform_error(401, "Missing, invalid or expired access token.")
        if grant.kind != "platform":
            return platform_error(
                403, "This token belongs to a source; the Platform API needs a user-level API key."
            )
        if search is not None:
            if search["env"] != accounts.REDOX_ENVIRONMENT_ID:
                return platform_error(403, f"You do not have access to environment {search['env']}.")
            try:
                return self._search(ex)
            except BadRequest as exc:
                return platform_error(exc.status, exc.message)
        assert match is not None
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

    def _search(self, ex: Exchange) -> Response:
        count = _int_param(ex, ("_count",), default=MAX_PAGE_SIZE, minimum=1)
        if count > MAX_PAGE_SIZE:
            raise BadRequest(400, f"_count may be at most {MAX_PAGE_SIZE}.")
        raw_cursor = ex.query_value("_cursor") or "0"
        if not raw_cursor.isdigit():
            raise BadRequest(400, "_cursor is not a cursor this API issued.")
        try:
            filters = ex.read_json(64 * 1024) if ex.content_length else {}
        except BodyError as exc:
            raise BadRequest(400, "The body must be a JSON object of filters.") from exc
        if not isinstance(filters, dict):
            raise BadRequest(400, "The body must be a JSON object of filters.")
        bounds = {}
        for name in ("createdAfter", "createdBefore"):
            if filters.get(name):
                try:
                    bounds[name] = parse_iso(str(filters[name]))
                except ValueError as exc:
                    raise BadRequest(400, f"{name} must be an ISO 8601 date-time.") from exc
        with self._lock:
            records = list(reversed(self._logs))
        views = []
        for record in records:
            view = self._log_view(record)
            if "createdAfter" in bounds and record["created"] < bounds["createdAfter"]:
                continue
            if "createdBefore" in bounds and record["created"] > bounds["createdBefore"]:
                continue
            wanted = {"sourceId": view["source"]["id"], "destinationId": view["destination"]["id"],
                      "dataModel": view["dataModel"], "eventType": view["eventType"],
                      "status": view["status"]}
            if any(filters.get(k) and str(filters[k]).lower() != str(v).lower()
                   for k, v in wanted.items()):
                continue
            views.append(view)
        start = int(raw_cursor)
        results = views[start : start + count]
        page: dict[str, Any] = {"pageSize": count}
        if start + count < len(views):
            page["nextCursor"] = str(start + count)
        return json_response(200, {"meta": {"version": PLATFORM_VERSION, "page": page},
                                   "payload": {"results": results}})

    def _log_view(self, record: dict[str, Any]) -> dict[str, Any]:
        settled = time.monotonic() - record["created_mono"] >= self.settle_seconds
        outcome, words = record["outcome"]
        status = outcome if settled else "pending"
        created = record["created"]
        updated = created + timedelta(seconds=self.settle_seconds) if settled else created
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
                "total": 1 if status in ("pending", "succeeded", "filtered") else 3,
                "latest": {
                    "id": record["attempt_id"],
                    "attemptAt": iso_z(updated, millis=True),
                    "status": status,
                    **({"error": {"message": words}} if status in ("failed", "filtered") else {}),
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
