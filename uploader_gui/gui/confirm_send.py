"""The last look before sending: each file and where it goes, and the planner's questions.

The dialog shows a :class:`~uploader_gui.core.planner.Plan` and returns the
answers ``{question id: bool}``, or None for Cancel. Every question starts at
its safe answer; a person ticks what should go ahead anyway.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from uploader_gui.core.planner import (
    CONVERT_IMAGE,
    DUPLICATE,
    PATIENT_NOTE,
    REMOVE_SCRIPTS_Q,
    REPLACE_FILE,
    UNKNOWN_EARLIER,
    Plan,
    Question,
)


def tr(text: str) -> str:
    return QCoreApplication.translate("ConfirmSend", text)


#: What ticking a question's box means, in the words of its checkbox.
_CHOICE = {
    DUPLICATE: "Send it again anyway",
    UNKNOWN_EARLIER: "Send it anyway (I checked: it did not arrive)",
    REPLACE_FILE: "Replace it (a backup of the current file is kept)",
    CONVERT_IMAGE: "Send it as a PDF",
    PATIENT_NOTE: "Send all the same",
    REMOVE_SCRIPTS_Q: "Send a copy without the scripts",
}

#: How a file made by the app from the user's is described, by ``sources[0]["copy"]``.
_COPY_NOTES = {
    "repaired": " (a repaired copy; your file is not changed)",
    "without scripts": " (a copy without its scripts; your file is not changed)",
}


def files_phrase(n: int) -> str:
    return tr("1 file") if n == 1 else tr("%n files").replace("%n", str(n))


def summary_html(plan: Plan) -> str:
    """Each file and its destination, by name where the target knows it."""
    rows = []
    for planned in plan.jobs:
        job = planned.job
        dest = job.patient_label or job.dest_key
        line = f"{escape(job.name)} → <b>{escape(dest)}</b>"
        if job.sources:
            note = _COPY_NOTES.get(job.sources[0].get("copy", ""), " (converted to PDF)")
            line += escape(tr(note))
        notes = [q for q in plan.questions if q.key == planned.key and q.kind != CONVERT_IMAGE]
        for q in notes:
            line += f"<br><i>{escape(q.text)}</i>"
        rows.append(f"<li>{line}</li>")
    where = escape(plan.where)
    head = tr("Send {files} to {where}?").format(files=files_phrase(len(plan.jobs)),
                                                 where=f"<b>{where}</b>")
    return f"<p>{head}</p><ul>{''.join(rows)}</ul>"


class ConfirmSendDialog(QDialog):
    def __init__(self, plan: Plan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self.setWindowTitle(tr("Check before sending"))
        layout = QVBoxLayout(self)
        text = QLabel(summary_html(plan))
        text.setWordWrap(True)
        text.setAccessibleName(tr("Files and where they go"))
        layout.addWidget(text)
        self.boxes: dict[str, QCheckBox] = {}
        for q in plan.questions:
            if q.key is None or q.kind != CONVERT_IMAGE:
                layout.addWidget(self._question(q))
        buttons = QDialogButtonBox()
        self.send_button = buttons.addButton(tr("&Send"), QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(tr("&Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        risky = any(not q.default for q in plan.questions)
        (cancel if risky else self.send_button).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _question(self, q: Question) -> QWidget:
        choice = tr(_CHOICE.get(q.kind, "Go ahead"))
        names = [p.job.name for p in self.plan.jobs if p.key == q.key]
        box = QCheckBox(f"{names[0]}: {choice}" if names else choice)
        box.setChecked(q.default)
        box.setToolTip(q.text)
        box.setAccessibleName(q.text)
        self.boxes[q.id] = box
        if q.key is not None:  # shown under its file in the list
            return box
        holder = QWidget()
        lay = QVBoxLayout(holder)
        lay.setContentsMargins(0, 0, 0, 0)
        label = QLabel(q.text)
        label.setWordWrap(True)
        lay.addWidget(label)
        lay.addWidget(box)
        return holder

    def answers(self) -> dict[str, bool]:
        out = {q.id: q.default for q in self.plan.questions}
        out.update({qid: box.isChecked() for qid, box in self.boxes.items()})
        return out


def ask_to_send(parent: QWidget | None, plan: Plan) -> dict[str, bool] | None:
    """The person's answers, or None when they chose Cancel."""
    dialog = ConfirmSendDialog(plan, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answers()
