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
    # Only the module of this kind is imported: Redox's brings the JWT and crypto stack.
    cls: type[Target]
    if config.kind == "redox":
        from uploader_gui.core.targets.redox import RedoxTarget as cls
    elif config.kind == "claros":
        from uploader_gui.core.targets.claros import ClarosTarget as cls
    elif config.kind == "redcap":
        from uploader_gui.core.targets.redcap import RedcapTarget as cls
    else:
        raise ValueError(f"unknown target kind {config.kind!r}")
    return cls(config, credentials, transport)


__all__ = [
    "KINDS", "KIND_LABELS", "Credentials", "Destination", "Document", "Secret", "Target",
    "TargetConfig", "make_target",
]
