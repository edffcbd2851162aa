"""What a job records about where it goes: a system's settings and the destination.

The non-secret part of a profile (:class:`TargetConfig`) and who or what a document is
for (:class:`Destination`). Every job in the history holds both, so this module is kept
to these two plain dataclasses: reading the History tab's first page needs them, and
nothing of the targets' machinery (:mod:`uploader_gui.core.targets.base`, which
re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass
class TargetConfig:
    """Where and how to reach one system (the non-secret part of a profile)."""

    kind: str
    base_url: str
    name: str = ""
    # Redox
    blob_url: str | None = None
    auth: str = "jwt"  # "jwt" or "legacy"
    client_id: str | None = None
    key_id: str | None = None
    jwt_alg: str | None = None  # RS384 / ES384 / HS384; guessed from the key when None
    test: bool = True
    source_id: str | None = None
    destinations: list[dict[str, str]] = dc_field(default_factory=list)
    patient_id_type: str = "MR"
    document_type: str = "Clinical Document"
    #: The Platform API (delivery logs): the organisation-based shape uses the org id,
    #: the newer environment-based search the environment id (used when set).
    platform_org_id: str | None = None
    platform_environment_id: str | None = None
    platform_client_id: str | None = None
    platform_key_id: str | None = None
    #: Which data model carries the document: "Media" (Media.New) or "Notes" (Notes.New).
    redox_data_model: str = "Media"
    # REDCap
    redcap_field: str | None = None
    redcap_event: str | None = None
    #: When the field already holds a file: "ask" first, or always "backup" and replace.
    redcap_overwrite: str = "ask"
    #: Up to three fields that say who a record is (e.g. first_name, last_name, dob): read
    #: with Export Records to show the record by name before sending.
    redcap_identity_fields: list[str] = dc_field(default_factory=list)
    # all
    size_limit: int | None = None
    ca_bundle: str | None = None
    #: Ask for confirmation (each file and its destination) before sending.
    confirm: bool = True
    #: Watched folder (where a scanner saves) and its filename rule; see core.watch.
    watch_folder: str | None = None
    watch_pattern: str | None = None
    #: In the window: send matched files at once (True) or stage them for a person (False).
    watch_auto: bool = True
    #: A PDF with scripts or launch actions is sent as a copy without them (True),
    #: instead of being refused (False: the window asks, `send` needs --remove-scripts).
    remove_active_content: bool = False
    #: Patient-label barcodes (scan to send): zxing-cpp type names, e.g. ["Code128"], and a
    #: pattern whose first group is the patient id, e.g. "^MRN(\\d+)$". They only suggest.
    label_barcodes: list[str] = dc_field(default_factory=list)
    label_pattern: str | None = None
    #: watch: split arriving PDFs at cover sheets (core.splitter).
    split_cover_sheets: bool = False
    #: watch: send parts routed by a verified cover sheet without a person.
    unattended_cover_sheets: bool = False
    #: The scanner to use (a SANE device name, e.g. "epson2:libusb:001:004"); None: the first.
    scan_device: str | None = None


@dataclass
class Destination:
    """Which patient or record a document goes to, and as what."""

    patient_id: str | None = None
    patient_id_type: str | None = None
    #: Redox: who the patient is, as the user typed it (goes into Patient.Demographics).
    patient_name: str | None = None
    patient_birth_date: str | None = None  # YYYY-MM-DD
    record: str | None = None
    field: str | None = None
    event: str | None = None
    repeat_instance: int | None = None
    document_type: str | None = None
    destinations: list[str] = dc_field(default_factory=list)  # Redox destination IDs
    description: str | None = None
    #: REDCap: replace a file the field already holds (after saving a backup of it).
    replace: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "", False)}
