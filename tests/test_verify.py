"""Proven delivery over loopback: REDCap read-back, byte-checked backups, Redox delivery logs
in both Platform API shapes, Notes.New, Claros receipts, and rate-limit headers."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import filemaker as fm
import pytest
import requests

from uploader_gui.core.delivery import refresh_delivery, wait_for_delivery
from uploader_gui.core.dispatcher import Dispatcher
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import FAILED, SENT, VERIFIED, Job, sha256_of
from uploader_gui.core.outcome import UploadError, wait_hint
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.targets import Credentials, Destination, Document, Secret, TargetConfig, make_target
from uploader_gui.core.targets.base import DELIVERY_STATUS, VERIFY
from uploader_gui.core.targets.redcap import RedcapTarget

FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=3, retry_after_cap=3)
EHR = "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"
STORE = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
DESTINATIONS = [{"ID": EHR, "Name": "Sandbox EHR"}, {"ID": STORE, "Name": "Sandbox Document Store"}]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def doc(path: Path, kind: str = "pdf") -> Document:
    return Document(path=path, file_type=kind, size=path.stat().st_size)


@pytest.fixture(autouse=True)
def _reset_switches(sandbox):
    yield
    sandbox.log_settle_seconds = 1.0
    sandbox.set_delivery_outcome("succeeded")
    sandbox.swap_next_redcap_imports(0)


def run(history: HistoryStore, job: Job, creds: Credentials) -> Job:
    dispatcher = Dispatcher(history, lambda _j: creds, concurrency=1, policy=FAST)
    try:
        dispatcher.submit(job)
        assert job.id is not None
        ended = dispatcher.wait_job(job.id)
    finally:
        dispatcher.shutdown(cancel=False)
    assert ended is not None
    return ended


def make_job(path: Path, config: TargetConfig, destination: Destination) -> Job:
    return Job(path=str(path), name=path.name, size=path.stat().st_size, sha256=sha256_of(path),
               file_type="pdf", target=config.kind, destination=destination, target_config=config)


# --------------------------------------------------------------------------- REDCap


def redcap_config(sandbox) -> TargetConfig:
    return TargetConfig(kind="redcap", base_url=sandbox.url + "/api/", name="Study")


def redcap_creds(sandbox) -> Credentials:
    return Credentials(token=Secret(sandbox.credentials["redcap_token"]))


def redcap(sandbox) -> RedcapTarget:
    t = make_target(redcap_config(sandbox), redcap_creds(sandbox))
    assert isinstance(t, RedcapTarget)
    return t


def test_redcap_upload_is_verified_by_reading_it_back(sandbox, tmp_path: Path, app_home) -> None:
    pdf = fm.good_pdf(tmp_path / "consent-v.pdf", pages=2)
    history = HistoryStore()
    job = run(history, make_job(pdf, redcap_config(sandbox),
                                Destination(record="1", field="consent_form")), redcap_creds(sandbox))
    assert (job.status, job.verified, job.proof) == (VERIFIED, True, "redcap-readback-sha256")
    exports = [r for r in sandbox.requests_log if r["target"] == "redcap"]
    assert exports[-1]["status"] == 200  # the read-back came after the import
    assert job.to_json()["verified"] is True and job.to_json()["proof"] == "redcap-readback-sha256"
    history.close()


def test_redcap_different_file_after_import_fails_and_keeps_what_came_back(
        sandbox, tmp_path: Path, app_home) -> None:
    pdf = fm.good_pdf(tmp_path / "scan-swapped.pdf")
    sandbox.swap_next_redcap_imports(1)
    history = HistoryStore()
    job = run(history, make_job(pdf, redcap_config(sandbox), Destination(record="1", field="scan")),
              redcap_creds(sandbox))
    assert job.status == FAILED and not job.verified
    assert "REDCap holds a different file than the one sent" in (job.error or "")
    [stored] = [r for r in sandbox.received("redcap") if r["filename"] == "scan-swapped.pdf"]
    assert stored["swapped"] and stored["sha256"] != sha(pdf)
    kept = list((app_home / "data" / "backups").glob("retrieved_record-1_scan_*"))
    assert len(kept) == 1 and str(kept[0]) in (job.error or "")
    assert sha(kept[0]) == stored["sha256"]  # what REDCap holds, kept beside the backups
    assert kept[0].stat().st_mode & 0o777 == 0o600
    assert history.get(job.id).status == FAILED  # recorded
    history.close()


def test_redcap_export_refused_leaves_it_accepted_not_verified(sandbox, tmp_path: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "refused-export.pdf")
    t = redcap(sandbox)
    dest = Destination(record="2", field="consent_form")
    receipt = t.upload(doc(pdf), dest)
    sandbox.add_fault(r"^/api/$", status=403, body={"error": "You do not have Export rights"})
    proof = t.verify(doc(pdf), dest, receipt, sha(pdf))
    assert proof.verified is None and not proof.proof
    assert "You do not have Export rights" in proof.message and "not verified" in proof.message
    # Without the fault the same read-back proves it.
    assert t.verify(doc(pdf), dest, receipt, sha(pdf)).verified is True


def test_redcap_empty_field_after_a_200_is_not_a_success(sandbox, tmp_path: Path) -> None:
    """PyCap issue #156: a 200 with nothing uploaded. The read-back catches it."""
    pdf = fm.good_pdf(tmp_path / "vanished.pdf")
    t = redcap(sandbox)
    dest = Destination(record="3", field="scan")
    receipt = t.upload(doc(pdf), dest)
    # The file is gone again by the time it is read back (as if it never landed).
    gone = requests.post(sandbox.url + "/api/", timeout=10, data={
        "token": sandbox.credentials["redcap_token"], "content": "file", "action": "delete",
        "record": "3", "field": "scan", "returnFormat": "json"})
    assert gone.status_code == 200
    proof = t.verify(doc(pdf), dest, receipt, sha(pdf))
    assert proof.verified is False and "holds no file" in proof.message


