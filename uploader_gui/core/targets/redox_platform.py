"""Reading the Redox Platform API's delivery logs: which status, where, in whose words."""

from __future__ import annotations

from typing import Any

from uploader_gui.core.targets.base import LogStatus

SEARCH_PAGE = 50  # the Platform API's largest page
SEARCH_PAGES = 20  # at most this many pages per log looked for
SEARCH_SLACK = 300  # seconds before the send from which a search looks


def log_status(log_id: str, log: dict[str, Any]) -> LogStatus:
    """One log's latest attempt status, the destination's name, and Redox's words."""
    latest = ((log.get("attempts") or {}).get("latest") or {})
    status = str(latest.get("status") or log.get("status") or "pending").lower()
    dest: dict[str, Any] = log["destination"] if isinstance(log.get("destination"), dict) else {}
    where = str(dest.get("name") or dest.get("id") or "")
    words = ""
    for holder in (latest, log):
        for key in ("error", "errorMessage", "message", "reason", "statusReason"):
            value = holder.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("text")
            if value:
                words = str(value)
                break
        if words:
            break
    return LogStatus(log_id, status, where, words)


def next_cursor(body: dict[str, Any]) -> str | None:
    """The cursor of the next page of an environment log search, None on the last page."""
    meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
    for holder in (meta, meta.get("page") or {}, meta.get("pagination") or {}):
        if isinstance(holder, dict):
            for key in ("nextCursor", "next_cursor", "cursor"):
                if holder.get(key):
                    return str(holder[key])
    return None


def platform_error_text(body: Any) -> str:
    if isinstance(body, dict):
        error = (body.get("payload") or {}).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return ""
