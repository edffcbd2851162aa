"""One planner for every way of sending: the window, ``send`` and ``watch``.

``plan()`` turns "these checked files, this profile, this destination" into
jobs. It runs on a worker (it may use the network and the disk) and returns a
:class:`Plan`:

* **jobs** that may go;
* **refusals**, each with its reason in words (the target's checks, an unknown
  patient, the REDCap one-file rule, a failed conversion, …);
* **questions** for a person, each with a safe default: a duplicate of an
  earlier upload, an earlier upload to the same place whose outcome is unknown,
  a REDCap field that already holds a file, an image that will be converted,
  a note about the patient, a PDF whose scripts would have to be removed.

``Plan.resolve(answers)`` then gives the jobs to submit and those skipped, with
why. The answers come from the confirmation dialog (window), from flags
(``send``), or from the profile's settings (``watch``): :func:`answers_from_flags`
and :func:`answers_from_profile`. The rules live here only, so a behaviour is
found in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from uploader_gui.core.batch import (
    ConversionError,
    CopyError,
    check_job,
    convert_images,
    find_duplicates,
    make_sendable_copy,
    needs_conversion,
    needs_copy,
    new_job,
)
from uploader_gui.core.convert import discard
from uploader_gui.core.diskspace import PlannedWrite, bytes_needed, free_space_problem
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import FAILED, INTERRUPTED, UNKNOWN, Job
from uploader_gui.core.outcome import UploadError
from uploader_gui.core.paths import data_dir
from uploader_gui.core.targets import Credentials, Destination, Target, TargetConfig, make_target
from uploader_gui.core.targets.base import EXISTING_FILE, KIND_LABELS, LOOKUP, PatientInfo
from uploader_gui.core.validation import REMOVE_SCRIPTS, IsolatedValidator, ValidationResult

log = logging.getLogger(__name__)

# Question kinds.
DUPLICATE = "duplicate"
UNKNOWN_EARLIER = "unknown_earlier"
REPLACE_FILE = "replace_file"
CONVERT_IMAGE = "convert_image"
PATIENT_NOTE = "patient_note"
#: A PDF with JavaScript or launch actions: send a copy without them? (issue 13)
REMOVE_SCRIPTS_Q = "remove_scripts"
QUESTION_KINDS = (DUPLICATE, UNKNOWN_EARLIER, REPLACE_FILE, CONVERT_IMAGE, PATIENT_NOTE,
                  REMOVE_SCRIPTS_Q)

#: The answer when nobody answers. Only going ahead with a routine, announced
#: step (converting an image; a note about the patient) is the default.
SAFE_DEFAULTS: dict[str, bool] = {
    DUPLICATE: False,
    UNKNOWN_EARLIER: False,
    REPLACE_FILE: False,
    CONVERT_IMAGE: True,
    PATIENT_NOTE: True,
    REMOVE_SCRIPTS_Q: False,
}

REJECTED = "rejected"
SKIPPED = "skipped"


@dataclass(frozen=True)
class PlanInput:
    """One checked file, with the caller's key for it (a staging row, a path)."""

    key: str
    path: Path
    result: ValidationResult
    #: The user's originals when the file was made from them (images combined into a PDF).
    sources: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class Refusal:
    """A file that will not be sent, and why, in words."""

    key: str
    name: str
    reason: str
    #: "rejected" (checks, rules), "failed" (the target could not be asked), "unknown"
    #: (an earlier upload may have arrived) or "skipped" (a question answered no).
    status: str = REJECTED
    http_status: int | None = None
    earlier_id: int | None = None
    question: str | None = None  # the question kind, for a skipped file


@dataclass(frozen=True)
class Question:
    """Something a person decides before sending. ``key`` None: the whole batch."""

    id: str
    kind: str
    text: str
    key: str | None = None
    earlier_id: int | None = None
    #: Why the file is not sent when the answer is no (else a sentence by kind).
    if_no: str = ""

    @property
    def default(self) -> bool:
        return SAFE_DEFAULTS[self.kind]


@dataclass
class PlannedJob:
    key: str
    job: Job


@dataclass
class Resolution:
    jobs: list[PlannedJob] = field(default_factory=list)
    skipped: list[Refusal] = field(default_factory=list)


