"""The window as the app starts it: a light first frame, then the rest built in place
(issue 18, "Paint first"). Real widgets, offscreen; a real history in the test's home."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import filemaker as fm
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QComboBox, QLabel

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SENT, Job
from uploader_gui.core.targets import Destination, TargetConfig
from uploader_gui.gui import window_shell
from uploader_gui.gui.main_window import MainWindow


def seed_history(count: int) -> None:
    store = HistoryStore()
    config = TargetConfig(kind="claros", base_url="https://backend.claros.health", name="Desk")
    now = time.time()
    for i in range(count):
        job = Job(path=f"/scans/scan-{i:03d}.pdf", name=f"scan-{i:03d}.pdf", size=1000 + i,
                  sha256=f"{i:064x}", file_type="pdf", target="claros",
                  destination=Destination(patient_id="1001"), target_config=config,
                  profile="Desk")
        job.status, job.attempts, job.created = SENT, 1, now - (count - i) * 60
        store.add_job(job)
    store.close()


def run_fresh(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter, as the app starts (offscreen, its own home)."""
    env = {"QT_QPA_PLATFORM": "offscreen", "UPLOADER_GUI_HOME": str(home),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    return out


def test_first_frame_then_the_whole_window(qtbot) -> None:
    seed_history(5)
    w = MainWindow(profiles=[], first_frame=True)
    qtbot.addWidget(w)
    try:
        # Before any event has run: only the frame (tabs, drop hint, the profile list).
        assert not w.built
        texts = [label.text() for label in w.findChildren(QLabel)]
        assert any("Drag PDF, JPEG or PNG files" in t for t in texts)
        combo = w.findChild(QComboBox)
        assert combo is not None and combo.placeholderText() == "Looking for the profiles…"
        assert [a.text() for a in w.menuBar().actions()] == ["&File", "&Edit", "&View", "&Help"]
        assert not hasattr(w, "history_panel")
        w.show()
        qtbot.waitUntil(lambda: w.built, timeout=10_000)
        # Built in place: the real widgets, the real menus, the history's newest page.
        assert w.history_panel.model is w.history_model
        qtbot.waitUntil(lambda: w.history_model.rowCount() == 5, timeout=10_000)
        assert w.history_model.job(0).name == "scan-004.pdf"  # newest first
        assert w.history_model.job(4).name == "scan-000.pdf"
        assert w.tabs.count() == 2 and w.centralWidget().isAncestorOf(w.tabs)
        file_menu = w.menuBar().actions()[0].menu()
        assert file_menu.isEnabled() and w.actions.add_files in file_menu.actions()
        qtbot.waitUntil(lambda: w.history is not None, timeout=10_000)
        assert "history" not in w.upload_panel.blocked_reason(need_files=False)
    finally:
        w.shutdown()


def test_files_dropped_on_the_frame_are_staged_once_built(qtbot, tmp_path: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "early.pdf")
    w = MainWindow(profiles=[], first_frame=True)
    qtbot.addWidget(w)
    try:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(pdf))])
        drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                          Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        w.dropEvent(drop)  # before the rest of the window exists
        assert drop.isAccepted()
        assert not w.built
        w.show()
        qtbot.waitUntil(lambda: w.built, timeout=10_000)
        qtbot.waitUntil(lambda: w.is_staged(pdf), timeout=10_000)
        assert w.model.rowCount() == 1
    finally:
        w.shutdown()


def test_keyring_asked_of_the_frame_is_looked_for_once_built(qtbot) -> None:
    from uploader_gui.core.secrets import MemoryKeyring, SecretStore

    store = SecretStore(MemoryKeyring())
    w = MainWindow(profiles=[], first_frame=True)
    qtbot.addWidget(w)
    try:
        w.start_keyring(detect=lambda: store)  # as the app does, straight after show()
        w.show()
        qtbot.waitUntil(lambda: w.built, timeout=10_000)
        qtbot.waitUntil(lambda: w.secret_store is store, timeout=10_000)
        assert w.actions.profiles.isEnabled()
    finally:
        w.shutdown()


def test_a_slow_history_does_not_hold_the_window_back(qtbot, monkeypatch) -> None:
    """A clinic's history server far away: the window is built after PAGE_WAIT_MS without
    the page, which then arrives in the built window's History tab."""
    seed_history(3)
    real = window_shell._open_history
    far_away = threading.Event()  # set once the window is seen built without the page

    def slow() -> object:
        far_away.wait(60)
        return real()

    monkeypatch.setattr(window_shell, "_open_history", slow)
    w = MainWindow(profiles=[], first_frame=True)
    qtbot.addWidget(w)
    try:
        w.show()
        qtbot.waitUntil(lambda: w.built, timeout=10_000)
        assert w.history is None and w.history_model.rowCount() == 0  # built before the page
        assert w.upload_panel.blocked_reason() == "Opening the upload history…"
        far_away.set()  # the page arrives now, in the built window
        qtbot.waitUntil(lambda: w.history_model.rowCount() == 3, timeout=10_000)
        qtbot.waitUntil(lambda: w.history is not None, timeout=10_000)
        assert "history" not in w.upload_panel.blocked_reason(need_files=False)
    finally:
        far_away.set()
        w.shutdown()


