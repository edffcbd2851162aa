"""The one HTTP layer every target uses.

* one ``requests.Session`` with TLS verification always on, through the OS
  trust store (``truststore``), or a profile's own CA bundle;
* HTTPS required except on loopback;
* connect and read timeouts, an overall deadline for every request (a server
  that trickles its answer a byte at a time cannot hold a send for ever), and a
  User-Agent with the app's version;
* uploads streamed from disk with a fresh multipart encoder per attempt, never
  following redirects, reporting progress and honouring a cancel check;
* errors turned into :class:`UploadError` with a kind, the HTTP status and the
  server's own message, and never a secret.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
import truststore
import urllib3
from requests.adapters import HTTPAdapter
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from uploader_gui import __version__
from uploader_gui.core.deadline import Deadline, deadline_for
from uploader_gui.core.deadline import current as current_deadline
from uploader_gui.core.net_errors import (  # noqa: F401 - tls/proxy texts re-exported
    _chain_text,
    _describe,
    _never_connected,
    proxy_problem_text,
    tls_problem_text,
)
from uploader_gui.core.outcome import (  # noqa: F401 - re-exported: the transport's vocabulary
    AUTH,
    CANCELLED,
    CONFIG,
    NETWORK,
    NOT_FOUND,
    OUTCOME_UNKNOWN,
    PROXY,
    RATE_LIMITED,
    REJECTED,
    SERVER,
    TLS,
    TOO_LARGE,
    CancelFn,
    CancelToken,
    ProgressFn,
    Receipt,
    UploadCancelled,
    UploadError,
    _shutdown,
    retry_after_seconds,
    server_text,
)
from uploader_gui.core.recheck import StagedFileError, open_regular

log = logging.getLogger(__name__)

USER_AGENT = f"uploader-gui/{__version__} (+clinic document uploader)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 130.0  # Redox answers within 120 s or gives a 504
#: The longest any request may wait for its whole answer: the documented server limit
#: (Redox: 120 s, then a 504) plus a margin. Uploads get this after the body has gone.
RESPONSE_DEADLINE = 150.0
#: While a body is being sent: the time at this (very slow) rate, plus the response deadline.
MIN_UPLOAD_RATE = 16 * 1024  # bytes per second
UPLOAD_BLOCK = 256 * 1024

class InsecureURLError(UploadError):
    def __init__(self, url: str) -> None:
        super().__init__(
            CONFIG,
            f"The address {safe_url(url)} does not use HTTPS. Patient documents may only be "
            "sent over HTTPS (plain http:// is allowed only to this computer, for the sandbox).",
            reached_server=False,
        )


# --------------------------------------------------------------------------- URLs


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str) -> None:
    """Refuse anything but https://, except http:// to this computer."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UploadError(CONFIG, f"“{safe_url(url)}” is not a web address (it must start with "
                          "https://).", reached_server=False)
    raise InsecureURLError(url)


def safe_url(url: str) -> str:
    """The URL without user info or query string (which could carry a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url.split("?")[0]


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


# --------------------------------------------------------------------------- TLS


class _TLSAdapter(HTTPAdapter):
    """Hands urllib3 our SSL context: the OS trust store, or a CA bundle.

    Verification cannot be switched off through requests (``verify=False``), and no
    other CA file is mixed in (``REQUESTS_CA_BUNDLE``, certifi): the context decides.
    """

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> Any:
        return super().build_connection_pool_key_attributes(request, True, None)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Our context holds the trust; urllib3 would otherwise load certifi into it.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["verify"] = True
        return super().send(request, *args, **kwargs)


def make_ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The OS trust store (via truststore), or only the profile's own CA bundle.

    A CA bundle that is missing or holds no certificate raises a CONFIG
    :class:`UploadError` in words; nothing is ever sent unverified.
    """
    if ca_bundle:
        path = Path(ca_bundle).expanduser()
        try:
            ctx = ssl.create_default_context(cafile=str(path))
        except FileNotFoundError:
            raise UploadError(CONFIG, f"The profile's CA bundle {path} does not exist. Correct the "
                              "path in the profile, or clear it to use this computer's trusted "
                              "certificates.", reached_server=False) from None
        except (ssl.SSLError, OSError, ValueError):
            raise UploadError(CONFIG, f"The profile's CA bundle {path} could not be read as PEM "
                              "certificates. Ask IT for the certificate authority's file.",
                              reached_server=False) from None
    else:
        ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