@pytest.mark.parametrize(("record", "field", "reply", "words"), [
    ("2", "scan", "<!DOCTYPE html><html><body><form>Sign in to REDCap</form></body></html>",
     "web page"),
    ("3", "consent_form", {"error": "The export failed: the server is busy"}, "server is busy"),
    ("101", "scan_doc", "ERROR: Session expired", "Session expired"),
])
def test_backup_that_is_not_the_file_replaces_nothing(sandbox, tmp_path: Path, app_home,
                                                      record, field, reply, words) -> None:
    config = redcap_config(sandbox)
    token = "redcap_longitudinal_token" if record == "101" else "redcap_token"
    creds = Credentials(token=Secret(sandbox.credentials[token]))
    event = "baseline_arm_1" if record == "101" else None
    old = fm.good_pdf(tmp_path / f"old-{record}.pdf", pages=1)
    new = fm.good_pdf(tmp_path / f"new-{record}.pdf", pages=3)
    t = make_target(config, creds)
    assert isinstance(t, RedcapTarget)
    t.upload(doc(old), Destination(record=record, field=field, event=event))
    before = [r for r in sandbox.received("redcap") if r["filename"] == old.name]
    t2 = make_target(config, creds)
    assert isinstance(t2, RedcapTarget)
    t2.project()  # discovery first, so the fault meets the backup's export
    sandbox.add_fault(r"^/api/$", status=200, body=reply)
    with pytest.raises(UploadError) as info:
        t2.upload(doc(new), Destination(record=record, field=field, event=event, replace=True))
    assert "Nothing was replaced" in info.value.message and words in info.value.message
    assert not [r for r in sandbox.received("redcap") if r["filename"] == new.name]
    after = [r for r in sandbox.received("redcap") if r["filename"] == old.name]
    assert after == before and not after[0]["replaced"]  # the old file is still the field's
    assert not list((app_home / "data" / "backups").glob(f"record-{record}_*"))  # no fake backup
    # And with a real backup the overwrite goes ahead, the old bytes saved first.
    t2.upload(doc(new), Destination(record=record, field=field, event=event, replace=True))
    [saved] = list((app_home / "data" / "backups").glob(f"record-{record}_{field}_*"))
    assert saved.read_bytes() == old.read_bytes()


