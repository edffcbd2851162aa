"""One local HTTP server that emulates Redox, Claros Health and REDCap (Qt-free, stdlib only).

Start it from Python::

    with Sandbox(tmp_path) as sb:
        requests.post(f"{sb.url}/api/", data={"token": sb.credentials["redcap_token"], ...})
        sb.received("redcap")

or as ``uploader-gui sandbox`` (``main``). It binds loopback only. Routes, error shapes
and demo data are described in ``redox.py``, ``redox_auth.py``, ``redox_platform.py``,
``claros.py``, ``redcap.py``, ``redcap_projects.py``, ``accounts.py`` and ``faults.py``.

Control routes for other processes (never faulted, no authentication, loopback only):
``POST /_sandbox/faults`` (JSON: ``path`` plus the ``add_fault`` keywords),
``DELETE /_sandbox/faults``, ``POST /_sandbox/expire-tokens``,
``POST /_sandbox/delivery-outcome`` (JSON ``status``, ``destination_id``, ``message``),
``POST /_sandbox/redcap-swap`` (JSON ``times``),
``GET /_sandbox/received[?target=...]``, ``GET /_sandbox/credentials``,
``GET /_sandbox/requests`` and ``GET /_sandbox/blobs``.

HTTP plumbing (keep-alive, chunked bodies, early answers, faults) is in ``handler.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import accounts
from .claros import ClarosService
from .exchange import (
    CONTROL_PREFIX,
    TARGETS,
    Exchange,
    FileStore,
    Response,
    Service,
    json_response,
    private_dir,
)
from .faults import Fault, FaultBook, make_fault
from .handler import SandboxHTTPServer, SandboxHTTPServer6, SandboxRequestHandler
from .multipart import BodyError
from .redcap import RedcapService
from .redox import RedoxService

DEFAULT_PORT = 8765
FAULT_KEYS = {"method", "times", "status", "body", "headers", "retry_after", "action", "delay"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Sandbox:
    """The emulator. See the module docstring; ``start()`` returns ``self``."""

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl: float = 300.0,
        claros_limit: int = 32 * 1024 * 1024,
        redcap_limit: int = 32 * 1024 * 1024,
        redox_limit: int = 10 * 1024 * 1024,
        *,
        redcap_import_reply: str = "empty",
        verbose: bool = False,
        keep_port: bool = False,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"The sandbox only binds loopback addresses, not {host!r}.")
        if redcap_import_reply not in ("empty", "seed"):
            raise ValueError('redcap_import_reply must be "empty" or "seed"')
        self.data_dir = private_dir(Path(data_dir), ours=False)
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        #: Use the same port as last time (kept in ``data_dir/port``) when it is free, so that
        #: addresses recorded by a client stay valid between runs.
        self.keep_port = keep_port
        self.verbose = verbose
        self._keys = accounts.load_or_generate_keys(self.data_dir)
        self.store = FileStore(self.data_dir)
        self.redox = RedoxService(
            self.store,
            self._keys.public_keys,
            token_ttl=token_ttl,
            size_limit=redox_limit,
            public_url="",
        )
        self.claros = ClarosService(self.store, size_limit=claros_limit, public_url="")
        self.redcap = RedcapService(self.store, size_limit=redcap_limit, import_reply=redcap_import_reply)
        self._services: tuple[Service, ...] = (self.redox, self.claros, self.redcap)
        self.body_cap = max(claros_limit, redcap_limit, redox_limit) + 1024 * 1024
        self._faults = FaultBook()
        self._log_lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self.stopping = threading.Event()

    # --- life cycle ------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("The sandbox is already running.")
        server_class = SandboxHTTPServer6 if ":" in self.host else SandboxHTTPServer
        server = None
        remembered = self._remembered_port() if self.keep_port and not self.port else None
        if remembered:
            try:
                server = server_class((self.host, remembered), SandboxRequestHandler)
            except OSError:  # taken by something else now: any free port will do
                server = None
        if server is None:
            server = server_class((self.host, self.port), SandboxRequestHandler)
        server.sandbox = self
        port = server.server_address[1]
        if self.keep_port:
            self._remember_port(port)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{shown}:{port}"
        self.redox.public_url = self._url
        self.claros.public_url = self._url
        self.stopping.clear()
        accounts.write_credentials_file(self.data_dir, self.credentials)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _remembered_port(self) -> int | None:
        try:
            port = int((self.data_dir / "port").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        return port if 1024 <= port <= 65535 else None

    def _remember_port(self, port: int) -> None:
        tmp = self.data_dir / "port.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(f"{port}\n")
            os.replace(tmp, self.data_dir / "port")
        except OSError:
            pass  # the next run takes another port; nothing else depends on it

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        # serve_forever only notices shutdown() between select() calls; a connection
        # wakes select() at once instead of after the poll interval.
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(server.server_address[:2], timeout=0.2).close()
            stopper.join(0.01)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("The sandbox has no URL until start() is called.")
        return self._url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- inspection --------------------------------------------------------------------
    @property
    def credentials(self) -> dict[str, Any]:
        return accounts.build_credentials(self._url, self._keys)

    def received(self, target: str | None = None) -> list[dict[str, Any]]:
        """Every stored document (oldest first), optionally of one target.

        Redox entries are accepted Media messages (a blob uploaded but never sent is in
        ``blobs()``, not here).
        """
        if target is not None and target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
        return self.store.entries(target)

    def blobs(self) -> list[dict[str, Any]]:
        """Files uploaded to Redox's ``/upload``, whether or not a message used them."""
        return self.redox.blobs()

    @property
    def requests_log(self) -> list[dict[str, Any]]:
        """Every request seen: method, path (no query), status (None: no answer), target."""
        with self._log_lock:
            return [dict(r) for r in self._requests]

    def log_request(self, method: str, path: str, status: int | None, target: str | None) -> None:
        with self._log_lock:
            self._requests.append({"method": method, "path": path, "status": status, "target": target})
        if self.verbose:
            shown = "no answer" if status is None else str(status)
            print(f"{method} {path} -> {shown}", flush=True)

    @property
    def log_settle_seconds(self) -> float:
        """How long a Redox log stays ``pending`` before it reads ``succeeded``."""
        return self.redox.platform.settle_seconds

    @log_settle_seconds.setter
    def log_settle_seconds(self, value: float) -> None:
        self.redox.platform.settle_seconds = value

    # --- control -----------------------------------------------------------------------
    def add_fault(
        self,
        path_regex: str,
        *,
        method: str | None = "POST",
        times: int = 1,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        retry_after: float | int | str | None = None,
        action: str | None = None,
        delay: float = 0.0,
    ) -> None:
        self._faults.add(
            make_fault(
                path_regex,
                method=method,
                times=times,
                status=status,
                body=body,
                headers=headers,
                retry_after=retry_after,
                action=action,
                delay=delay,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_delivery_outcome(self, status: str = "succeeded", destination_id: str | None = None,
                             message: str | None = None) -> None:
        """How Redox logs created from now on end after ``log_settle_seconds`` of pending:
        ``succeeded``, ``failed`` or ``filtered``, for one destination or (None) all."""
        self.redox.platform.set_outcome(status, destination_id, message)

    def set_redox_rate_limit(self, limit: int = 10_000, seconds: float = 300.0) -> None:
        """Redox's rate limit (default: its published 10,000 requests per 5 minutes);
        the count starts again now."""
        self.redox.rate.set(limit, seconds)

    def swap_next_redcap_imports(self, times: int = 1) -> None:
        """Fault switch: after the next imports the REDCap field holds a different file."""
        self.redcap.swap_next_imports(times)

    def expire_tokens(self) -> int:
        """Void every Redox access token issued so far; how many there were."""
        return self.redox.tokens.expire_all()

    # --- routing (called by the handler) -----------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        if path.startswith(CONTROL_PREFIX):
            return None
        return self._faults.take(method, path)

    def service_for(self, path: str) -> Service | None:
        return next((s for s in self._services if s.owns(path)), None)

    def control(self, ex: Exchange) -> Response:
        route = (ex.method, ex.path.rstrip("/"))
        if route == ("GET", "/_sandbox/received"):
            try:
                return json_response(200, self.received(ex.query_value("target")))
            except ValueError as exc:
                return json_response(400, {"error": str(exc)})
        if route == ("GET", "/_sandbox/credentials"):
            return json_response(200, self.credentials)
        if route == ("GET", "/_sandbox/requests"):
            return json_response(200, self.requests_log)
        if route == ("GET", "/_sandbox/blobs"):
            return json_response(200, self.blobs())
        if route == ("POST", "/_sandbox/expire-tokens"):
            return json_response(200, {"ok": True, "expired": self.expire_tokens()})
        if route == ("DELETE", "/_sandbox/faults"):
            self.clear_faults()
            return json_response(200, {"ok": True})
        if route == ("POST", "/_sandbox/faults"):
            return self._control_add_fault(ex)
        if route in (("POST", "/_sandbox/delivery-outcome"), ("POST", "/_sandbox/redcap-swap")):
            return self._control_switch(ex, route[1])
        return json_response(404, {"error": f"No sandbox control route {ex.method} {ex.path}."})

    def _control_add_fault(self, ex: Exchange) -> Response:
        try:
            spec = ex.read_json(64 * 1024)
        except BodyError as exc:
            return json_response(400, {"error": str(exc)})
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            return json_response(400, {"error": 'Send a JSON object with at least "path".'})
        unknown = set(spec) - FAULT_KEYS - {"path"}
        if unknown:
            return json_response(400, {"error": f"Unknown fault keys: {sorted(unknown)}"})
        kwargs = {k: v for k, v in spec.items() if k != "path"}
        try:
            self.add_fault(spec["path"], **kwargs)
        except (TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(201, {"ok": True, "pending": self._faults.pending()})


    def _control_switch(self, ex: Exchange, route: str) -> Response:
        try:
            spec = ex.read_json(64 * 1024) if ex.content_length else {}
            if not isinstance(spec, dict):
                raise ValueError("send a JSON object")
            if route.endswith("redcap-swap"):
                self.swap_next_redcap_imports(int(spec.get("times", 1)))
            else:
                self.set_delivery_outcome(str(spec.get("status", "succeeded")),
                                          spec.get("destination_id"), spec.get("message"))
        except (BodyError, TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, {"ok": True})


def _default_data_dir() -> Path:
    home = os.environ.get("UPLOADER_GUI_HOME")
    if home:
        return Path(home) / "sandbox"
    return Path(tempfile.mkdtemp(prefix="uploader-gui-sandbox-"))


def _print_summary(sb: Sandbox) -> None:
    creds = sb.credentials
    destinations = ", ".join(f"{d['Name']} = {d['ID']}" for d in creds["redox_destinations"])
    lines = [
        f"uploader-gui sandbox listening on {sb.url}",
        f"  data directory:  {sb.data_dir}",
        f"  credentials:     {sb.data_dir / accounts.CREDENTIALS_FILE} (includes the PEM keys)",
        "",
        f"Claros   base URL {creds['claros_base_url']}  X-API-Key {creds['claros_api_key']}",
        f"         patients {creds['claros_patient_ids']} (2001: another account)",
        f"REDCap   API URL  {creds['redcap_api_url']}",
        f"         classic token      {creds['redcap_token']}",
        f"         longitudinal token {creds['redcap_longitudinal_token']}",
        f"Redox    API/blob URL {creds['redox_api_url']}",
        f"         OAuth client {creds['redox_client_id']}, kids {creds['redox_rsa_kid']} (RS384) "
        f"and {creds['redox_ec_kid']} (ES384)",
        f"         legacy key {creds['redox_api_key']} / secret {creds['redox_secret']}",
        f"         destinations: {destinations}",
        f"         Platform API: org {creds['redox_org_id']}, "
        f"client {creds['redox_platform_client_id']} (same kids)",
        "",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="uploader-gui sandbox",
        description="Run a local emulator of the Redox, Claros Health and REDCap APIs.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8765)")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="where received files go (default: $UPLOADER_GUI_HOME/sandbox or a temp dir)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        print(f"Refusing to listen on {args.host}: the sandbox binds loopback only.", file=sys.stderr)
        return 2
    data_dir = args.data if args.data is not None else _default_data_dir()
    try:
        sandbox = Sandbox(data_dir, host=args.host, port=args.port, verbose=True).start()
    except OSError as exc:
        print(f"Cannot start the sandbox on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    _print_summary(sandbox)
    try:
        while sandbox.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("Stopping the sandbox.", flush=True)
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
