"""Cases 4 and 5 in the real window (offscreen), one child process per run.

``python -m benchmarks.gui_driver batch URL CREDENTIALS_JSON FOLDER`` stages the folder's
PDFs, waits for their verdicts, then uploads them all from the window to Sandbox Claros
at concurrency 4 while a 10 ms heartbeat measures the event loop.
``python -m benchmarks.gui_driver staging FOLDER`` adds the folder's files to the window
(as a drop does) and times rows and verdicts under the heartbeat.
``python -m benchmarks.gui_driver bare-table FOLDER`` is the reference for rows visible:
a bare QTableView over a QStandardItemModel.
``python -m benchmarks.gui_driver validate-pool FOLDER`` is the reference for verdicts:
``validate_file`` in a pool of two processes, no window.
Each prints one JSON line. Times are ``time.perf_counter`` seconds, stalls milliseconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 10


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Heartbeat:
    """A 10 ms precise timer; lateness of each tick = gap since the last one minus 10 ms."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self.late = []
        self._last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        self._tick()  # a stall at the very end counts too
        return {"max_ms": max(self.late, default=0.0), "p99_ms": percentile(self.late, 99),
                "ticks": len(self.late)}


def run_loop_until(done: Callable[[], bool], timeout: float, signals: list[Any],
                   poll_ms: int = 0) -> bool:
    """Run the event loop until ``done()`` is true, checked whenever a signal fires
    (and every ``poll_ms`` if given: the staging and batch runs use signals only, so the
    check adds no timer of its own to the loop being measured)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()

    def check(*_args: object) -> None:
        if done():
            loop.quit()

    for signal in signals:
        signal.connect(check)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    QTimer.singleShot(0, check)
    if poll_ms:
        poll.timeout.connect(check)
        poll.start(poll_ms)
    loop.exec()
    poll.stop()
    for signal in signals:
        signal.disconnect(check)
    return done()


def idle(seconds: float) -> dict[str, float]:
    """The heartbeat over an idle window: the noise floor of this machine."""
    from PySide6.QtCore import QEventLoop, QTimer

    beat = Heartbeat()
    beat.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return beat.stop()


def batch(url: str, credentials_json: str, folder: Path) -> dict[str, Any]:
    from uploader_gui.gui.launch import prepare_window_start

    prepare_window_start(read_history=False)  # as `uploader-gui` starts (its collector)
    from uploader_gui.cli.sandbox_profiles import sandbox_profiles
    from uploader_gui.gui.app import make_app
    from uploader_gui.gui.main_window import MainWindow

    make_app()
    files = sorted(folder.glob("*.pdf"))
    window = MainWindow(profiles=sandbox_profiles(url, json.loads(credentials_json)))
    window.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}
    # The window opens the history on a worker thread; the queue starts once it is open.
    if not run_loop_until(lambda: window.uploads.dispatcher is not None, 30,
                          [window.historyReady]):
        raise RuntimeError(f"the history did not open: {window.history_problem}")
    assert window.uploads.dispatcher is not None
    window.uploads.dispatcher.set_concurrency(4)
    combo = window.upload_panel.profile_combo
    combo.setCurrentIndex(combo.findData("Sandbox Claros"))
    window.show()
    window.add_paths(files)
    n = len(files)
    if not run_loop_until(lambda: window.model.rowCount() == n and window.counts()["ready"] == n
                          and window.upload_panel.upload_button.isEnabled(),  # patient known
                          120, [window.countsChanged, window.lookup.changed]):
        raise RuntimeError(f"staging did not finish: {window.counts()}")
    quiet = idle(1.0)
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    window.upload_panel.upload_button.click()
    ok = run_loop_until(lambda: window.counts()["sent"] == n, 300, [window.countsChanged])
    seconds = time.perf_counter() - t0
    stalls = beat.stop()
    if not ok:
        raise RuntimeError(f"the batch did not finish: {window.counts()}")
    window.shutdown()
    return {"files": n, "seconds": seconds, **stalls, "idle": quiet}


def staging(folder: Path) -> dict[str, Any]:
    from uploader_gui.gui.launch import prepare_window_start

    prepare_window_start(read_history=False)  # as `uploader-gui` starts (its collector)
    from PySide6.QtCore import QEvent, QObject

    from uploader_gui.gui.app import make_app
    from uploader_gui.gui.main_window import MainWindow

    make_app()
    files = sorted(p for p in folder.iterdir() if p.is_file())
    n = len(files)
    window = MainWindow()
    window.show()
    quiet = idle(1.0)
    marks: dict[str, float] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if (event.type() == QEvent.Type.Paint and "rows" in marks
                    and "rows_painted" not in marks):
                marks["rows_painted"] = time.perf_counter()
            return False

    painter = FirstPaint()
    window.view.viewport().installEventFilter(painter)

    def rows_in(*_args: object) -> None:
        if window.model.rowCount() == n and "rows" not in marks:
            marks["rows"] = time.perf_counter()

    window.model.rowsInserted.connect(rows_in)
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    window.add_paths(files)  # what a drop of these files calls
    ok = run_loop_until(lambda: window.model.rowCount() == n and window.counts()["checking"] == 0,
                        300, [window.countsChanged])
    t_verdicts = time.perf_counter()
    stalls = beat.stop()
    if not ok:
        raise RuntimeError(f"staging did not finish: {window.counts()}")
    counts = window.counts()
    window.shutdown()
    rows_at = marks.get("rows_painted", marks["rows"])
    return {"files": n, "rows_s": rows_at - t0, "rows_model_s": marks["rows"] - t0,
            "verdicts_s": t_verdicts - t0, **stalls, "idle": quiet, "counts": counts}


def bare_table(folder: Path) -> dict[str, Any]:
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QMainWindow, QTableView

    app = QApplication([])
    files = sorted(p for p in folder.iterdir() if p.is_file())
    window = QMainWindow()
    view = QTableView()
    model = QStandardItemModel(0, 6)
    view.setModel(model)
    window.setCentralWidget(view)
    window.show()
    idle(0.3)
    marks: dict[str, float] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "rows" in marks and "painted" not in marks:
                marks["painted"] = time.perf_counter()
            return False

    painter = FirstPaint()
    view.viewport().installEventFilter(painter)
    t0 = time.perf_counter()
    for p in files:
        st = p.stat()
        model.appendRow([QStandardItem(p.name), QStandardItem(p.suffix), QStandardItem(str(st.st_size)),
                         QStandardItem(""), QStandardItem(""), QStandardItem("Checking…")])
    marks["rows"] = time.perf_counter()
    run_loop_until(lambda: "painted" in marks, 10, [], poll_ms=1)
    idle(0.05)
    del app
    return {"files": len(files), "rows_s": marks.get("painted", marks["rows"]) - t0}


def validate_pool(folder: Path) -> dict[str, Any]:
    import multiprocessing

    from uploader_gui.core.validation import validate_file

    files = sorted(p for p in folder.iterdir() if p.is_file())
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(validate_file, files)
    seconds = time.perf_counter() - t0
    return {"files": len(files), "verdicts_s": seconds, "ok": sum(r.ok for r in results)}


def main(argv: list[str]) -> int:
    mode, *args = argv
    if mode == "batch":
        out = batch(args[0], args[1], Path(args[2]))
    elif mode == "staging":
        out = staging(Path(args[0]))
    elif mode == "bare-table":
        out = bare_table(Path(args[0]))
    elif mode == "validate-pool":
        out = validate_pool(Path(args[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip Qt and helper-process teardown; nothing after this is measured


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
