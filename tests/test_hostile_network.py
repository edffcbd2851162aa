"""Servers that misbehave on purpose: a reply trickled a byte at a time, a 401 that echoes
the key, and file names that try to climb out of the server's folder."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import filemaker as fm
import pytest

from uploader_gui.core.logging_setup import SECRET_MARK, register_secret, scrub_secrets
from uploader_gui.core.retry import RetryPolicy, deliver
from uploader_gui.core.targets import Credentials, Destination, Document, Secret, TargetConfig, make_target
from uploader_gui.core.targets.base import upload_file_name
from uploader_gui.core.transport import NETWORK, Transport, UploadError

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=3, retry_after_cap=1)
EHR = "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"


def doc(path: Path, **kw) -> Document:
    return Document(path=path, file_type="pdf", size=path.stat().st_size, **kw)


def quick_transport() -> Transport:
    # Read timeout far above the trickle's byte gap: only the overall deadline can end it.
    return Transport(connect_timeout=5, read_timeout=30, response_deadline=2.0)


# --------------------------------------------------------------------------- trickle


def test_trickle_fault_sends_one_byte_at_a_time(sandbox) -> None:
    sandbox.add_fault(r"^/patients/", method="GET", action="trickle", delay=0.3, status=404)
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /patients/1001/files HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(100)
        second = s.recv(100)
    assert first == b"H" and second == b"T"


def test_trickled_answer_to_an_upload_ends_at_the_deadline_as_unknown(sandbox, tmp_path) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="trickle", delay=1.0, times=5)
    target = make_target(TargetConfig(kind="claros", base_url=sandbox.url),
                         Credentials(token=Secret("sandbox-claros-key")), quick_transport())
    began = time.monotonic()
    result = deliver(target, doc(fm.good_pdf(tmp_path / "slow.pdf")),
                     Destination(patient_id="1001"), FAST)
    # Claros once the body is sent: unknown, never retried (it could duplicate).
    assert result.status == "unknown" and len(result.attempts) == 1
    assert "seconds to answer" in result.error.message
    assert time.monotonic() - began < 60  # bounded; the fault alone would take minutes


def test_trickled_answer_to_a_small_request_is_a_network_error(sandbox) -> None:
    sandbox.add_fault(r"^/api/$", action="trickle", delay=1.0)
    target = make_target(
        TargetConfig(kind="redcap", base_url=sandbox.url + "/api/"),
        Credentials(token=Secret(sandbox.credentials["redcap_token"])), quick_transport())
    with pytest.raises(UploadError) as info:
        target.project()
    assert info.value.kind == NETWORK and "seconds to answer" in info.value.message


# --------------------------------------------------------------------------- scrubbing


def test_scrub_covers_raw_url_encoded_and_base64_forms() -> None:
    key = "k3y/with+odd=chars&more"
    register_secret(key)
    b64 = base64.b64encode(key.encode()).decode()
    text = f"bad key {key}; sent {quote(key, safe='')}; b64 {b64}; url-b64 " + \
        base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    cleaned = scrub_secrets(text)
    assert key not in cleaned and quote(key, safe="") not in cleaned and b64 not in cleaned
    assert cleaned.count(SECRET_MARK) == 4


def test_every_secret_object_is_scrubbed_from_upload_errors() -> None:
    secret = Secret("fresh-secret-value-1234")
    err = UploadError("auth", f"Server said: {secret.reveal()}",
                      server_message=f"Invalid credentials: {secret.reveal()}")
    assert "fresh-secret-value-1234" not in err.message + (err.server_message or "") + str(err)


def _send(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return subprocess.run([sys.executable, "-m", "uploader_gui", "send", "--json",
                           "--max-attempts", "1", *args],
                          capture_output=True, text=True, timeout=90, cwd=REPO,
                          env={**clean, "UPLOADER_GUI_HOME": str(home), **env})


def _everything_written(home: Path) -> bytes:
    out = b""
    for path in home.rglob("*"):
        if path.is_file():
            out += path.read_bytes()
    return out


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, quote(secret, safe=""), base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")]


@pytest.mark.parametrize("kind", ["claros", "redcap", "redox"])
def test_a_401_that_echoes_the_key_leaks_it_nowhere(kind, sandbox, tmp_path, app_home) -> None:
    creds = sandbox.credentials
    pdf = fm.good_pdf(tmp_path / "echo.pdf")
    if kind == "claros":
        sandbox.add_fault(r"^/patients/1001/pdf/$", action="echo_credentials")
        secrets = [creds["claros_api_key"]]
        env = {"UPLOADER_GUI_TOKEN": secrets[0]}
        args = ["--target", "claros", "--url", sandbox.url, "--patient", "1001"]
    elif kind == "redcap":
        sandbox.add_fault(r"^/api/$", action="echo_credentials", times=5)
        secrets = [creds["redcap_token"]]
        env = {"UPLOADER_GUI_TOKEN": secrets[0]}
        args = ["--target", "redcap", "--url", sandbox.url + "/api/", "--record", "1",
                "--field", "scan"]
    else:
        sandbox.add_fault(r"^/auth/authenticate$", action="echo_credentials")
        secrets = [creds["redox_api_key"], creds["redox_secret"]]
        env = {"UPLOADER_GUI_REDOX_KEY": secrets[0], "UPLOADER_GUI_REDOX_SECRET": secrets[1]}
        args = ["--target", "redox", "--url", sandbox.url, "--auth", "legacy",
                "--patient", "MRN-0001", "--destination", EHR]
    proc = _send(app_home, env, *args, str(pdf))
    assert proc.returncode != 0
    shown = proc.stdout + proc.stderr
    assert "Invalid credentials" in shown or "[secret]" in shown, shown
    stored = _everything_written(app_home)
    assert b"history.sqlite3" not in stored  # sanity: we read the files, not their names
    assert (app_home / "data" / "history.sqlite3").exists()
    for secret in secrets:
        for form in _forms(secret):
            assert form not in shown, (form, shown)
            assert form.encode() not in stored, form
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert rows and all(r["status"] != "sent" for r in rows)


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize("name, expected", [
    ("..\\..\\..\\evil.pdf", "evil.pdf"),
    ("../../etc/evil.pdf", "evil.pdf"),
    ("C:\\scans\\today\\a.pdf", "a.pdf"),
    ("C:a.pdf", "a.pdf"),
    ("bad\x00na\x1bme\r\n.pdf", "badname.pdf"),
    ("\u202eevil\u202c.pdf", "evil.pdf"),
    (".pdf", "document.pdf"),
    ("..", "document"),
    ("report.final.PDF", "report.final.PDF"),
])
def test_upload_file_name_is_a_base_name(name: str, expected: str) -> None:
    assert upload_file_name(name) == expected


@pytest.mark.parametrize("kind", ["claros", "redcap", "redox"])
def test_windows_separators_never_reach_a_server(kind, sandbox, tmp_path) -> None:
    creds = sandbox.credentials
    evil = tmp_path / "..\\..\\..\\evil.pdf"  # one file whose name holds backslashes
    fm.good_pdf(evil)
    if kind == "claros":
        target = make_target(TargetConfig(kind="claros", base_url=sandbox.url),
                             Credentials(token=Secret(creds["claros_api_key"])))
        dest = Destination(patient_id="1001")
    elif kind == "redcap":
        target = make_target(TargetConfig(kind="redcap", base_url=sandbox.url + "/api/"),
                             Credentials(token=Secret(creds["redcap_token"])))
        dest = Destination(record="1", field="scan", replace=True)
    else:
        target = make_target(
            TargetConfig(kind="redox", base_url=sandbox.url, blob_url=sandbox.url, auth="legacy"),
            Credentials(redox_api_key=Secret(creds["redox_api_key"]),
                        redox_secret=Secret(creds["redox_secret"])))
        dest = Destination(patient_id="MRN-0001", patient_id_type="MR", destinations=[EHR],
                           document_type="Clinical Document")
    before = {r.get("filename") for r in sandbox.received(kind)}
    target.upload(doc(evil), dest)
    names = [r.get("filename") for r in sandbox.received(kind)]
    assert "evil.pdf" in names
    assert not any(n and ("\\" in n or "/" in n) for n in names if n not in before)