@pytest.mark.parametrize(("body", "text"), [
    ('<?xml version="1.0" encoding="UTF-8" ?>\n<hash>\n  <error>Token &amp; rights</error>\n</hash>',
     "Token & rights"),
    ("ERROR: The value of the parameter \"record\" is not valid", 'parameter "record" is not valid'),
    ({"error": "A JSON error"}, "A JSON error"),
])
def test_redcap_errors_in_every_format_are_shown(sandbox, tmp_path: Path, body, text) -> None:
    t = redcap(sandbox)
    t.project()
    sandbox.add_fault(r"^/api/$", status=400, body=body)
    with pytest.raises(UploadError) as info:
        t.upload(doc(fm.good_pdf(tmp_path / "x.pdf")), Destination(record="3", field="consent_form",
                                                                     replace=True))
    assert text in info.value.message


# --------------------------------------------------------------------------- Redox


def redox_config(sandbox, shape: str, **extra) -> TargetConfig:
    where = ({"platform_org_id": "sandbox-org"} if shape == "org"
             else {"platform_environment_id": "sandbox-env"})
    return TargetConfig(kind="redox", base_url=sandbox.url, blob_url=sandbox.url, auth="jwt",
                        client_id="sandbox-client", key_id="sandbox-rsa",
                        platform_client_id="sandbox-platform-key", destinations=DESTINATIONS,
                        name=f"Redox {shape}", **where, **extra)


def redox_creds(sandbox, platform: bool = True) -> Credentials:
    pem = sandbox.credentials["redox_rsa_private_key"]
    return Credentials(redox_private_key=Secret(pem), platform_key=Secret(pem) if platform else None)


REDOX_PATIENT = Destination(patient_id="MRN-77", patient_id_type="MR", document_type="Referral")


@pytest.mark.parametrize("shape", ["org", "env"])
@pytest.mark.parametrize(("outcome", "failing"), [
    ("succeeded", None), ("failed", STORE), ("failed", None), ("filtered", EHR)])
def test_redox_pending_then_final_in_both_platform_shapes(sandbox, tmp_path: Path, app_home,
                                                          shape, outcome, failing) -> None:
    config, creds = redox_config(sandbox, shape), redox_creds(sandbox)
    sandbox.log_settle_seconds = 3600.0
    if outcome != "succeeded":
        sandbox.set_delivery_outcome(outcome, failing, message="Destination answered 502 Bad Gateway")
    history = HistoryStore()
    pdf = fm.good_pdf(tmp_path / f"redox-{shape}-{outcome}.pdf")
    job = run(history, make_job(pdf, config, REDOX_PATIENT), creds)
    assert job.status == SENT and not job.verified and len(job.log_ids) == 2  # accepted only

    [polled] = refresh_delivery(history, lambda _j: creds, force=True)
    assert (polled.status, polled.delivery) == (SENT, "pending")
    sandbox.log_settle_seconds = 0.0
    [polled] = refresh_delivery(history, lambda _j: creds, force=True)
    row = history.get(job.id)
    if outcome == "succeeded":
        assert (row.status, row.verified, row.proof) == (VERIFIED, True, "redox-logs-succeeded")
    else:
        assert (row.status, row.verified, row.proof) == (FAILED, False, f"redox-logs-{outcome}")
        assert "Destination answered 502 Bad Gateway" in row.error
        if failing is not None:
            name = {EHR: "Sandbox EHR", STORE: "Sandbox Document Store"}[failing]
            assert f"to {name}" in row.error or f"for {name}" in row.error or name in row.error
    assert refresh_delivery(history, lambda _j: creds, force=True) == []  # final: not asked again
    history.close()


