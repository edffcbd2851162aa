"""The history panel and the upload queue in the window, with pytest-qt and the sandbox."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import filemaker as fm
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import Job, sha256_of
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.targets import Destination, TargetConfig
from uploader_gui.gui.history_model import COL_FILE, COL_STATUS
from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_NAME, StateRole
from uploader_gui.gui.staging_model import COL_STATUS as STAGE_STATUS

FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=3)




def make_window(qtbot, validator, sandbox) -> MainWindow:
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   policy=FAST)
    w.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}  # dialog tested alone
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def window(qtbot, validator, sandbox):
    w = make_window(qtbot, validator, sandbox)
    yield w
    w.shutdown()


def pick(window: MainWindow, name: str) -> None:
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData(name))


def staged_state(window: MainWindow, name: str) -> str | None:
    m = window.model
    for r in range(m.rowCount()):
        if m.index(r, COL_NAME).data() == name:
            return m.index(r, STAGE_STATUS).data(StateRole)
    return None


def history_rows(window: MainWindow) -> dict[str, str]:
    p = window.history_panel.proxy
    return {p.index(r, COL_FILE).data(): p.index(r, COL_STATUS).data() for r in range(p.rowCount())}


def upload(qtbot, window: MainWindow, files: list[Path], profile: str = "Sandbox Claros",
           patient: str | None = None) -> None:
    pick(window, profile)
    window.add_paths(files)
    qtbot.waitUntil(lambda: window.counts()["checking"] == 0
                    and window.counts()["ready"] + window.counts()["warning"] >= len(files),
                    timeout=30_000)
    if patient:
        window.upload_panel.patient.setText(patient)
    if profile == "Sandbox Redox":  # Redox cannot look patients up: the user types who
        window.upload_panel.patient_name.setText("Ada Sandbox")
        window.upload_panel.birth_date.setText("1980-01-01")
    qtbot.waitUntil(window.upload_panel.upload_button.isEnabled, timeout=30_000)  # the lookup
    qtbot.mouseClick(window.upload_panel.upload_button, Qt.MouseButton.LeftButton)


def test_uploads_appear_in_history_live(qtbot, window: MainWindow, tmp_path: Path) -> None:
    files = [fm.good_pdf(tmp_path / f"hist-{i}.pdf") for i in range(3)]
    upload(qtbot, window, files)
    qtbot.waitUntil(lambda: all(staged_state(window, f.name) == "verified" for f in files),
                    timeout=30_000)
    qtbot.waitUntil(lambda: history_rows(window) == {f.name: "Verified" for f in files})
    qtbot.waitUntil(lambda: window.count_label.text().endswith("3 sent"))
    assert window.history_panel.count_label.text() == "3 of 3 uploads shown."


def test_filter_details_export_and_resend(qtbot, window: MainWindow, tmp_path: Path,
                                          sandbox, monkeypatch) -> None:
    good = fm.good_pdf(tmp_path / "kept.pdf")
    wrong = fm.good_pdf(tmp_path / "wrong-patient.pdf")
    upload(qtbot, window, [good])
    qtbot.waitUntil(lambda: staged_state(window, "kept.pdf") == "verified", timeout=30_000)
    # An unknown patient never reaches the send step now (the window looks it up first), so
    # the failure comes from the server: the sandbox answers 404 for patient 1003, twice.
    sandbox.add_fault(r"^/patients/1003/pdf/$", status=404, times=2,
                      body={"detail": "There is no patient with ID 1003 here."})
    upload(qtbot, window, [wrong], patient="1003")
    qtbot.waitUntil(lambda: staged_state(window, "wrong-patient.pdf") == "failed", timeout=30_000)
    panel = window.history_panel
    qtbot.waitUntil(lambda: len(history_rows(window)) == 2)

    # Search by patient and by status.
    panel.search.setText("1003")
    assert history_rows(window) == {
        "wrong-patient.pdf": "Failed: Claros has no patient with ID 1003."}
    panel.search.setText("")
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("sent"))
    assert history_rows(window) == {}  # Claros's receipt proved it: not merely accepted
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("verified"))
    assert panel.status_filter.currentText() == "Verified"
    assert history_rows(window) == {"kept.pdf": "Verified"}
    panel.status_filter.setCurrentIndex(0)
    panel.use_from.setChecked(True)  # from a week ago: both still shown
    assert len(history_rows(window)) == 2
    panel.date_from.setDate(panel.date_from.date().addDays(30))
    assert history_rows(window) == {}
    panel.use_from.setChecked(False)

    # Details of the failed one: its attempt, the server's message, the sha256.
    p = panel.proxy
    row = next(r for r in range(p.rowCount()) if p.index(r, COL_FILE).data() == "wrong-patient.pdf")
    panel.view.selectRow(row)
    # What a person asks comes first; HTTP status, attempts and SHA-256 are folded away.
    qtbot.waitUntil(lambda: "Each attempt" in panel.technical.toPlainText())
    assert "no patient with ID 1003" in panel.details.toPlainText()
    assert sha256_of(wrong) not in panel.details.toPlainText()
    assert panel.technical.isHidden()
    panel.technical_button.click()
    assert not panel.technical.isHidden() and sha256_of(wrong) in panel.technical.toPlainText()
    assert panel.resend_button.isEnabled() and not panel.copy_button.isEnabled()

    # Export what is shown.
    out = tmp_path / "export.csv"
    panel.export_csv(out)
    qtbot.waitUntil(lambda: out.exists() and "Exported" in panel.count_label.text())
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(r["name"] for r in rows) == ["kept.pdf", "wrong-patient.pdf"]
    assert "sandbox-claros-key" not in out.read_text()

    # Resend after confirming: same bytes, new attempt; 1003 still fails, so fix nothing but
    # check that a second attempt was recorded.
    panel.ask_resend = lambda text: True
    panel.resend_selected()
    qtbot.waitUntil(lambda: panel.model.job_by_id(panel.selected_jobs()[0].id).attempts == 2,
                    timeout=30_000)

    # Copy the receipt of the sent one.
    row = next(r for r in range(p.rowCount()) if p.index(r, COL_FILE).data() == "kept.pdf")
    panel.view.selectRow(row)
    panel.copy_receipt()
    receipt = json.loads(QApplication.clipboard().text())
    assert receipt["status"] == "verified" and receipt["remote_id"].startswith("pdf_")
    assert receipt["verified"] is True and receipt["proof"] == "claros-receipt"


def test_cancel_all_from_the_window(qtbot, window: MainWindow, tmp_path: Path, sandbox) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=5, times=10)
    files = [fm.good_pdf(tmp_path / f"slow-{i}.pdf") for i in range(5)]
    upload(qtbot, window, files)
    qtbot.waitUntil(lambda: window.upload_panel.cancel_button.isEnabled(), timeout=10_000)
    qtbot.mouseClick(window.upload_panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.uploads.active == 0 and window.counts()["sending"] == 0,
                    timeout=10_000)
    states = {staged_state(window, f.name) for f in files}
    # Waiting ones are cancelled; ones whose body had gone out are "unknown" (Claros).
    assert states <= {"cancelled", "unknown"} and "cancelled" in states


def test_interrupted_banner_resume(qtbot, validator, sandbox, tmp_path: Path, app_home) -> None:
    # A job left "uploading" by a process that died (another PID) is found at start-up.
    store = HistoryStore()
    pdf = fm.good_pdf(tmp_path / "left-behind.pdf")
    job = Job(path=str(pdf), name=pdf.name, size=pdf.stat().st_size, sha256=sha256_of(pdf),
              file_type="pdf", target="redcap", profile="Sandbox REDCap",
              destination=Destination(record="1", field="scan"),
              target_config=TargetConfig(kind="redcap", base_url=sandbox.url + "/api/",
                                         name="Sandbox REDCap", redcap_field="scan"))
    store.add_job(job)
    store._writer.execute("UPDATE jobs SET owner = 'nohost:1:1' WHERE id = ?", (job.id,))
    store.close()

    w = make_window(qtbot, validator, sandbox)
    try:
        # The history is opened on a worker; the bar shows once it is.
        qtbot.waitUntil(w.interrupted_bar.isVisible, timeout=10_000)
        assert "1 upload was interrupted" in w.interrupted_label.text()
        qtbot.mouseClick(w.resume_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: history_rows(w).get("left-behind.pdf") == "Verified",
                        timeout=30_000)
        assert [r for r in sandbox.received("redcap") if r["filename"] == "left-behind.pdf"]
    finally:
        w.shutdown()


def recorded() -> dict[str, str]:
    """Every upload in this desk's history, by file name: its status."""
    store = HistoryStore(read_only=True)
    try:
        return {j.name: j.status for j in store.jobs()}
    finally:
        store.close()


