"""What the History tab says about one upload: first what a person asks, then, folded,
the technical details (HTTP status, remote id, attempts, SHA-256, paths)."""

from __future__ import annotations

import time
from html import escape

from PySide6.QtCore import QCoreApplication

from uploader_gui.core.jobs import AttemptRecord, Job
from uploader_gui.core.targets import KIND_LABELS
from uploader_gui.gui.history_model import TIME_FORMAT, patient_text
from uploader_gui.gui.states import state_word


def tr(text: str) -> str:
    return QCoreApplication.translate("HistoryDetails", text)


def when(value: float | None) -> str:
    return time.strftime(TIME_FORMAT, time.localtime(value)) if value else "—"


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><td><b>{escape(k)}</b>&nbsp;</td><td>{escape(v)}</td></tr>"
                               for k, v in rows) + "</table>"


def summary_html(job: Job) -> str:
    """When, file, patient, where, status with its reason: what a person asks first."""
    status = state_word(job.status)
    html = [f"<p><b>{escape(job.name)}</b> — {escape(status)}</p>"]
    if job.error:
        html.append(f"<p><b>{escape(tr('Why:'))}</b> {escape(job.error)}</p>")
    html.append(_table([
        (tr("Patient / record"), patient_text(job)),
        (tr("Sent to"), f"{job.profile or ''} ({KIND_LABELS.get(job.target, job.target)})"),
        (tr("Queued"), when(job.created)),
        (tr("Finished"), when(job.finished)),
    ]))
    if job.server_message:
        html.append(f"<p><b>{escape(tr('The server said:'))}</b></p>"
                    f"<pre>{escape(job.server_message)}</pre>")
    return "".join(html)


def technical_html(job: Job, attempts: list[AttemptRecord]) -> str:
    rows = [
        (tr("Attempts"), str(job.attempts)),
        (tr("HTTP status"), str(job.http_status or "—")),
        (tr("Remote ID"), job.remote_id or "—"), (tr("Link"), job.url or "—"),
        (tr("Redox log IDs"), ", ".join(job.log_ids) or "—"),
        (tr("Destination"), job.dest_key),
        (tr("Size"), f"{job.size:,} bytes"), (tr("SHA-256"), job.sha256), (tr("File"), job.path),
    ]
    html = [_table(rows)]
    if attempts:
        html.append(f"<p><b>{escape(tr('Each attempt'))}</b></p><table><tr><th>#</th>"
                    f"<th>{escape(tr('Started'))}</th><th>{escape(tr('Ended'))}</th>"
                    f"<th>{escape(tr('Bytes sent'))}</th><th>HTTP</th>"
                    f"<th>{escape(tr('Outcome'))}</th></tr>")
        for a in attempts:
            html.append(
                f"<tr><td>{a.number}</td><td>{when(a.started)}</td><td>{when(a.ended)}</td>"
                f"<td>{a.bytes_sent:,}</td><td>{a.http_status or ''}</td>"
                f"<td>{escape(a.decision or tr('in progress'))}"
                f"{': ' + escape(a.error) if a.error else ''}</td></tr>")
        html.append("</table>")
    return "".join(html)