@dataclass
class Plan:
    config: TargetConfig
    destination: Destination
    profile: str | None
    patient: PatientInfo | None = None
    jobs: list[PlannedJob] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    #: Name of the file the REDCap field holds now, when there is one.
    existing_file: str | None = None

    @property
    def where(self) -> str:
        """"Sandbox Claros: Ben Sandbox, born 1975-06-15 (patient 1002)"."""
        name = self.profile or KIND_LABELS.get(self.config.kind, self.config.kind)
        if self.jobs:
            dest = self.jobs[0].job.dest_key
        else:
            dest = ""
        if self.patient is not None and self.patient.name:
            who = self.patient.name
            if self.patient.birth_date:
                who += f", born {self.patient.birth_date}"
            dest = f"{who} ({dest})" if dest else who
        return f"{name}: {dest}" if dest else name

    def questions_for(self, key: str) -> list[Question]:
        return [q for q in self.questions if q.key in (None, key)]

    def resolve(self, answers: Mapping[str, bool]) -> Resolution:
        """The jobs to submit, given the answers (a missing answer is the safe default)."""
        out = Resolution()
        for planned in self.jobs:
            job = planned.job
            refusal = None
            for q in self.questions_for(planned.key):
                yes = answers.get(q.id, q.default)
                if not yes:
                    refusal = Refusal(planned.key, job.name, _skip_reason(q), SKIPPED,
                                      earlier_id=q.earlier_id, question=q.kind)
                    break
                if q.kind == DUPLICATE:
                    job.duplicate_of = q.earlier_id
                elif q.kind == REPLACE_FILE:
                    job.destination = replace(job.destination, replace=True)
            if refusal is not None:
                out.skipped.append(refusal)
                _discard_copy(job)
            else:
                out.jobs.append(planned)
        return out

    def discard(self) -> None:
        """Remove the private copies made for this plan (when nothing is sent)."""
        for planned in self.jobs:
            _discard_copy(planned.job)


def _discard_copy(job: Job) -> None:
    if job.sources:
        discard(Path(job.path))


def _skip_reason(q: Question) -> str:
    if q.if_no:
        return q.if_no
    if q.kind in (DUPLICATE, UNKNOWN_EARLIER):
        return f"Not sent. {q.text}"
    if q.kind == CONVERT_IMAGE:
        return "Not sent: the image would have had to be converted to a PDF."
    if q.kind == REMOVE_SCRIPTS_Q:
        return ("Not sent: the PDF contains scripts or launch actions, which are never sent, "
                "and the copy without them was declined.")
    return "Not sent: cancelled before sending."


# ---------------------------------------------------------------------- planning


def plan(
    files: Iterable[PlanInput],
    config: TargetConfig,
    credentials: Credentials,
    destination: Destination,
    history: HistoryStore | None,
    *,
    profile: str | None = None,
    target: Target | None = None,
    target_factory: Callable[[TargetConfig, Credentials], Target] = make_target,
    validator: IsolatedValidator | None = None,
) -> Plan:
    """Check everything that can be checked before sending. Worker thread only.

    ``validator``: the helper processes the copies of PDFs (repaired, or
    without scripts) are made in; without one they are made in this process.
    """
    destination = replace(destination)
    if config.kind == "redcap" and config.redcap_overwrite == "backup":
        destination.replace = True  # the profile always keeps a backup and replaces
    result = Plan(config=config, destination=destination, profile=profile)
    files = list(files)
    checked = {item.key: item.result for item in files}
    jobs = _new_jobs(result, files)
    if not jobs:
        return result
    own_target = target is None
    try:
        if target is None:
            target = target_factory(config, credentials)
    except UploadError as err:  # e.g. the profile's CA bundle cannot be read
        _refuse_all(result, jobs, err.message)
        return result
    try:
        jobs = _target_checks(result, target, jobs)
        if jobs:
            jobs = _ask_target(result, target, jobs)
    finally:
        if own_target:
            target.close()
    room = _room_problem(result, jobs, checked) if jobs else None
    if room:  # before any copy is made: nothing half done on a full disk
        _refuse_all(result, jobs, room)
        return result
    for key, job in jobs:
        _prepare_one(result, key, job, history, checked.get(key), validator)
    return result