def arrived(sandbox, prefix: str) -> int:
    """How many files named ``prefix…`` the sandbox's Claros received."""
    return len([r for r in sandbox.received("claros") if r["filename"].startswith(prefix)])


def answer_close_dialog(qtbot, button_text: str) -> list[str]:
    """When the close question comes up, read it and click the button named."""
    seen: list[str] = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text() + " " + box.informativeText())
        button = next(b for b in box.buttons() if button_text in b.text().replace("&", ""))
        button.click()

    QTimer.singleShot(0, click)
    return seen


@pytest.mark.close_question
def test_close_while_uploading_asks(qtbot, window: MainWindow, tmp_path: Path, sandbox) -> None:
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=3, times=1)
    upload(qtbot, window, [fm.good_pdf(tmp_path / "busy.pdf")])
    qtbot.waitUntil(lambda: window.uploads.active > 0, timeout=10_000)
    asked = answer_close_dialog(qtbot, "Cancel")
    window.close()
    assert asked and "1 upload is still running" in asked[0] and window.isVisible()
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: staged_state(window, "busy.pdf") == "verified", timeout=10_000)
    # Cancel left the upload running to the end: it was not cancelled.
    assert time.monotonic() - t0 < 10


@pytest.mark.close_question
def test_close_and_keep_sending_in_the_background(qtbot, window: MainWindow, tmp_path: Path,
                                                  sandbox, app_home) -> None:
    # The window closes at once; the helper process finishes the batch and records it all;
    # then the app says how it ended.
    # Every upload hangs a while, so none has ended before the window closes (the summary
    # counts what ended in the background).
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=3, times=4)
    files = [fm.good_pdf(tmp_path / f"later-{i}.pdf", pages=i + 1) for i in range(4)]
    upload(qtbot, window, files)
    qtbot.waitUntil(lambda: len(window.uploads._key_to_job) == 4, timeout=10_000)  # all queued
    helper = window.uploads.dispatcher._proc
    asked = answer_close_dialog(qtbot, "Keep sending")
    window.close()
    app = QApplication.instance()
    try:
        assert asked and not window.isVisible()
        background = window.background
        with qtbot.waitSignal(background.finished, timeout=30_000) as done:
            pass
        assert "4 verified" in done.args[0], done.args[0]
        assert not helper.is_alive() and helper.exitcode == 0
        assert recorded() == {f.name: "verified" for f in files}
        assert arrived(sandbox, "later-") == 4
    finally:
        window.background.quit_timer.stop()
        app.setQuitOnLastWindowClosed(True)


