"""Reading REDCap's replies: its errors in JSON, XML or CSV, and whether an export is a file."""

from __future__ import annotations

import html
import re

import requests

from uploader_gui.core.targets.base import json_or_none, looks_like_html


def attachment_name(resp: requests.Response) -> str | None:
    for header in ("Content-Type", "Content-Disposition"):
        match = re.search(r'name="?([^";]+)"?', resp.headers.get(header, ""))
        if match:
            return match.group(1)
    return None


def error_in_body(resp: requests.Response) -> str:
    """REDCap's error message when the body is one, in any ``returnFormat``; else "".

    JSON ``{"error": ...}``, XML ``<hash><error>...</error></hash>``, CSV ``ERROR: ...``.
    """
    head = resp.content[:4096].lstrip()
    if head.startswith(b"{"):
        body = json_or_none(resp)
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])
        return ""
    if head.startswith(b"<"):
        match = re.search(rb"<hash>\s*<error>(.*?)</error>", resp.content[:65536], re.S)
        if match:
            return html.unescape(match.group(1).decode("utf-8", "replace")).strip()
        return ""
    if head[:6].upper() == b"ERROR:":
        return head.decode("utf-8", "replace")[6:].strip()[:500]
    return ""


def not_a_file(resp: requests.Response) -> str:
    """Why an Export File reply is not the field's file (a phrase), or "" when it is one."""
    if looks_like_html(resp):
        return "a web page (perhaps a network sign-in page)"
    text = error_in_body(resp)
    if text:
        return f"an error (“{text}”)"
    if not resp.content:
        return "an empty reply"
    announced = resp.headers.get("Content-Length")
    if announced and announced.isdigit() and not resp.headers.get("Content-Encoding") \
            and int(announced) != len(resp.content):
        return f"{len(resp.content)} bytes where REDCap announced {announced}"
    return ""


def redcap_error_text(resp: requests.Response) -> str:
    text = error_in_body(resp)
    if text:
        return text
    text = resp.text.strip()
    return text[:500] if text and not looks_like_html(resp) else ""