# --------------------------------------------------------------------------- transport


# --------------------------------------------------------------------------- cancel


_active = threading.local()


class _AbortableMixin:
    """Lets this thread's CancelToken and Deadline reach the connection in use.

    The deadline keeps the connection until the request is over (the answer's body is
    read after this returns); the transport then closes the deadline.
    """

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = current_deadline()
        if deadline is not None:
            deadline.bind(conn)
        token: CancelToken | None = getattr(_active, "token", None)
        if token is None:
            return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        token.bind(conn)
        try:
            return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        finally:
            token.unbind(conn)


class _AbortableHTTPPool(_AbortableMixin, urllib3.HTTPConnectionPool):
    pass


class _AbortableHTTPSPool(_AbortableMixin, urllib3.HTTPSConnectionPool):
    pass


_POOLS = {"http": _AbortableHTTPPool, "https": _AbortableHTTPSPool}


class Transport:
    """One HTTP session shared by a target's calls."""

    def __init__(
        self,
        *,
        ca_bundle: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        response_deadline: float = RESPONSE_DEADLINE,
        min_upload_rate: float = MIN_UPLOAD_RATE,
    ) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self.response_deadline = response_deadline
        self.min_upload_rate = min_upload_rate
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = _TLSAdapter(make_ssl_context(ca_bundle))
        plain = HTTPAdapter(max_retries=0)
        for a in (adapter, plain):
            a.poolmanager.pool_classes_by_scheme = _POOLS
            # Send bodies in 256 KiB pieces, not 16 KiB: far fewer trips through Python
            # (the progress callback, the GIL) per megabyte, which keeps the window smooth.
            a.poolmanager.connection_pool_kw["blocksize"] = UPLOAD_BLOCK
        self.session.mount("https://", adapter)
        self.session.mount("http://", plain)
        self.ca_bundle = ca_bundle

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ plain calls

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """A small request (auth, JSON message, discovery). Raises UploadError on transport failure."""
        require_secure_url(url)
        limit = self.timeout[0] + self.response_deadline
        with deadline_for(limit) as deadline:
            try:
                return self.session.request(
                    method, url, headers=dict(headers or {}), data=data, json=json,
                    params=params, timeout=timeout or self.timeout, allow_redirects=False,
                )
            except (requests.RequestException, OSError) as exc:
                if deadline.expired:
                    raise self._too_slow(url, limit, body_sent=False, sending_body=False) from None
                raise self._translate(exc, url, body_sent=False, sending_body=False) from None

    # ------------------------------------------------------------------ uploads

    def upload(
        self,
        url: str,
        *,
        file_field: str,
        path: Path,
        filename: str,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> requests.Response:
        """POST a multipart body streamed from disk. A fresh encoder every call."""
        require_secure_url(url)
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with _open(path) as fh:
            parts: dict[str, Any] = dict(fields or {})
            parts[file_field] = (filename, fh, ctype)
            encoder = MultipartEncoder(fields=parts)
            total = encoder.len
            state = {"sent": 0}

            sending = self.timeout[0] + total / self.min_upload_rate + self.response_deadline

            def on_read(monitor: MultipartEncoderMonitor) -> None:
                state["sent"] = monitor.bytes_read
                if cancelled is not None and cancelled():
                    raise UploadCancelled()
                if monitor.bytes_read >= total and not state.get("all_sent"):
                    state["all_sent"] = 1
                    deadline.extend(self.response_deadline)  # now only the answer is awaited
                if progress is not None:
                    progress(monitor.bytes_read, total)

            monitor = MultipartEncoderMonitor(encoder, on_read)
            hdrs = {**dict(headers or {}), "Content-Type": monitor.content_type}
            _active.token = cancelled if isinstance(cancelled, CancelToken) else None
            try:
                with deadline_for(sending) as deadline:
                    resp = self._post(url, monitor, hdrs, cancelled, state, total, deadline)
            finally:
                _active.token = None
        if cancelled is not None and cancelled():
            # The response came back anyway; the caller decides what that means.
            log.info("upload to %s finished after a cancel request", safe_url(url))
        return resp

    def _post(self, url: str, monitor: Any, hdrs: dict[str, str], cancelled: CancelFn | None,
              state: dict[str, int], total: int, deadline: Deadline) -> requests.Response:
        try:
            return self.session.post(
                url, data=monitor, headers=hdrs, timeout=self.timeout, allow_redirects=False
            )
        except UploadCancelled:
            raise
        except (requests.RequestException, OSError) as exc:
            # OSError: a reset surfacing outside requests' wrappers.
            if cancelled is not None and cancelled():
                raise UploadCancelled() from None
            body_sent = state["sent"] >= total
            if deadline.expired:
                raise self._too_slow(url, self.response_deadline, body_sent=body_sent,
                                     sending_body=True) from None
            raise self._translate(exc, url, body_sent=body_sent, sending_body=True) from None

    # ------------------------------------------------------------------ errors

    def _too_slow(self, url: str, limit: float, *, body_sent: bool,
                  sending_body: bool) -> UploadError:
        """The deadline ended the request: decided by the usual outcome rules."""
        where = safe_url(url)
        if sending_body and not body_sent:
            return UploadError(NETWORK, f"Sending the file to {where} was too slow and was "
                               "stopped before it was all sent; it was not delivered.")
        if sending_body:
            return UploadError(
                OUTCOME_UNKNOWN,
                f"{where} took more than {limit:.0f} seconds to answer after the file was sent, "
                "so the upload was stopped. The document may or may not have arrived.",
                body_sent=True)
        return UploadError(NETWORK, f"{where} took more than {limit:.0f} seconds to answer, so "
                           "the request was stopped. Try again later.")

    def _translate(
        self, exc: BaseException, url: str, *, body_sent: bool, sending_body: bool
    ) -> UploadError:
        where = safe_url(url)
        text = _describe(exc)
        if isinstance(exc, requests.exceptions.ProxyError):
            return UploadError(PROXY, proxy_problem_text(exc, where), server_message=text,
                               reached_server=False)
        if isinstance(exc, requests.exceptions.SSLError):
            return UploadError(TLS, tls_problem_text(text, where), server_message=text,
                               reached_server=False)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return UploadError(NETWORK, f"Could not reach {where}: the connection timed out. "
                               "Check the network connection and try again.", reached_server=False)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return UploadError(
                OUTCOME_UNKNOWN if body_sent or not sending_body else NETWORK,
                f"{where} did not answer in time. The document may or may not have arrived.",
                body_sent=body_sent,
            )
        if isinstance(exc, requests.exceptions.ConnectionError) and _never_connected(exc):
            return UploadError(NETWORK, f"Could not connect to {where} ({text}). Check the "
                               "network connection and the address, then try again.",
                               reached_server=False)
        if not sending_body:
            return UploadError(NETWORK, f"The connection to {where} was lost ({text}). "
                               "Check the network connection and try again.")
        if not body_sent:
            return UploadError(
                NETWORK,
                f"The connection to {where} was cut while the file was being sent ({text}). "
                "The server may have refused the upload.",
                body_sent=False,
            )
        return UploadError(
            OUTCOME_UNKNOWN,
            f"The connection to {where} was lost after the file was sent ({text}); "
            "whether it arrived is not known.",
            body_sent=True,
        )


@contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    """The file to stream, opened as the re-check does: a regular file, never a FIFO or device."""
    try:
        fh = open_regular(path)
    except StagedFileError as exc:
        raise UploadError(CONFIG, exc.message, reached_server=False) from None
    try:
        yield fh
    finally:
        fh.close()


