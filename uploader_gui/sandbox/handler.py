"""The HTTP plumbing of the sandbox: one request in, one answer (or a deliberate reset) out.

Shared by every route: HTTP/1.1 with keep-alive, bodies by Content-Length or chunked.
When a route answers before reading the whole body (401, 413, ...), a remainder of up
to 1 MiB is read and dropped so the connection stays usable; a larger one gets
``Connection: close`` and is drained for at most 2 s (64 MiB) after the answer, then
the socket is closed, which a client still sending may see as a reset or a broken
pipe, as with a real server. Faults (``faults.py``) are carried out here.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import sys
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .echo import credentials_in, echo_message
from .exchange import CONTROL_PREFIX, Exchange, Response, Service, json_response
from .faults import Fault
from .multipart import BodyError, BodyReader

if TYPE_CHECKING:
    from .server import Sandbox

SMALL_REMAINDER = 1024 * 1024  # unread body bytes we drain to keep a connection alive
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class _Abort(Exception):
    """The connection was closed on purpose; nothing more to send."""


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    sandbox: Sandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError | _Abort):
            return  # clients hanging up (or being hung up on) is routine here
        super().handle_error(request, client_address)


class SandboxHTTPServer6(SandboxHTTPServer):
    address_family = socket.AF_INET6


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body go out in separate writes; without this, a kept-alive client
    #: waits ~40 ms for each answer (Nagle's algorithm against delayed ACKs).
    disable_nagle_algorithm = True
    server_version = "uploader-gui-sandbox/1"
    timeout = 60  # seconds of silence before an idle connection is dropped
    server: SandboxHTTPServer
    _log_target: tuple[str, str | None] = ("", None)  # path and target of this request

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the sandbox logs requests itself, without query strings."""

    def handle(self) -> None:
        with contextlib.suppress(_Abort):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # --- one request -------------------------------------------------------------------
    def _serve(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        path = split.path or "/"
        control = path.startswith(CONTROL_PREFIX)
        service = None if control else sandbox.service_for(path)
        target = "sandbox" if control else (service.target if service else None)
        self._log_target = (path, target)
        reader = self._body_reader(sandbox.body_cap)
        if reader is None:
            return
        ex = self._exchange(path, split.query, reader)
        fault = sandbox.take_fault(self.command, path)
        if fault is not None:
            reader = self._apply_fault(fault, ex, service)
            if reader is None:
                return
            ex.reader = reader
        try:
            if control:
                response = sandbox.control(ex)
            elif service is not None:
                response = service.handle(ex)
            else:
                response = json_response(404, {"error": f"No route for {path}."})
        except Exception:  # noqa: BLE001 - one bad request must not kill the server
            traceback.print_exc(file=sys.stderr)
            message = "The sandbox failed to handle this request (see its console)."
            response = service.error(ex, 500, message) if service else json_response(500, {"error": message})
        self._respond(response, ex.reader)

    def _body_reader(self, cap: int) -> BodyReader | None:
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        chunked = "chunked" in encoding
        length = 0
        raw_length = self.headers.get("Content-Length")
        if not chunked and raw_length is not None:
            try:
                length = int(raw_length)
                if length < 0:
                    raise ValueError(raw_length)
            except ValueError:
                self._write(json_response(400, {"error": "Bad Content-Length."}), close=True)
                return None
        return BodyReader(self.rfile, length, chunked=chunked, cap=cap)

    def _exchange(self, path: str, query: str, reader: BodyReader) -> Exchange:
        sandbox = self.server.sandbox
        host = self.headers.get("Host") or ""
        base_url = f"http://{host}" if _HOST_HEADER.match(host) else sandbox.url
        return Exchange(
            method=self.command,
            path=path,
            query=query,
            headers=self.headers,
            reader=reader,
            base_url=base_url,
            temp_dir=sandbox.store.temp_dir,
        )

    def _apply_fault(self, fault: Fault, ex: Exchange, service: Service | None) -> BodyReader | None:
        """Carry out a fault; the reader to go on with, or None when the request is done."""
        reader = ex.reader
        try:
            if fault.action == "reset_before_body":
                self._abort(reset=True)
            elif fault.action == "reset_mid_body":
                half = reader.length // 2 if reader.length is not None else 64 * 1024
                reader.discard(max(half, 1))
                self._abort(reset=True)
            elif fault.action == "reset_after_body":
                reader.drain()
                self._abort(reset=False)
            elif fault.action == "trickle":
                reader.drain()
                self._trickle(self._fault_response(fault, ex, service, default=200), fault.delay)
            elif fault.action == "echo_credentials":
                body = reader.read_all(self.server.sandbox.body_cap)
                message = echo_message(credentials_in(self.headers, body))
                status = fault.status or 401
                response = service.error(ex, status, message) if service else \
                    json_response(status, {"error": message})
                self._respond(response, reader)
                return None
            elif fault.action == "hang":
                reader = reader.spool(self.server.sandbox.store.temp_dir)
                self._pause(fault.delay)
                if fault.status is None:
                    return reader
            elif fault.status is None:  # a delay alone: slow, then normal
                self._pause(fault.delay)
                return reader
            else:
                reader.drain()
                self._pause(fault.delay)
        except BodyError:
            self._abort(reset=True)
        self._respond(self._fault_response(fault, ex, service), reader)
        return None

    def _pause(self, seconds: float) -> None:
        """Sleep, unless the sandbox stops meanwhile (then drop the connection)."""
        if seconds > 0 and self.server.sandbox.stopping.wait(seconds):
            self._abort(reset=True)

    def _trickle(self, response: Response, every: float) -> None:
        """Send the whole answer one byte at a time, ``every`` seconds apart, then close."""
        path, target = self._log_target
        self.server.sandbox.log_request(self.command, path, response.status, target)
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Status"
        lines = [f"HTTP/1.1 {response.status} {phrase}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
        data = "\r\n".join(lines).encode("latin-1") + response.body
        for i in range(len(data)):
            try:
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
            except OSError:
                break
            if self.server.sandbox.stopping.wait(every):
                break
        self.close_connection = True
        raise _Abort

    def _fault_response(self, fault: Fault, ex: Exchange, service: Service | None,
                        default: int | None = None) -> Response:
        status = fault.status or default
        assert status is not None
        if fault.body is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            message = f"{phrase} (injected by the sandbox)."
            response = (
                service.error(ex, status, message)
                if service
                else json_response(status, {"error": message})
            )
        elif isinstance(fault.body, bytes):
            response = Response(status, fault.body, "application/octet-stream")
        elif isinstance(fault.body, str):
            kind = "application/json" if fault.body.lstrip()[:1] in ("{", "[") else "text/plain"
            response = Response(status, fault.body.encode("utf-8"), kind)
        else:
            response = json_response(status, fault.body)
        response.headers.update(fault.headers)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    def _respond(self, response: Response, reader: BodyReader) -> None:
        close = False
        if not reader.finished:
            remaining = None if reader.length is None else reader.length - reader.consumed
            if remaining is not None and remaining <= SMALL_REMAINDER:
                try:
                    reader.drain()
                except BodyError:
                    close = True
            else:
                close = True
        self._write(response, close=close)
        if close and not reader.finished:
            with contextlib.suppress(BodyError, OSError):
                reader.drain(max_bytes=LINGER_BYTES, deadline=time.monotonic() + LINGER_SECONDS)

    def _write(self, response: Response, *, close: bool) -> None:
        path, target = self._log_target
        self.server.sandbox.log_request(self.command, path, response.status, target)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True

    def _abort(self, *, reset: bool) -> None:
        """Close the connection without an answer (RST when ``reset``)."""
        path, target = self._log_target
        self.server.sandbox.log_request(self.command, path, None, target)
        self.close_connection = True
        with contextlib.suppress(OSError):
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for stream in (self.rfile, self.wfile):
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
            self.connection.close()
        raise _Abort
