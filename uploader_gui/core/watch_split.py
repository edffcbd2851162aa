"""``watch`` with cover sheets: a batch that arrives is split and each part sent, or it waits.

Used by :class:`uploader_gui.core.watch.FolderWatcher` when the profile turns
``split_cover_sheets`` on. A PDF with no cover sheet is handled as before (the
filename rule). A PDF with cover sheets is sent without a person only when
*every* part is routed by a cover sheet whose check value verifies, for this
profile, and the profile allows unattended cover sheets
(:func:`splitter.unattended`); a patient label alone, an unmatched part, a
sheet from another installation or profile: the whole file stays in the folder
for a person ("needs a person"), so that no part is sent twice or lost. The
batch moves to Sent/ once every part is sent, to Failed/ (with the reasons)
otherwise. The parts are planned by the one planner, answered by the profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from uploader_gui.core.jobs import SUCCESS, UNKNOWN, Job
from uploader_gui.core.pages import PageError
from uploader_gui.core.planner import answers_from_profile
from uploader_gui.core.routing import discard_unsent, route_parts
from uploader_gui.core.splitter import LabelRuleError, analyse, unattended, why_not_unattended
from uploader_gui.core.targets import Target

if TYPE_CHECKING:
    from uploader_gui.core.watch import FolderWatcher, Outcome

NEEDS_PERSON = "needs_person"


def prepare_batch(watcher: FolderWatcher, path: Path, target: Target
                  ) -> list[Job] | Outcome | None:
    """Jobs for every part, an Outcome when the file is not sent now, or None: no cover sheet."""
    from uploader_gui.core.watch import Outcome

    s = watcher.s
    if path.suffix.lower() != ".pdf":
        return None
    try:
        result = analyse(path, s.config)
    except (PageError, LabelRuleError) as err:
        return watcher._fail(path, str(err), "rejected")
    if not result.sheet_pages:
        return None
    waiting = [p for p in result.parts if not unattended(p, s.config, s.profile)]
    if waiting:
        pages = "; ".join(f"pages {', '.join(map(str, p.page_numbers))}: "
                          f"{why_not_unattended(p, s.config, s.profile)}" for p in waiting)
        return Outcome(path, NEEDS_PERSON,
                       f"The batch has {len(result.parts)} part(s) and {len(waiting)} need a "
                       f"person to confirm where they go, so it was left in the folder ({pages}). "
                       "Open it in the window to check and send it.")
    routed = route_parts(result, s.config, watcher.credentials, s.defaults, watcher.history,
                         watcher.validator, s.profile, target=target)
    jobs: list[Job] = []
    problems: list[str] = []
    for item in routed:
        assert item.plan is not None  # every part is routed by a sheet for this profile
        resolution = item.plan.resolve(answers_from_profile(item.plan))
        for refusal in [*item.plan.refused, *resolution.skipped]:
            problems.append(f"pages {', '.join(map(str, item.part.page_numbers))} for "
                            f"{item.part.dest_id}: {refusal.reason}")
        jobs += [p.job for p in resolution.jobs]
    if problems:
        discard_unsent(routed)
        return watcher._fail(path, "Nothing in the batch was sent. " + " ".join(problems),
                             "rejected")
    return jobs


def conclude_batch(watcher: FolderWatcher, path: Path, jobs: list[Job]) -> Outcome:
    from uploader_gui.core.watch import FAILED_DIR, SENT_DIR, Outcome

    if all(j.status in SUCCESS for j in jobs):
        first = jobs[0].id
        moved = watcher._move(path, SENT_DIR, first)
        sent = ", ".join(f"{j.dest_key}" + (f" (id {j.remote_id})" if j.remote_id else "")
                         for j in jobs)
        return Outcome(path, "sent", f"Split into {len(jobs)} part(s), sent to {sent}.", moved,
                       first)
    status = UNKNOWN if any(j.status == UNKNOWN for j in jobs) else "failed"
    lines = [f"{j.name} to {j.dest_key}: " + ("sent" if j.status in SUCCESS else
                                               (j.error or j.status)) for j in jobs]
    reason = ("Not every part of the batch was sent; the sent parts are in the history and are "
              "not sent again from here. " + " ".join(lines))
    failed = [j for j in jobs if j.status not in SUCCESS]
    outcome = watcher._fail(path, reason, status, failed[0].id)
    assert outcome.moved_to is None or outcome.moved_to.parent.name == FAILED_DIR
    return outcome
