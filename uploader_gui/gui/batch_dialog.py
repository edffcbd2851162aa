"""*Split at cover sheets…*: a scanned batch as parts, each with its pages and patient,
sent with one confirmation.

On a worker: the batch's barcodes are read (:func:`splitter.analyse`), every
part is written as its own PDF and planned for the destination its cover sheet
or patient label suggests (:func:`routing.route_parts`, the one planner, so the
patient's name and date of birth come from the target). The dialog then lists
each part: its pages, the patient by name, how it was routed, and the planner's
refusals and questions (each at its safe answer). A person ticks the parts to
send and confirms once. Barcodes only suggest: nothing is sent before that.
Unmatched parts are handed back (:attr:`unmatched`) to be staged for a person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import Job
from uploader_gui.core.profiles import Profile
from uploader_gui.core.routing import RoutedPart, discard_unplanned, discard_unsent, route_parts
from uploader_gui.core.splitter import LABEL, SHEET, analyse
from uploader_gui.core.validation import IsolatedValidator
from uploader_gui.gui.confirm_send import _CHOICE
from uploader_gui.gui.tasks import TaskRunner

SubmitFn = Callable[[list[Job]], None]


def tr(text: str) -> str:
    return QCoreApplication.translate("SplitBatch", text)


def pages_text(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return tr("page %d") % numbers[0]
    if list(numbers) == list(range(numbers[0], numbers[-1] + 1)):
        return tr("pages %d–%d") % (numbers[0], numbers[-1])
    return tr("pages ") + ", ".join(map(str, numbers))


def part_html(item: RoutedPart) -> str:
    part = item.part
    how = {SHEET: tr("cover sheet"), LABEL: tr("patient label, suggested")}.get(
        part.route, tr("no cover sheet"))
    pages = escape(pages_text(part.page_numbers))
    if item.plan is not None and item.plan.patient is not None:
        who = f"<b>{escape(item.plan.patient.label())}</b>"
    elif part.dest_id:
        who = f"<b>{escape(part.dest_id)}</b>"
    else:
        who = "<b>" + escape(tr("unmatched: choose the patient by hand")) + "</b>"
    lines = [f"{pages} → {who} <i>({escape(how)})</i>"]
    if item.plan is not None:
        lines += [f"<span style='color:#a00'>{escape(r.reason)}</span>"
                  for r in item.plan.refused]
    reason = item.reason or (part.note if part.route == SHEET else "")
    if reason:
        lines.append(f"<i>{escape(reason)}</i>")
    return "<br>".join(lines)


class SplitBatchDialog(QDialog):
    #: Jobs submitted (after the person confirmed).
    sent = Signal(list)
    #: Unmatched parts and parts left for a person: [(path, sources)] to stage.
    unmatched = Signal(list)

    def __init__(self, batch: Path, profile: Profile, history: HistoryStore | None,
                 validator: IsolatedValidator, submit: SubmitFn,
                 sources: Sequence[dict[str, str]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.batch, self.profile, self.submit = Path(batch), profile, submit
        self.setWindowTitle(tr("Split %s at cover sheets") % self.batch.name)
        self._runner = TaskRunner(self, workers=1)
        self.routed: list[RoutedPart] = []
        self.part_boxes: list[tuple[QCheckBox, RoutedPart]] = []
        self.question_boxes: dict[tuple[int, str], QCheckBox] = {}
        self._finished = False

        self.status = QLabel(tr("Reading the cover sheets and labels…"))
        self.status.setWordWrap(True)
        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.list_widget)
        buttons = QDialogButtonBox()
        self.send_button = buttons.addButton(tr("&Send"), QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(tr("&Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self.send)
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(640, 460)

        config, creds, defaults = profile.config, profile.credentials, profile.defaults
        batch_sources = list(sources) if sources else None

        def work() -> list[RoutedPart]:
            result = analyse(self.batch, config)
            return route_parts(result, config, creds, defaults, history, validator, profile.name,
                               sources=batch_sources)

        self._runner.run(work, self._routed)

    def _routed(self, routed: list[RoutedPart] | None, error: BaseException | None) -> None:
        if error is not None or routed is None:
            self.status.setText(tr("The batch could not be split: %s") % error)
            return
        self.routed = routed
        for n, item in enumerate(routed):
            box = QCheckBox(tr("Part %d") % (n + 1))
            ready = item.plan is not None and bool(item.plan.jobs)
            box.setChecked(ready)
            box.setEnabled(ready)
            text = QLabel(part_html(item))
            text.setWordWrap(True)
            self.list_layout.addWidget(box)
            self.list_layout.addWidget(text)
            self.part_boxes.append((box, item))
            if item.plan is None:
                continue
            for q in item.plan.questions:
                qbox = QCheckBox(f"{tr(_CHOICE.get(q.kind, 'Go ahead'))}: {q.text}")
                qbox.setChecked(q.default)
                self.question_boxes[(n, q.id)] = qbox
                self.list_layout.addWidget(qbox)
            box.toggled.connect(self._update)
        self.list_layout.addStretch(1)
        sendable = sum(1 for b, _ in self.part_boxes if b.isEnabled())
        left = len(routed) - sendable
        self.status.setText(
            tr("%d part(s) found. Check each patient, then send.") % len(routed)
            + (tr(" %d part(s) cannot be sent from here and will be added to the list for you "
                  "to choose the patient.") % left if left else ""))
        self._update()

    def chosen(self) -> list[RoutedPart]:
        return [item for box, item in self.part_boxes if box.isChecked() and box.isEnabled()]

    def _update(self) -> None:
        n = len(self.chosen())
        self.send_button.setEnabled(n > 0)
        self.send_button.setText(tr("&Send %d document(s)") % n if n else tr("&Send"))

    def send(self) -> None:
        """The one confirmation: the ticked parts go, with their questions' answers."""
        jobs: list[Job] = []
        chosen = self.chosen()
        discard_unsent(self.routed, chosen)  # refused or not ticked: their copies go
        for n, item in enumerate(self.routed):
            if item.plan is None or item not in chosen:
                continue
            answers = {qid: box.isChecked() for (k, qid), box in self.question_boxes.items()
                       if k == n}
            resolution = item.plan.resolve(answers)
            jobs += [p.job for p in resolution.jobs]
        self._finished = True
        self._hand_back_unmatched()
        if jobs:
            self.submit(jobs)
        self.sent.emit(jobs)
        self.accept()

    def _hand_back_unmatched(self) -> None:
        left = [(item.document.path, item.document.sources) for item in self.routed
                if item.plan is None]
        if left:
            self.unmatched.emit(left)

    def reject(self) -> None:
        if not self._finished:
            self._finished = True
            discard_unsent(self.routed)
            discard_unplanned(self.routed)
        super().reject()

    def done(self, code: int) -> None:
        self._runner.shutdown()
        super().done(code)
