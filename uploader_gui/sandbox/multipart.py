"""Request bodies for the sandbox: a bounded reader and a streaming multipart parser.

Nothing here holds a whole upload in memory. ``BodyReader`` yields the request body
(``Content-Length`` or ``Transfer-Encoding: chunked``) in blocks; ``parse_multipart``
cuts a ``multipart/form-data`` stream into small text fields (kept in memory, capped)
and file parts (written straight to temporary files, hashed on the way).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, unquote

BLOCK = 64 * 1024
FIELD_LIMIT = 1024 * 1024  # a non-file form field larger than this is refused
HEADER_LIMIT = 16 * 1024  # one part's header block


class BodyError(Exception):
    """The request body cannot be read as announced."""


class ClientGone(BodyError):
    """The client closed the connection before the announced end of the body."""


class BodyTooLarge(BodyError):
    """The body (or one part of it) exceeds the limit the caller set.

    ``fields`` holds the form fields parsed before the limit was hit, so a handler can
    still honour e.g. REDCap's ``returnFormat`` in its error.
    """

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.part = part
        self.fields: dict[str, str] = {}


class MalformedBody(BodyError):
    """The body is not well-formed (bad chunking, bad multipart framing...)."""


class BodyReader:
    """Reads exactly one request body from ``stream``, de-chunking if needed.

    ``cap`` bounds the number of body bytes accepted (``BodyTooLarge`` past it); it is
    what protects the server when a chunked body announces no length.
    """

    def __init__(
        self,
        stream: BinaryIO,
        length: int | None,
        *,
        chunked: bool = False,
        cap: int | None = None,
    ) -> None:
        self._stream = stream
        self._remaining = 0 if chunked else (length or 0)
        self._chunked = chunked
        self._chunk_left = 0
        self._cap = cap
        self.consumed = 0
        self.finished = not chunked and self._remaining == 0

    @property
    def length(self) -> int | None:
        """Total announced length, or None for a chunked body."""
        return None if self._chunked else self.consumed + self._remaining

    def read(self, size: int = BLOCK) -> bytes:
        """Up to ``size`` bytes of body; ``b""`` only at the end of the body."""
        if self.finished or size <= 0:
            return b""
        data = self._read_chunked(size) if self._chunked else self._read_plain(size)
        self.consumed += len(data)
        if self._cap is not None and self.consumed > self._cap:
            raise BodyTooLarge(f"request body exceeds {self._cap} bytes")
        return data

    def _raw_read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except OSError as exc:  # reset, or the socket timeout of an idle client
            raise ClientGone(f"reading the body failed: {exc}") from exc

    def _raw_readline(self, limit: int) -> bytes:
        try:
            return self._stream.readline(limit)
        except OSError as exc:
            raise ClientGone(f"reading the body failed: {exc}") from exc

    def _read_plain(self, size: int) -> bytes:
        data = self._raw_read(min(size, self._remaining))
        if not data:
            raise ClientGone("connection closed before the end of the body")
        self._remaining -= len(data)
        if self._remaining == 0:
            self.finished = True
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._raw_readline(1024)
            if not line:
                raise ClientGone("connection closed inside a chunked body")
            try:
                self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise MalformedBody("bad chunk size line") from exc
            if self._chunk_left == 0:
                self._skip_trailers()
                self.finished = True
                return b""
        data = self._raw_read(min(size, self._chunk_left))
        if not data:
            raise ClientGone("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._raw_readline(16).strip():
            raise MalformedBody("chunk not followed by CRLF")
        return data

    def _skip_trailers(self) -> None:
        for _ in range(100):
            line = self._raw_readline(HEADER_LIMIT)
            if not line:
                raise ClientGone("connection closed inside chunk trailers")
            if line in (b"\r\n", b"\n"):
                return
        raise MalformedBody("too many trailer lines")

    def read_all(self, limit: int) -> bytes:
        """The rest of the body in memory, refusing more than ``limit`` bytes."""
        parts: list[bytes] = []
        total = 0
        while True:
            block = self.read(BLOCK)
            if not block:
                return b"".join(parts)
            total += len(block)
            if total > limit:
                raise BodyTooLarge(f"request body exceeds {limit} bytes")
            parts.append(block)

    def discard(self, amount: int) -> None:
        """Read and throw away about ``amount`` bytes (used by the fault injector)."""
        while amount > 0 and not self.finished:
            block = self.read(min(BLOCK, amount))
            if not block:
                return
            amount -= len(block)

    def drain(self, *, max_bytes: int | None = None, deadline: float | None = None) -> bool:
        """Discard the rest of the body; False if a bound stopped us first."""
        drained = 0
        while not self.finished:
            if max_bytes is not None and drained >= max_bytes:
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            drained += len(self.read(BLOCK))
        return True

    def spool(self, directory: Path) -> BodyReader:
        """Read the whole body into a temporary file; a reader over that file."""
        handle = tempfile.TemporaryFile(dir=directory)
        while block := self.read(BLOCK):
            handle.write(block)
        size = handle.tell()
        handle.seek(0)
        return BodyReader(handle, size)


@dataclass
class FilePart:
    """One uploaded file, stored in a temporary file until the handler keeps it."""

    name: str
    filename: str | None
    content_type: str
    path: Path
    size: int = 0
    sha256: str = ""
    head: bytes = b""  # first bytes, for content sniffing (e.g. %PDF-)


@dataclass
class MultipartForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)

    def cleanup(self) -> None:
        """Delete the temporary files of parts nobody kept."""
        for part in self.files.values():
            part.path.unlink(missing_ok=True)

    def __enter__(self) -> MultipartForm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


_TOKEN_PARAM = re.compile(
    r';\s*(?P<key>[A-Za-z0-9_.*-]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^;]*))'
)


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``form-data; name="a"; filename*=UTF-8''b`` into its main value and params."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _TOKEN_PARAM.finditer(";" + rest):
        key = match["key"].lower()
        if match["quoted"] is not None:
            raw = re.sub(r"\\(.)", r"\1", match["quoted"])
        else:
            raw = match["bare"].strip()
        if key.endswith("*"):  # RFC 2231/5987: charset'lang'percent-encoded
            charset, _, encoded = raw.partition("'")
            _, _, encoded = encoded.partition("'")
            try:
                params[key[:-1]] = unquote(encoded, encoding=charset or "utf-8")
            except LookupError:
                params[key[:-1]] = unquote(encoded)
        elif key not in params:  # the extended form wins when both are present
            params[key] = raw
    return main.strip().lower(), params


def boundary_of(content_type: str) -> str | None:
    kind, params = parse_header_params(content_type)
    if kind != "multipart/form-data":
        return None
    boundary = params.get("boundary", "")
    return boundary if 0 < len(boundary) <= 200 else None


def parse_urlencoded(body: bytes) -> dict[str, list[str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("form body is not UTF-8") from exc
    return parse_qs(text, keep_blank_values=True)


class _Buffered:
    """A small look-ahead buffer over a BodyReader."""

    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader
        self.buf = bytearray()
        self.eof = False

    def fill(self) -> bool:
        if self.eof:
            return False
        block = self.reader.read(BLOCK)
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True


def parse_multipart(
    reader: BodyReader,
    boundary: str,
    temp_dir: Path,
    *,
    file_limit: int | None = None,
) -> MultipartForm:
    """Parse a multipart/form-data body; file parts go to ``temp_dir``.

    ``file_limit`` bounds each file part; past it ``BodyTooLarge(part=name)`` is raised
    without reading further. Later parts with a name already seen are ignored.
    """
    form = MultipartForm()
    try:
        _parse_into(form, _Buffered(reader), boundary.encode("latin-1"), temp_dir, file_limit)
    except BodyTooLarge as exc:
        form.cleanup()
        exc.fields = dict(form.fields)
        raise
    except BaseException:
        form.cleanup()
        raise
    return form


def _parse_into(
    form: MultipartForm,
    src: _Buffered,
    boundary: bytes,
    temp_dir: Path,
    file_limit: int | None,
) -> None:
    # Prefixing CRLF lets the first boundary be found like every later one.
    src.buf += b"\r\n"
    delimiter = b"\r\n--" + boundary
    # Skip the preamble up to the first delimiter.
    for _ in _stream_until(src, delimiter):
        pass
    while True:
        while len(src.buf) < 2 and src.fill():
            pass
        if src.buf.startswith(b"--"):
            return  # closing delimiter; the epilogue is ignored
        while (end := src.buf.find(b"\r\n\r\n")) < 0:
            if len(src.buf) > HEADER_LIMIT or not src.fill():
                raise MalformedBody("multipart part headers are missing or too long")
        header_block = bytes(src.buf[:end])
        del src.buf[: end + 4]
        headers = _parse_part_headers(header_block)
        disposition, params = parse_header_params(headers.get("content-disposition", ""))
        name = params.get("name")
        if disposition != "form-data" or name is None:
            for _ in _stream_until(src, delimiter):
                pass
            continue
        if "filename" in params:
            _read_file_part(form, src, delimiter, name, params, headers, temp_dir, file_limit)
        else:
            _read_field_part(form, src, delimiter, name)


def _parse_part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    text = block.decode("utf-8", errors="replace")
    for line in text.split("\r\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise MalformedBody("malformed multipart part header")
        headers[key.strip().lower()] = value.strip()
    return headers


def _stream_until(src: _Buffered, delimiter: bytes) -> Iterator[bytes]:
    """Yield data up to ``delimiter`` and consume it; MalformedBody if it never comes."""
    keep = len(delimiter) - 1
    while True:
        idx = src.buf.find(delimiter)
        if idx >= 0:
            if idx:
                yield bytes(src.buf[:idx])
            del src.buf[: idx + len(delimiter)]
            return
        if len(src.buf) > keep:
            cut = len(src.buf) - keep
            yield bytes(src.buf[:cut])
            del src.buf[:cut]
        if not src.fill():
            raise MalformedBody("multipart body ended before its closing boundary")


def _read_field_part(form: MultipartForm, src: _Buffered, delimiter: bytes, name: str) -> None:
    chunks: list[bytes] = []
    size = 0
    for chunk in _stream_until(src, delimiter):
        size += len(chunk)
        if size > FIELD_LIMIT:
            raise BodyTooLarge(f"form field {name!r} is too large", part=name)
        chunks.append(chunk)
    form.fields.setdefault(name, b"".join(chunks).decode("utf-8", errors="replace"))


def _read_file_part(
    form: MultipartForm,
    src: _Buffered,
    delimiter: bytes,
    name: str,
    params: dict[str, str],
    headers: dict[str, str],
    temp_dir: Path,
    file_limit: int | None,
) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix="part-", dir=temp_dir)
    part = FilePart(
        name=name,
        filename=params.get("filename"),
        content_type=headers.get("content-type", "application/octet-stream"),
        path=Path(tmp_name),
    )
    digest = hashlib.sha256()
    keep = name not in form.files
    if keep:
        form.files[name] = part  # registered first so cleanup() finds it on error
    with os.fdopen(fd, "wb") as out:
        for chunk in _stream_until(src, delimiter):
            part.size += len(chunk)
            if file_limit is not None and part.size > file_limit:
                raise BodyTooLarge(f"file part {name!r} exceeds {file_limit} bytes", part=name)
            if len(part.head) < 16:
                part.head = (part.head + chunk)[:16]
            digest.update(chunk)
            out.write(chunk)
    part.sha256 = digest.hexdigest()
    if not keep:
        part.path.unlink(missing_ok=True)
