"""The batch in one line: "5 sent · 2 failed: Claros has no patient 9999 · 1 waiting"."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel

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


def make_banner(text: str, sandbox: bool) -> QLabel:
    """The line above the tabs; in sandbox mode coloured with the palette's highlight."""
    banner = QLabel(text)
    banner.setObjectName("sandboxBanner" if sandbox else "banner")
    banner.setWordWrap(True)
    banner.setVisible(bool(text))
    banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if sandbox:
        banner.setAutoFillBackground(True)
        pal = banner.palette()
        pal.setColor(banner.backgroundRole(), pal.color(pal.ColorRole.Highlight))
        pal.setColor(banner.foregroundRole(), pal.color(pal.ColorRole.HighlightedText))
        banner.setPalette(pal)
        m = banner.fontMetrics().horizontalAdvance("M") // 2
        banner.setContentsMargins(m, m, m, m)
    return banner
