"""The two demo REDCap projects the sandbox serves.

Classic project (token ``accounts.REDCAP_CLASSIC_TOKEN``, project id 101):
    instrument ``uploads``: ``record_id`` (text), ``consent_form`` (file), ``scan`` (file),
    ``signature`` (file, validation ``signature``), ``notes`` (notes), and the identity
    fields ``first_name``, ``last_name``, ``dob`` (text). Records "1", "2", "3" (Ada, Ben and
    Cleo Sandbox, as the Claros sandbox patients). Nothing repeats.

Longitudinal project (token ``accounts.REDCAP_LONGITUDINAL_TOKEN``, project id 102), arm 1:
    events ``baseline_arm_1``, ``followup_arm_1``, ``week_4_arm_1``;
    instrument ``documents`` (``record_id`` text, ``scan_doc`` file, ``lab_report`` file)
    designated for baseline and follow-up only; instrument ``signoff`` (``sig``, a
    signature field) designated for all three events. ``documents`` is a repeating
    instrument in ``followup_arm_1``. Records "101", "102".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import accounts


@dataclass(frozen=True)
class Field:
    name: str
    form: str
    field_type: str
    label: str
    validation: str = ""

    @property
    def is_file(self) -> bool:
        return self.field_type == "file"

    @property
    def is_signature(self) -> bool:
        return self.is_file and self.validation == "signature"

    def metadata_row(self) -> dict[str, str]:
        return {
            "field_name": self.name,
            "form_name": self.form,
            "section_header": "",
            "field_type": self.field_type,
            "field_label": self.label,
            "select_choices_or_calculations": "",
            "field_note": "",
            "text_validation_type_or_show_slider_number": self.validation,
            "text_validation_min": "",
            "text_validation_max": "",
            "identifier": "",
            "branching_logic": "",
            "required_field": "",
            "custom_alignment": "",
            "question_number": "",
            "matrix_group_name": "",
            "matrix_ranking": "",
            "field_annotation": "",
        }


@dataclass(frozen=True)
class Event:
    unique_name: str
    label: str
    event_id: int
    days_offset: int

    def row(self) -> dict[str, object]:
        return {
            "event_name": self.label,
            "arm_num": 1,
            "unique_event_name": self.unique_name,
            "custom_event_label": "",
            "event_id": self.event_id,
            "days_offset": self.days_offset,
            "offset_min": 0,
            "offset_max": 0,
        }


@dataclass(frozen=True)
class Project:
    project_id: int
    title: str
    token: str
    forms: tuple[tuple[str, str], ...]  # (instrument name, label)
    fields: tuple[Field, ...]
    records: tuple[str, ...]
    events: tuple[Event, ...] = ()
    designations: dict[str, frozenset[str]] = field(default_factory=dict)  # event -> forms
    repeating: frozenset[tuple[str, str]] = frozenset()  # (event or "", form)
    #: Values of text fields: record -> {field name: value}.
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def longitudinal(self) -> bool:
        return bool(self.events)

    @property
    def record_id_field(self) -> str:
        return self.fields[0].name

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def event(self, unique_name: str) -> Event | None:
        return next((e for e in self.events if e.unique_name == unique_name), None)

    def is_repeating(self, event: str | None, form: str) -> bool:
        return (event or "", form) in self.repeating

    def info(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "project_title": self.title,
            "creation_time": "2024-01-01 09:00:00",
            "production_status": "development",
            "in_production": 0,
            "project_language": "English",
            "purpose": 0,
            "purpose_other": "",
            "project_notes": "Local sandbox project of uploader-gui.",
            "custom_record_label": "",
            "secondary_unique_field": "",
            "is_longitudinal": int(self.longitudinal),
            "has_repeating_instruments_or_events": int(bool(self.repeating)),
            "surveys_enabled": 0,
            "scheduling_enabled": 0,
            "record_autonumbering_enabled": 0,
            "randomization_enabled": 0,
            "ddp_enabled": 0,
            "project_irb_number": "",
            "project_grant_number": "",
            "project_pi_firstname": "",
            "project_pi_lastname": "",
            "display_today_now_button": 1,
            "missing_data_codes": "",
            "external_modules": "",
            "bypass_branching_erase_field_prompt": "0",
        }


CLASSIC = Project(
    project_id=101,
    title="Sandbox classic project",
    token=accounts.REDCAP_CLASSIC_TOKEN,
    forms=(("uploads", "Uploads"),),
    fields=(
        Field("record_id", "uploads", "text", "Record ID"),
        Field("consent_form", "uploads", "file", "Signed consent form"),
        Field("scan", "uploads", "file", "Scanned document"),
        Field("signature", "uploads", "file", "Participant signature", "signature"),
        Field("notes", "uploads", "notes", "Notes"),
        Field("first_name", "uploads", "text", "First name"),
        Field("last_name", "uploads", "text", "Last name"),
        Field("dob", "uploads", "text", "Date of birth", "date_ymd"),
    ),
    records=("1", "2", "3"),
    values={
        "1": {"first_name": "Ada", "last_name": "Sandbox", "dob": "1980-01-01"},
        "2": {"first_name": "Ben", "last_name": "Sandbox", "dob": "1975-06-15"},
        "3": {"first_name": "Cleo", "last_name": "Sandbox", "dob": "1999-12-31"},
    },
)

LONGITUDINAL = Project(
    project_id=102,
    title="Sandbox longitudinal project",
    token=accounts.REDCAP_LONGITUDINAL_TOKEN,
    forms=(("documents", "Documents"), ("signoff", "Sign-off")),
    fields=(
        Field("record_id", "documents", "text", "Record ID"),
        Field("scan_doc", "documents", "file", "Scanned document"),
        Field("lab_report", "documents", "file", "Lab report"),
        Field("sig", "signoff", "file", "Investigator signature", "signature"),
    ),
    records=("101", "102"),
    events=(
        Event("baseline_arm_1", "Baseline", 41, 0),
        Event("followup_arm_1", "Follow-up", 42, 14),
        Event("week_4_arm_1", "Week 4", 43, 28),
    ),
    designations={
        "baseline_arm_1": frozenset({"documents", "signoff"}),
        "followup_arm_1": frozenset({"documents", "signoff"}),
        "week_4_arm_1": frozenset({"signoff"}),
    },
    repeating=frozenset({("followup_arm_1", "documents")}),
)

PROJECTS: dict[str, Project] = {p.token: p for p in (CLASSIC, LONGITUDINAL)}
