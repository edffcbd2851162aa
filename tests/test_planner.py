"""The upload planner alone: no Qt, the sandbox over loopback, a real history.

Every question and its answers, and each caller's source of answers (the
dialog's dict, ``send``'s flags, ``watch``'s profile).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import filemaker as fm
import pytest
from test_history_faults import small_disk  # noqa: F401 - a fixture

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SENT, UNKNOWN, UPLOADING, Job
from uploader_gui.core.planner import (
    CONVERT_IMAGE,
    DUPLICATE,
    REPLACE_FILE,
    UNKNOWN_EARLIER,
    PlanInput,
    answers_from_flags,
    answers_from_profile,
    plan,
)
from uploader_gui.core.targets import Credentials, Destination, Document, Secret, TargetConfig


@pytest.fixture
def history(app_home):
    store = HistoryStore()
    yield store
    store.close()


def claros(sandbox) -> tuple[TargetConfig, Credentials]:
    return (TargetConfig(kind="claros", base_url=sandbox.url, name="Desk"),
            Credentials(token=Secret(sandbox.credentials["claros_api_key"])))


def redcap(sandbox, **cfg) -> tuple[TargetConfig, Credentials]:
    return (TargetConfig(kind="redcap", base_url=sandbox.url + "/api/", name="Study",
                         redcap_field="scan", **cfg),
            Credentials(token=Secret(sandbox.credentials["redcap_token"])))


def inputs(validator, kind: str, *paths: Path) -> list[PlanInput]:
    return [PlanInput(p.name, p, validator.validate(p, kind, 32 * 1024 * 1024)) for p in paths]


def record_sent(history: HistoryStore, job: Job, status: str = SENT) -> Job:
    """Put a job into the history as an earlier upload that ended in ``status``."""
    earlier = replace(job, uid=f"earlier-{job.uid}", status="queued", sources=list(job.sources))
    history.add_job(earlier)
    history.update_job(earlier, new_status=UPLOADING)
    history.update_job(earlier, new_status=status)
    return earlier


def test_a_clean_pdf_becomes_one_job_with_the_patient_named(sandbox, validator, history,
                                                             tmp_path) -> None:
    config, creds = claros(sandbox)
    pdf = fm.good_pdf(tmp_path / "letter.pdf")
    p = plan(inputs(validator, "claros", pdf), config, creds, Destination(patient_id="1002"),
             history, profile="Desk")
    assert p.refused == [] and p.questions == []
    [planned] = p.jobs
    assert planned.key == "letter.pdf" and planned.job.path == str(pdf)
    assert p.patient is not None and p.patient.name == "Ben Sandbox"
    assert planned.job.patient_label == "Ben Sandbox, born 1975-06-15 (1002)"
    assert p.where == "Desk: Ben Sandbox, born 1975-06-15 (patient 1002)"
    assert planned.job.user and planned.job.workstation and planned.job.app_version
    resolution = p.resolve({})
    assert [j.job for j in resolution.jobs] == [planned.job] and resolution.skipped == []


def test_unknown_patient_and_rejected_files_are_refused_in_words(sandbox, validator, history,
                                                                 tmp_path) -> None:
    config, creds = claros(sandbox)
    good = fm.good_pdf(tmp_path / "good.pdf")
    bad = fm.truncated_pdf(tmp_path / "cut.pdf")
    before = len(sandbox.received("claros"))
    p = plan(inputs(validator, "claros", good, bad), config, creds,
             Destination(patient_id="9999"), history)
    assert p.jobs == [] and p.questions == []
    reasons = {r.key: r.reason for r in p.refused}
    assert "Claros Health has no patient 9999" in reasons["good.pdf"]
    assert reasons["cut.pdf"] == validator.validate(bad, "claros", 10**8).errors[0].message
    assert len(sandbox.received("claros")) == before  # nothing sent


def test_an_image_for_claros_is_converted_and_announced(sandbox, validator, history,
                                                        tmp_path) -> None:
    config, creds = claros(sandbox)
    photo = fm.good_jpeg(tmp_path / "wound.jpg")
    p = plan(inputs(validator, "claros", photo), config, creds, Destination(patient_id="1001"),
             history)
    [q] = p.questions
    assert q.kind == CONVERT_IMAGE and q.default is True and q.key == "wound.jpg"
    [planned] = p.jobs
    copy = Path(planned.job.path)
    assert copy.exists() and copy != photo and copy.suffix == ".pdf"
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert planned.job.sources == [{"path": str(photo), "sha256": digest}]
    # No: nothing goes and the private copy is removed; the user's file is untouched.
    resolution = p.resolve({q.id: False})
    assert resolution.jobs == [] and resolution.skipped[0].question == CONVERT_IMAGE
    assert not copy.exists() and photo.exists()


def test_duplicates_are_asked_about_and_skipped_by_default(sandbox, validator, history,
                                                            tmp_path) -> None:
    config, creds = claros(sandbox)
    pdf = fm.good_pdf(tmp_path / "referral.pdf")
    dest = Destination(patient_id="1001")
    first = plan(inputs(validator, "claros", pdf), config, creds, dest, history)
    earlier = record_sent(history, first.jobs[0].job)
    again = plan(inputs(validator, "claros", pdf), config, creds, dest, history)
    [q] = again.questions
    assert (q.kind, q.key, q.earlier_id, q.default) == (DUPLICATE, "referral.pdf", earlier.id, False)
    assert "already sent to patient 1001" in q.text
    skipped = again.resolve({})
    assert skipped.jobs == [] and f"history #{earlier.id}" in skipped.skipped[0].reason
    sent = again.resolve({q.id: True})
    assert [j.job.duplicate_of for j in sent.jobs] == [earlier.id]
    # Another patient is not a duplicate.
    other = plan(inputs(validator, "claros", pdf), config, creds, Destination(patient_id="1002"),
                 history)
    assert other.questions == []


def test_an_earlier_unknown_outcome_is_asked_about(sandbox, validator, history, tmp_path) -> None:
    config, creds = claros(sandbox)
    pdf = fm.good_pdf(tmp_path / "lab.pdf")
    dest = Destination(patient_id="1003")
    first = plan(inputs(validator, "claros", pdf), config, creds, dest, history)
    earlier = record_sent(history, first.jobs[0].job, UNKNOWN)
    p = plan(inputs(validator, "claros", pdf), config, creds, dest, history)
    [q] = p.questions
    assert (q.kind, q.earlier_id, q.default) == (UNKNOWN_EARLIER, earlier.id, False)
    assert "may already have arrived" in q.text
    # send: refused unless --allow-unknown; watch: never sent unattended.
    assert p.resolve(answers_from_flags(p)).jobs == []
    assert len(p.resolve(answers_from_flags(p, allow_unknown=True)).jobs) == 1
    assert p.resolve(answers_from_profile(p)).skipped[0].question == UNKNOWN_EARLIER


def test_a_redcap_field_that_holds_a_file(sandbox, validator, history, tmp_path) -> None:
    config, creds = redcap(sandbox)
    dest = Destination(record="2", field="scan")
    v1, v2 = fm.good_pdf(tmp_path / "v1.pdf"), fm.good_pdf(tmp_path / "v2.pdf", pages=2)
    # Empty field: no question.
    first = plan(inputs(validator, "redcap", v1), config, creds, dest, history)
    assert first.questions == [] and first.existing_file is None
    from uploader_gui.core.targets import make_target

    target = make_target(config, creds)
    try:
        target.upload(Document(path=v1, file_type="pdf", size=v1.stat().st_size), dest)
    finally:
        target.close()
    # Now it holds v1.pdf: asked, and kept by default.
    p = plan(inputs(validator, "redcap", v2), config, creds, dest, history)
    [q] = p.questions
    assert q.kind == REPLACE_FILE and q.key is None and p.existing_file == "v1.pdf"
    kept = p.resolve({})
    assert kept.jobs == [] and "already holds “v1.pdf”" in kept.skipped[0].reason
    assert p.resolve(answers_from_flags(p, replace_file=True)).jobs[0].job.destination.replace
    assert p.resolve(answers_from_profile(p)).jobs == []  # watch with "ask": not replaced
    # A profile that always keeps a backup asks nothing and replaces (window, send, watch).
    backup_cfg, _ = redcap(sandbox, redcap_overwrite="backup")
    b = plan(inputs(validator, "redcap", v2), backup_cfg, creds, dest, history)
    assert b.questions == []
    assert b.resolve(answers_from_profile(b)).jobs[0].job.destination.replace is True


def test_redcap_takes_one_file_per_field_and_checks_the_destination(sandbox, validator, history,
                                                                    tmp_path) -> None:
    config, creds = redcap(sandbox)
    a, b = fm.good_pdf(tmp_path / "a.pdf"), fm.good_pdf(tmp_path / "b.pdf", 2)
    two = plan(inputs(validator, "redcap", a, b), config, creds,
               Destination(record="1", field="scan"), history)
    assert two.jobs == [] and {r.key for r in two.refused} == {"a.pdf", "b.pdf"}
    assert all("holds one file" in r.reason for r in two.refused)
    missing = plan(inputs(validator, "redcap", a), config, creds,
                   Destination(record="77", field="scan"), history)
    assert missing.jobs == [] and "77" in missing.refused[0].reason


def test_a_target_that_cannot_be_reached_refuses_with_its_words(validator, history,
                                                                 tmp_path) -> None:
    config = TargetConfig(kind="claros", base_url="http://127.0.0.1:9", name="Gone")
    pdf = fm.good_pdf(tmp_path / "a.pdf")
    p = plan(inputs(validator, "claros", pdf), config, Credentials(token=Secret("k")),
             Destination(patient_id="1001"), history)
    [refusal] = p.refused
    assert refusal.status == "failed" and p.jobs == []
    assert "127.0.0.1" in refusal.reason


def test_answer_sources_agree_on_the_safe_defaults(sandbox, validator, history, tmp_path) -> None:
    """The dialog's untouched boxes, `send` without flags and `watch` give the same jobs."""
    config, creds = claros(sandbox)
    dest = Destination(patient_id="1001")
    seen, new, photo = (fm.good_pdf(tmp_path / "seen.pdf"), fm.good_pdf(tmp_path / "new.pdf", 3),
                        fm.good_png(tmp_path / "photo.png"))
    record_sent(history, plan(inputs(validator, "claros", seen), config, creds, dest,
                              history).jobs[0].job)
    p = plan(inputs(validator, "claros", seen, new, photo), config, creds, dest, history)
    assert sorted(q.kind for q in p.questions) == [CONVERT_IMAGE, DUPLICATE]
    untouched = {q.id: q.default for q in p.questions}
    results = [p.resolve(a) for a in (untouched, answers_from_flags(p), answers_from_profile(p))]
    assert {tuple(sorted(j.key for j in r.jobs)) for r in results} == {("new.pdf", "photo.png")}
    assert {tuple(s.key for s in r.skipped) for r in results} == {("seen.pdf",)}


@pytest.mark.usefixtures("small_disk")
def test_a_full_disk_refuses_the_batch_before_any_copy(sandbox, validator, tmp_path) -> None:
    """The window, send and watch all plan here: a batch without room is refused in words,
    and no private copy is left half written."""
    config, creds = claros(sandbox)
    photo = fm.good_jpeg(tmp_path / "photo.jpg")
    p = plan(inputs(validator, "claros", photo), config, creds, Destination(patient_id="1001"),
             None)
    assert p.jobs == [] and p.questions == []
    [refusal] = p.refused
    assert refusal.reason.startswith("The disk is full") and "Nothing was sent" in refusal.reason
    assert not list(Path(os.environ["UPLOADER_GUI_HOME"]).rglob("*.pdf"))
