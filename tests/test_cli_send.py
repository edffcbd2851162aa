"""`uploader-gui send` as a subprocess against the sandbox: exit codes, JSON, no secrets."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import filemaker as fm

REPO = Path(__file__).resolve().parent.parent
EHR = "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"



def send(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return subprocess.run(
        [sys.executable, "-m", "uploader_gui", "send", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**clean, "UPLOADER_GUI_HOME": str(home), **env},
    )


def rows(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_send_claros_converts_images_and_refuses_duplicates(sandbox, tmp_path: Path,
                                                             app_home: Path) -> None:
    good = fm.good_pdf(tmp_path / "letter.pdf")
    photo = fm.good_png(tmp_path / "photo.png")
    photo_bytes = photo.read_bytes()
    env = {"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}
    proc = send("--target", "claros", "--url", sandbox.url, "--patient", "1002", "--json",
                str(good), str(photo), env=env, home=app_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_name = {Path(r["path"]).name: r for r in rows(proc)}
    sent = by_name["letter.pdf"]
    assert sent["status"] == "verified" and sent["attempts"] == 1 and sent["remote_id"]
    assert set(sent) == {"path", "status", "remote_id", "url", "log_ids", "http_status",
                         "error", "attempts", "job_id", "verified", "proof", "patient"}
    assert (sent["verified"], sent["proof"]) == (True, "claros-receipt")
    stored = [r for r in sandbox.received("claros") if r["filename"] == "letter.pdf"]
    assert stored[-1]["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    # Claros takes PDF only: the PNG went as photo.pdf, a one-page PDF; the PNG is untouched.
    assert by_name["photo.png"]["status"] == "verified"  # the row names the user's own file
    [converted] = [r for r in sandbox.received("claros") if r["filename"] == "photo.pdf"]
    assert Path(converted["path"]).read_bytes().startswith(b"%PDF-")
    assert photo.read_bytes() == photo_bytes
    history = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                             capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "UPLOADER_GUI_HOME": str(app_home)})
    jobs = {j["name"]: j for j in map(json.loads, history.stdout.splitlines())}
    assert jobs["photo.pdf"]["sources"] == [
        {"path": str(photo), "sha256": hashlib.sha256(photo_bytes).hexdigest()}]
    assert jobs["photo.pdf"]["sha256"] == converted["sha256"]
    assert not Path(jobs["photo.pdf"]["path"]).exists()  # the temporary PDF was cleaned up
    assert "sandbox-claros-key" not in proc.stdout + proc.stderr

    # The same bytes to the same patient again: refused unless asked for.
    again = send("--target", "claros", "--url", sandbox.url, "--patient", "1002", "--json",
                 str(good), str(photo), env=env, home=app_home)
    assert again.returncode == 1
    assert all(r["status"] == "rejected" and "already sent to patient 1002" in r["error"]
               for r in rows(again))
    forced = send("--target", "claros", "--url", sandbox.url, "--patient", "1002", "--json",
                  "--allow-duplicate", str(good), env=env, home=app_home)
    assert forced.returncode == 0 and "already sent" in forced.stderr
    other = send("--target", "claros", "--url", sandbox.url, "--patient", "1003", "--json",
                 str(good), env=env, home=app_home)
    assert other.returncode == 0  # another patient is not a duplicate


def test_send_redcap_replace_needs_flag_and_keeps_a_backup(sandbox, tmp_path: Path,
                                                            app_home: Path) -> None:
    first, second = fm.good_pdf(tmp_path / "v1.pdf"), fm.good_jpeg(tmp_path / "v2.jpg")
    token = sandbox.credentials["redcap_longitudinal_token"]
    args = ("--target", "redcap", "--url", sandbox.url + "/api/", "--record", "102",
            "--field", "lab_report", "--event", "baseline_arm_1")
    env = {"UPLOADER_GUI_TOKEN": token}
    proc = send(*args, str(first), env=env, home=app_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 file(s) sent, 1 verified." in proc.stdout
    # The field now holds v1.pdf: a second file is refused, before anything is sent,
    # unless --replace is given.
    received = len(sandbox.received("redcap"))
    refused = send(*args, "--json", str(second), env=env, home=app_home)
    assert refused.returncode == 1
    [row] = rows(refused)
    assert row["status"] == "rejected" and row["attempts"] == 0
    assert "already holds “v1.pdf”" in row["error"] and "--replace" in row["error"]
    assert len(sandbox.received("redcap")) == received
    replaced = send(*args, "--json", "--replace", str(second), env=env, home=app_home)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    history = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                             capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "UPLOADER_GUI_HOME": str(app_home)})
    job = next(j for j in map(json.loads, history.stdout.splitlines())
               if j["name"] == "v2.jpg" and j["status"] == "verified")
    backup = Path(job["backup_path"])
    assert backup.read_bytes() == first.read_bytes()  # byte-identical to what was replaced
    assert "record-102_lab_report_baseline_arm_1" in backup.name
    assert backup.is_relative_to(app_home)
    assert token not in proc.stdout + refused.stdout + replaced.stdout + replaced.stderr
    many = send(*args, "--json", str(first), str(second), env=env, home=app_home)
    assert many.returncode == 1
    assert [r["status"] for r in rows(many)] == ["rejected", "rejected"]
    assert all("holds one file" in r["error"] for r in rows(many))


def test_send_redcap_wrong_event_rejected_before_sending(sandbox, tmp_path: Path, app_home) -> None:
    before = len(sandbox.received("redcap"))
    proc = send("--target", "redcap", "--url", sandbox.url + "/api/", "--record", "102",
                "--field", "lab_report", "--event", "week_4_arm_1", "--json",
                str(fm.good_pdf(tmp_path / "a.pdf")),
                env={"UPLOADER_GUI_TOKEN": sandbox.credentials["redcap_longitudinal_token"]},
                home=app_home)
    assert proc.returncode == 1
    assert rows(proc)[0]["status"] == "rejected"
    assert "not used in the event" in rows(proc)[0]["error"]
    assert len(sandbox.received("redcap")) == before


def test_send_redox_jwt(sandbox, tmp_path: Path, app_home: Path) -> None:
    c = sandbox.credentials
    proc = send("--target", "redox", "--url", sandbox.url, "--patient", "MRN-9",
                "--patient-id-type", "MR", "--destination", EHR, "--document-type", "Referral",
                "--json", str(fm.big_pdf(tmp_path / "scan.pdf", 250_000)),
                env={"UPLOADER_GUI_REDOX_CLIENT_ID": "sandbox-client",
                     "UPLOADER_GUI_REDOX_KEY_ID": "sandbox-ec",
                     "UPLOADER_GUI_REDOX_PRIVATE_KEY": c["redox_ec_private_key"]},
                home=app_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [row] = rows(proc)
    assert row["status"] == "sent" and len(row["log_ids"]) == 1 and row["url"]
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr


def test_send_failure_reports_server_message(sandbox, tmp_path: Path, app_home: Path) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=403,
                      body={"detail": "This patient belongs to another Claros account."})
    proc = send("--target", "claros", "--url", sandbox.url, "--patient", "1001", "--json",
                str(fm.good_pdf(tmp_path / "a.pdf")),
                env={"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}, home=app_home)
    assert proc.returncode == 1
    [row] = rows(proc)
    assert row["status"] == "failed" and row["http_status"] == 403
    assert "another Claros account" in row["error"]


def test_send_refuses_an_unknown_patient_before_sending(sandbox, tmp_path: Path,
                                                        app_home: Path) -> None:
    """2001 belongs to another account: this account's patient list does not name it."""
    before = len(sandbox.received("claros"))
    proc = send("--target", "claros", "--url", sandbox.url, "--patient", "2001", "--json",
                str(fm.good_pdf(tmp_path / "a.pdf")),
                env={"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}, home=app_home)
    assert proc.returncode == 1
    [row] = rows(proc)
    assert row["status"] == "rejected" and row["attempts"] == 0
    assert "Claros Health has no patient 2001" in row["error"]
    assert len(sandbox.received("claros")) == before


def test_send_usage_errors(sandbox, tmp_path: Path, app_home: Path) -> None:
    pdf = str(fm.good_pdf(tmp_path / "a.pdf"))
    no_creds = send("--target", "claros", "--url", sandbox.url, "--patient", "1", pdf,
                    env={}, home=app_home)
    assert no_creds.returncode == 2 and "UPLOADER_GUI_TOKEN" in no_creds.stderr
    no_url = send("--target", "claros", pdf, env={"UPLOADER_GUI_TOKEN": "k"}, home=app_home)
    assert no_url.returncode == 2
    no_profile = send("--profile", "front-desk", pdf, env={}, home=app_home)
    assert no_profile.returncode == 2 and "no profile named" in no_profile.stderr


def test_send_refuses_plain_http_to_another_host(tmp_path: Path, app_home: Path) -> None:
    proc = send("--target", "claros", "--url", "http://claros.example.org", "--patient", "1",
                "--json", str(fm.good_pdf(tmp_path / "a.pdf")),
                env={"UPLOADER_GUI_TOKEN": "k"}, home=app_home)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "does not use HTTPS" in proc.stderr


def redox_env(sandbox, platform: bool = True) -> dict[str, str]:
    c = sandbox.credentials
    env = {"UPLOADER_GUI_REDOX_CLIENT_ID": "sandbox-client", "UPLOADER_GUI_REDOX_KEY_ID": "sandbox-rsa",
           "UPLOADER_GUI_REDOX_PRIVATE_KEY": c["redox_rsa_private_key"]}
    if platform:
        env.update({"UPLOADER_GUI_REDOX_PLATFORM_ENV": c["redox_environment_id"],
                    "UPLOADER_GUI_REDOX_PLATFORM_CLIENT_ID": c["redox_platform_client_id"],
                    "UPLOADER_GUI_REDOX_PLATFORM_KEY": c["redox_rsa_private_key"]})
    return env


REDOX_ARGS = ("--patient", "MRN-5", "--patient-id-type", "MR", "--destination", EHR,
              "--document-type", "Referral", "--json")


def test_send_verify_exit_codes(sandbox, tmp_path: Path, app_home: Path) -> None:
    # Claros: the receipt proves it at once.
    ok = send("--target", "claros", "--url", sandbox.url, "--patient", "1001", "--verify",
              "--json", str(fm.good_pdf(tmp_path / "v-claros.pdf")),
              env={"UPLOADER_GUI_TOKEN": "sandbox-claros-key"}, home=app_home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    [row] = rows(ok)
    assert (row["status"], row["verified"], row["proof"]) == ("verified", True, "claros-receipt")
    # REDCap: the field holds a different file after the import: failed, exit 1.
    sandbox.swap_next_redcap_imports(1)
    try:
        bad = send("--target", "redcap", "--url", sandbox.url + "/api/", "--record", "101",
                   "--field", "scan_doc", "--event", "followup_arm_1", "--verify", "--json",
                   str(fm.good_pdf(tmp_path / "v-redcap.pdf")),
                   env={"UPLOADER_GUI_TOKEN": sandbox.credentials["redcap_longitudinal_token"]},
                   home=app_home)
    finally:
        sandbox.swap_next_redcap_imports(0)
    assert bad.returncode == 1
    [row] = rows(bad)
    assert row["status"] == "failed" and row["verified"] is False
    assert "REDCap holds a different file than the one sent" in row["error"]
    # Redox: pending, then succeeded while send waits.
    sandbox.log_settle_seconds = 1.0
    delivered = send("--target", "redox", "--url", sandbox.url, *REDOX_ARGS, "--verify",
                     "--verify-timeout", "60", str(fm.good_pdf(tmp_path / "v-redox.pdf")),
                     env=redox_env(sandbox), home=app_home)
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    [row] = rows(delivered)
    assert (row["status"], row["verified"], row["proof"]) == ("verified", True, "redox-logs-succeeded")
    assert "PRIVATE KEY" not in delivered.stdout + delivered.stderr
    # Redox: the delivery fails: exit 1, in Redox's words, naming the destination.
    sandbox.set_delivery_outcome("failed", EHR, "The EHR endpoint refused the document.")
    try:
        failed = send("--target", "redox", "--url", sandbox.url, *REDOX_ARGS, "--verify",
                      str(fm.good_pdf(tmp_path / "v-redox-f.pdf", pages=2)), env=redox_env(sandbox),
                      home=app_home)
    finally:
        sandbox.set_delivery_outcome("succeeded")
    assert failed.returncode == 1
    [row] = rows(failed)
    assert row["status"] == "failed" and row["proof"] == "redox-logs-failed"
    assert "The EHR endpoint refused the document." in row["error"] and "Sandbox EHR" in row["error"]
    # Redox: still pending when the time is up: accepted, not verified, exit 1.
    sandbox.log_settle_seconds = 3600.0
    try:
        late = send("--target", "redox", "--url", sandbox.url, *REDOX_ARGS, "--verify",
                    "--verify-timeout", "1", str(fm.good_pdf(tmp_path / "v-redox-late.pdf", pages=3)),
                    env=redox_env(sandbox), home=app_home)
    finally:
        sandbox.log_settle_seconds = 1.0
    assert late.returncode == 1
    [row] = rows(late)
    assert row["status"] == "sent" and row["verified"] is False and "not be verified" in row["error"]
    # Without Platform API settings nothing can prove a Redox delivery: exit 1 at once.
    blind = send("--target", "redox", "--url", sandbox.url, *REDOX_ARGS, "--verify",
                 str(fm.good_pdf(tmp_path / "v-redox-blind.pdf", pages=4)),
                 env=redox_env(sandbox, platform=False), home=app_home)
    assert blind.returncode == 1 and rows(blind)[0]["status"] == "sent"
    # And without --verify an accepted upload is success (exit 0), marked not verified.
    plain = send("--target", "redox", "--url", sandbox.url, *REDOX_ARGS,
                 str(fm.good_pdf(tmp_path / "v-redox-plain.pdf", pages=5)),
                 env=redox_env(sandbox, platform=False), home=app_home)
    assert plain.returncode == 0 and rows(plain)[0]["verified"] is False
    history = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                             capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "UPLOADER_GUI_HOME": str(app_home)})
    jobs = {j["name"]: j for j in map(json.loads, history.stdout.splitlines())}
    assert jobs["v-redox.pdf"]["verified"] is True and jobs["v-redox.pdf"]["proof"] == "redox-logs-succeeded"
    assert jobs["v-redox-f.pdf"]["status"] == "failed"
    assert all("verified" in j and "proof" in j for j in jobs.values())


def test_send_profile_with_backup_policy_replaces_and_keeps_a_byte_exact_backup(
        sandbox, tmp_path: Path, app_home: Path) -> None:
    """`redcap_overwrite = "backup"` in the profile: `send --profile` honours it (no --replace)."""
    from uploader_gui.core.profiles import Profile, save_profile_set
    from uploader_gui.core.targets import Credentials, Destination, TargetConfig

    save_profile_set([Profile(
        TargetConfig(kind="redcap", base_url=sandbox.url + "/api/", name="Study backup",
                     redcap_field="lab_report", redcap_event="baseline_arm_1",
                     redcap_overwrite="backup"),
        Credentials(), Destination(field="lab_report", event="baseline_arm_1"))])
    env = {"UPLOADER_GUI_TOKEN": sandbox.credentials["redcap_longitudinal_token"]}
    first, second = fm.good_pdf(tmp_path / "old.pdf"), fm.good_pdf(tmp_path / "new.pdf", pages=3)
    args = ("--profile", "Study backup", "--record", "101", "--field", "lab_report",
            "--event", "baseline_arm_1", "--json")
    one = send(*args, str(first), env=env, home=app_home)
    assert one.returncode == 0, one.stdout + one.stderr
    two = send(*args, str(second), env=env, home=app_home)
    assert two.returncode == 0, two.stdout + two.stderr
    history = subprocess.run([sys.executable, "-m", "uploader_gui", "history", "--json"],
                             capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "UPLOADER_GUI_HOME": str(app_home)})
    job = next(j for j in map(json.loads, history.stdout.splitlines()) if j["name"] == "new.pdf")
    assert job["status"] == "verified" and job["backup_path"]
    assert Path(job["backup_path"]).read_bytes() == first.read_bytes()
    [held] = [r for r in sandbox.received("redcap")
              if r.get("record") == "101" and r.get("field") == "lab_report"][-1:]
    assert held["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