def test_environment_search_pages_with_a_cursor(sandbox, tmp_path: Path) -> None:
    """More than one page of logs (50 per page): the one asked for is found on a later page."""
    config, creds = redox_config(sandbox, "env"), redox_creds(sandbox)
    t = make_target(config, creds)
    first = t.upload(doc(fm.good_pdf(tmp_path / "first.pdf")), REDOX_PATIENT)
    for i in range(26):  # 52 more logs, newer than the first
        t.upload(doc(fm.good_pdf(tmp_path / f"more-{i}.pdf")), REDOX_PATIENT)
    sandbox.log_settle_seconds = 0.0
    status = t.delivery_status(first.log_ids[0], time.time() - 60)
    assert status.status == "succeeded" and status.destination == "Sandbox EHR"
    searches = [r for r in sandbox.requests_log if r["path"].endswith("/logs/search/metadata")]
    assert len(searches) >= 2  # it had to follow the cursor
    unknown = t.delivery_status("00000000-0000-0000-0000-000000000000")
    assert unknown.status == "pending"  # not (yet) in the logs: never a success


def test_redox_without_platform_settings_cannot_report_delivery(sandbox) -> None:
    t = make_target(redox_config(sandbox, "org"), redox_creds(sandbox, platform=False))
    assert not t.supports(DELIVERY_STATUS) and not t.supports(VERIFY)
    t2 = make_target(redox_config(sandbox, "env"), redox_creds(sandbox))
    assert t2.supports(DELIVERY_STATUS)


def test_wait_for_delivery_is_bounded(sandbox, tmp_path: Path, app_home) -> None:
    config, creds = redox_config(sandbox, "org"), redox_creds(sandbox)
    sandbox.log_settle_seconds = 3600.0
    history = HistoryStore()
    job = run(history, make_job(fm.good_pdf(tmp_path / "slow-delivery.pdf"), config, REDOX_PATIENT),
              creds)
    rounds: list[float] = []
    ended = wait_for_delivery(history, lambda _j: creds, [job.id], timeout=3600,
                              stop=lambda s: rounds.append(s) is None and len(rounds) >= 2)
    assert [j.status for j in ended] == [SENT] and len(rounds) == 2
    sandbox.log_settle_seconds = 0.0
    ended = wait_for_delivery(history, lambda _j: creds, [job.id], timeout=60, interval=0.05)
    assert [j.status for j in ended] == [VERIFIED]
    history.close()


def test_notes_new_carries_the_file_in_note(sandbox, tmp_path: Path, app_home) -> None:
    config = redox_config(sandbox, "org", redox_data_model="Notes")
    small = fm.good_pdf(tmp_path / "note-small.pdf")
    t = make_target(config, redox_creds(sandbox))
    message = t.document_message(doc(small), REDOX_PATIENT, "QUJD")
    assert message["Meta"]["DataModel"] == "Notes" and "Media" not in message
    assert {"FileContents", "FileName", "FileType", "DocumentType", "DocumentID"} <= set(message["Note"])
    history = HistoryStore()
    job = run(history, make_job(small, config, REDOX_PATIENT), redox_creds(sandbox))
    assert job.status == SENT
    [stored] = [r for r in sandbox.received("redox") if r["filename"] == "note-small.pdf"]
    assert stored["data_model"] == "Notes" and stored["document_id"] == job.document_id
    assert stored["sha256"] == sha(small)
    media = make_target(redox_config(sandbox, "org"), redox_creds(sandbox))
    assert media.document_message(doc(small), REDOX_PATIENT, "QUJD")["Meta"]["DataModel"] == "Media"
    history.close()


def test_redox_429_with_rate_limit_headers_waits_as_told(sandbox, tmp_path: Path) -> None:
    t = make_target(redox_config(sandbox, "org"), redox_creds(sandbox))
    sandbox.add_fault(r"^/endpoint$", status=429,
                      headers={"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "0",
                               "X-RateLimit-Reset": "2"})
    with pytest.raises(UploadError) as info:
        t.upload(doc(fm.good_pdf(tmp_path / "limited.pdf")), REDOX_PATIENT)
    assert info.value.http_status == 429 and info.value.retry_after == 2.0
    assert t.retry_decision(info.value) == "retry"
    assert wait_hint({"X-RateLimit-Reset": str(int(time.time()) + 30)}) == pytest.approx(30, abs=2)
    assert wait_hint({"Retry-After": "5", "X-RateLimit-Reset": "60"}) == 5.0
    assert wait_hint({}) is None