def hold_the_queueing(qtbot, window: MainWindow):
    """Hold each job on its way to the upload helper, as a slow disk or a big batch does;
    set the event to let them go on."""
    import threading

    gate = threading.Event()
    qtbot.waitUntil(lambda: window.uploads.dispatcher is not None, timeout=10_000)
    dispatcher = window.uploads.dispatcher
    submit = dispatcher.submit

    def slow_submit(job: Job) -> Job:
        gate.wait(30)
        return submit(job)

    dispatcher.submit = slow_submit
    return gate


@pytest.mark.close_question
def test_keep_sending_while_the_batch_is_still_being_queued_sends_it_all(
        qtbot, window: MainWindow, tmp_path: Path, sandbox, app_home) -> None:
    files = [fm.good_pdf(tmp_path / f"queued-{i}.pdf") for i in range(4)]
    gate = hold_the_queueing(qtbot, window)
    try:
        upload(qtbot, window, files)
        qtbot.waitUntil(lambda: window.uploads.active == 4, timeout=10_000)  # none handed over
        asked = answer_close_dialog(qtbot, "Keep sending")
        window.close()
    finally:
        gate.set()
    app = QApplication.instance()
    try:
        assert asked and "4 uploads are still running" in asked[0] and not window.isVisible()
        with qtbot.waitSignal(window.background.finished, timeout=30_000) as done:
            pass
        assert "4 verified" in done.args[0], done.args[0]
        assert recorded() == {f.name: "verified" for f in files}
        assert arrived(sandbox, "queued-") == 4
    finally:
        window.background.quit_timer.stop()
        app.setQuitOnLastWindowClosed(True)


