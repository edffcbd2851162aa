"""The window's scan-to-send tools, behind one button: *Scan…*, *Pages…*, *Split at cover
sheets…* and *Print cover sheet…*.

The main window only creates :class:`ScanTools` and puts :attr:`ScanTools.button`
in a toolbar row; the tools reach the window through a few members it already
has (the staging model and its selection, the upload panel's profile, the
validator, the upload queue) and one it adds, ``stage_copies([(path, sources)])``,
which stages the app's private copies with the user's originals as their sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtWidgets import QMenu, QMessageBox, QToolButton

if TYPE_CHECKING:  # each tool's dialog (and SANE, pikepdf, the splitter) loads when opened
    from uploader_gui.core.jobs import Job
    from uploader_gui.core.pages import Edited
    from uploader_gui.gui.batch_dialog import SplitBatchDialog
    from uploader_gui.gui.cover_sheet_dialog import CoverSheetDialog
    from uploader_gui.gui.page_tools import PageToolsDialog
    from uploader_gui.gui.scan_dialog import ScanDialog


def tr(text: str) -> str:
    return QCoreApplication.translate("ScanTools", text)


class ScanTools(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.button = QToolButton()
        self.button.setText(tr("Scan…"))
        self.button.setToolTip(tr("Scan paper, fix pages, split batches at cover sheets, or "
                                  "print a cover sheet."))
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.button)
        self.scan_action = menu.addAction(tr("&Scan…"), self.open_scan)
        self.pages_action = menu.addAction(tr("&Pages of the selected PDFs…"), self.open_pages)
        self.split_action = menu.addAction(tr("Split at &cover sheets and send…"),
                                           self.open_split)
        self.cover_action = menu.addAction(tr("Print cover &sheet…"), self.open_cover_sheet)
        self.button.setMenu(menu)
        self.button.clicked.connect(self.open_scan)
        self.dialog: Any = None

    # ------------------------------------------------------------------ window access

    def _profile(self) -> Any:
        return self.window.upload_panel.current_profile()

    def _selected_pdfs(self) -> list[Any]:
        items = self.window.model.items()
        chosen = [items[r] for r in self.window.selected_rows()]
        return [i for i in chosen if i.ready and i.result is not None and i.result.type == "pdf"]

    def _origins(self, items: list[Any]) -> dict[Path, list[dict[str, str]]]:
        return {Path(i.path): list(i.sources) for i in items if i.sources}

    def _tell(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------------ the tools

    def open_scan(self) -> ScanDialog:
        from uploader_gui.gui.scan_dialog import ScanDialog

        profile = self._profile()
        device = profile.config.scan_device if profile is not None else None
        self.dialog = ScanDialog(self.window, device=device)
        self.dialog.scanned.connect(lambda pdf: self.window.stage_copies([(Path(pdf), [])]))
        self.dialog.open()
        return self.dialog

    def open_pages(self) -> PageToolsDialog | None:
        items = self._selected_pdfs()
        if not items:
            QMessageBox.information(self.window, tr("Pages"), tr(
                "Select one PDF (or several, to merge them) in the list first. Scans are "
                "added to the list as PDFs."))
            return None
        from uploader_gui.gui.page_tools import PageToolsDialog

        self.dialog = PageToolsDialog([i.path for i in items], self._origins(items), self.window)
        keys = [i.key for i in items]

        def saved(docs: list[Edited]) -> None:
            self.window.model.remove_rows([r for r, it in enumerate(self.window.model.items())
                                           if it.key in keys])
            self.window.stage_copies([(d.path, d.sources) for d in docs])
            self._tell(tr("%d new document(s) were added in place of the originals, which "
                          "were not changed.") % len(docs))

        self.dialog.saved.connect(saved)
        self.dialog.open()
        return self.dialog

    def open_split(self) -> SplitBatchDialog | None:
        items = self._selected_pdfs()
        profile = self._profile()
        if self.window.uploads.dispatcher is None:
            QMessageBox.information(self.window, tr("Split at cover sheets"), (
                self.window.history_problem or tr(
                    "The upload history is still being opened. Try again in a moment.")))
            return None
        if len(items) != 1 or profile is None:
            QMessageBox.information(self.window, tr("Split at cover sheets"), tr(
                "Choose a profile and select one scanned PDF in the list first."))
            return None
        item = items[0]
        dispatcher = self.window.uploads.dispatcher

        def submit(jobs: list[Job]) -> None:
            for job in jobs:
                dispatcher.submit(job)
            self._tell(tr("%d document(s) are on their way; see History.") % len(jobs))

        from uploader_gui.gui.batch_dialog import SplitBatchDialog

        self.dialog = SplitBatchDialog(item.path, profile, self.window.history,
                                       self.window._validator, submit,
                                       sources=item.sources or None, parent=self.window)
        self.dialog.unmatched.connect(self.window.stage_copies)
        self.dialog.open()
        return self.dialog

    def open_cover_sheet(self) -> CoverSheetDialog:
        from uploader_gui.gui.cover_sheet_dialog import CoverSheetDialog

        profiles = list(self.window.uploads.profiles.values())
        patient = self.window.upload_panel.patient.text() if hasattr(
            self.window.upload_panel, "patient") else ""
        self.dialog = CoverSheetDialog(profiles, self.window, patient=patient)
        current = self._profile()
        if current is not None:
            self.dialog.profile.setCurrentIndex(self.dialog.profile.findData(current.name))
        self.dialog.open()
        return self.dialog
