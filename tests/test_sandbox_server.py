"""The sandbox emulator, exercised over real loopback HTTP with ``requests`` (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests_toolbelt import MultipartEncoder

from uploader_gui.sandbox import Sandbox, main

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SMALL = 64 * 1024
TIMEOUT = 10


def pdf_bytes(size: int = 4096, seed: bytes = b"x") -> bytes:
    head = b"%PDF-1.4\n"
    return head + (seed * size)[: max(0, size - len(head))]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> str:
    """credentials.json of one sandbox, so later sandboxes reuse its keys (RSA keygen is slow)."""
    with Sandbox(tmp_path_factory.mktemp("keys")) as first:
        return (first.data_dir / "credentials.json").read_text()


def data_dir(tmp_path: Path, name: str, signing_keys: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "credentials.json").write_text(signing_keys)
    return path


@pytest.fixture
def sb(tmp_path: Path, signing_keys: str) -> Iterator[Sandbox]:
    with Sandbox(data_dir(tmp_path, "sandbox", signing_keys)) as sandbox:
        yield sandbox


@pytest.fixture
def small(tmp_path: Path, signing_keys: str) -> Iterator[Sandbox]:
    """A sandbox with 64 KiB limits everywhere, for the size errors."""
    with Sandbox(
        data_dir(tmp_path, "small", signing_keys),
        claros_limit=SMALL,
        redcap_limit=SMALL,
        redox_limit=SMALL,
    ) as sandbox:
        yield sandbox


@pytest.fixture
def creds(sb: Sandbox) -> dict[str, Any]:
    return sb.credentials


# --- Redox helpers -------------------------------------------------------------------


def make_assertion(
    sb: Sandbox,
    *,
    kid: str = "sandbox-rsa",
    alg: str | None = None,
    key: Any = None,
    client: str | None = None,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    creds = sb.credentials
    client = client or creds["redox_client_id"]
    now = int(time.time())
    body = {
        "iss": client,
        "sub": client,
        "aud": f"{sb.url}/v2/auth/token",
        "iat": now,
        "exp": now + 240,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    if alg is None:
        alg = "ES384" if kid == "sandbox-ec" else "RS384"
    if key is None:
        key = creds["redox_ec_private_key"] if alg == "ES384" else creds["redox_rsa_private_key"]
    hdr = {"kid": kid} if kid else {}
    hdr.update(headers or {})
    return jwt.encode(body, key, algorithm=alg, headers=hdr)


def post_assertion(sb: Sandbox, assertion: str, **form: str) -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    data.update(form)
    return requests.post(f"{sb.url}/v2/auth/token", data=data, timeout=TIMEOUT)


def oauth_token(sb: Sandbox, kid: str = "sandbox-rsa", client: str | None = None) -> str:
    reply = post_assertion(sb, make_assertion(sb, kid=kid, client=client))
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def legacy_token(sb: Sandbox) -> str:
    creds = sb.credentials
    reply = requests.post(
        f"{sb.url}/auth/authenticate",
        json={"apiKey": creds["redox_api_key"], "secret": creds["redox_secret"]},
        timeout=TIMEOUT,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["accessToken"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload_blob(sb: Sandbox, token: str, data: bytes, name: str = "doc.pdf") -> requests.Response:
    return requests.post(
        f"{sb.url}/upload",
        headers=bearer(token),
        files={"file": (name, data, "application/pdf")},
        timeout=TIMEOUT,
    )


def media_message(sb: Sandbox, contents: str, **media: Any) -> dict[str, Any]:
    destinations = sb.credentials["redox_destinations"]
    message: dict[str, Any] = {
        "Meta": {
            "DataModel": "Media",
            "EventType": "New",
            "Test": True,
            "Destinations": [destinations[0]],
        },
        "Patient": {"Identifiers": [{"ID": "MRN-42", "IDType": "MR"}]},
        "Media": {
            "FileType": "PDF",
            "FileName": "letter.pdf",
            "FileContents": contents,
            "DocumentType": "Clinic letter",
            "DocumentID": str(uuid.uuid4()),
            "Provider": {"ID": "4356789876"},
            "Availability": "Available",
        },
    }
    message["Media"].update(media)
    return message


def send(sb: Sandbox, token: str, message: Any) -> requests.Response:
    return requests.post(f"{sb.url}/endpoint", headers=bearer(token), json=message, timeout=TIMEOUT)


def error_texts(reply: requests.Response) -> list[str]:
    return [e["Text"] for e in reply.json()["Meta"]["Errors"]]


# --- REDCap / Claros helpers ------------------------------------------------------------


def redcap(
    sb: Sandbox, token: str | None, files: dict[str, Any] | None = None, **fields: str
) -> requests.Response:
    data = dict(fields)
    if token is not None:
        data["token"] = token
    return requests.post(f"{sb.url}/api/", data=data, files=files, timeout=TIMEOUT)


def redcap_import(
    sb: Sandbox, token: str, data: bytes, name: str = "scan.pdf", **fields: str
) -> requests.Response:
    params = {"content": "file", "action": "import", "returnFormat": "json", **fields}
    return redcap(sb, token, files={"file": (name, data, "application/pdf")}, **params)


def claros_upload(
    sb: Sandbox,
    patient: object = 1001,
    data: bytes | None = None,
    filename: str | None = "letter.pdf",
    key: str | None = "sandbox-claros-key",
    slash: str = "/",
) -> requests.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    form = {"filename": filename} if filename is not None else {}
    return requests.post(
        f"{sb.url}/patients/{patient}/pdf{slash}",
        headers=headers,
        data=form,
        files={"file": ("upload.pdf", pdf_bytes() if data is None else data, "application/pdf")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


# === the server itself ================================================================


def test_url_credentials_and_credentials_file(sb: Sandbox, creds: dict[str, Any]) -> None:
    assert sb.url.startswith("http://127.0.0.1:") and not sb.url.endswith("/")
    assert creds["claros_api_key"] == "sandbox-claros-key"
    assert creds["redox_api_key"] == "sandbox-redox-key"
    assert creds["redox_secret"] == "sandbox-redox-secret"
    assert creds["redox_client_id"] == "sandbox-client"
    assert creds["redox_org_id"] == "sandbox-org"
    for token in (creds["redcap_token"], creds["redcap_longitudinal_token"]):
        assert len(token) == 32 and token == token.lower() and int(token, 16) >= 0
    assert len(creds["redox_destinations"]) == 2
    assert {d["Name"] for d in creds["redox_destinations"]} == {
        "Sandbox EHR",
        "Sandbox Document Store",
    }
    assert creds["redox_rsa_private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    path = sb.data_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == creds


def test_keys_survive_a_restart_on_the_same_data_dir(sb: Sandbox) -> None:
    first = sb.credentials["redox_rsa_private_key"]
    sb.stop()
    with Sandbox(sb.data_dir) as again:
        assert again.credentials["redox_rsa_private_key"] == first
        assert oauth_token(again)


def test_refuses_non_loopback_hosts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(tmp_path, host="0.0.0.0")
    assert main(["--host", "192.0.2.1", "--data", str(tmp_path)]) == 2


def test_unknown_route_is_404_and_logged(sb: Sandbox) -> None:
    reply = requests.get(f"{sb.url}/nowhere?x=1", timeout=TIMEOUT)
    assert reply.status_code == 404
    assert sb.requests_log[-1] == {"method": "GET", "path": "/nowhere", "status": 404, "target": None}


def test_main_serves_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "UPLOADER_GUI_HOME": str(tmp_path / "home")}
    # Ctrl-C's default handling, even when this run inherited SIGINT ignored (a job started
    # with `&` from a script ignores it, and so does every process it starts).
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from uploader_gui.sandbox import main; sys.exit(main(['--port', '0']))")
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        summary = first
        while "Ctrl-C" not in summary:  # read the whole banner before talking to it
            summary += proc.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), first
        creds = requests.get(f"{url}/_sandbox/credentials", timeout=TIMEOUT).json()
        assert (tmp_path / "home" / "sandbox" / "credentials.json").exists()
        token = requests.post(
            f"{url}/auth/authenticate",
            json={"apiKey": creds["redox_api_key"], "secret": creds["redox_secret"]},
            timeout=TIMEOUT,
        ).json()["accessToken"]
        requests.post(f"{url}/upload", headers=bearer(token), timeout=TIMEOUT)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "sandbox-claros-key" in summary  # the demo credentials are shown
    assert "BEGIN PRIVATE KEY" not in summary + out
    assert token not in summary + out + err  # the access token is not
    assert "POST /upload -> 400" in out


# === Redox auth =======================================================================


@pytest.mark.parametrize("kid", ["sandbox-rsa", "sandbox-ec"])
def test_jwt_client_credentials(sb: Sandbox, kid: str) -> None:
    reply = post_assertion(sb, make_assertion(sb, kid=kid))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert body["scope"]
    assert upload_blob(sb, body["access_token"], pdf_bytes()).status_code == 201


def _foreign_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aud": "https://api.redoxengine.com/v2/auth/token"},
        {"kid": ""},
        {"kid": "someone-else"},
        {"kid": "sandbox-ec", "alg": "RS384", "key": "rsa"},
        {"sub": "another-client"},
        {"client": "unknown-client"},
        {"exp_offset": 600},
        {"exp_offset": -60, "iat_offset": -120},
        {"jti": None},
        {"exp": None},
        {"key": "foreign"},
        {"alg": "HS384", "key": "a-shared-secret-of-at-least-48-bytes-for-hs384-ok!!"},
    ],
    ids=[
        "wrong-aud",
        "no-kid",
        "unknown-kid",
        "alg-mismatch",
        "sub-not-iss",
        "unknown-client",
        "exp-too-far",
        "expired",
        "no-jti",
        "no-exp",
        "bad-signature",
        "hs384",
    ],
)
def test_bad_assertions_are_401(sb: Sandbox, kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    now = int(time.time())
    if "exp_offset" in kwargs:
        kwargs["iat"] = now + kwargs.pop("iat_offset", 0)
        kwargs["exp"] = now + kwargs.pop("exp_offset")
    if kwargs.get("key") == "rsa":
        kwargs["key"] = sb.credentials["redox_rsa_private_key"]
    elif kwargs.get("key") == "foreign":
        kwargs["key"] = _foreign_key()
    reply = post_assertion(sb, make_assertion(sb, **kwargs))
    assert reply.status_code == 401, reply.text
    assert reply.json()["error"] == "invalid_client"
    assert reply.json()["error_description"]


def test_token_request_shape_errors(sb: Sandbox) -> None:
    good = make_assertion(sb)
    reply = post_assertion(sb, good, grant_type="password")
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported_grant_type")
    reply = post_assertion(sb, good, client_assertion_type="urn:x")
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_request")
    reply = requests.post(f"{sb.url}/v2/auth/token", json={"a": 1}, timeout=TIMEOUT)
    assert reply.status_code == 400


def test_replayed_jti_is_refused(sb: Sandbox) -> None:
    assertion = make_assertion(sb)
    assert post_assertion(sb, assertion).status_code == 200
    replay = post_assertion(sb, assertion)
    assert replay.status_code == 401
    assert "jti" in replay.json()["error_description"]


def test_aud_may_name_the_host_the_client_used(sb: Sandbox) -> None:
    port = sb.url.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/v2/auth/token"
    assertion = make_assertion(sb, aud=url)
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    assert requests.post(url, data=data, timeout=TIMEOUT).status_code == 200


def test_legacy_authenticate_and_refresh(sb: Sandbox, creds: dict[str, Any]) -> None:
    reply = requests.post(
        f"{sb.url}/auth/authenticate",
        json={"apiKey": creds["redox_api_key"], "secret": creds["redox_secret"]},
        timeout=TIMEOUT,
    )
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"accessToken", "expires", "refreshToken"}
    assert body["expires"].endswith("Z")
    sb.expire_tokens()
    assert upload_blob(sb, body["accessToken"], pdf_bytes()).status_code == 401
    refreshed = requests.post(
        f"{sb.url}/auth/refreshToken",
        json={"apiKey": creds["redox_api_key"], "refreshToken": body["refreshToken"]},
        timeout=TIMEOUT,
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["accessToken"] != body["accessToken"]
    assert upload_blob(sb, refreshed.json()["accessToken"], pdf_bytes()).status_code == 201


def test_legacy_auth_errors(sb: Sandbox, creds: dict[str, Any]) -> None:
    bad = requests.post(
        f"{sb.url}/auth/authenticate",
        json={"apiKey": creds["redox_api_key"], "secret": "wrong"},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 401 and error_texts(bad)
    bad = requests.post(
        f"{sb.url}/auth/refreshToken",
        json={"apiKey": creds["redox_api_key"], "refreshToken": "nope"},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 401 and error_texts(bad)


def test_expire_tokens_makes_every_token_401(sb: Sandbox) -> None:
    token = oauth_token(sb)
    assert upload_blob(sb, token, pdf_bytes()).status_code == 201
    assert sb.expire_tokens() >= 1
    reply = upload_blob(sb, token, pdf_bytes())
    assert reply.status_code == 401 and reply.json()["errorDetail"]
    reply = send(sb, token, media_message(sb, base64.b64encode(pdf_bytes()).decode()))
    assert reply.status_code == 401 and error_texts(reply)
    assert upload_blob(sb, oauth_token(sb), pdf_bytes()).status_code == 201


def test_tokens_expire_after_token_ttl(tmp_path: Path, signing_keys: str) -> None:
    # 2 s: time enough for a loaded machine to use the token once before it expires.
    with Sandbox(data_dir(tmp_path, "short", signing_keys), token_ttl=2.0) as short:
        reply = post_assertion(short, make_assertion(short))
        token = reply.json()["access_token"]
        assert reply.json()["expires_in"] == 2.0
        assert upload_blob(short, token, pdf_bytes()).status_code == 201
        time.sleep(2.1)
        assert upload_blob(short, token, pdf_bytes()).status_code == 401


# === Redox upload =====================================================================


def test_upload_stores_the_file_for_its_source(sb: Sandbox) -> None:
    data = pdf_bytes(50_000)
    token = oauth_token(sb)
    reply = upload_blob(sb, token, data)
    assert reply.status_code == 201
    uri = reply.json()["URI"]
    assert uri.startswith(f"{sb.url}/blob/")
    (blob,) = sb.blobs()
    assert blob["sha256"] == sha(data) and blob["size"] == len(data)
    assert Path(blob["path"]).read_bytes() == data
    assert Path(blob["path"]).is_relative_to(sb.data_dir / "received" / "redox")
    assert requests.get(uri, headers=bearer(token), timeout=TIMEOUT).content == data
    other_source = legacy_token(sb)
    assert requests.get(uri, headers=bearer(other_source), timeout=TIMEOUT).status_code == 404
    assert sb.received() == []  # a blob is not a delivered document


def test_upload_errors(sb: Sandbox) -> None:
    data = pdf_bytes()
    no_token = requests.post(f"{sb.url}/upload", files={"file": ("a.pdf", data)}, timeout=TIMEOUT)
    assert no_token.status_code == 401 and no_token.json()["errorDetail"]
    assert upload_blob(sb, "not-a-token", data).status_code == 401
    token = oauth_token(sb)
    wrong_part = requests.post(
        f"{sb.url}/upload", headers=bearer(token), files={"document": ("a.pdf", data)}, timeout=TIMEOUT
    )
    assert wrong_part.status_code == 400 and "file" in wrong_part.json()["errorDetail"]
    not_multipart = requests.post(f"{sb.url}/upload", headers=bearer(token), data=data, timeout=TIMEOUT)
    assert not_multipart.status_code == 400 and not_multipart.json()["errorDetail"]
    platform = oauth_token(sb, client="sandbox-platform-key")
    assert upload_blob(sb, platform, data).status_code == 403
    assert sb.blobs() == []


def test_upload_over_the_limit_is_413(small: Sandbox) -> None:
    token = oauth_token(small)
    just_over = upload_blob(small, token, pdf_bytes(SMALL + 1))
    assert just_over.status_code == 413 and just_over.json()["errorDetail"]
    way_over = upload_blob(small, token, pdf_bytes(3 * 1024 * 1024))  # refused on Content-Length
    assert way_over.status_code == 413 and way_over.json()["errorDetail"]
    assert upload_blob(small, token, pdf_bytes(SMALL)).status_code == 201
    assert len(small.blobs()) == 1


def test_chunked_upload(sb: Sandbox) -> None:
    data = pdf_bytes(300_000)
    encoder = MultipartEncoder(fields={"file": ("c.pdf", data, "application/pdf")})
    raw = encoder.to_string()
    chunks = (raw[i : i + 7000] for i in range(0, len(raw), 7000))
    reply = requests.post(
        f"{sb.url}/upload",
        headers={**bearer(oauth_token(sb)), "Content-Type": encoder.content_type},
        data=chunks,
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text
    assert sb.blobs()[0]["sha256"] == sha(data)


# === Redox Media.New ==================================================================


def test_media_inline_base64(sb: Sandbox) -> None:
    data = pdf_bytes(100_000)
    token = oauth_token(sb)
    message = media_message(sb, base64.b64encode(data).decode())
    reply = send(sb, token, message)
    assert reply.status_code == 200, reply.text
    meta = reply.json()["Meta"]
    assert meta["DataModel"] == "Media" and meta["EventType"] == "New"
    assert len(meta["Logs"]) == 1 and set(meta["Logs"][0]) == {"ID", "AttemptID"}
    (entry,) = sb.received("redox")
    assert entry["sha256"] == sha(data) and entry["size"] == len(data)
    assert Path(entry["path"]).read_bytes() == data
    assert entry["document_id"] == message["Media"]["DocumentID"]
    assert entry["patient_id"] == "MRN-42"
    assert entry["patient_identifiers"] == [{"ID": "MRN-42", "IDType": "MR"}]
    assert entry["destinations"] == message["Meta"]["Destinations"]
    assert entry["logs"] == meta["Logs"]
    assert entry["inline"] is True and entry["uri"] is None and entry["duplicate_of"] is None


def test_media_by_uri_to_two_destinations(sb: Sandbox) -> None:
    data = pdf_bytes(600_000)
    token = oauth_token(sb, kid="sandbox-ec")
    uri = upload_blob(sb, token, data).json()["URI"]
    message = media_message(sb, uri)
    message["Meta"]["Destinations"] = sb.credentials["redox_destinations"]
    reply = send(sb, token, message)
    assert reply.status_code == 200, reply.text
    logs = reply.json()["Meta"]["Logs"]
    assert len(logs) == 2 and logs[0]["ID"] != logs[1]["ID"]
    (entry,) = sb.received("redox")
    assert entry["uri"] == uri and entry["sha256"] == sha(data) and entry["inline"] is False


def test_same_document_id_twice_is_accepted_as_duplicate(sb: Sandbox) -> None:
    token = oauth_token(sb)
    contents = base64.b64encode(pdf_bytes()).decode()
    message = media_message(sb, contents)
    assert send(sb, token, message).status_code == 200
    assert send(sb, token, message).status_code == 200
    first, second = sb.received("redox")
    assert first["duplicate_of"] is None and second["duplicate_of"] == first["id"]


def _drop(message: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    node = message
    for key in parents:
        node = node[key]
    del node[last]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: _drop(m, "Meta.Destinations"), "Meta.Destinations"),
        (lambda m: m["Meta"].update(Destinations=[]), "Meta.Destinations"),
        (lambda m: m["Meta"].update(Destinations=[{"ID": str(uuid.uuid4())}]), "not a valid destination"),
        (lambda m: m["Meta"].update(DataModel="Results"), "Media"),
        (lambda m: m["Meta"].update(EventType="Replace"), "EventType"),
        (lambda m: m["Patient"].update(Identifiers=[]), "Patient.Identifiers"),
        (lambda m: m["Patient"].update(Identifiers=[{"ID": "1"}]), "IDType"),
        (lambda m: m["Media"].update(FileType="DOCX"), "FileType"),
        (lambda m: _drop(m, "Media.FileName"), "Media.FileName"),
        (lambda m: _drop(m, "Media.DocumentType"), "Media.DocumentType"),
        (lambda m: _drop(m, "Media.DocumentID"), "Media.DocumentID"),
        (lambda m: _drop(m, "Media.Availability"), "Media.Availability"),
        (lambda m: m["Media"].update(FileContents="%%% not base64 %%%"), "base64"),
        (lambda m: m["Media"].update(FileContents="https://blob.example/x"), "URI"),
    ],
)
def test_media_validation_errors(sb: Sandbox, change: Any, expected: str) -> None:
    message = media_message(sb, base64.b64encode(pdf_bytes()).decode())
    change(message)
    reply = send(sb, oauth_token(sb), message)
    assert reply.status_code == 400, reply.text
    errors = reply.json()["Meta"]["Errors"]
    assert any(expected in e["Text"] for e in errors), errors
    assert all(e["Type"] == "message" and e["Module"] == "Request" for e in errors)
    assert sb.received() == []


def test_media_inline_at_200kb_must_use_upload(sb: Sandbox) -> None:
    token = oauth_token(sb)
    reply = send(sb, token, media_message(sb, base64.b64encode(pdf_bytes(200 * 1024)).decode()))
    assert reply.status_code == 400
    assert any("upload" in t for t in error_texts(reply))
    below = send(sb, token, media_message(sb, base64.b64encode(pdf_bytes(200 * 1024 - 1)).decode()))
    assert below.status_code == 200


def test_media_uri_of_another_source_is_refused(sb: Sandbox) -> None:
    uri = upload_blob(sb, oauth_token(sb), pdf_bytes()).json()["URI"]
    reply = send(sb, legacy_token(sb), media_message(sb, uri))
    assert reply.status_code == 400
    assert any("another source" in t for t in error_texts(reply))


def test_media_not_json_or_too_large(sb: Sandbox, small: Sandbox) -> None:
    token = oauth_token(sb)
    reply = requests.post(
        f"{sb.url}/endpoint",
        headers={**bearer(token), "Content-Type": "application/json"},
        data=b"{not json",
        timeout=TIMEOUT,
    )
    assert reply.status_code == 400 and error_texts(reply)
    big = media_message(small, base64.b64encode(pdf_bytes(SMALL)).decode())
    reply = send(small, oauth_token(small), big)
    assert reply.status_code == 413 and "10mb" in error_texts(reply)[0]
    platform = oauth_token(sb, client="sandbox-platform-key")
    assert send(sb, platform, media_message(sb, "x")).status_code == 403


# === Redox Platform API ===============================================================


def test_platform_log_by_id_goes_from_pending_to_succeeded(sb: Sandbox) -> None:
    sb.log_settle_seconds = 1.0  # the first look must come before: tokens are fetched first
    contents = base64.b64encode(pdf_bytes()).decode()
    token = oauth_token(sb)
    platform = bearer(oauth_token(sb, kid="sandbox-ec", client="sandbox-platform-key"))
    log_id = send(sb, token, media_message(sb, contents)).json()["Meta"]["Logs"][0]["ID"]
    url = f"{sb.url}/platform/v1/organizations/sandbox-org/logs/{log_id}"
    first = requests.get(url, headers=platform, timeout=TIMEOUT)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"meta", "payload"}
    assert body["payload"]["result"]["id"] == log_id
    assert body["payload"]["result"]["attempts"]["latest"]["status"] == "pending"
    time.sleep(1.1)
    later = requests.get(url, headers=platform, timeout=TIMEOUT).json()
    assert later["payload"]["result"]["attempts"]["latest"]["status"] == "succeeded"
    assert later["payload"]["result"]["dataModel"] == "Media"


def test_platform_errors(sb: Sandbox) -> None:
    base = f"{sb.url}/platform/v1/organizations/sandbox-org/logs"
    platform = bearer(oauth_token(sb, client="sandbox-platform-key"))
    missing = requests.get(f"{base}/{uuid.uuid4()}", headers=platform, timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["payload"]["error"]["message"]
    assert requests.get(base, timeout=TIMEOUT).status_code == 401
    assert requests.get(base, headers=bearer(oauth_token(sb)), timeout=TIMEOUT).status_code == 403
    other_org = base.replace("sandbox-org", "other-org")
    assert requests.get(other_org, headers=platform, timeout=TIMEOUT).status_code == 403
    too_many = requests.get(base, headers=platform, params={"_count": 51}, timeout=TIMEOUT)
    assert too_many.status_code == 400
    bad_date = requests.get(base, headers=platform, params={"createdAfter": "yesterday"}, timeout=TIMEOUT)
    assert bad_date.status_code == 400


def test_platform_log_list_filters_and_pages(sb: Sandbox) -> None:
    platform = bearer(oauth_token(sb, client="sandbox-platform-key"))
    base = f"{sb.url}/platform/v1/organizations/sandbox-org/logs"
    empty = requests.get(base, headers=platform, timeout=TIMEOUT)
    assert empty.status_code == 200 and empty.json()["payload"]["results"] == []
    token = oauth_token(sb)
    contents = base64.b64encode(pdf_bytes()).decode()
    for _ in range(3):
        message = media_message(sb, contents)
        message["Meta"]["Destinations"] = sb.credentials["redox_destinations"]
        assert send(sb, token, message).status_code == 200
    page1 = requests.get(base, headers=platform, params={"_count": 4}, timeout=TIMEOUT).json()
    assert len(page1["payload"]["results"]) == 4
    assert page1["meta"]["page"]["totalRecords"] == 6
    assert "next" in page1["meta"]["page"]["links"] and "prev" not in page1["meta"]["page"]["links"]
    page2 = requests.get(
        f"{sb.url}{page1['meta']['page']['links']['next']}", headers=platform, timeout=TIMEOUT
    ).json()
    assert len(page2["payload"]["results"]) == 2 and "next" not in page2["meta"]["page"]["links"]
    ids = {r["id"] for r in page1["payload"]["results"] + page2["payload"]["results"]}
    assert len(ids) == 6
    other_model = requests.get(base, headers=platform, params={"dataModel": "Results"}, timeout=TIMEOUT)
    assert other_model.json()["payload"]["results"] == []
    media = requests.get(
        base, headers=platform, params={"dataModel": "Media", "eventType": "New"}, timeout=TIMEOUT
    )
    assert len(media.json()["payload"]["results"]) == 6
    future = requests.get(
        base, headers=platform, params={"createdAfter": "2999-01-01T00:00:00.000Z"}, timeout=TIMEOUT
    )
    assert future.status_code == 200 and future.json()["payload"]["results"] == []


# === Claros ===========================================================================


def test_claros_upload_success(sb: Sandbox) -> None:
    data = pdf_bytes(30_000)
    reply = claros_upload(sb, 1002, data, filename="Discharge Letter.PDF")
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["id"] == "pdf_1" and body["patient_id"] == 1002
    assert body["filename"] == "Discharge Letter.PDF"
    assert body["url"] == f"{sb.url}/files/pdf_1.pdf"
    assert body["created_at"].endswith("Z") and "T" in body["created_at"]
    (entry,) = sb.received("claros")
    assert entry["sha256"] == sha(data) and entry["patient_id"] == 1002
    assert Path(entry["path"]).read_bytes() == data
    served = requests.get(body["url"], headers={"X-API-Key": "sandbox-claros-key"}, timeout=TIMEOUT)
    assert served.content == data
    assert requests.get(body["url"], timeout=TIMEOUT).status_code == 401
    assert claros_upload(sb, 1001).json()["id"] == "pdf_2"


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"key": None}, 401, "X-API-Key"),
        ({"key": "wrong"}, 401, "API key"),
        ({"patient": 2001}, 403, "2001"),
        ({"patient": 4242}, 404, "4242"),
        ({"filename": "letter.png"}, 400, ".pdf"),
        ({"filename": "letter.pdf.exe"}, 400, ".pdf"),
        ({"data": b"\x89PNG\r\n\x1a\n" + b"0" * 100}, 400, "valid PDF"),
    ],
)
def test_claros_errors(sb: Sandbox, kwargs: dict[str, Any], status: int, needle: str) -> None:
    reply = claros_upload(sb, **kwargs)
    assert reply.status_code == status, reply.text
    assert needle in reply.json()["detail"]
    assert sb.received() == []


def test_claros_validation_shapes(sb: Sandbox) -> None:
    not_int = claros_upload(sb, "abc")
    assert not_int.status_code == 422
    assert not_int.json()["detail"][0]["loc"] == ["path", "patient_id"]
    no_name = claros_upload(sb, filename=None)
    assert no_name.status_code == 422
    assert no_name.json()["detail"][0]["loc"] == ["body", "filename"]
    no_slash = claros_upload(sb, slash="")
    assert no_slash.status_code == 307
    assert no_slash.headers["Location"] == f"{sb.url}/patients/1001/pdf/"
    assert sb.received() == []


def test_claros_too_large_and_patients(small: Sandbox) -> None:
    just_over = claros_upload(small, data=pdf_bytes(SMALL + 1))
    assert just_over.status_code == 413 and just_over.json()["detail"]
    way_over = claros_upload(small, data=pdf_bytes(2 * 1024 * 1024))
    assert way_over.status_code == 413
    assert small.received() == []
    patients = requests.get(
        f"{small.url}/patients", headers={"X-API-Key": "sandbox-claros-key"}, timeout=TIMEOUT
    )
    assert [p["id"] for p in patients.json()] == [1001, 1002, 1003]


# === REDCap ===========================================================================


def test_redcap_import_export_replace_delete(sb: Sandbox, creds: dict[str, Any]) -> None:
    token = creds["redcap_token"]
    first, second = pdf_bytes(10_000, b"a"), pdf_bytes(12_000, b"b")
    reply = redcap_import(sb, token, first, name="consent.pdf", record="2", field="consent_form")
    assert reply.status_code == 200 and reply.content == b""
    (entry,) = sb.received("redcap")
    assert entry["sha256"] == sha(first) and entry["filename"] == "consent.pdf"
    assert (entry["record"], entry["field"], entry["event"], entry["repeat_instance"]) == (
        "2",
        "consent_form",
        None,
        1,
    )
    export = {"content": "file", "action": "export", "record": "2", "field": "consent_form"}
    fetched = redcap(sb, token, **export, returnFormat="json")
    assert fetched.status_code == 200 and fetched.content == first
    assert 'name="consent.pdf"' in fetched.headers["Content-Type"]
    assert redcap_import(sb, token, second, record="2", field="consent_form").status_code == 200
    old, new = sb.received("redcap")
    assert old["replaced"] is True and new["replaced"] is False
    assert Path(old["path"]).read_bytes() == first  # kept on disk for inspection
    assert redcap(sb, token, **export).content == second
    delete = {**export, "action": "delete", "returnFormat": "json"}
    assert redcap(sb, token, **delete).status_code == 200
    gone = redcap(sb, token, **export, returnFormat="json")
    assert gone.status_code == 400
    assert gone.json() == {"error": "There is no file to download for this record"}
    assert redcap(sb, token, **delete).status_code == 400
    assert sb.received("redcap")[-1]["deleted"] is True


def test_redcap_token_errors(sb: Sandbox) -> None:
    missing = redcap(sb, None, content="version", returnFormat="json")
    assert missing.status_code == 403
    assert missing.json() == {"error": "You do not have permissions to use the API"}
    wrong = redcap(sb, "0" * 32, content="file", action="import", record="1", field="scan")
    assert wrong.status_code == 403
    assert wrong.text.startswith("<?xml") and "<error>You do not have permissions" in wrong.text


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"record": "99", "field": "scan"}, "The record '99' does not exist"),
        ({"record": "1", "field": "nope"}, '"nope" does not exist'),
        ({"record": "1", "field": "notes"}, "not a file upload field"),
        ({"record": "1", "field": "signature"}, "signature"),
        ({"record": "1", "field": "scan", "repeat_instance": "2"}, "repeat_instance"),
        ({"record": "1", "field": "scan", "repeat_instance": "zero"}, "repeat_instance"),
        ({"field": "scan"}, '"record"'),
    ],
)
def test_redcap_classic_import_errors(
    sb: Sandbox, creds: dict[str, Any], fields: dict[str, str], needle: str
) -> None:
    reply = redcap_import(sb, creds["redcap_token"], pdf_bytes(), **fields)
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]
    assert sb.received() == []


def test_redcap_import_needs_a_file_part(sb: Sandbox, creds: dict[str, Any]) -> None:
    reply = redcap(
        sb,
        creds["redcap_token"],
        content="file",
        action="import",
        record="1",
        field="scan",
        returnFormat="json",
    )
    assert reply.status_code == 400 and "file" in reply.json()["error"]


def test_redcap_classic_ignores_event(sb: Sandbox, creds: dict[str, Any]) -> None:
    reply = redcap_import(sb, creds["redcap_token"], pdf_bytes(), record="3", field="scan", event="x")
    assert reply.status_code == 200
    assert sb.received("redcap")[0]["event"] is None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"field": "scan_doc"}, '"event" is required'),
        ({"field": "scan_doc", "event": "week_9_arm_1"}, "not a valid unique event name"),
        ({"field": "scan_doc", "event": "week_4_arm_1"}, "not designated"),
        ({"field": "sig", "event": "week_4_arm_1"}, "signature"),
        ({"field": "lab_report", "event": "baseline_arm_1", "repeat_instance": "2"}, "repeat"),
    ],
)
def test_redcap_longitudinal_import_errors(
    sb: Sandbox, creds: dict[str, Any], fields: dict[str, str], needle: str
) -> None:
    reply = redcap_import(sb, creds["redcap_longitudinal_token"], pdf_bytes(), record="101", **fields)
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]


def test_redcap_longitudinal_imports(sb: Sandbox, creds: dict[str, Any]) -> None:
    token = creds["redcap_longitudinal_token"]
    data = pdf_bytes(5000, b"L")
    ok = redcap_import(sb, token, data, record="101", field="scan_doc", event="baseline_arm_1")
    assert ok.status_code == 200 and ok.content == b""
    repeat = redcap_import(
        sb, token, data, record="102", field="lab_report", event="followup_arm_1", repeat_instance="3"
    )
    assert repeat.status_code == 200
    first, second = sb.received("redcap")
    assert (first["event"], first["repeat_instance"]) == ("baseline_arm_1", 1)
    assert (second["event"], second["repeat_instance"], second["sha256"]) == (
        "followup_arm_1",
        3,
        sha(data),
    )
    rows = redcap(sb, token, content="record", format="json", **{"records[0]": "102"}).json()
    repeat_rows = [r for r in rows if r["redcap_repeat_instrument"] == "documents"]
    assert repeat_rows == [
        {
            "record_id": "102",
            "redcap_event_name": "followup_arm_1",
            "redcap_repeat_instrument": "documents",
            "redcap_repeat_instance": 3,
            "scan_doc": "",
            "lab_report": "[document]",
            "sig": "",
        }
    ]


def test_redcap_discovery_calls(sb: Sandbox, creds: dict[str, Any]) -> None:
    classic, longi = creds["redcap_token"], creds["redcap_longitudinal_token"]
    version = redcap(sb, classic, content="version")
    assert version.status_code == 200 and version.text == "14.5.0"
    project = redcap(sb, longi, content="project", format="json").json()
    assert project["is_longitudinal"] == 1 and project["has_repeating_instruments_or_events"] == 1
    assert redcap(sb, classic, content="project", format="json").json()["is_longitudinal"] == 0
    metadata = redcap(sb, classic, content="metadata", format="json").json()
    files = {m["field_name"]: m for m in metadata if m["field_type"] == "file"}
    assert set(files) == {"consent_form", "scan", "signature"}
    assert files["signature"]["text_validation_type_or_show_slider_number"] == "signature"
    classic_events = redcap(sb, classic, content="event", format="json", returnFormat="json")
    assert classic_events.status_code == 400
    assert "classic" in classic_events.json()["error"]
    events = redcap(sb, longi, content="event", format="json").json()
    assert [e["unique_event_name"] for e in events] == [
        "baseline_arm_1",
        "followup_arm_1",
        "week_4_arm_1",
    ]
    mapping = redcap(sb, longi, content="formEventMapping", format="json").json()
    assert {(m["unique_event_name"], m["form"]) for m in mapping} == {
        ("baseline_arm_1", "documents"),
        ("followup_arm_1", "documents"),
        ("baseline_arm_1", "signoff"),
        ("followup_arm_1", "signoff"),
        ("week_4_arm_1", "signoff"),
    }
    repeating = redcap(sb, longi, content="repeatingFormsEvents", format="json").json()
    assert repeating == [{"event_name": "followup_arm_1", "form_name": "documents", "custom_form_label": ""}]
    exists = redcap(
        sb, classic, content="record", format="json", **{"records[0]": "1", "fields[0]": "record_id"}
    )
    assert exists.json() == [{"record_id": "1"}]
    absent = redcap(
        sb, classic, content="record", format="json", **{"records[0]": "77", "fields[0]": "record_id"}
    )
    assert absent.json() == []
    xml = redcap(sb, classic, content="metadata")
    assert xml.text.startswith("<?xml") and "<field_name><![CDATA[scan]]></field_name>" in xml.text


def test_redcap_too_large(small: Sandbox) -> None:
    token = small.credentials["redcap_token"]
    just_over = redcap_import(small, token, pdf_bytes(SMALL + 1), record="1", field="scan")
    assert just_over.status_code == 413 and just_over.json()["error"]
    way_over = redcap_import(small, token, pdf_bytes(2 * 1024 * 1024), record="1", field="scan")
    assert way_over.status_code == 413 and way_over.json()["error"]
    assert small.received() == []


def test_redcap_seed_reply_mode(tmp_path: Path, signing_keys: str) -> None:
    with Sandbox(data_dir(tmp_path, "seeded", signing_keys), redcap_import_reply="seed") as seeded:
        token = seeded.credentials["redcap_token"]
        reply = redcap_import(seeded, token, pdf_bytes(), record="1", field="scan")
        assert reply.json() == {"success": True, "message": "File uploaded successfully"}


def test_redcap_large_streamed_upload(sb: Sandbox, creds: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    size = 24 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    with open(source, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
    digest = hashlib.sha256()
    with open(source, "rb") as src:
        while chunk := src.read(1024 * 1024):
            digest.update(chunk)
    with open(source, "rb") as handle:
        encoder = MultipartEncoder(
            fields={
                "token": creds["redcap_token"],
                "content": "file",
                "action": "import",
                "record": "1",
                "field": "scan",
                "returnFormat": "json",
                "file": ("big.bin", handle, "application/octet-stream"),
            }
        )
        reply = requests.post(
            f"{sb.url}/api/", data=encoder, headers={"Content-Type": encoder.content_type}, timeout=30
        )
    assert reply.status_code == 200, reply.text
    (entry,) = sb.received("redcap")
    assert entry["size"] == size and entry["sha256"] == digest.hexdigest()


# === faults ===========================================================================


@pytest.mark.parametrize(
    ("target", "path", "shape"),
    [
        ("redox-upload", "/upload", "errorDetail"),
        ("claros", r"/patients/\d+/pdf/", "detail"),
        ("redcap", "/api/", "error"),
    ],
)
def test_status_fault_then_success(sb: Sandbox, target: str, path: str, shape: str) -> None:
    creds = sb.credentials
    token = oauth_token(sb)
    sb.add_fault(path, status=503, retry_after=3)

    def attempt() -> requests.Response:
        if target == "redox-upload":
            return upload_blob(sb, token, pdf_bytes())
        if target == "claros":
            return claros_upload(sb)
        return redcap_import(sb, creds["redcap_token"], pdf_bytes(), record="1", field="scan")

    failed = attempt()
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "3"
    assert shape in failed.json()
    assert attempt().status_code in (200, 201)
    assert sb.requests_log[-2]["status"] == 503


def test_redox_send_fault_uses_meta_errors(sb: Sandbox) -> None:
    token = oauth_token(sb)
    sb.add_fault("^/endpoint$", status=502, times=2)
    message = media_message(sb, base64.b64encode(pdf_bytes()).decode())
    for _ in range(2):
        reply = send(sb, token, message)
        assert reply.status_code == 502 and error_texts(reply)
    assert send(sb, token, message).status_code == 200


def test_fault_with_custom_body_and_method_filter(sb: Sandbox) -> None:
    sb.add_fault("/patients", method="GET", status=429, body={"detail": "slow down"}, headers={"X-A": "b"})
    assert claros_upload(sb).status_code == 201  # a POST does not match
    reply = requests.get(f"{sb.url}/patients", timeout=TIMEOUT)
    assert (reply.status_code, reply.json(), reply.headers["X-A"]) == (429, {"detail": "slow down"}, "b")
    sb.add_fault("/patients", method="GET", status=500)
    sb.clear_faults()
    assert requests.get(f"{sb.url}/patients", timeout=TIMEOUT).status_code == 401


@pytest.mark.parametrize("action", ["reset_before_body", "reset_mid_body", "reset_after_body"])
def test_connection_faults_raise_connection_error(sb: Sandbox, action: str) -> None:
    sb.add_fault(r"/pdf/$", action=action)
    with pytest.raises(requests.exceptions.ConnectionError):
        claros_upload(sb, data=pdf_bytes(1024 * 1024))
    assert sb.received() == []
    assert sb.requests_log[-1]["status"] is None
    assert claros_upload(sb).status_code == 201


def test_hang_causes_a_read_timeout_then_completes(sb: Sandbox) -> None:
    sb.add_fault(r"/pdf/$", action="hang", delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{sb.url}/patients/1001/pdf/",
            headers={"X-API-Key": "sandbox-claros-key"},
            data={"filename": "late.pdf"},
            files={"file": ("late.pdf", pdf_bytes())},
            timeout=(2, 0.2),
        )
    # The server goes on and stores it: the client's outcome is unknown, not failed.
    deadline = time.monotonic() + 3
    while not sb.received("claros") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["filename"] for e in sb.received("claros")] == ["late.pdf"]


def test_add_fault_rejects_nonsense(sb: Sandbox) -> None:
    with pytest.raises(ValueError):
        sb.add_fault("/upload")
    with pytest.raises(ValueError):
        sb.add_fault("/upload", action="explode")
    with pytest.raises(ValueError):
        sb.add_fault("(", status=500)


# === HTTP control routes ==============================================================


def test_http_control_routes(sb: Sandbox, creds: dict[str, Any]) -> None:
    control = f"{sb.url}/_sandbox"
    assert requests.get(f"{control}/credentials", timeout=TIMEOUT).json() == creds
    added = requests.post(
        f"{control}/faults", json={"path": "^/api/$", "status": 429, "retry_after": 1}, timeout=TIMEOUT
    )
    assert added.status_code == 201
    limited = redcap(sb, creds["redcap_token"], content="version")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    requests.post(f"{control}/faults", json={"path": "^/api/$", "status": 500}, timeout=TIMEOUT)
    assert requests.delete(f"{control}/faults", timeout=TIMEOUT).status_code == 200
    assert redcap(sb, creds["redcap_token"], content="version").status_code == 200
    bad = requests.post(f"{control}/faults", json={"path": "x", "colour": "red"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    bad = requests.post(f"{control}/faults", json={"status": 500}, timeout=TIMEOUT)
    assert bad.status_code == 400

    token = oauth_token(sb)
    assert requests.post(f"{control}/expire-tokens", timeout=TIMEOUT).json()["ok"] is True
    assert upload_blob(sb, token, pdf_bytes()).status_code == 401

    assert claros_upload(sb).status_code == 201
    received = requests.get(f"{control}/received", timeout=TIMEOUT).json()
    assert [e["target"] for e in received] == ["claros"]
    assert requests.get(f"{control}/received", params={"target": "redcap"}, timeout=TIMEOUT).json() == []
    assert requests.get(f"{control}/received", params={"target": "x"}, timeout=TIMEOUT).status_code == 400


def test_requests_log_holds_no_secrets(sb: Sandbox, creds: dict[str, Any]) -> None:
    token = oauth_token(sb)
    upload_blob(sb, token, pdf_bytes())
    redcap(sb, creds["redcap_token"], content="version")
    claros_upload(sb)
    log = sb.requests_log
    assert {tuple(sorted(e)) for e in log} == {("method", "path", "status", "target")}
    assert {e["target"] for e in log} == {"redox", "redcap", "claros"}
    text = json.dumps(log)
    for secret in (token, creds["redcap_token"], creds["claros_api_key"]):
        assert secret not in text


def test_connection_survives_an_early_rejection(sb: Sandbox) -> None:
    with requests.Session() as session:
        rejected = session.post(f"{sb.url}/upload", files={"file": ("a.pdf", pdf_bytes(200_000))})
        assert rejected.status_code == 401
        assert rejected.headers.get("Connection", "").lower() != "close"
        ok = session.post(
            f"{sb.url}/upload",
            headers=bearer(oauth_token(sb)),
            files={"file": ("a.pdf", pdf_bytes())},
            timeout=TIMEOUT,
        )
        assert ok.status_code == 201


def test_platform_environment_search_filters_pages_and_outcomes(sb: Sandbox) -> None:
    sb.log_settle_seconds = 0.0
    sb.set_delivery_outcome("filtered", message="Filtered by the EHR's rule 7.")
    contents = base64.b64encode(pdf_bytes()).decode()
    source = oauth_token(sb)
    log_ids = [send(sb, source, media_message(sb, contents)).json()["Meta"]["Logs"][0]["ID"]
               for _ in range(3)]
    sb.set_delivery_outcome("succeeded")
    platform = bearer(oauth_token(sb, client="sandbox-platform-key"))
    url = f"{sb.url}/platform/v1/environments/sandbox-env/logs/search/metadata"
    page1 = requests.post(url, headers=platform, params={"_count": 2}, json={}, timeout=TIMEOUT)
    assert page1.status_code == 200
    body = page1.json()
    assert set(body) == {"meta", "payload"} and len(body["payload"]["results"]) == 2
    cursor = body["meta"]["page"]["nextCursor"]
    page2 = requests.post(url, headers=platform, params={"_count": 2, "_cursor": cursor}, json={},
                          timeout=TIMEOUT).json()
    assert "nextCursor" not in page2["meta"]["page"]
    seen = [r["id"] for r in body["payload"]["results"] + page2["payload"]["results"]]
    assert sorted(seen) == sorted(log_ids)  # newest first, every log once
    latest = page2["payload"]["results"][0]["attempts"]["latest"]
    assert latest["status"] == "filtered" and latest["error"]["message"] == "Filtered by the EHR's rule 7."
    only = requests.post(url, headers=platform, json={"status": "succeeded"}, timeout=TIMEOUT).json()
    assert only["payload"]["results"] == []
    later = requests.post(url, headers=platform, json={"createdAfter": "2999-01-01T00:00:00.000Z"},
                          timeout=TIMEOUT).json()
    assert later["payload"]["results"] == []
    assert requests.post(url, headers=platform, params={"_count": 51}, json={},
                         timeout=TIMEOUT).status_code == 400
    assert requests.post(url, headers=platform, params={"_cursor": "x"}, json={},
                         timeout=TIMEOUT).status_code == 400
    assert requests.get(url, headers=platform, timeout=TIMEOUT).status_code == 405
    other = url.replace("sandbox-env", "another-env")
    assert requests.post(other, headers=platform, json={}, timeout=TIMEOUT).status_code == 403
    assert requests.post(url, headers=bearer(source), json={}, timeout=TIMEOUT).status_code == 403


def test_notes_new_is_accepted_and_validated(sb: Sandbox) -> None:
    contents = base64.b64encode(pdf_bytes()).decode()
    message = media_message(sb, contents)
    note = message.pop("Media")
    note.pop("Availability")
    message["Meta"]["DataModel"] = "Notes"
    message["Note"] = note
    reply = send(sb, oauth_token(sb), message)
    assert reply.status_code == 200, reply.text
    assert sb.received("redox")[-1]["data_model"] == "Notes"
    del message["Note"]["FileName"]
    bad = send(sb, oauth_token(sb), message)
    assert bad.status_code == 400
    assert "Required field missing - Note.FileName in Notes:New" in error_texts(bad)


def test_control_routes_for_delivery_outcome_and_redcap_swap(sb: Sandbox) -> None:
    ok = requests.post(f"{sb.url}/_sandbox/delivery-outcome", json={"status": "failed"},
                       timeout=TIMEOUT)
    assert ok.status_code == 200
    bad = requests.post(f"{sb.url}/_sandbox/delivery-outcome", json={"status": "lost"},
                        timeout=TIMEOUT)
    assert bad.status_code == 400
    assert requests.post(f"{sb.url}/_sandbox/redcap-swap", json={"times": 1},
                         timeout=TIMEOUT).status_code == 200
    data = pdf_bytes(seed=b"swap")
    token = sb.credentials["redcap_token"]
    assert redcap_import(sb, token, data, record="1", field="scan").status_code == 200
    [entry] = [r for r in sb.received("redcap") if r["record"] == "1" and r["field"] == "scan"]
    assert entry["swapped"] and entry["sha256"] != sha(data)
    export = redcap(sb, token, content="file", action="export", record="1", field="scan")
    assert export.status_code == 200 and sha(export.content) == entry["sha256"]
