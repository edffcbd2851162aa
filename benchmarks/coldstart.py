"""Case 7's child processes: from process start to the main window shown.

``BENCH_T0`` (``time.time()`` taken by the parent just before it starts this process)
is "process start"; the same clock read here at the end gives the elapsed time.

``python -m benchmarks.coldstart app N``: what ``uploader-gui`` does at start (the History
page's reader process, then ``gui.app.open_window``: QApplication and the main window's
first frame, shown), finished at the first paint of the window once the History tab's
model holds the newest page of the N rows (``PAGE_SIZE`` rows, or all N if fewer; the
rest is read as the list is scrolled). The rest of the window is built after that paint.
``python -m benchmarks.coldstart bare``: a bare PySide6 QMainWindow, finished at its first
paint. ``python -m benchmarks.coldstart seed N`` writes N sent jobs into the history.

The app's run ends as the app's clean exit does (``MainWindow.shutdown``, not timed), so the
next run, like the next start of the app, has no integrity check to make.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Started as installed: modules compiled once (pip and the frozen app ship .pyc files). A
# PYTHONDONTWRITEBYTECODE=1 inherited from a shell or CI would otherwise make every run
# compile the app's ~150 modules from source again (~0.1 s, which a user never pays).
sys.dont_write_bytecode = False


def _finish(t0: float, close: Callable[[], None] | None = None,
            seconds: float | None = None) -> None:
    seconds = time.time() - t0 if seconds is None else seconds
    if close is not None:
        close()  # not timed: what a clean exit does (the next start needs no check)
    print(f'{{"seconds": {seconds}}}', flush=True)
    os._exit(0)  # the rest of the teardown is not part of start-up


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
    from uploader_gui.gui.launch import prepare_window_start

    prepare_window_start()  # as `uploader-gui` does before it imports Qt
    from PySide6.QtCore import QEvent, QObject

    from uploader_gui.gui.app import open_window

    qapp, window, _sandbox = open_window()  # what `uploader-gui` does before its event loop
    from uploader_gui.core.history_pages import PAGE_SIZE  # imported by the window already

    state = {"painted": False}
    page = min(rows, PAGE_SIZE)

    def check(*_args: object) -> None:
        model = window.history_model
        if state["painted"] and model.rowCount() >= page:
            seconds = time.time() - t0
            newest = model.job(0)
            assert newest.name == f"scan-{rows - 1:05d}.pdf", newest.name  # the newest first
            _finish(t0, window.shutdown, seconds)

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not state["painted"]:
                state["painted"] = True
                check()
            return False

    painted = FirstPaint()
    window.installEventFilter(painted)
    model = window.history_model
    model.modelReset.connect(check)
    model.rowsInserted.connect(check)
    model.layoutChanged.connect(check)
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