def test_closed_before_it_was_built(qtbot, app_home: Path) -> None:
    seed_history(2)
    w = MainWindow(profiles=[], first_frame=True)
    qtbot.addWidget(w)
    w.show()
    w.close()  # at once: no uploads, no staged files; nothing to ask
    assert not w.isVisible() and not w.built
    again = MainWindow(profiles=[])  # the next start finds the whole history
    qtbot.addWidget(again)
    try:
        qtbot.waitUntil(lambda: again.history_model.rowCount() == 2, timeout=10_000)
        assert again.history is not None and again.history_problem == ""
    finally:
        again.shutdown()


def test_the_frame_imports_none_of_the_heavy_parts(app_home: Path) -> None:
    """What the first frame needs, in a fresh process: not the checks, the upload queue,
    the HTTP stack, PDF or image parsing, the keyring, the preview or the profile editor."""
    code = (
        "import sys\n"
        "from uploader_gui.gui.app import make_app\n"
        "from uploader_gui.gui.main_window import MainWindow\n"
        "app = make_app()\n"
        "w = MainWindow(profiles=[], first_frame=True)\n"
        "assert not w.built\n"
        "heavy = ['uploader_gui.core.validation', 'uploader_gui.gui.upload_controller',\n"
        "         'uploader_gui.core.dispatcher', 'requests', 'pypdf', 'PIL', 'keyring',\n"
        "         'uploader_gui.gui.preview', 'uploader_gui.gui.profile_dialog',\n"
        "         'uploader_gui.gui.send_tab', 'uploader_gui.gui.window_build',\n"
        "         'PySide6.QtPdf']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from PySide6.QtCore import QEvent, QObject, QTimer\n"
        "import PySide6.QtCore as qtcore\n"
        "class Painted(QObject):\n"
        "    def eventFilter(self, obj, event):\n"
        "        if event.type() == QEvent.Type.Paint:\n"
        "            print('Qt namespace at first paint:', 'Qt' in qtcore.__dict__, flush=True)\n"
        "            w.removeEventFilter(self)\n"
        "            QTimer.singleShot(0, app.quit)\n"
        "        return False\n"
        "painted = Painted(); w.installEventFilter(painted); w.show(); app.exec()\n"
        "w.shutdown()\n"
    )
    out = run_fresh(code, app_home)
    # Nothing heavy, and not even PySide6's Qt namespace (~20 ms of enums: gui/roles.py).
    assert out.stdout.strip().splitlines() == ["[]", "Qt namespace at first paint: False"]


def test_the_app_start_shows_the_page_the_child_read(app_home: Path) -> None:
    """As `uploader-gui` starts: the child started before Qt reads the newest page, the
    first frame shows it, and the window's own opening then takes over the history."""
    seed_history(4)
    code = (
        "import os, sys\n"
        "from uploader_gui.core import history_preread\n"
        "history_preread.start()\n"
        "from PySide6.QtCore import QTimer\n"
        "from uploader_gui.gui.app import open_window\n"
        # However slow the child is to answer on a loaded machine, the frame waits for its
        # page (not only PAGE_WAIT_MS), and the window's own opening, which starts at the
        # first paint, reads the history only once the child's answer is in.
        "import threading\n"
        "from uploader_gui.gui import window_shell\n"
        "window_shell.PAGE_WAIT_MS = 20_000\n"
        "answered = threading.Event()\n"
        "real_early, real_open = window_shell.WindowShell._early_data, window_shell._open_history\n"
        "def early_data(self):\n"
        "    real_early(self)\n"
        "    if self._early is None:\n"
        "        answered.set()\n"
        "def open_after_the_child():\n"
        "    answered.wait(20)\n"
        "    return real_open()\n"
        "window_shell.WindowShell._early_data = early_data\n"
        "window_shell._open_history = open_after_the_child\n"
        "app, w, _ = open_window()\n"
        "def done():\n"
        "    if not (w.built and w.history is not None):\n"
        "        return\n"
        "    print(w.shell.early_page_shown, w.history_model.rowCount(),\n"
        "          w.history_model.job(0).name, flush=True)\n"
        "    w.close()\n"
        "t = QTimer(); t.timeout.connect(done); t.start(20)\n"
        "QTimer.singleShot(30_000, app.quit)\n"
        "app.exec()\n"
    )
    out = run_fresh(code, app_home)
    assert out.stdout.split() == ["True", "4", "scan-003.pdf"]
    assert not list((app_home / "data").glob("*.running-*"))  # closed cleanly


def test_the_roles_are_qt_own() -> None:
    from uploader_gui.gui import roles

    assert roles.DISPLAY == Qt.ItemDataRole.DisplayRole.value
    assert roles.DECORATION == Qt.ItemDataRole.DecorationRole.value
    assert roles.TOOLTIP == Qt.ItemDataRole.ToolTipRole.value
    assert roles.USER == Qt.ItemDataRole.UserRole.value


def test_the_sandbox_banner_is_in_the_first_frame_too(qtbot) -> None:
    text = "<b>Sandbox mode: nothing here reaches a real clinic system.</b>"
    w = MainWindow(profiles=[], banner=text, sandbox=True, first_frame=True)
    qtbot.addWidget(w)
    try:
        assert not w.built
        assert any(label.text() == text for label in w.findChildren(QLabel))
        w.show()
        qtbot.waitUntil(lambda: w.built, timeout=10_000)
        assert w.banner.text() == text
        qtbot.waitUntil(w.banner.isVisible, timeout=10_000)  # shown as the layout takes it
    finally:
        w.shutdown()
