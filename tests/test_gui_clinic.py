"""The window on the clinic's PostgreSQL history: other desks' uploads appear by themselves,
the desk/clinic choice, and the window's own entries in the audit trail."""

from __future__ import annotations

import filemaker as fm

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.audit import open_audit
from uploader_gui.core.history_store import open_store
from uploader_gui.core.identity import workstation
from uploader_gui.core.jobs import SENT, UPLOADING, Job
from uploader_gui.core.targets import Destination, TargetConfig
from uploader_gui.gui.history_model import COL_FILE
from uploader_gui.gui.main_window import MainWindow


def shown(window: MainWindow) -> set[str]:
    p = window.history_panel.proxy
    return {p.index(r, COL_FILE).data() for r in range(p.rowCount())}


def desk_b_sends(name: str, base_url: str) -> None:
    """Another desk records an upload of ``name`` in the clinic's history, as its app does."""
    other = open_store()
    try:
        job = Job(path=f"/scans/{name}", name=name, size=10, sha256=f"{sum(map(ord, name)):064x}",
                  file_type="pdf", target="claros", destination=Destination(patient_id="1001"),
                  target_config=TargetConfig(kind="claros", base_url=base_url),
                  workstation="desk-b", user="bo")
        other.add_job(job)
        other.update_job(job, new_status=UPLOADING)
        other.update_job(job, new_status=SENT)
    finally:
        other.close()


def test_clinic_history_live_desk_view_and_audit(qtbot, validator, sandbox, postgres_db,
                                                 monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", postgres_db)
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   sandbox=True)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.history is not None, timeout=15_000)
        w.tabs.setCurrentWidget(w.history_panel)
        assert w.clinic.scope.isVisible()
        # Another desk sends something: it appears here without pressing anything.
        desk_b_sends("from-b.pdf", sandbox.url)
        qtbot.waitUntil(lambda: "from-b.pdf" in shown(w), timeout=15_000)
        # This desk only: desk B's upload is not shown; the whole clinic again: it is.
        w.clinic.scope.setCurrentIndex(w.clinic.scope.findData(workstation()))
        assert "from-b.pdf" not in shown(w)
        w.clinic.scope.setCurrentIndex(0)
        assert "from-b.pdf" in shown(w)
        # The window's own actions are in the audit trail: an export, a file taken off the list.
        out = tmp_path / "history.csv"
        w.history_panel.export_csv(out)
        w.tabs.setCurrentIndex(0)
        w.add_paths([fm.good_pdf(tmp_path / "not-this-one.pdf")])
        qtbot.waitUntil(lambda: w.counts()["checking"] == 0 and w.model.rowCount() == 1,
                        timeout=30_000)
        w.view.selectRow(0)
        w.remove_selected()

        def actions() -> list[str]:
            trail = open_audit(postgres_db)
            try:
                return [e.action for e in trail.entries()]
            finally:
                trail.close()

        qtbot.waitUntil(lambda: {"exported", "deleted_from_list"} <= set(actions()),
                        timeout=15_000)
        assert actions()[:2] == ["staged", "sent"]  # desk B's upload came first
    finally:
        w.shutdown()


def test_what_another_desk_sent_before_the_window_listened_is_shown(
        qtbot, validator, sandbox, postgres_db, monkeypatch) -> None:
    # The window's listener connects only after desk B's upload is in: no notification
    # reaches it, and the timer's refresh is 30 s away. Reading once LISTEN is in place
    # shows it.
    import threading

    from uploader_gui.core.history_pg import PostgresHistoryStore

    sent_elsewhere = threading.Event()
    real_listen = PostgresHistoryStore.listen

    def late_listen(self, stop, on_change, poll=5.0, on_listening=None):
        sent_elsewhere.wait(15)
        return real_listen(self, stop, on_change, poll, on_listening)

    monkeypatch.setattr(PostgresHistoryStore, "listen", late_listen)
    monkeypatch.setenv("UPLOADER_GUI_DATABASE", postgres_db)
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials),
                   sandbox=True)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.history is not None, timeout=15_000)
        w.tabs.setCurrentWidget(w.history_panel)
        desk_b_sends("early.pdf", sandbox.url)
        assert "early.pdf" not in shown(w)
        sent_elsewhere.set()
        qtbot.waitUntil(lambda: "early.pdf" in shown(w), timeout=15_000)
    finally:
        sent_elsewhere.set()
        w.shutdown()
