"""From a split batch to plans: each part as its own PDF, checked and planned for its patient.

The window, ``watch`` and the tests use this after :func:`splitter.analyse`:
every routed part becomes a copy (``converted/<id>/…-partN-<id>.pdf``) with the
batch as its source, is validated like any file, and is planned by the one
planner (:mod:`uploader_gui.core.planner`) for the destination its barcode
suggests, so the questions, refusals and the patient's name come from there.
Unmatched parts, and parts whose cover sheet names another profile, get no
plan: a person chooses where they go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import sha256_of
from uploader_gui.core.pages import Edited
from uploader_gui.core.planner import Plan, PlanInput, plan
from uploader_gui.core.splitter import SHEET, UNMATCHED, Part, SplitResult, write_parts
from uploader_gui.core.targets import Credentials, Destination, Target, TargetConfig
from uploader_gui.core.validation import IsolatedValidator, size_limit


@dataclass
class RoutedPart:
    part: Part
    document: Edited
    destination: Destination | None
    plan: Plan | None = None
    #: Why there is no plan (unmatched, another profile's sheet).
    reason: str = ""

    @property
    def key(self) -> str:
        return str(self.document.path)


def batch_sources(batch: Path) -> list[dict[str, str]]:
    return [{"path": str(batch), "sha256": sha256_of(batch)}]


def route_parts(result: SplitResult, config: TargetConfig, credentials: Credentials,
                defaults: Destination, history: HistoryStore | None,
                validator: IsolatedValidator, profile: str | None, *,
                sources: Sequence[dict[str, str]] | None = None,
                target: Target | None = None) -> list[RoutedPart]:
    """Write every part and plan the routed ones. Worker thread only (disk and network)."""
    origins = list(sources) if sources else batch_sources(result.source)
    limit = config.size_limit or size_limit(config.kind)
    name = profile or config.name
    routed: list[RoutedPart] = []
    for part, document in write_parts(result, sources=origins):
        dest = part.destination(config, defaults)
        item = RoutedPart(part, document, dest)
        routed.append(item)
        if part.route == UNMATCHED or dest is None:
            item.reason = part.note
            continue
        if part.route == SHEET and part.sheet is not None and part.sheet.profile != name:
            item.reason = (f"The cover sheet is for the profile “{part.sheet.profile}”, not "
                           f"“{name}”: send these pages with that profile, or choose the "
                           "patient by hand.")
            continue
        res = validator.validate(document.path, config.kind, limit)
        item.plan = plan([PlanInput(item.key, document.path, res, tuple(document.sources))],
                         config, credentials, dest, history, profile=profile, target=target,
                         validator=validator)
    return routed


def discard_unplanned(routed: Sequence[RoutedPart]) -> None:
    """Remove the copies of parts that will not be sent from here."""
    from uploader_gui.core.convert import discard

    for item in routed:
        if item.plan is None:
            discard(item.document.path)


def discard_unsent(routed: Sequence[RoutedPart], sent: Sequence[RoutedPart] = ()) -> None:
    """Remove the copies of planned parts that are not being sent (refused, not chosen)."""
    from uploader_gui.core.convert import discard

    for item in routed:
        if item.plan is not None and item not in sent:
            item.plan.discard()
            discard(item.document.path)


__all__ = ["RoutedPart", "batch_sources", "discard_unplanned", "discard_unsent", "route_parts"]
