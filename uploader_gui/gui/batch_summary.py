"""The batch in one line: "5 sent · 2 failed: Claros has no patient 9999 · 1 waiting"."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from uploader_gui.gui.staging_model import Tally


def tr(text: str) -> str:
    return QCoreApplication.translate("BatchSummary", text)


#: (row states counted together, how the count reads); in the order shown.
_PARTS = (
    (("sent", "verified"), "{n} sent"),
    (("failed",), "{n} failed"),
    (("rejected",), "{n} not sent"),
    (("unknown",), "{n} with unknown outcome"),
    (("uploading",), "{n} uploading"),
    (("waiting",), "{n} waiting for the server"),
    (("queued",), "{n} waiting"),
    (("cancelled",), "{n} cancelled"),
)


def batch_summary(tally: Tally) -> str:
    """The counts of the batch, with the most common reason of its failures."""
    parts = []
    for keys, words in _PARTS:
        n = sum(tally.batch.get(k, 0) for k in keys)
        if not n:
            continue
        text = tr(words).format(n=n)
        reasons = tally.reasons.get(keys[0])
        if reasons:
            text += ": " + reasons.most_common(1)[0][0]
        parts.append(text)
    return " · ".join(parts)