# --------------------------------------------------------------------------- Claros


def claros_config(sandbox) -> TargetConfig:
    return TargetConfig(kind="claros", base_url=sandbox.url, name="Claros")


CLAROS_CREDS = Credentials(token=Secret("sandbox-claros-key"))


def test_claros_receipt_for_the_same_patient_is_verified(sandbox, tmp_path: Path, app_home) -> None:
    history = HistoryStore()
    job = run(history, make_job(fm.good_pdf(tmp_path / "claros-ok.pdf"), claros_config(sandbox),
                                Destination(patient_id="1002")), CLAROS_CREDS)
    assert (job.status, job.verified, job.proof) == (VERIFIED, True, "claros-receipt")
    note = make_target(claros_config(sandbox), CLAROS_CREDS).lookup(Destination(patient_id="1002"))
    assert note is not None and "already holds a PDF" in note.note and "adds" in note.note
    history.close()


@pytest.mark.parametrize(("reply", "words"), [
    ({"id": "pdf_9001", "patient_id": 1003, "filename": "claros-who.pdf"}, "patient 1003"),
    ({"id": "pdf_9002", "patient_id": 1001, "filename": "renamed.pdf"}, "“renamed.pdf”"),
])
def test_claros_receipt_that_does_not_match_fails(sandbox, tmp_path: Path, app_home, reply,
                                                  words) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=201,
                      body={**reply, "url": "http://x/f.pdf", "created_at": "2026-01-01T00:00:00Z"})
    history = HistoryStore()
    job = run(history, make_job(fm.good_pdf(tmp_path / "claros-who.pdf"), claros_config(sandbox),
                                Destination(patient_id="1001")), CLAROS_CREDS)
    assert job.status == FAILED and job.proof == "claros-receipt" and not job.verified
    assert "does not match what was sent" in job.error and words in job.error
    history.close()


def test_tokens_are_renewed_a_minute_before_expires_in(tmp_path: Path) -> None:
    from uploader_gui.sandbox import Sandbox

    for ttl, renewed in ((300.0, False), (45.0, True)):
        with Sandbox(tmp_path / f"sb-{int(ttl)}", token_ttl=ttl) as sb:
            t = make_target(redox_config(sb, "org"), redox_creds(sb))
            first, second = t.token(), t.token()
            grants = [r for r in sb.requests_log if r["path"] == "/v2/auth/token"]
            # expires_in 300 s: the token is reused; 45 s (under the minute's margin): renewed.
            assert (first != second) is renewed and len(grants) == (2 if renewed else 1)
            t.close()


def test_redox_rate_limit_429_is_waited_out_from_its_headers(sandbox, tmp_path: Path) -> None:
    """The sandbox's own limit (no Retry-After, only X-RateLimit-*): the retry waits and works."""
    from uploader_gui.core.retry import deliver

    t = make_target(redox_config(sandbox, "org"), redox_creds(sandbox))
    t.token()
    sandbox.set_redox_rate_limit(1, 1.5)  # one request per 1.5 s
    try:
        first = deliver(t, doc(fm.good_pdf(tmp_path / "rate-1.pdf")), REDOX_PATIENT, FAST)
        second = deliver(t, doc(fm.good_pdf(tmp_path / "rate-2.pdf", pages=2)), REDOX_PATIENT, FAST)
    finally:
        sandbox.set_redox_rate_limit()
    assert first.status == "sent" and len(first.attempts) == 1
    assert second.status == "sent" and second.attempts[0].http_status == 429
    assert second.attempts[0].decision == "retry" and second.attempts[-1].http_status == 200
