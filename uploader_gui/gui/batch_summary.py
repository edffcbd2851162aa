"""The batch in one line: "5 sent · 2 failed: Claros has no patient 9999 · 1 waiting"."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel

from uploader_gui.core.staging import StagedFile
from uploader_gui.gui.staging_model import COL_STATUS, StagingModel, StateRole


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


def _first_sentence(text: str) -> str:
    text = text.strip()
    cut = text.find(". ")
    return (text[:cut] if cut > 0 else text).rstrip(".")


def batch_summary(states: Counter[str], items: list[StagedFile], state_of: dict[str, str]) -> str:
    """The counts of a batch, with the most common reason of the failures."""
    parts = []
    for keys, words in _PARTS:
        n = sum(states.get(k, 0) for k in keys)
        if not n:
            continue
        text = tr(words).format(n=n)
        if keys[0] in ("failed", "rejected"):
            reasons = Counter(_first_sentence(i.upload_message) for i in items
                              if state_of.get(i.key) == keys[0] and i.upload_message)
            if reasons:
                text += ": " + reasons.most_common(1)[0][0]
        parts.append(text)
    return " · ".join(parts)


def model_summary(model: StagingModel) -> str:
    """The summary of the batch the staging list holds now."""
    states = {i.key: model.index(r, COL_STATUS).data(StateRole)
              for r, i in enumerate(model.items()) if i.key in model.batch}
    return batch_summary(model.batch_states(), model.batch_items(), states)


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