@pytest.mark.close_question
def test_stop_while_the_batch_is_still_being_queued_keeps_it_all_in_history(
        qtbot, window: MainWindow, tmp_path: Path, sandbox, app_home) -> None:
    files = [fm.good_pdf(tmp_path / f"stopped-{i}.pdf") for i in range(3)]
    gate = hold_the_queueing(qtbot, window)
    try:
        upload(qtbot, window, files)
        qtbot.waitUntil(lambda: window.uploads.active == 3, timeout=10_000)
        asked = answer_close_dialog(qtbot, "Stop and close")
        window.close()
    finally:
        gate.set()
    assert asked and "3 uploads are still running" in asked[0] and not window.isVisible()

    qtbot.waitUntil(lambda: recorded() == {f.name: "cancelled" for f in files}, timeout=30_000)
    helper = window.uploads.dispatcher._proc
    assert helper is not None
    # (the app's worker joins it: waiting here, not joining from a second thread)
    qtbot.waitUntil(lambda: not helper.is_alive(), timeout=30_000)
    assert helper.exitcode == 0
    assert arrived(sandbox, "stopped-") == 0


def test_cancel_all_while_the_batch_is_still_being_queued_sends_none_of_it(
        qtbot, window: MainWindow, tmp_path: Path, sandbox) -> None:
    files = [fm.good_pdf(tmp_path / f"called-off-{i}.pdf") for i in range(3)]
    gate = hold_the_queueing(qtbot, window)
    try:
        upload(qtbot, window, files)
        qtbot.waitUntil(lambda: window.uploads.active == 3, timeout=10_000)
        window.actions.cancel_all.trigger()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: all(staged_state(window, f.name) == "cancelled" for f in files),
                    timeout=30_000)
    qtbot.waitUntil(lambda: history_rows(window) == {f.name: "Cancelled" for f in files},
                    timeout=30_000)
    assert window.uploads.active == 0
    assert arrived(sandbox, "called-off-") == 0


