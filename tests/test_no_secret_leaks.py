"""After real uploads with failures, no secret is anywhere on disk or in any output.

`uploader-gui send` runs as a subprocess against the sandbox with real credentials:
some files go, some fail (an unknown patient, another account's patient, injected 503s
that are retried, a cut connection, a bad token). Then every file under
UPLOADER_GUI_HOME (config, history, logs), and the captured stdout and stderr, are
searched for each secret. A second run turns on the app's log file at DEBUG level so
that the log search is not empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
EHR = "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"
WRONG_TOKEN = "ffffeeeeddddccccbbbbaaaa99998888"

# Runs the same entry point as `python -m uploader_gui`, with the log file on at DEBUG.
WITH_LOG = (
    "import logging, sys; "
    "from uploader_gui.core.logging_setup import configure_logging; "
    "configure_logging(logging.DEBUG); "
    "from uploader_gui.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


def run_send(args: list[str], env: dict[str, str], home: Path, with_log: bool):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    entry = ["-c", WITH_LOG] if with_log else ["-m", "uploader_gui"]
    return subprocess.run(
        [sys.executable, *entry, "send", "--retry-base", "0.01", "--retry-cap", "0.05",
         "--max-attempts", "3", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**clean, "UPLOADER_GUI_HOME": str(home), **env},
    )


def secret_variants(value: str) -> list[bytes]:
    """The value as it could land in a file: plain, and each long line of a PEM key."""
    out = {value.encode()}
    out.update(line.strip().encode() for line in value.splitlines() if len(line.strip()) >= 16)
    return sorted(out)


def assert_nowhere(secrets: list[str], home: Path, outputs: list[str]) -> int:
    files = [f for f in home.rglob("*") if f.is_file()]
    for secret in secrets:
        for needle in secret_variants(secret):
            for f in files:
                assert needle not in f.read_bytes(), f"a secret was written to {f}"
            for text in outputs:
                assert needle.decode() not in text, "a secret was printed"
    return len(files)


def test_no_secret_anywhere_after_uploads_with_failures(sandbox, tmp_path: Path) -> None:
    home = tmp_path / "home"
    creds = sandbox.credentials
    pdf = fm.good_pdf(tmp_path / "referral.pdf", pages=2)
    big = fm.good_pdf(tmp_path / "big-scan.pdf", pages=40)
    outputs: list[str] = []
    codes: list[int] = []

    def send(args: list[str], env: dict[str, str]) -> None:
        proc = run_send(args, env, home, with_log=True)
        outputs.extend([proc.stdout, proc.stderr])
        codes.append(proc.returncode)

    # Claros: a retried 503, then an unknown patient, another account's patient, a bad key.
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=503, retry_after=0, times=1)
    send(["--target", "claros", "--url", sandbox.url, "--patient", "1001", "--json", str(pdf)],
         {"UPLOADER_GUI_TOKEN": creds["claros_api_key"]})
    send(["--target", "claros", "--url", sandbox.url, "--patient", "999999", str(pdf)],
         {"UPLOADER_GUI_TOKEN": creds["claros_api_key"]})
    send(["--target", "claros", "--url", sandbox.url, "--patient",
          str(creds["claros_foreign_patient_id"]), "--json", str(pdf)],
         {"UPLOADER_GUI_TOKEN": creds["claros_api_key"]})
    send(["--target", "claros", "--url", sandbox.url, "--patient", "1001", str(pdf)],
         {"UPLOADER_GUI_TOKEN": "not-the-claros-key-123"})

    # REDCap (token in the body): 503s until attempts run out, a missing record, a bad token.
    sandbox.add_fault(r"^/api/$", status=503, times=3)
    send(["--target", "redcap", "--url", sandbox.url + "/api/", "--record", "1", "--field", "scan",
          "--json", str(pdf)], {"UPLOADER_GUI_TOKEN": creds["redcap_token"]})
    send(["--target", "redcap", "--url", sandbox.url + "/api/", "--record", "no-such-record",
          "--field", "scan", "--json", str(pdf)], {"UPLOADER_GUI_TOKEN": creds["redcap_token"]})
    send(["--target", "redcap", "--url", sandbox.url + "/api/", "--record", "1", "--field", "scan",
          str(pdf)], {"UPLOADER_GUI_TOKEN": WRONG_TOKEN})

    # Redox: legacy key and secret, a reset after the body, then a signed JWT with a blob
    # upload and a 503 on the message.
    legacy = {"UPLOADER_GUI_REDOX_KEY": creds["redox_api_key"],
              "UPLOADER_GUI_REDOX_SECRET": creds["redox_secret"]}
    sandbox.add_fault(r"^/endpoint$", action="reset_after_body", times=1)
    send(["--target", "redox", "--url", sandbox.url, "--auth", "legacy", "--patient", "MRN-0001",
          "--destination", EHR, "--json", str(pdf)], legacy)
    jwt_env = {"UPLOADER_GUI_REDOX_CLIENT_ID": creds["redox_client_id"],
               "UPLOADER_GUI_REDOX_KEY_ID": creds["redox_rsa_kid"],
               "UPLOADER_GUI_REDOX_PRIVATE_KEY": creds["redox_rsa_private_key"]}
    sandbox.add_fault(r"^/endpoint$", status=503, times=1)
    send(["--target", "redox", "--url", sandbox.url, "--patient", "MRN-0001",
          "--destination", EHR, "--json", str(big)], jwt_env)
    sandbox.clear_faults()

    assert 0 in codes and 1 in codes, outputs  # some went, some failed
    joined = "\n".join(outputs)
    assert "sent" in joined.lower() and "failed" in joined.lower()
    secrets = [creds["claros_api_key"], "not-the-claros-key-123", creds["redcap_token"], WRONG_TOKEN,
               creds["redox_api_key"], creds["redox_secret"],
               creds["redox_rsa_private_key"]]
    count = assert_nowhere(secrets, home, outputs)
    assert count >= 1  # at least the history
    # The runs above log to a file (WITH_LOG), and that file was searched too.
    logs = list(home.rglob("*.log"))
    assert logs and any(f.stat().st_size > 0 for f in logs), "the log file was not written"


def test_as_shipped_entry_point(sandbox, tmp_path: Path) -> None:
    """`python -m uploader_gui send` itself (history and all), a failure included."""
    home = tmp_path / "home"
    key = sandbox.credentials["claros_api_key"]
    pdf = fm.good_pdf(tmp_path / "letter.pdf")
    sandbox.add_fault(r"^/patients/1002/pdf/$", status=503, retry_after=0, times=1)
    ok = run_send(["--target", "claros", "--url", sandbox.url, "--patient", "1002", "--json",
                   str(pdf)], {"UPLOADER_GUI_TOKEN": key}, home, with_log=False)
    bad = run_send(["--target", "claros", "--url", sandbox.url, "--patient", "424242", str(pdf)],
                   {"UPLOADER_GUI_TOKEN": key}, home, with_log=False)
    sandbox.clear_faults()
    assert ok.returncode == 0 and bad.returncode == 1, ok.stderr + bad.stderr
    assert_nowhere([key], home, [ok.stdout, ok.stderr, bad.stdout, bad.stderr])
