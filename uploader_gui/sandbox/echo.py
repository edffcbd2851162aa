"""The credentials a request carried, found the way a careless server would repeat them.

Used by the ``echo_credentials`` fault: an error page that quotes the caller's key back
("Invalid credentials: <the key>") is how secrets leak into screens, logs and histories.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, quote

#: Body fields that hold a credential, in the three APIs' requests.
SECRET_FIELDS = ("token", "apiKey", "secret", "refreshToken", "client_secret")
_MULTIPART_FIELD = re.compile(
    rb'name="(' + b"|".join(f.encode() for f in SECRET_FIELDS) + rb')"\r\n(?:[^\r\n]*\r\n)*\r\n'
    rb"([^\r\n]*)\r\n")


def credentials_in(headers: Mapping[str, str], body: bytes) -> list[str]:
    """Every credential value in the request's headers and (form, JSON or multipart) body."""
    found: list[str] = []
    auth = headers.get("Authorization") or ""
    if " " in auth:
        found.append(auth.split(" ", 1)[1].strip())
    for name in ("X-API-Key", "X-Api-Key", "Api-Key"):
        if headers.get(name):
            found.append(str(headers.get(name)))
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            found += [str(data[f]) for f in SECRET_FIELDS if data.get(f)]
    elif b'name="' in body:
        found += [m.group(2).decode("utf-8", "replace") for m in _MULTIPART_FIELD.finditer(body)]
    else:
        query = parse_qs(text, keep_blank_values=False)
        for f in SECRET_FIELDS:
            found += query.get(f, [])
    return [v for v in dict.fromkeys(found) if v]


def echo_message(values: list[str]) -> str:
    """The error text: each value raw, URL-encoded and base64, as servers have quoted them."""
    if not values:
        return "Invalid credentials: (none were sent)."
    parts = []
    for v in values:
        b64 = base64.b64encode(v.encode("utf-8")).decode("ascii")
        parts.append(f"{v} (as sent: {quote(v, safe='')}; base64 {b64})")
    return "Invalid credentials: " + ", ".join(parts) + "."