def test_confirmation_lists_destinations_and_duplicates(qtbot, window: MainWindow, sandbox,
                                                       tmp_path: Path) -> None:
    from uploader_gui.gui.confirm_send import summary_html

    first = fm.good_pdf(tmp_path / "consent.pdf")
    upload(qtbot, window, [first])
    qtbot.waitUntil(lambda: staged_state(window, "consent.pdf") == "verified", timeout=30_000)

    seen = []

    def answer(plan):
        seen.append(plan)
        return {q.id: q.default for q in plan.questions}  # the safe answers: skip duplicates

    window.uploads.confirm = answer
    window.clear_all()
    other = fm.good_pdf(tmp_path / "new-letter.pdf", pages=2)
    upload(qtbot, window, [first, other])
    qtbot.waitUntil(lambda: staged_state(window, "new-letter.pdf") == "verified", timeout=30_000)
    [plan] = seen
    dups = [q for q in plan.questions if q.kind == "duplicate"]
    names = {p.key: p.job.name for p in plan.jobs}
    assert [names[q.key] for q in dups] == ["consent.pdf"]
    assert staged_state(window, "consent.pdf") == "cancelled"
    html = summary_html(plan)
    assert "consent.pdf → <b>Ada Sandbox, born 1980-01-01 (1001)</b>" in html
    assert "already sent to patient 1001" in html
    assert "new-letter.pdf → <b>Ada Sandbox, born 1980-01-01 (1001)</b>" in html
    sent = [r for r in sandbox.received("claros") if r["filename"] == "consent.pdf"]
    assert len(sent) == 1  # the duplicate was not sent

    # The dialog itself: the duplicate's box starts unticked, and Cancel is the default.
    from uploader_gui.gui.confirm_send import ConfirmSendDialog

    dialog = ConfirmSendDialog(plan, window)
    # Claros's patient list shows 1001 already has a PDF (the first upload): that is said too,
    # since whether a new one adds or replaces is not documented.
    [note] = [q for q in plan.questions if q.kind == "patient_note"]
    from PySide6.QtWidgets import QLabel

    assert re.search(r"already holds (a PDF|\d+ PDFs)", note.text)
    assert "adds a document or replaces" in note.text
    assert note.text in [label.text() for label in dialog.findChildren(QLabel)]
    box = dialog.boxes[dups[0].id]
    assert not box.isChecked() and "consent.pdf" in box.text()
    assert dialog.answers()[dups[0].id] is False
    assert not dialog.send_button.isDefault()
    box.setChecked(True)
    assert dialog.answers()[dups[0].id] is True
    dialog.deleteLater()

    # "Cancel" sends nothing at all.
    window.uploads.confirm = lambda plan: None
    window.clear_all()
    third = fm.good_pdf(tmp_path / "third.pdf", pages=3)
    upload(qtbot, window, [third])
    qtbot.waitUntil(lambda: staged_state(window, "third.pdf") == "cancelled", timeout=30_000)
    assert not [r for r in sandbox.received("claros") if r["filename"] == "third.pdf"]


def test_redcap_overwrite_asks_and_backs_up(qtbot, window: MainWindow, sandbox,
                                            tmp_path: Path) -> None:
    first = fm.good_pdf(tmp_path / "scan-v1.pdf")
    pick(window, "Sandbox REDCap")
    window.upload_panel.record.setText("3")
    upload(qtbot, window, [first], profile="Sandbox REDCap")
    qtbot.waitUntil(lambda: staged_state(window, "scan-v1.pdf") == "verified", timeout=30_000)

    asked = []

    def keep(plan):
        asked.append(plan.existing_file)
        return {q.id: q.kind != "replace_file" for q in plan.questions}

    window.uploads.confirm = keep
    window.clear_all()
    second = fm.good_pdf(tmp_path / "scan-v2.pdf", pages=2)
    window.upload_panel.record.setText("3")
    upload(qtbot, window, [second], profile="Sandbox REDCap")
    qtbot.waitUntil(lambda: staged_state(window, "scan-v2.pdf") == "cancelled", timeout=30_000)
    assert asked == ["scan-v1.pdf"]

    window.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}
    window.clear_all()
    window.upload_panel.record.setText("3")
    upload(qtbot, window, [second], profile="Sandbox REDCap")
    qtbot.waitUntil(lambda: staged_state(window, "scan-v2.pdf") == "verified", timeout=30_000)
    job = next(j for j in window.history_panel.model.jobs() if j.name == "scan-v2.pdf"
               and j.status == "verified")
    assert Path(job.backup_path).read_bytes() == first.read_bytes()

    # Two files to one REDCap field would overwrite each other: refused.
    window.clear_all()
    upload(qtbot, window, [fm.good_pdf(tmp_path / "a1.pdf"), fm.good_pdf(tmp_path / "a2.pdf", 2)],
           profile="Sandbox REDCap")
    qtbot.waitUntil(lambda: staged_state(window, "a1.pdf") == "rejected", timeout=30_000)


