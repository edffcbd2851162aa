"""Every command of the main window, declared once: its text, shortcut and tooltip.

The menu bar, the buttons and the keyboard shortcuts all use these ``QAction``s, so a
command reads and behaves the same wherever it is reached from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QPushButton, QVBoxLayout, QWidget


def tr(text: str) -> str:
    return QCoreApplication.translate("Actions", text)


def action(parent: QWidget, text: str, slot: Callable[[], object], *,
           shortcut: QKeySequence | str | QKeySequence.StandardKey | None = None,
           extra: tuple[str, ...] = (), tip: str = "") -> QAction:
    act = QAction(text, parent)
    keys: list[QKeySequence] = []
    if isinstance(shortcut, QKeySequence.StandardKey):
        keys.extend(QKeySequence.keyBindings(shortcut))
    elif shortcut:
        keys.append(QKeySequence(shortcut))
    keys.extend(QKeySequence(k) for k in extra)
    unique: dict[str, QKeySequence] = {}
    for k in keys:  # the same key twice would make the shortcut ambiguous: it would not fire
        unique.setdefault(k.toString(), k)
    keys = list(unique.values())
    if keys:
        act.setShortcuts(keys)
    if tip:
        shown = keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""
        act.setToolTip(f"{tip} ({shown})" if shown else tip)
        act.setStatusTip(tip)
    act.triggered.connect(lambda _checked=False: slot())
    return act


def button(act: QAction, text: str | None = None) -> QPushButton:
    """A push button that runs ``act`` and follows its enabled state and tooltip."""
    b = QPushButton(text if text is not None else act.text())
    b.setToolTip(act.toolTip())
    b.setAccessibleName((text if text is not None else act.text()).replace("&", "").rstrip("…"))
    b.setEnabled(act.isEnabled())
    b.clicked.connect(act.trigger)

    def follow() -> None:
        b.setEnabled(act.isEnabled())
        b.setToolTip(act.toolTip())

    act.changed.connect(follow)
    return b


@dataclass
class WindowActions:
    add_files: QAction
    add_folder: QAction
    remove: QAction
    clear_all: QAction
    clear_sent: QAction
    retry: QAction
    move_up: QAction
    move_down: QAction
    combine: QAction
    upload: QAction
    cancel_all: QAction
    find_patient: QAction
    profiles: QAction
    show_send: QAction
    show_history: QAction
    help: QAction
    about: QAction
    quit: QAction


def make_actions(w: QMainWindow, slots: dict[str, Callable[[], object]]) -> WindowActions:
    """The window's commands; ``slots`` maps each field of :class:`WindowActions` to its slot."""
    a = WindowActions(
        add_files=action(w, tr("&Add files…"), slots["add_files"],
                         shortcut=QKeySequence.StandardKey.Open,
                         tip=tr("Choose PDF, JPEG or PNG files to add")),
        add_folder=action(w, tr("Add f&older…"), slots["add_folder"], shortcut="Ctrl+Shift+O",
                          tip=tr("Add every document in a folder and its subfolders")),
        remove=action(w, tr("&Remove selected"), slots["remove"],
                      shortcut=QKeySequence.StandardKey.Delete, extra=("Backspace",),
                      tip=tr("Take the selected files off the list. The files themselves are "
                             "not touched")),
        clear_all=action(w, tr("&Clear all"), slots["clear_all"], shortcut="Ctrl+Shift+Del",
                         tip=tr("Empty the list. The files themselves are not touched")),
        clear_sent=action(w, tr("Clear s&ent"), slots["clear_sent"],
                          tip=tr("Take the files that were sent off the list")),
        retry=action(w, tr("Re&try failed"), slots["retry"], shortcut="Ctrl+R",
                     tip=tr("Send the files that failed again; files whose outcome is unknown "
                            "are asked about first")),
        move_up=action(w, tr("Move &up"), slots["move_up"], shortcut="Alt+Up",
                       tip=tr("Move the selected file up: the order used to combine images")),
        move_down=action(w, tr("Move &down"), slots["move_down"], shortcut="Alt+Down",
                         tip=tr("Move the selected file down")),
        combine=action(w, tr("Com&bine into one PDF"), slots["combine"],
                       tip=tr("Make one PDF of the selected images, in the order shown. Your "
                              "images are not changed")),
        upload=action(w, tr("&Upload"), slots["upload"], shortcut="Ctrl+Return",
                      extra=("Ctrl+Enter",), tip=tr("Send the ready files")),
        cancel_all=action(w, tr("Cancel a&ll uploads"), slots["cancel_all"],
                          tip=tr("Stop every upload in progress or waiting")),
        find_patient=action(w, tr("&Find patient…"), slots["find_patient"], shortcut="Ctrl+F",
                            tip=tr("Search the patients of this account by name, date of birth "
                                   "or ID")),
        profiles=action(w, tr("Pro&files…"), slots["profiles"], shortcut="Ctrl+,",
                        tip=tr("Add or change the systems this computer sends to")),
        show_send=action(w, tr("&Send"), slots["show_send"], shortcut="Ctrl+1",
                         tip=tr("Show the files to send")),
        show_history=action(w, tr("&History"), slots["show_history"], shortcut="Ctrl+2",
                            tip=tr("Show what was sent, when and where")),
        help=action(w, tr("&Using the uploader"), slots["help"],
                    shortcut=QKeySequence.StandardKey.HelpContents, extra=("F1",),
                    tip=tr("Read how to use the app")),
        about=action(w, tr("&About"), slots["about"]),
        quit=action(w, tr("&Quit"), slots["quit"], shortcut=QKeySequence.StandardKey.Quit,
                    tip=tr("Close the app")),
    )
    # Keys that mean something else in a text field work on the file list only.
    for act in (a.remove, a.move_up, a.move_down):
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    return a


