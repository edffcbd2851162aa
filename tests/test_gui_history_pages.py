"""The History tab over a long history, read a page at a time: the newest page first, and
search, filters, order, export, details, re-send, live updates and the desk/clinic scope
over the WHOLE history. A real window (pytest-qt, offscreen) on a real store: this desk's
SQLite, and the clinic's PostgreSQL (tests/pg_fixture.py)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.history_pages import PAGE_SIZE
from uploader_gui.core.history_store import open_store
from uploader_gui.core.identity import workstation
from uploader_gui.core.jobs import FAILED, SENT, Job
from uploader_gui.core.targets import Destination, TargetConfig
from uploader_gui.gui.history_model import COL_FILE, COL_TIME
from uploader_gui.gui.main_window import MainWindow

ROWS = 2 * PAGE_SIZE + 100
OLDEST = "aa-oldest-failed.pdf"  # first by name, last by time: never on the first page


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, monkeypatch) -> str:
    if request.param == "postgresql":
        monkeypatch.setenv("UPLOADER_GUI_DATABASE", request.getfixturevalue("postgres_db"))
    else:
        monkeypatch.delenv("UPLOADER_GUI_DATABASE", raising=False)
    store = open_store()
    now = time.time()
    try:
        for i in range(ROWS):
            name = OLDEST if i == 0 else f"scan-{i:04d}.pdf"
            job = Job(path=f"/scans/{name}", name=name, size=1000 + i, sha256=f"{i:064x}",
                      file_type="pdf", target="claros",
                      destination=Destination(patient_id="4242" if i == 0 else "1001"),
                      target_config=TargetConfig(kind="claros", base_url="http://127.0.0.1:1"),
                      profile="Front desk", status=FAILED if i == 0 else SENT,
                      workstation=workstation() if i % 2 == 0 else "desk-b",
                      error="Claros has no patient with ID 4242." if i == 0 else None)
            job.created = now - 86_400 - (ROWS - i) * 60  # yesterday, a minute apart
            store.add_job(job)
    finally:
        store.close()
    return request.param


@pytest.fixture
def window(qtbot, validator, sandbox, history):
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   sandbox=True)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    w.tabs.setCurrentWidget(w.history_panel)
    yield w
    w.shutdown()


def shown(w: MainWindow) -> list[str]:
    p = w.history_panel.proxy
    return [p.index(r, COL_FILE).data() for r in range(p.rowCount())]


def test_newest_page_first_then_more_as_the_list_is_scrolled(qtbot, window) -> None:
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)
    names = shown(window)
    assert names[0] == f"scan-{ROWS - 1:04d}.pdf" and OLDEST not in names
    assert names == sorted(names, reverse=True)  # newest first
    assert panel.count_label.text() == (f"{PAGE_SIZE} of {ROWS} uploads shown. Scroll down "
                                        "for older ones.")
    panel.view.scrollToBottom()  # what a person does: the view asks for the next page
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2 * PAGE_SIZE, timeout=30_000)
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: panel.model.rowCount() == ROWS, timeout=30_000)
    names = shown(window)
    assert names[-1] == OLDEST and len(set(names)) == ROWS
    assert panel.count_label.text() == f"{ROWS} of {ROWS} uploads shown."
    assert not panel.model.canFetchMore(QModelIndex())


def test_search_details_resend_and_export_reach_the_whole_history(qtbot, window,
                                                                   tmp_path: Path) -> None:
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)
    panel.search.setText("4242")  # the oldest upload's patient: not among the loaded rows
    qtbot.waitUntil(lambda: shown(window) == [OLDEST], timeout=30_000)
    panel.view.selectRow(0)
    assert "no patient with ID 4242" in panel.details.toPlainText()
    assert panel.resend_button.isEnabled()
    panel.ask_resend = lambda text: True
    panel.resendRequested.disconnect(window.resend)  # sending again is tested elsewhere
    with qtbot.waitSignal(panel.resendRequested, timeout=5000) as sent:
        panel.resend_button.click()
    assert len(sent.args[0]) == 1 and panel.model.job_by_id(sent.args[0][0]).name == OLDEST

    out = tmp_path / "one.csv"
    panel.export_csv(out)
    qtbot.waitUntil(lambda: "Exported" in panel.count_label.text(), timeout=30_000)
    assert [r["name"] for r in csv.DictReader(out.open(encoding="utf-8"))] == [OLDEST]

    panel.search.setText("")
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)
    out = tmp_path / "all.csv"
    panel.export_csv(out)  # everything, although only one page is loaded
    qtbot.waitUntil(lambda: out.exists() and "Exported" in panel.count_label.text(),
                    timeout=30_000)
    rows = [r["name"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    assert len(rows) == ROWS and rows[0] == f"scan-{ROWS - 1:04d}.pdf" and rows[-1] == OLDEST
    assert panel.model.rowCount() == PAGE_SIZE  # the export read them; the view did not


def test_filters_and_order_cover_the_whole_history_and_keep_the_selection(qtbot,
                                                                          window) -> None:
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("failed"))
    qtbot.waitUntil(lambda: shown(window) == [OLDEST], timeout=30_000)
    panel.status_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)

    panel.view.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    # The oldest upload is first by name: the database's order, not the loaded rows'.
    qtbot.waitUntil(lambda: shown(window)[:1] == [OLDEST], timeout=30_000)
    assert shown(window)[1:4] == ["scan-0001.pdf", "scan-0002.pdf", "scan-0003.pdf"]
    panel.view.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: shown(window)[0] == f"scan-{ROWS - 1:04d}.pdf", timeout=30_000)

    panel.view.selectRow(3)
    chosen = panel.selected_jobs()[0]
    panel.search.setText("scan-069")  # other rows are read: the chosen one stays chosen
    qtbot.waitUntil(lambda: panel.model.rowCount() == 10, timeout=30_000)
    assert [j.id for j in panel.selected_jobs()] == [chosen.id]
    assert chosen.name in panel.details.toPlainText()
    panel.search.setText("")
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)
    assert [j.id for j in panel.selected_jobs()] == [chosen.id]

    panel.use_from.setChecked(True)  # the last week: everything (it was yesterday)
    panel.date_to.setDate(panel.date_to.date().addDays(-3))
    panel.use_to.setChecked(True)  # up to three days ago: nothing
    qtbot.waitUntil(lambda: shown(window) == [] and not panel.model.rowCount(), timeout=30_000)
    panel.use_to.setChecked(False)
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE, timeout=30_000)


def test_live_updates_land_where_the_order_puts_them(qtbot, window) -> None:
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE and window.history is not None,
                    timeout=30_000)
    store = window.history
    newest = store.add_job(Job(path="/scans/zz-new.pdf", name="zz-new.pdf", size=1,
                               sha256="ee" * 32, file_type="pdf", target="claros",
                               destination=Destination(patient_id="1001"),
                               target_config=TargetConfig(kind="claros",
                                                          base_url="http://127.0.0.1:1"),
                               status=SENT, workstation=workstation()))
    window.uploads.jobsChanged.emit([newest])  # what the queue says when a job changes
    assert shown(window)[0] == "zz-new.pdf"
    assert panel.count_label.text().startswith(f"{PAGE_SIZE + 1} of {ROWS + 1} uploads")
    panel.view.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: shown(window)[0] == OLDEST, timeout=30_000)
    assert "zz-new.pdf" not in shown(window)  # last by name: a later page brings it
    later = store.add_job(Job(path="/scans/ab.pdf", name="ab.pdf", size=1, sha256="dd" * 32,
                              file_type="pdf", target="claros",
                              destination=Destination(patient_id="1001"),
                              target_config=TargetConfig(kind="claros",
                                                         base_url="http://127.0.0.1:1"),
                              status=SENT, workstation=workstation()))
    window.uploads.jobsChanged.emit([later])
    assert shown(window)[:2] == [OLDEST, "ab.pdf"]  # in its place among the loaded rows

    def scrolled_to_the_end() -> bool:
        panel.view.scrollToBottom()
        return panel.model.rowCount() == ROWS + 2 and not panel.model.canFetchMore(QModelIndex())

    qtbot.waitUntil(scrolled_to_the_end, timeout=30_000)
    names = shown(window)
    assert names[-1] == "zz-new.pdf" and len(names) == len(set(names)) == ROWS + 2


def test_changes_that_come_while_the_order_changes_wait_for_its_first_page(
        qtbot, window) -> None:
    # A clinic's refresh brings many jobs, in no page's order. Arriving between the click on
    # a column and that order's first page, none may be put among rows still in the old
    # order: the page decides which are shown.
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE and window.history is not None,
                    timeout=30_000)
    everything = window.history.jobs(limit=ROWS)
    assert len(everything) == ROWS
    panel.view.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    window.uploads.jobsChanged.emit(everything)
    qtbot.waitUntil(lambda: shown(window)[:1] == [OLDEST], timeout=30_000)
    first_by_name = sorted(j.name for j in everything)[:PAGE_SIZE]
    assert shown(window) == first_by_name
    assert panel.model.rowCount() == PAGE_SIZE


@pytest.mark.parametrize("history", ["postgresql"], indirect=True)  # only a clinic has desks
def test_desk_or_clinic_scope_over_the_whole_clinic_history(qtbot, window) -> None:
    panel, scope = window.history_panel, window.clinic.scope
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE and scope.isVisible(),
                    timeout=30_000)
    panel.search.setText("scan-00")  # scan-0001 … scan-0099: all beyond the first page
    qtbot.waitUntil(lambda: len(shown(window)) == 99, timeout=30_000)
    scope.setCurrentIndex(scope.findData(workstation()))
    qtbot.waitUntil(lambda: len(shown(window)) == 49, timeout=30_000)  # the even ones
    assert all(int(n[5:9]) % 2 == 0 for n in shown(window))
    scope.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(shown(window)) == 99, timeout=30_000)
