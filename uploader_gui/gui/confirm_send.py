"""The last look before sending: each file and where it goes, and any duplicate."""

from __future__ import annotations

import time
from html import escape

from PySide6.QtWidgets import QMessageBox, QWidget

from uploader_gui.core.jobs import Job
from uploader_gui.core.profiles import Profile


def summary_html(profile: Profile, jobs: list[Job], duplicates: dict[str, Job]) -> str:
    rows = []
    for job in jobs:
        line = f"{escape(job.name)} → <b>{escape(job.dest_key)}</b>"
        if job.sources:
            line += " (converted to PDF)"
        earlier = duplicates.get(job.uid)
        if earlier is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(earlier.finished or earlier.created))
            line += (f"<br><span style='color:#b45309'>Already sent there on {when} "
                     f"(history #{earlier.id}).</span>")
        rows.append(f"<li>{line}</li>")
    return (f"<p>Send {len(jobs)} file(s) to <b>{escape(profile.name)}</b>?</p>"
            f"<ul>{''.join(rows)}</ul>")


def ask_to_send(parent: QWidget | None, profile: Profile, jobs: list[Job],
                duplicates: dict[str, Job]) -> str:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if duplicates else QMessageBox.Icon.Question)
    box.setWindowTitle("Check before sending")
    box.setTextFormat(box.textFormat().RichText)
    box.setText(summary_html(profile, jobs, duplicates))
    send = box.addButton("Send", QMessageBox.ButtonRole.AcceptRole)
    skip = None
    if duplicates and len(duplicates) < len(jobs):
        skip = box.addButton("Send all but the duplicates", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if duplicates else send)
    box.exec()
    clicked = box.clickedButton()
    if clicked is send:
        return "all"
    if skip is not None and clicked is skip:
        return "skip-duplicates"
    return "cancel"