def _room_problem(result: Plan, jobs: list[tuple[str, Job]],
                  checked: Mapping[str, ValidationResult]) -> str | None:
    """Room in the data folder for the history rows, the copies and any REDCap backup."""
    backup = result.destination.replace or result.existing_file is not None
    writes = [PlannedWrite(job.size, converted=needs_conversion(job.target, job.file_type)
                           or bool(getattr(checked.get(key), "repair", None)),
                           backup=backup and job.target == "redcap")
              for key, job in jobs]
    return free_space_problem(data_dir(), bytes_needed(writes))


def _new_jobs(result: Plan, files: list[PlanInput]) -> list[tuple[str, Job]]:
    jobs: list[tuple[str, Job]] = []
    for item in files:
        res = item.result
        if not res.ok and res.remedy != REMOVE_SCRIPTS:
            reason = " ".join(p.message for p in res.errors)
            result.refused.append(Refusal(item.key, item.path.name, reason))
            continue
        if not res.sha256:
            result.refused.append(Refusal(item.key, item.path.name, "The file could not be read "
                                          "to the end. Check it and try again."))
            continue
        job = new_job(item.path, res, result.config, result.destination, result.profile)
        job.sources = [dict(s) for s in item.sources]
        jobs.append((item.key, job))
    if result.config.kind == "redcap" and len(jobs) > 1:
        _refuse_all(result, jobs, "A REDCap file field holds one file, and each upload replaces "
                    f"the last: send one file at a time ({len(jobs)} were chosen).")
        return []
    return jobs


def _refuse_all(result: Plan, jobs: list[tuple[str, Job]], reason: str,
                status: str = REJECTED, http_status: int | None = None) -> None:
    for key, job in jobs:
        result.refused.append(Refusal(key, job.name, reason, status, http_status))


def _target_checks(result: Plan, target: Target, jobs: list[tuple[str, Job]]
                   ) -> list[tuple[str, Job]]:
    """The target's cheap checks for each file (an image as the PDF it will become)."""
    kept = []
    for key, job in jobs:
        problems = check_job(target, job)
        if problems:
            result.refused.append(Refusal(key, job.name, " ".join(problems)))
        else:
            kept.append((key, job))
    return kept


def _ask_target(result: Plan, target: Target, jobs: list[tuple[str, Job]]
                ) -> list[tuple[str, Job]]:
    """Network checks, once for the batch: the destination exists, who it is, what it holds."""
    dest = result.destination
    try:
        problems = target.prepare(dest)
        if problems:
            _refuse_all(result, jobs, " ".join(problems))
            return []
        if target.supports(LOOKUP):
            patient = target.lookup(dest)
            if patient is None:
                _refuse_all(result, jobs, unknown_patient_text(result.config, dest))
                return []
            result.patient = patient
            if patient.note:
                result.questions.append(Question("patient-note", PATIENT_NOTE, patient.note))
        if target.supports(EXISTING_FILE) and not dest.replace:
            existing = target.existing_file(dest)
            if existing is not None:
                result.existing_file = existing.name
                result.questions.append(Question(
                    "replace-file", REPLACE_FILE,
                    f"{jobs[0][1].dest_key} already holds “{existing.name}”. Sending replaces it "
                    "permanently; a copy of the current file is saved first in the app's "
                    "backups folder.",
                    if_no=f"Not sent: {jobs[0][1].dest_key} already holds “{existing.name}”, "
                    "and it was kept."))
    except UploadError as err:
        _refuse_all(result, jobs, err.message, FAILED, err.http_status)
        return []
    if result.patient is not None:
        for _key, job in jobs:
            job.patient_label = result.patient.label()
    return jobs


def unknown_patient_text(config: TargetConfig, dest: Destination) -> str:
    system = KIND_LABELS.get(config.kind, config.kind)
    if config.kind == "redcap":
        return (f"The REDCap project has no record {dest.record}. Check the record ID; nothing "
                "was sent.")
    return (f"{system} has no patient {dest.patient_id}. Check the number (or use Find "
            "patient…); nothing was sent.")


