"""The window's first frame, drawn before the rest of the app is imported.

A cold start paints at once what a person sees first: the menus' titles, the Send and
History tabs, an empty staging area with its drop hint and the list of profiles. At the
same moment the history is opened on a worker, and its newest page goes into the model
the History tab will show. Only then does the window import and build the rest (the
checks, the upload queue, the preview, the profile editor…) and put it in place of this
frame, in the same window.

Nothing given to the frame is lost: files dropped on it are staged once the window is
built, and the keyring is looked for then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSocketNotifier, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core import history_preread
from uploader_gui.core.names import KIND_LABELS
from uploader_gui.gui.banner import make_banner
from uploader_gui.gui.history_model import HistoryModel

if TYPE_CHECKING:
    from uploader_gui.core.profiles import Profile
    from uploader_gui.gui.tasks import TaskRunner

#: The longest the frame waits for the history's first page before the rest is built
#: anyway (a clinic's PostgreSQL server far away): the page then arrives in the built window.
PAGE_WAIT_MS = 300


def tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


class _FirstPaint(QObject):
    """Calls back once, after the window's first paint, and removes itself."""

    def __init__(self, window: QMainWindow, painted: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._painted = window, painted
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self._painted)  # after this paint has reached the screen
        return False


def _open_history() -> Any:
    """Worker thread: open the history (imported here, off the UI thread) and read its
    newest page."""
    from uploader_gui.gui.window_history import open_history

    return open_history()


class WindowShell:
    """The frame of ``window`` until ``build`` (the rest of the window) has run."""

    def __init__(self, window: QMainWindow, runner: TaskRunner, profiles: list[Profile],
                 build: Callable[[], None], banner: str = "", sandbox: bool = False) -> None:
        self.window, self._build = window, build
        self.model = HistoryModel(window)
        #: What the history's opening on the worker gave: (OpenedHistory, error), once in.
        self.opened: tuple[Any, BaseException | None] | None = None
        self.dropped: list[str] = []
        #: Whether the newest page came from the child process (before the window's opening).
        self.early_page_shown = False
        self._painted = self._built = False
        for title in (tr("&File"), tr("&Edit"), tr("&View"), tr("&Help")):
            window.menuBar().addMenu(title).setEnabled(False)
        window.setCentralWidget(self._frame(window, profiles, banner, sandbox))
        window.statusBar()
        self._first_paint = _FirstPaint(window, self._on_painted)
        self._deadline = QTimer(window)
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(PAGE_WAIT_MS)
        self._deadline.timeout.connect(self._maybe_build)
        self._runner, self._page_shown = runner, False
        self._early = history_preread.take()  # the newest page, read by a child process
        self._opening = self._early is None
        from uploader_gui.gui import window_state

        if self._opening:  # no child: the size left last time and the history, on workers
            window_state.restore_geometry(window, None, runner)
            runner.run(_open_history, self._history_opened)
        else:  # the child reads both: no thread before the first paint (the window's own
            window_state.initial_size(window)  # opening waits for it: it needs the lock)
            self._notifier = QSocketNotifier(self._early.fd, QSocketNotifier.Type.Read, window)
            self._notifier.activated.connect(self._early_data)

    @staticmethod
    def _frame(window: QMainWindow, profiles: list[Profile], banner: str,
               sandbox: bool) -> QWidget:
        margin = window.fontMetrics().horizontalAdvance("M") // 2
        # Centred by its markup, not by Qt.AlignmentFlag (no Qt namespace yet: gui/roles.py).
        hint = QLabel('<div align="center">{}<br>{}</div>'.format(
            tr("Drag PDF, JPEG or PNG files or whole folders here,"),
            tr("or click “Add files…” (Ctrl+O).")))
        hint.setEnabled(False)  # drawn in the grey of the real list's empty text
        files, preview = QFrame(), QFrame()  # the file list and the preview, 2:1 as built
        for frame in (files, preview):
            frame.setFrameShape(QFrame.Shape.StyledPanel)
        QVBoxLayout(files).addWidget(hint)
        top = QHBoxLayout()
        top.addWidget(files, 2)
        top.addWidget(preview, 1)
        combo = QComboBox()
        combo.setAccessibleName(tr("Send to"))
        for p in profiles:
            combo.addItem(f"{p.name} ({KIND_LABELS.get(p.config.kind, p.config.kind)})")
        if not profiles:
            combo.setPlaceholderText(tr("Looking for the profiles…"))
        combo.setEnabled(False)
        panel = QFrame()
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(panel)
        row.addWidget(QLabel(tr("Send to:")))
        row.addWidget(combo, 1)
        send = QWidget()
        column = QVBoxLayout(send)
        column.addLayout(top, 1)
        column.addWidget(panel)
        tabs = QTabWidget()
        tabs.addTab(send, tr("&Send"))
        tabs.addTab(QLabel(tr("Opening the upload history…")), tr("&History"))
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(margin, margin, margin, 0)
        if banner:
            outer.addWidget(make_banner(banner, sandbox, selectable=False))
        outer.addWidget(tabs, 1)
        return central

    # ------------------------------------------------------------------ until built

    def _early_data(self) -> None:
        """The child's pipe can be read (UI thread, never waiting): the page, once whole."""
        early = self._early
        if early is None or not history_preread.read_some(early):
            return
        self._notifier.setEnabled(False)
        self._early = None
        page, state = history_preread.result(early)
        from uploader_gui.gui import window_state

        if state is not None:
            window_state.apply_state(self.window, None, state)
        else:  # the child could not read it: read it here, on a worker
            window_state.restore_geometry(self.window, None, self._runner)
        if page is not None and self.opened is None:
            self.model.show_page(page, self.model.begin_reload())
            self._page_shown = self.early_page_shown = True
        self._maybe_build()

    def _history_opened(self, opened: Any, error: BaseException | None) -> None:
        if self._built:  # the page was slow: the built window takes it as usual
            self.window._history_opened(opened, error)  # type: ignore[attr-defined]
            return
        self.opened = (opened, error)
        page = getattr(opened, "first_page", None) if error is None else None
        if page is not None:
            self.model.show_page(page, self.model.begin_reload())
        self._page_shown = True
        self._maybe_build()

    def _on_painted(self) -> None:
        self._painted = True
        self._deadline.start()
        if self.opened is None and not self._opening:
            self._opening = True
            self._runner.run(_open_history, self._history_opened)
        self._maybe_build()

    def _maybe_build(self) -> None:
        """Build the rest once the frame is on screen and the first page is in (or late)."""
        if self._built or not self._painted:
            return
        if not self._page_shown and self._deadline.isActive():
            return
        self.build_now()

    def build_now(self) -> None:
        if self._built:
            return
        self._built = True
        self._deadline.stop()
        self.abandon_early()  # a preview still on its way: the window's own opening follows
        self.window.menuBar().clear()
        self._build()

    def abandon_early(self) -> None:
        """The child has not answered (the window is built or closed first): end it, and
        read the size left last time here instead (on a worker; a no-op once closed)."""
        if self._early is not None:
            self._notifier.setEnabled(False)
            history_preread.abandon(self._early)
            self._early = None
            from uploader_gui.gui.window_state import restore_geometry

            restore_geometry(self.window, None, self._runner)

    @property
    def built(self) -> bool:
        return self._built

    def drag_enter(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def drop(self, event: QDropEvent) -> None:
        """Files dropped on the frame: kept, and staged as soon as the window is built."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        self.dropped += [str(Path(p)) for p in paths if p]
        if paths:
            event.acceptProposedAction()
