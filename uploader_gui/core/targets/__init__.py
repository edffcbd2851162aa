"""The systems documents are sent to: one module per API plus the shared interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from uploader_gui.core.targets.base import (
    KIND_LABELS,
    KINDS,
    Credentials,
    Destination,
    Document,
    Secret,
    Target,
    TargetConfig,
)

if TYPE_CHECKING:
    from uploader_gui.core.transport import Transport


def make_target(config: TargetConfig, credentials: Credentials,
                transport: Transport | None = None) -> Target:
    from uploader_gui.core.targets.claros import ClarosTarget
    from uploader_gui.core.targets.redcap import RedcapTarget
    from uploader_gui.core.targets.redox import RedoxTarget

    classes: dict[str, type[Target]] = {
        "redox": RedoxTarget, "claros": ClarosTarget, "redcap": RedcapTarget,
    }
    if config.kind not in classes:
        raise ValueError(f"unknown target kind {config.kind!r}")
    return classes[config.kind](config, credentials, transport)


__all__ = [
    "KINDS", "KIND_LABELS", "Credentials", "Destination", "Document", "Secret", "Target",
    "TargetConfig", "make_target",
]
