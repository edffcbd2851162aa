"""What the three emulated APIs share: one request/response pair, and the file store."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from .multipart import BodyReader, MalformedBody, MultipartForm, boundary_of
from .multipart import parse_multipart as _parse_multipart
from .multipart import parse_urlencoded as _parse_urlencoded

TARGETS = ("redox", "claros", "redcap")
CONTROL_PREFIX = "/_sandbox/"  # the sandbox's own control routes
# Multipart framing around a file: a body may exceed the file limit by this much before
# it is refused on its Content-Length alone, without reading it.
MULTIPART_SLACK = 64 * 1024


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


class Service(Protocol):
    """One emulated API: which paths it owns, how it answers, its error shape."""

    target: str

    def owns(self, path: str) -> bool: ...

    def handle(self, ex: Exchange) -> Response: ...

    def error(self, ex: Exchange, status: int, message: str) -> Response: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime, *, millis: bool = False) -> str:
    """``2024-03-20T10:30:00Z`` (or with milliseconds), always UTC."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp; naive values are taken as UTC. ValueError if malformed."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Exchange:
    """One HTTP request as the API handlers see it."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Message,
        reader: BodyReader,
        base_url: str,
        temp_dir: Path,
    ) -> None:
        self.method = method
        self.path = path
        self.query: dict[str, list[str]] = parse_qs(query, keep_blank_values=True)
        self.headers = headers
        self.reader = reader
        self.base_url = base_url
        self.temp_dir = temp_dir

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").strip()

    @property
    def content_length(self) -> int | None:
        return self.reader.length

    def bearer_token(self) -> str | None:
        value = self.header("Authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def is_multipart(self) -> bool:
        return boundary_of(self.content_type) is not None

    def is_urlencoded(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == ("application/x-www-form-urlencoded")

    def read_json(self, limit: int) -> Any:
        """The body decoded as JSON; MalformedBody if it is not JSON."""
        raw = self.reader.read_all(limit)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedBody("the request body is not valid JSON") from exc

    def read_form(self, limit: int) -> dict[str, list[str]]:
        return _parse_urlencoded(self.reader.read_all(limit))

    def read_multipart(self, file_limit: int | None) -> MultipartForm:
        boundary = boundary_of(self.content_type)
        if boundary is None:
            raise MalformedBody("the request is not multipart/form-data")
        return _parse_multipart(self.reader, boundary, self.temp_dir, file_limit=file_limit)


class BadRequest(Exception):
    """Raised inside handlers: answer with ``status`` and ``message`` in the API's shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str | None, fallback: str = "file") -> str:
    """A harmless on-disk name derived from a client-supplied one (never a path)."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text).strip(" .")[:100]
    return text or fallback


def private_dir(path: Path, *, ours: bool = True) -> Path:
    """A folder (and any missing parents) only its owner may list or enter: 0700.

    ``ours=False`` (a data folder the user named, which may be shared like /tmp):
    only the folders created here are tightened, never an existing one.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in {*missing, *([path] if ours else [])}:
        with contextlib.suppress(OSError):
            os.chmod(p, 0o700)
    return path


class FileStore:
    """Stored uploads under ``<data_dir>/received/<target>/`` and the list of them.

    Every entry is a dict (see ``Sandbox.received``); callers get deep copies. The
    documents are patients' (even test ones): every folder is 0700, every file 0600.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "received"
        self.temp_dir = data_dir / "tmp"
        for sub in ("", *TARGETS, "redox", "redox/blobs"):
            private_dir(self.root / sub if sub else self.root)
        private_dir(self.temp_dir)
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}

    def next_number(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return self._counters[kind]

    def keep_file(self, temp_path: Path, folder: str, stem: str, filename: str | None) -> Path:
        """Move an uploaded temp file into ``received/<folder>/<stem>_<safe name>``."""
        dest = self.root / folder / f"{stem}_{safe_filename(filename)}"
        os.chmod(temp_path, 0o600)
        os.replace(temp_path, dest)
        return dest

    def keep_bytes(self, data: bytes, folder: str, stem: str, filename: str | None) -> Path:
        dest = self.root / folder / f"{stem}_{safe_filename(filename)}"
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return dest

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._entries.append(entry)
            return copy.deepcopy(entry)

    def update(self, entry_id: str, **changes: Any) -> None:
        with self._lock:
            for entry in self._entries:
                if entry["id"] == entry_id:
                    entry.update(changes)

    def find(self, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._entries if all(e.get(k) == v for k, v in match.items())]

    def entries(self, target: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._entries if target is None or e["target"] == target]