def _prepare_one(result: Plan, key: str, job: Job, history: HistoryStore | None,
                 res: ValidationResult | None = None,
                 validator: IsolatedValidator | None = None) -> None:
    """Copies (image to PDF; a PDF repaired or without its scripts), then what the
    history says about these bytes and this place."""
    converting = needs_conversion(job.target, job.file_type)
    scripted = res is not None and not res.ok and res.remedy == REMOVE_SCRIPTS
    try:
        ready = convert_images(job)
        if res is not None and needs_copy(res, scripted):
            ready = make_sendable_copy(ready, res, remove_scripts=scripted, validator=validator)
    except (ConversionError, CopyError) as err:
        result.refused.append(Refusal(key, job.name, str(err)))
        return
    result.jobs.append(PlannedJob(key, ready))
    if scripted:
        result.questions.append(Question(
            f"remove-scripts:{key}", REMOVE_SCRIPTS_Q,
            f"{job.name} contains scripts or launch actions that could run on the receiving "
            "computer, so it is never sent as it is. Send a copy with them removed instead? "
            "Your file is not changed.", key))
    if converting:
        result.questions.append(Question(
            f"convert:{key}", CONVERT_IMAGE, f"{job.name} is an image; "
            f"{KIND_LABELS.get(job.target, job.target)} takes PDF only, so it is sent as the PDF "
            f"“{ready.name}”. Your file is not changed.", key))
    if history is None:
        return
    digests = {ready.sha256} | {s["sha256"] for s in ready.sources}
    for digest in digests:
        for old in history.find_same(digest, ready.target, ready.dest_key, (INTERRUPTED, UNKNOWN)):
            if old.status == UNKNOWN or not old.safe_to_resume():
                result.questions.append(Question(
                    f"unknown:{key}", UNKNOWN_EARLIER,
                    f"An earlier upload of this file to {ready.dest_key} (history "
                    f"#{old.id}) may already have arrived. Check in the receiving system before "
                    "sending it again.", key, old.id))
                break
        else:
            continue
        break
    earlier = find_duplicates(history, ready)
    if earlier:
        first = earlier[0]
        when = first.to_json()["finished"] or first.to_json()["created"]
        result.questions.append(Question(
            f"duplicate:{key}", DUPLICATE,
            f"The same file was already sent to {ready.dest_key} (history #{first.id}, {when}"
            f"{by_whom(first, ready)}).", key, first.id))


def by_whom(earlier: Job, now: Job) -> str:
    """", by ana at desk-2" when another person or desk sent it (a clinic's shared history)."""
    if not earlier.workstation or (earlier.workstation, earlier.user) == (now.workstation,
                                                                          now.user):
        return ""
    who = f" by {earlier.user}" if earlier.user else ""
    return f"{who} at {earlier.workstation}"


# ---------------------------------------------------------------------- answers


def answers_from_flags(plan_: Plan, *, allow_duplicate: bool = False, replace_file: bool = False,
                       allow_unknown: bool = False, remove_scripts: bool = False
                       ) -> dict[str, bool]:
    """``send``'s flags: ``--allow-duplicate``, ``--replace``, ``--allow-unknown``,
    ``--remove-scripts`` (or the profile's ``remove_active_content``); notes and
    conversions go ahead."""
    given = {DUPLICATE: allow_duplicate, REPLACE_FILE: replace_file,
             UNKNOWN_EARLIER: allow_unknown,
             REMOVE_SCRIPTS_Q: remove_scripts or plan_.config.remove_active_content}
    return {q.id: given.get(q.kind, q.default) for q in plan_.questions}


def answers_from_profile(plan_: Plan) -> dict[str, bool]:
    """``watch``, with no person: only what the profile allows goes ahead.

    A duplicate or an upload that may already have arrived is never sent
    unattended; a REDCap file is replaced only when the profile keeps backups
    (then no question is asked at all); a copy without scripts is sent only when
    the profile's ``remove_active_content`` says so.
    """
    allowed = {CONVERT_IMAGE, PATIENT_NOTE}
    if plan_.config.remove_active_content:
        allowed.add(REMOVE_SCRIPTS_Q)
    return {q.id: q.kind in allowed for q in plan_.questions}


__all__ = [
    "CONVERT_IMAGE", "DUPLICATE", "PATIENT_NOTE", "QUESTION_KINDS", "REMOVE_SCRIPTS_Q",
    "REPLACE_FILE",
    "SAFE_DEFAULTS", "UNKNOWN_EARLIER", "Plan", "PlanInput", "PlannedJob", "Question",
    "Refusal", "Resolution", "answers_from_flags", "answers_from_profile", "plan",
    "unknown_patient_text",
]
