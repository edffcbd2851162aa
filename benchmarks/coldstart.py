"""Case 7's child processes: from process start to the main window shown.

``BENCH_T0`` (``time.time()`` taken by the parent just before it starts this process)
is "process start"; the same clock read here at the end gives the elapsed time.

``python -m benchmarks.coldstart app N``: what ``uploader-gui`` does at start (logging,
QApplication, MainWindow with the history in ``UPLOADER_GUI_HOME``, show), finished at the
first paint of the window once the History tab's model holds all N rows.
``python -m benchmarks.coldstart bare``: a bare PySide6 QMainWindow, finished at its first
paint. ``python -m benchmarks.coldstart seed N`` writes N sent jobs into the history.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _finish(t0: float) -> None:
    print(f'{{"seconds": {time.time() - t0}}}', flush=True)
    os._exit(0)  # teardown is not part of start-up


def bare(t0: float) -> None:
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                _finish(t0)
            return False

    window = QMainWindow()
    window.setWindowTitle("bare")
    painted = FirstPaint()
    window.installEventFilter(painted)
    window.show()
    app.exec()


def app(t0: float, rows: int) -> None:
    from PySide6.QtCore import QEvent, QObject

    from uploader_gui.core.logging_setup import configure_logging
    from uploader_gui.gui.app import make_app
    from uploader_gui.gui.main_window import MainWindow

    configure_logging()
    qapp = make_app()
    window = MainWindow(profiles=[])
    state = {"painted": False}

    def check(*_args: object) -> None:
        if state["painted"] and window.history_panel.model.rowCount() >= rows:
            _finish(t0)

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not state["painted"]:
                state["painted"] = True
                check()
            return False

    painted = FirstPaint()
    window.installEventFilter(painted)
    model = window.history_panel.model
    model.modelReset.connect(check)
    model.rowsInserted.connect(check)
    model.layoutChanged.connect(check)
    window.show()
    qapp.exec()


def seed(rows: int) -> None:
    from uploader_gui.core.history import HistoryStore
    from uploader_gui.core.jobs import SENT, Job
    from uploader_gui.core.targets import Destination, TargetConfig

    store = HistoryStore()
    config = TargetConfig(kind="claros", base_url="https://backend.claros.health", name="Front desk")
    now = time.time()
    for i in range(rows):
        job = Job(path=f"/home/clinic/scans/scan-{i:05d}.pdf", name=f"scan-{i:05d}.pdf",
                  size=100_000 + i, sha256=f"{i:064x}", file_type="pdf", target="claros",
                  destination=Destination(patient_id=str(1000 + i % 500)), target_config=config,
                  profile="Front desk")
        job.status = SENT
        job.attempts = 1
        job.remote_id = f"pdf_{i}"
        job.http_status = 201
        job.created = now - (rows - i) * 60
        job.finished = job.created + 1
        store.add_job(job)
    store.close()
    print(f'{{"rows": {rows}}}', flush=True)


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "seed":
        seed(int(rest[0]))
        return 0
    t0 = float(os.environ["BENCH_T0"])
    if mode == "bare":
        bare(t0)
    elif mode == "app":
        app(t0, int(rest[0]))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