def build_menus(w: QMainWindow, a: WindowActions) -> None:
    bar = w.menuBar()
    file_menu = bar.addMenu(tr("&File"))
    for act in (a.add_files, a.add_folder, None, a.upload, a.retry, a.cancel_all, None,
                a.profiles, None, a.quit):
        file_menu.addSeparator() if act is None else file_menu.addAction(act)
    edit = bar.addMenu(tr("&Edit"))
    for act in (a.remove, a.clear_sent, a.clear_all, None, a.move_up, a.move_down, a.combine,
                None, a.find_patient):
        edit.addSeparator() if act is None else edit.addAction(act)
    view = bar.addMenu(tr("&View"))
    view.addAction(a.show_send)
    view.addAction(a.show_history)
    help_menu = bar.addMenu(tr("&Help"))
    help_menu.addAction(a.help)
    help_menu.addAction(a.about)


class FileButtons(QWidget):
    """The buttons above the file list, each running one of the window's actions."""

    def __init__(self, a: WindowActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.add_button = button(a.add_files)
        self.add_folder_button = button(a.add_folder)
        self.remove_button = button(a.remove)
        self.clear_button = button(a.clear_all)
        self.clear_sent_button = button(a.clear_sent)
        self.retry_button = button(a.retry)
        self.up_button = button(a.move_up, "▲")
        self.up_button.setAccessibleName(tr("Move up"))
        self.down_button = button(a.move_down, "▼")
        self.down_button.setAccessibleName(tr("Move down"))
        for b in (self.up_button, self.down_button):
            b.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 3)
        self.combine_button = button(a.combine)
        self.profiles_button = button(a.profiles)
        top = QHBoxLayout()
        for b in (self.add_button, self.add_folder_button, self.remove_button, self.clear_button):
            top.addWidget(b)
        top.addStretch(1)
        top.addWidget(self.profiles_button)
        arrange = self.arrange = QHBoxLayout()  # the window adds its Scan tools here
        for b in (self.up_button, self.down_button, self.combine_button):
            arrange.addWidget(b)
        arrange.addStretch(1)
        arrange.addWidget(self.clear_sent_button)
        arrange.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(arrange)
