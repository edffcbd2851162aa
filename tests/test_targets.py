"""The three target clients against the project's sandbox, over real loopback HTTP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.core.retry import RetryPolicy, deliver
from uploader_gui.core.targets import (
    Credentials,
    Destination,
    Document,
    Secret,
    TargetConfig,
    make_target,
)
from uploader_gui.core.targets.redcap import RedcapTarget
from uploader_gui.core.targets.redox import INLINE_LIMIT, RedoxTarget
from uploader_gui.core.transport import (
    AUTH,
    CONFIG,
    NOT_FOUND,
    REJECTED,
    TOO_LARGE,
    Transport,
    UploadError,
    require_secure_url,
)
from uploader_gui.sandbox import Sandbox

FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=4, retry_after_cap=3)
EHR = "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"
STORE = "7c9e6679-7425-40de-944b-e07fc1f90ae7"




def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def doc(path: Path, kind: str = "pdf") -> Document:
    return Document(path=path, file_type=kind, size=path.stat().st_size)


def received(sandbox, target: str, name: str) -> list[dict]:
    return [r for r in sandbox.received(target) if r["filename"] == name]


# --------------------------------------------------------------------------- Claros


def claros(sandbox, key: str = "sandbox-claros-key", **cfg):
    return make_target(TargetConfig(kind="claros", base_url=sandbox.url, **cfg),
                       Credentials(token=Secret(key)))


def test_claros_upload_is_byte_exact(sandbox, tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "claros-ok.pdf", pages=3)
    seen = []
    receipt = claros(sandbox).upload(doc(path), Destination(patient_id="1001"),
                                     progress=lambda s, t: seen.append((s, t)))
    assert receipt.remote_id and receipt.remote_id.startswith("pdf_")
    assert receipt.url and receipt.http_status in (200, 201)
    assert receipt.extra["patient_id"] == 1001
    [stored] = received(sandbox, "claros", "claros-ok.pdf")
    assert stored["sha256"] == sha(path) and stored["patient_id"] == 1001
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the whole body


@pytest.mark.parametrize(("patient", "key", "kind", "status", "words"), [
    ("1001", "wrong-key", AUTH, 401, "refused the API key"),
    ("2001", "sandbox-claros-key", AUTH, 403, "belongs to another Claros account"),
    ("4242", "sandbox-claros-key", NOT_FOUND, 404, "no patient with ID 4242"),
])
def test_claros_errors(sandbox, tmp_path: Path, patient, key, kind, status, words) -> None:
    path = fm.good_pdf(tmp_path / "e.pdf")
    with pytest.raises(UploadError) as info:
        claros(sandbox, key).upload(doc(path), Destination(patient_id=patient))
    err = info.value
    assert err.http_status == status and words in err.message
    assert err.kind == kind
    assert err.server_message  # the server's own words are kept
    assert "wrong-key" not in str(err) and "sandbox-claros-key" not in str(err)


def test_claros_400_for_non_pdf_and_bad_name(sandbox, tmp_path: Path) -> None:
    png = fm.good_png(tmp_path / "disguised.png")
    t = claros(sandbox)
    bad = Document(path=png, file_type="pdf", size=png.stat().st_size, upload_name="disguised.pdf")
    with pytest.raises(UploadError) as info:
        t.upload(bad, Destination(patient_id="1001"))
    assert info.value.http_status == 400 and "Claros said:" in info.value.message
    pdf = fm.good_pdf(tmp_path / "x.pdf")
    misnamed = Document(path=pdf, file_type="pdf", size=pdf.stat().st_size, upload_name="x.txt")
    with pytest.raises(UploadError) as info:
        t.upload(misnamed, Destination(patient_id="1001"))
    assert info.value.http_status == 400


def test_claros_413_over_the_server_limit(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", claros_limit=50_000) as small:
        path = fm.big_pdf(tmp_path / "big.pdf", 120_000)
        with pytest.raises(UploadError) as info:
            claros(small).upload(doc(path), Destination(patient_id="1001"))
    assert info.value.kind == TOO_LARGE and info.value.http_status == 413


def test_claros_checks_before_sending(sandbox, tmp_path: Path) -> None:
    t = claros(sandbox)
    png = fm.good_png(tmp_path / "photo.png")
    problems = t.check(doc(png, "png"), Destination(patient_id="12a"))
    assert any("whole number" in p for p in problems)
    assert any("PDF files only" in p for p in problems)
    assert t.check(doc(fm.good_pdf(tmp_path / "a.pdf")), Destination(patient_id=" 1001 ")) == []


def test_claros_500_after_body_is_unknown_and_not_resent(sandbox, tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "maybe.pdf")
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=500, times=3)
    result = deliver(claros(sandbox), doc(path), Destination(patient_id="1001"), FAST)
    assert result.status == "unknown" and len(result.attempts) == 1


def test_claros_503_twice_then_sent(sandbox, tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "retry.pdf")
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=503, times=2)
    result = deliver(claros(sandbox), doc(path), Destination(patient_id="1001"), FAST)
    assert result.status == "sent" and len(result.attempts) == 3
    assert [a.http_status for a in result.attempts] == [503, 503, result.receipt.http_status]
    assert len(received(sandbox, "claros", "retry.pdf")) == 1


def test_claros_test_connection(sandbox) -> None:
    assert "accepted" in claros(sandbox).test_connection()
    with pytest.raises(UploadError):
        claros(sandbox, "nope").test_connection()


# --------------------------------------------------------------------------- REDCap


def redcap(sandbox, token_key: str = "redcap_token", token: str | None = None) -> RedcapTarget:
    t = make_target(TargetConfig(kind="redcap", base_url=sandbox.url + "/api/"),
                    Credentials(token=Secret(token or sandbox.credentials[token_key])))
    assert isinstance(t, RedcapTarget)
    return t


def test_redcap_classic_import_empty_200(sandbox, tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "consent-1.pdf")
    t = redcap(sandbox)
    dest = Destination(record="1", field="consent_form")
    assert t.prepare(dest) == []
    receipt = t.upload(doc(path), dest)
    assert receipt.http_status == 200 and receipt.server_message == ""
    [stored] = received(sandbox, "redcap", "consent-1.pdf")
    assert stored["sha256"] == sha(path)
    assert (stored["record"], stored["field"]) == ("1", "consent_form")


def test_redcap_discovery_lists_file_fields_without_signatures(sandbox) -> None:
    proj = redcap(sandbox).project()
    assert not proj.longitudinal
    assert sorted(proj.file_fields) == ["consent_form", "scan"]
    assert "signature" in proj.signature_fields
    lproj = redcap(sandbox, "redcap_longitudinal_token").project()
    assert lproj.longitudinal
    assert lproj.events_for("scan_doc") == ["baseline_arm_1", "followup_arm_1"]
    assert "sig" not in lproj.file_fields


def test_redcap_longitudinal_event_rules(sandbox, tmp_path: Path) -> None:
    t = redcap(sandbox, "redcap_longitudinal_token")
    missing = t.prepare(Destination(record="101", field="scan_doc"))
    assert missing and "choose the event" in missing[0]
    wrong = t.prepare(Destination(record="101", field="scan_doc", event="week_4_arm_1"))
    assert wrong and "not used in the event" in wrong[0]
    unknown = t.prepare(Destination(record="101", field="scan_doc", event="nope_arm_1"))
    assert unknown and "not an event" in unknown[0]
    dest = Destination(record="101", field="scan_doc", event="followup_arm_1", repeat_instance=2)
    assert t.prepare(dest) == []
    path = fm.good_png(tmp_path / "followup.png")
    t.upload(doc(path, "png"), dest)
    [stored] = received(sandbox, "redcap", "followup.png")
    assert (stored["event"], int(stored["repeat_instance"])) == ("followup_arm_1", 2)
    assert stored["sha256"] == sha(path)


def test_redcap_server_errors_are_shown_verbatim(sandbox, tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "x.pdf")
    t = redcap(sandbox, "redcap_longitudinal_token")
    # Sent anyway (bypassing our own checks) so that REDCap's message is what we see.
    with pytest.raises(UploadError) as info:
        t.upload(doc(path), Destination(record="101", field="scan_doc", event="week_4_arm_1"))
    assert info.value.kind == REJECTED and info.value.http_status == 400
    assert info.value.server_message and info.value.server_message in info.value.message
    with pytest.raises(UploadError) as info:
        redcap(sandbox).upload(doc(path), Destination(record="1", field="notes"))
    assert info.value.server_message in info.value.message


def test_redcap_field_and_record_checks(sandbox) -> None:
    t = redcap(sandbox)
    assert "signature field" in t.prepare(Destination(record="1", field="signature"))[0]
    assert "not a file-upload field" in t.prepare(Destination(record="1", field="notes"))[0]
    assert "not a field" in t.prepare(Destination(record="1", field="nope"))[0]
    assert "no record “999”" in t.prepare(Destination(record="999", field="scan"))[0]


def test_redcap_bad_token(sandbox, tmp_path: Path) -> None:
    t = redcap(sandbox, token="0" * 32)
    with pytest.raises(UploadError) as info:
        t.test_connection()
    assert info.value.kind == AUTH and "permissions" in info.value.message
    assert "0" * 32 not in info.value.message


def test_redcap_reset_mid_body_is_retried(sandbox, tmp_path: Path) -> None:
    path = fm.big_pdf(tmp_path / "reset.pdf", 400_000)
    t = redcap(sandbox)
    t.project()  # discovery first, so the fault hits the upload
    sandbox.add_fault(r"^/api/?$", action="reset_mid_body", times=1)
    result = deliver(t, doc(path), Destination(record="2", field="scan"), FAST)
    assert result.status == "sent" and len(result.attempts) == 2
    assert received(sandbox, "redcap", "reset.pdf")[-1]["sha256"] == sha(path)


def test_redcap_test_connection(sandbox) -> None:
    text = redcap(sandbox, "redcap_longitudinal_token").test_connection()
    assert "longitudinal" in text and "file-upload field" in text


# --------------------------------------------------------------------------- Redox


def redox(sandbox, auth: str = "jwt", kid: str = "sandbox-rsa", **cfg) -> RedoxTarget:
    c = sandbox.credentials
    if auth == "jwt":
        pem = c["redox_rsa_private_key"] if kid == "sandbox-rsa" else c["redox_ec_private_key"]
        creds = Credentials(redox_private_key=Secret(pem))
    else:
        creds = Credentials(redox_api_key=Secret(c["redox_api_key"]),
                            redox_secret=Secret(c["redox_secret"]))
    config = TargetConfig(kind="redox", base_url=sandbox.url, blob_url=sandbox.url, auth=auth,
                          client_id="sandbox-client", key_id=kid,
                          destinations=[{"ID": EHR, "Name": "Sandbox EHR"}], **cfg)
    t = make_target(config, creds)
    assert isinstance(t, RedoxTarget)
    return t


PATIENT = Destination(patient_id="MRN-001", patient_id_type="MR", document_type="Referral")


@pytest.mark.parametrize("kid", ["sandbox-rsa", "sandbox-ec"])
def test_redox_jwt_inline_and_blob(sandbox, tmp_path: Path, kid: str) -> None:
    t = redox(sandbox, kid=kid)
    small = fm.good_pdf(tmp_path / f"small-{kid}.pdf")
    big = fm.big_pdf(tmp_path / f"big-{kid}.pdf", INLINE_LIMIT + 10_000)
    r1 = t.upload(doc(small), PATIENT)
    r2 = t.upload(doc(big), Destination(**{**PATIENT.__dict__, "destinations": [EHR, STORE]}))
    assert r1.extra["mode"] == "inline" and r2.extra["mode"] == "blob"
    assert len(r1.log_ids) == 1 and len(r2.log_ids) == 2
    assert r2.url and r2.url.startswith(sandbox.url)
    for path in (small, big):
        docs = [r for r in sandbox.received("redox") if r["filename"] == path.name]
        assert docs and docs[-1]["sha256"] == sha(path)


def test_redox_legacy_auth(sandbox, tmp_path: Path) -> None:
    t = redox(sandbox, auth="legacy")
    receipt = t.upload(doc(fm.good_jpeg(tmp_path / "legacy.jpg"), "jpeg"), PATIENT)
    assert receipt.log_ids
    assert "legacy API key" in t.test_connection()


def test_redox_renews_token_after_401(sandbox, tmp_path: Path) -> None:
    t = redox(sandbox)
    t.upload(doc(fm.good_pdf(tmp_path / "first.pdf")), PATIENT)
    before = sum(1 for r in sandbox.requests_log if r["path"] == "/v2/auth/token")
    sandbox.expire_tokens()
    t.upload(doc(fm.good_pdf(tmp_path / "second.pdf")), PATIENT)
    after = sum(1 for r in sandbox.requests_log if r["path"] == "/v2/auth/token")
    assert after == before + 1
    statuses = [r["status"] for r in sandbox.requests_log if r["path"] == "/endpoint"]
    assert statuses[-2:] == [401, 200]


def test_redox_bad_key_is_an_auth_error(sandbox) -> None:
    t = redox(sandbox)
    t.config.client_id = "someone-else"
    with pytest.raises(UploadError) as info:
        t.test_connection()
    assert info.value.kind == AUTH
    assert "PRIVATE KEY" not in str(info.value)


def test_redox_unknown_destination_shows_meta_errors(sandbox, tmp_path: Path) -> None:
    t = redox(sandbox)
    bad = Destination(**{**PATIENT.__dict__, "destinations": ["00000000-0000-0000-0000-000000000000"]})
    with pytest.raises(UploadError) as info:
        t.upload(doc(fm.good_pdf(tmp_path / "d.pdf")), bad)
    assert info.value.http_status == 400
    assert info.value.server_message and info.value.server_message in info.value.message


def test_redox_blob_413(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", redox_limit=300_000) as small:
        t = redox(small)
        path = fm.big_pdf(tmp_path / "big.pdf", 400_000)
        with pytest.raises(UploadError) as info:
            t.upload(doc(path), PATIENT)
    assert info.value.kind == TOO_LARGE and info.value.http_status == 413


def test_redox_5xx_retried_with_the_same_document_id(sandbox, tmp_path: Path) -> None:
    t = redox(sandbox)
    d = doc(fm.good_pdf(tmp_path / "five.pdf"))
    sandbox.add_fault(r"^/endpoint$", status=502, times=1)
    result = deliver(t, d, PATIENT, FAST)
    assert result.status == "sent" and len(result.attempts) == 2
    docs = [r for r in sandbox.received("redox") if r["filename"] == "five.pdf"]
    assert len(docs) == 1 and docs[0]["document_id"] == d.document_id


def test_redox_checks(sandbox, tmp_path: Path) -> None:
    t = redox(sandbox)
    t.config.destinations = []
    problems = t.check(doc(fm.good_pdf(tmp_path / "a.pdf")), Destination())
    assert any("patient" in p for p in problems) and any("destination" in p for p in problems)


# --------------------------------------------------------------------------- transport


def test_https_required_except_loopback() -> None:
    for ok in ("https://api.redoxengine.com", "http://127.0.0.1:8080/api/", "http://localhost/",
               "http://[::1]:9/"):
        require_secure_url(ok)
    for bad in ("http://redcap.example.edu/api/", "http://10.0.0.5/", "ftp://x/", "redcap"):
        with pytest.raises(UploadError) as info:
            require_secure_url(bad)
        assert info.value.kind == CONFIG and not info.value.reached_server


def test_redirects_are_not_followed(sandbox, tmp_path: Path) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", status=307,
                      headers={"Location": "https://elsewhere.example/upload"})
    with pytest.raises(UploadError) as info:
        claros(sandbox).upload(doc(fm.good_pdf(tmp_path / "r.pdf")), Destination(patient_id="1001"))
    assert info.value.http_status == 307 and "never follow redirects" in info.value.message


def test_connection_refused_is_network_and_retryable(tmp_path: Path) -> None:
    t = make_target(TargetConfig(kind="claros", base_url="http://127.0.0.1:9"),
                    Credentials(token=Secret("k")), Transport(connect_timeout=2))
    with pytest.raises(UploadError) as info:
        t.upload(doc(fm.good_pdf(tmp_path / "n.pdf")), Destination(patient_id="1"))
    assert info.value.kind == "network" and not info.value.reached_server
    assert t.retry_decision(info.value) == "retry"


def test_cancel_during_upload(sandbox, tmp_path: Path) -> None:
    path = fm.big_pdf(tmp_path / "cancel.pdf", 2_000_000)
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result = deliver(claros(sandbox), doc(path), Destination(patient_id="1001"), FAST,
                     cancelled=cancelled)
    assert result.status == "cancelled" and len(result.attempts) == 1
    assert not received(sandbox, "claros", "cancel.pdf")


def test_read_timeout_on_claros_is_unknown(sandbox, tmp_path: Path) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=2.0)
    t = make_target(TargetConfig(kind="claros", base_url=sandbox.url),
                    Credentials(token=Secret("sandbox-claros-key")),
                    Transport(read_timeout=0.5))
    result = deliver(t, doc(fm.good_pdf(tmp_path / "slow.pdf")), Destination(patient_id="1001"), FAST)
    assert result.status == "unknown" and len(result.attempts) == 1


def test_redox_delivery_status_pending_then_succeeded(sandbox, tmp_path: Path, app_home) -> None:
    from uploader_gui.core.delivery import refresh_delivery
    from uploader_gui.core.history import HistoryStore
    from uploader_gui.core.jobs import Job, sha256_of

    c = sandbox.credentials
    t = redox(sandbox, platform_org_id="sandbox-org", platform_client_id="sandbox-platform-key")
    t.credentials.platform_key = Secret(c["redox_rsa_private_key"])
    pdf = fm.good_pdf(tmp_path / "delivered.pdf")
    receipt = t.upload(doc(pdf), Destination(**{**PATIENT.__dict__, "destinations": [EHR, STORE]}))
    assert t.delivery_status(receipt.log_ids[0]).status == "pending"

    store = HistoryStore()
    job = Job(path=str(pdf), name=pdf.name, size=pdf.stat().st_size, sha256=sha256_of(pdf),
              file_type="pdf", target="redox", destination=PATIENT, target_config=t.config,
              status="sent", log_ids=receipt.log_ids, finished=None)
    store.add_job(job)
    [checked] = refresh_delivery(store, lambda _j: t.credentials)
    assert checked.delivery == "pending"
    sandbox.log_settle_seconds = 0.0
    try:
        [checked] = refresh_delivery(store, lambda _j: t.credentials, force=True)
    finally:
        sandbox.log_settle_seconds = 1.0
    assert checked.delivery == "succeeded" and store.get(job.id).delivery == "succeeded"
    assert (store.get(job.id).status, store.get(job.id).proof) == ("verified", "redox-logs-succeeded")
    assert refresh_delivery(store, lambda _j: t.credentials, force=True) == []  # final: not asked
    store.close()
    with pytest.raises(UploadError) as info:
        t.delivery_status("00000000-0000-0000-0000-000000000000")
    assert info.value.http_status == 404
