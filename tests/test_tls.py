"""Transport security against real local servers: HTTPS only, TLS always verified, named failures.

Certificates are made here with ``cryptography``: a private CA, and leaf certificates
for 127.0.0.1 (good), for another host name (wrong host) and one that has expired. The
servers are ``http.server`` wrapped in TLS on loopback; proxies are tiny local sockets.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from uploader_gui.core.targets import TargetConfig
from uploader_gui.core.transport import (
    CONFIG,
    PROXY,
    TLS,
    InsecureURLError,
    Transport,
    UploadError,
    require_secure_url,
)

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    cert = (
        x509.CertificateBuilder().subject_name(_name("Test Clinic CA")).issuer_name(_name("Test Clinic CA"))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(ca_key, ca_cert, names: list[str], *, expired: bool = False,
              self_signed: bool = False) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    start, end = (NOW - dt.timedelta(days=60), NOW - dt.timedelta(days=1)) if expired else \
        (NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30))
    issuer_key, issuer = (key, _name(names[0])) if self_signed else (ca_key, ca_cert.subject)
    builder = (
        x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=self_signed, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"hello": "clinic"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class TLSServer:
    def __init__(self, tmp: Path, key, cert) -> None:
        (tmp / "cert.pem").write_bytes(pem(cert))
        (tmp / "key.pem").write_bytes(key_pem(key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = make_ca()
    (tmp / "ca.pem").write_bytes(pem(ca_cert))
    servers = {}
    specs = {
        "good": dict(names=["127.0.0.1", "localhost"]),
        "wrong_host": dict(names=["records.other-clinic.example"]),
        "expired": dict(names=["127.0.0.1"], expired=True),
        "self_signed": dict(names=["127.0.0.1"], self_signed=True),
    }
    for label, spec in specs.items():
        d = tmp / label
        d.mkdir()
        key, cert = make_leaf(ca_key, ca_cert, **spec)
        servers[label] = TLSServer(d, key, cert)
    yield {"ca": str(tmp / "ca.pem"), "dir": tmp, **servers}
    for s in servers.values():
        s.close()


def get(url: str, ca_bundle: str | None = None):
    t = Transport(ca_bundle=ca_bundle, connect_timeout=5, read_timeout=10)
    try:
        return t.request("GET", url)
    finally:
        t.close()


# --------------------------------------------------------------------------- https only


@pytest.mark.parametrize("url", ["http://records.example.org/api/", "http://10.0.0.5:8080/",
                                 "http://192.168.1.10/api/"])
def test_plain_http_refused_before_any_connection(url: str) -> None:
    with pytest.raises(InsecureURLError) as info:
        require_secure_url(url)
    assert "HTTPS" in info.value.message and not info.value.reached_server
    with pytest.raises(InsecureURLError):
        get(url)  # refused by the transport before any connection (the hosts are not real)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/", "http://localhost/api/",
                                 "http://[::1]:9/", "https://redcap.example.edu/api/"])
def test_https_and_loopback_allowed(url: str) -> None:
    require_secure_url(url)


def test_not_a_web_address_refused() -> None:
    with pytest.raises(UploadError) as info:
        require_secure_url("ftp://files.example.org/")
    assert info.value.kind == CONFIG


# --------------------------------------------------------------------------- verification


def test_self_signed_server_refused_with_clear_message(pki) -> None:
    with pytest.raises(UploadError) as info:
        get(pki["self_signed"].url)
    err = info.value
    assert err.kind == TLS and not err.reached_server
    assert "not issued by an authority this computer trusts" in err.message
    assert "CA bundle" in err.message


def test_server_of_private_ca_refused_by_os_store(pki) -> None:
    with pytest.raises(UploadError) as info:
        get(pki["good"].url)
    assert info.value.kind == TLS and "unknown authority" in info.value.message


def test_self_signed_cert_accepted_as_the_profiles_ca_bundle(pki) -> None:
    cert = pki["dir"] / "self_signed" / "cert.pem"
    resp = get(pki["self_signed"].url, ca_bundle=str(cert))
    assert resp.status_code == 200 and resp.json() == {"hello": "clinic"}


def test_private_ca_bundle_accepted(pki) -> None:
    resp = get(pki["good"].url, ca_bundle=pki["ca"])
    assert resp.status_code == 200


def test_verification_cannot_be_switched_off(pki, monkeypatch) -> None:
    """Neither requests' verify=False nor REQUESTS_CA_BUNDLE weakens the check."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    t = Transport(connect_timeout=5, read_timeout=10)
    try:
        with pytest.raises(UploadError) as info:
            t.request("GET", pki["good"].url)  # the env bundle is not an override
        assert info.value.kind == TLS
        t.session.verify = False
        with pytest.raises(UploadError):
            t.request("GET", pki["self_signed"].url)
    finally:
        t.close()


def test_wrong_host_named(pki) -> None:
    with pytest.raises(UploadError) as info:
        get(pki["wrong_host"].url, ca_bundle=pki["ca"])
    assert info.value.kind == TLS
    assert "for a different address (wrong host)" in info.value.message


def test_expired_certificate_named(pki) -> None:
    with pytest.raises(UploadError) as info:
        get(pki["expired"].url, ca_bundle=pki["ca"])
    assert info.value.kind == TLS and "has expired" in info.value.message


def test_missing_or_bad_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(UploadError) as info:
        Transport(ca_bundle=str(tmp_path / "nope.pem"))
    assert info.value.kind == CONFIG and "does not exist" in info.value.message
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(UploadError) as info:
        Transport(ca_bundle=str(junk))
    assert info.value.kind == CONFIG and "could not be read" in info.value.message


def test_target_uses_the_profiles_ca_bundle(pki) -> None:
    from uploader_gui.core.targets import Credentials, make_target

    cfg = TargetConfig(kind="claros", base_url=pki["good"].url, name="Private CA",
                       ca_bundle=pki["ca"])
    target = make_target(cfg, Credentials())
    try:
        assert target.transport.request("GET", pki["good"].url).status_code == 200
    finally:
        target.close()


# --------------------------------------------------------------------------- proxies


class _Proxy:
    """Answers every CONNECT with 407, the way a proxy that wants a sign-in does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.seen.append(data.split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"clinic\"\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def _clear_proxy_env(monkeypatch) -> None:
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_environment_proxy_is_used_and_407_reported_as_proxy_problem(monkeypatch) -> None:
    _clear_proxy_env(monkeypatch)
    proxy = _Proxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    try:
        with pytest.raises(UploadError) as info:
            get("https://redcap.example.edu/api/")
    finally:
        proxy.close()
    err = info.value
    assert proxy.seen and proxy.seen[0].startswith(b"CONNECT redcap.example.edu:443")
    assert err.kind == PROXY and not err.reached_server
    assert "through the proxy" in err.message and "407" in err.message


def test_refused_proxy_reported_as_proxy_problem(monkeypatch) -> None:
    _clear_proxy_env(monkeypatch)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    with pytest.raises(UploadError) as info:
        get("https://redcap.example.edu/api/")
    assert info.value.kind == PROXY and "refused the connection" in info.value.message


def test_no_proxy_is_honoured(pki, monkeypatch) -> None:
    _clear_proxy_env(monkeypatch)
    proxy = _Proxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        assert get(pki["good"].url, ca_bundle=pki["ca"]).status_code == 200
    finally:
        proxy.close()
    assert proxy.seen == []
