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


PROOFS = {
    "redcap-readback-sha256": "REDCap's copy was read back and is byte for byte the file sent",
    "claros-receipt": "Claros's receipt names the same patient and file",
    "redox-logs-succeeded": "Redox's logs say every destination received it",
}


def proof_text(job: Job) -> str:
    """Verified (and how), or accepted without proof: what a person can rely on."""
    how = tr(PROOFS.get(job.proof or "", job.proof or ""))
    if job.verified:
        return tr("Verified: {how}").format(how=how) if how else tr("Verified")
    if job.status in ("sent",):
        return tr("Accepted, not verified") + (f" ({how})" if how else "")
    return "—"


def summary_html(job: Job) -> str:
    """When, file, patient, where, status with its reason: what a person asks first."""
    status = state_word(job.status)
    html = [f"<p><b>{escape(job.name)}</b> — {escape(status)}</p>"]
    if job.error:
        html.append(f"<p><b>{escape(tr('Why:'))}</b> {escape(job.error)}</p>")
    html.append(_table([
        (tr("Patient / record"), patient_text(job)),
        (tr("Sent to"), f"{job.profile or ''} ({KIND_LABELS.get(job.target, job.target)})"),
        (tr("Proof of delivery"), proof_text(job)),
        (tr("Sent by"), f"{job.user or '—'} at {job.workstation or '—'}"),
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