def test_redox_delivery_column_turns_delivered(qtbot, window: MainWindow, sandbox,
                                               tmp_path: Path) -> None:
    from uploader_gui.gui.history_model import COL_DELIVERY

    sandbox.log_settle_seconds = 0.0
    try:
        upload(qtbot, window, [fm.good_pdf(tmp_path / "to-ehr.pdf")], profile="Sandbox Redox")
        qtbot.waitUntil(lambda: staged_state(window, "to-ehr.pdf") == "sent", timeout=30_000)
        window.uploads.check_delivery()
        p = window.history_panel.proxy

        def delivery() -> str | None:
            for r in range(p.rowCount()):
                if p.index(r, COL_FILE).data() == "to-ehr.pdf":
                    return p.index(r, COL_DELIVERY).data()
            return None

        qtbot.waitUntil(lambda: delivery() == "Delivered", timeout=30_000)
        # Every destination's log says succeeded: the row and the History say Verified.
        qtbot.waitUntil(lambda: history_rows(window).get("to-ehr.pdf") == "Verified",
                        timeout=30_000)
        qtbot.waitUntil(lambda: staged_state(window, "to-ehr.pdf") == "verified", timeout=30_000)
    finally:
        sandbox.log_settle_seconds = 1.0


def test_history_sorts_by_any_column_and_keeps_newest_on_top(qtbot, window: MainWindow,
                                                              tmp_path: Path) -> None:
    files = [fm.good_pdf(tmp_path / f"{n}.pdf", pages=i + 1) for i, n in enumerate("cab")]
    upload(qtbot, window, files)
    qtbot.waitUntil(lambda: len(history_rows(window)) == 3, timeout=30_000)
    panel = window.history_panel
    p = panel.proxy

    def names() -> list[str]:
        return [p.index(r, COL_FILE).data() for r in range(p.rowCount())]

    panel.view.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    assert names() == ["a.pdf", "b.pdf", "c.pdf"]
    panel.view.sortByColumn(COL_FILE, Qt.SortOrder.DescendingOrder)
    assert names() == ["c.pdf", "b.pdf", "a.pdf"]
    from uploader_gui.gui.history_model import COL_TIME

    panel.view.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
    window.clear_all()
    upload(qtbot, window, [fm.good_pdf(tmp_path / "newest.pdf", pages=5)])
    qtbot.waitUntil(lambda: len(history_rows(window)) == 4, timeout=30_000)
    assert names()[0] == "newest.pdf"


def test_a_killed_upload_helper_is_reported_and_its_uploads_can_be_resumed(
        qtbot, window: MainWindow, tmp_path: Path, sandbox) -> None:
    import os
    import signal

    # Two uploads held by the server; the helper process that sends them is killed.
    sandbox.add_fault(r"^/patients/1001/pdf/$", action="hang", delay=20, times=2)
    files = [fm.good_pdf(tmp_path / f"cut-off-{i}.pdf", pages=i + 1) for i in range(2)]
    upload(qtbot, window, files)
    qtbot.waitUntil(lambda: window.counts()["sending"] == 2 and window.uploads.active == 2,
                    timeout=15_000)
    reader = HistoryStore(read_only=True)
    try:  # both requests have gone out (the first attempt of each is on record)
        qtbot.waitUntil(lambda: sum(j.began_sending for j in reader.jobs()) == 2, timeout=15_000)
    finally:
        reader.close()
    helper = window.uploads.dispatcher._proc
    os.kill(helper.pid, signal.SIGKILL)
    # The window says so, in words, and offers the interrupted uploads for resuming.
    qtbot.waitUntil(lambda: "upload helper stopped" in window.upload_panel.message.text(),
                    timeout=10_000)
    qtbot.waitUntil(window.interrupted_bar.isVisible, timeout=10_000)
    assert "2 uploads were interrupted" in window.interrupted_label.text()
    # Claros uploads whose bytes had gone out are not resent blindly: the bar says to review.
    assert "review" in window.interrupted_label.text().lower()
    # A new helper was started; a new upload goes through it.
    qtbot.waitUntil(lambda: window.uploads.dispatcher.started, timeout=10_000)
    assert window.uploads.dispatcher._proc.pid != helper.pid
    sandbox.clear_faults()
    window.clear_all()
    upload(qtbot, window, [fm.good_pdf(tmp_path / "after.pdf", pages=7)])
    qtbot.waitUntil(lambda: staged_state(window, "after.pdf") == "verified", timeout=30_000)
