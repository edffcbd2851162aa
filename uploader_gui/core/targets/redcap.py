"""REDCap: Import File into a file-upload field, with events and repeat instances (seed 004).

Every call is a POST to the project's API endpoint with the token in the body.
``returnFormat=json`` is always sent so errors come back as ``{"error": ...}``; in case
a proxy or an old instance ignores it, XML ``<hash><error>`` and CSV ``ERROR: ...``
are read too, and shown verbatim. An import's 200 (normally an empty body) proves
little, so the field is read back with Export File and the bytes' SHA-256 compared
(:meth:`RedcapTarget.verify`). The same export, checked to be a file and not an
error or sign-in page, is what backs up a file before an overwrite.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from uploader_gui.core.outcome import (
    REJECTED,
    CancelFn,
    ProgressFn,
    Receipt,
    UploadError,
    server_text,
)
from uploader_gui.core.paths import data_dir
from uploader_gui.core.targets.base import (
    DESTINATION_CHOICES,
    EXISTING_FILE,
    LOOKUP,
    VERIFY,
    Destination,
    DestinationChoices,
    Document,
    ExistingFile,
    PatientInfo,
    Target,
    Verification,
    http_error,
    json_or_none,
    looks_like_html,
    not_the_api,
    redirect_error,
)
from uploader_gui.core.targets.redcap_replies import (
    attachment_name,
    error_in_body,
    not_a_file,
    redcap_error_text,
)

DEFAULT_LIMIT = 32 * 1024 * 1024
TOKEN_SHAPE = re.compile(r"^[0-9A-Fa-f]{32}$")
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class FileField:
    name: str
    form: str
    label: str


@dataclass
class ProjectInfo:
    """What discovery learned about a REDCap project."""

    title: str
    longitudinal: bool
    has_repeating: bool
    record_id_field: str
    file_fields: dict[str, FileField] = field(default_factory=dict)
    signature_fields: set[str] = field(default_factory=set)
    other_fields: set[str] = field(default_factory=set)
    events: dict[str, str] = field(default_factory=dict)  # unique name -> label
    form_events: dict[str, list[str]] = field(default_factory=dict)  # form -> events
    repeating: set[tuple[str, str]] = field(default_factory=set)  # (event or "", form or "")

    def events_for(self, field_name: str) -> list[str]:
        f = self.file_fields.get(field_name)
        if f is None or not self.longitudinal:
            return []
        return list(self.form_events.get(f.form, []))


class RedcapTarget(Target):
    kind = "redcap"
    capabilities = frozenset({EXISTING_FILE, LOOKUP, DESTINATION_CHOICES, VERIFY})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._project: ProjectInfo | None = None
        self._lock = threading.Lock()
        self._backups: dict[str, str] = {}  # document id -> backup path ("" = field was empty)
        self._checked: set[str] = set()
        self.backup_folder = data_dir() / "backups"

    @property
    def url(self) -> str:
        return self.config.base_url

    # ------------------------------------------------------------------ API calls

    def _post(self, fields: dict[str, str]) -> requests.Response:
        token = self.credentials.token
        data = {"token": token.reveal() if token else "", "returnFormat": "json", **fields}
        resp = self.transport.request("POST", self.url, data=data,
                                      headers={"Accept": "application/json"})
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        if resp.status_code != 200:
            raise self._error(resp)
        return resp

    def _json(self, fields: dict[str, str]) -> Any:
        resp = self._post({"format": "json", **fields})
        body = json_or_none(resp)
        if isinstance(body, dict) and "error" in body:
            raise UploadError(REJECTED, f"REDCap said: {body['error']}", http_status=resp.status_code,
                              server_message=str(body["error"]))
        if body is None:
            text = error_in_body(resp)
            if text:
                raise UploadError(REJECTED, f"REDCap said: {text}", http_status=resp.status_code,
                                  server_message=text)
            raise not_the_api(resp, "REDCap")
        return body

    def _error(self, resp: requests.Response, what: str = "the upload") -> UploadError:
        text = redcap_error_text(resp)
        status = resp.status_code
        if status in (401, 403):
            lead = "REDCap refused this profile's API token"
        elif status == 404:
            lead = "REDCap did not find that address or item"
        elif status == 413:
            lead = "The file is larger than this REDCap server accepts"
        elif status >= 500:
            lead = f"REDCap had a problem (HTTP {status})"
        else:
            lead = f"REDCap did not accept {what}"
        message = f"{lead}. REDCap said: {text}" if text else f"{lead} (HTTP {status})."
        return http_error(resp, message, server_message=text or server_text(resp))

    # ------------------------------------------------------------------ discovery

    def destination_choices(self) -> DestinationChoices:
        proj = self.project()
        return DestinationChoices(
            fields=tuple((name, f.label) for name, f in proj.file_fields.items()),
            events=tuple(proj.events.items()) if proj.longitudinal else (),
            repeating=proj.has_repeating)

    def project(self, refresh: bool = False) -> ProjectInfo:
        with self._lock:
            if self._project is None or refresh:
                self._project = self._discover()
            return self._project

    def _discover(self) -> ProjectInfo:
        info = self._json({"content": "project"})
        if not isinstance(info, dict):
            raise UploadError(REJECTED, "REDCap answered the project query in an unexpected way.")
        metadata = self._json({"content": "metadata"})
        if not isinstance(metadata, list) or not metadata:
            raise UploadError(REJECTED, "REDCap returned no fields for this project.")
        longitudinal = str(info.get("is_longitudinal", "0")) == "1"
        has_repeating = str(info.get("has_repeating_instruments_or_events", "0")) == "1"
        proj = ProjectInfo(
            title=str(info.get("project_title", "")),
            longitudinal=longitudinal,
            has_repeating=has_repeating,
            record_id_field=str(metadata[0].get("field_name", "record_id")),
        )
        for row in metadata:
            if not isinstance(row, dict):
                continue
            name = str(row.get("field_name", ""))
            if row.get("field_type") == "file":
                if row.get("text_validation_type_or_show_slider_number") == "signature":
                    proj.signature_fields.add(name)
                else:
                    proj.file_fields[name] = FileField(
                        name, str(row.get("form_name", "")), str(row.get("field_label", "")))
            else:
                proj.other_fields.add(name)
        if longitudinal:
            events = self._json({"content": "event"})
            proj.events = {str(e.get("unique_event_name")): str(e.get("event_name", ""))
                           for e in events if isinstance(e, dict)}
            mapping = self._json({"content": "formEventMapping"})
            for m in mapping if isinstance(mapping, list) else []:
                if isinstance(m, dict):
                    proj.form_events.setdefault(str(m.get("form")), []).append(
                        str(m.get("unique_event_name")))
        if has_repeating:
            try:
                reps = self._json({"content": "repeatingFormsEvents"})
            except UploadError:
                reps = []
            for r in reps if isinstance(reps, list) else []:
                if isinstance(r, dict):
                    proj.repeating.add((str(r.get("event_name") or ""), str(r.get("form_name") or "")))
        return proj

    def record_exists(self, record: str) -> bool:
        proj = self.project()
        rows = self._json({
            "content": "record", "type": "flat", "records[0]": record,
            "fields[0]": proj.record_id_field,
        })
        return isinstance(rows, list) and any(
            isinstance(r, dict) and str(r.get(proj.record_id_field)) == record for r in rows)

    def lookup(self, destination: Destination) -> PatientInfo | None:
        """Who the record is, from the profile's identity fields (Export Records, one record).

        None when the project has no such record. Values that read as a date (YYYY-MM-DD)
        are the date of birth; the others, joined, are the name.
        """
        record = (destination.record or "").strip()
        if not record:
            return None
        proj = self.project()
        identity = [f.strip() for f in self.config.redcap_identity_fields[:3] if f.strip()]
        params = {"content": "record", "type": "flat", "records[0]": record}
        for i, name in enumerate([proj.record_id_field, *identity]):
            params[f"fields[{i}]"] = name
        rows = self._json(params)
        mine = [r for r in rows if isinstance(r, dict)
                and str(r.get(proj.record_id_field)) == record] if isinstance(rows, list) else []
        if not mine:
            return None
        values: dict[str, str] = {}
        for row in mine:  # longitudinal: one row per event; the first value found counts
            for name in identity:
                if str(row.get(name) or "").strip() and name not in values:
                    values[name] = str(row[name]).strip()
        words = [values[n] for n in identity if n in values]
        born = next((w for w in words if DATE_SHAPE.match(w)), "")
        name = " ".join(w for w in words if w != born)
        return PatientInfo(id=record, name=name, birth_date=born)

    # ------------------------------------------------------------------ checks

    def check(self, document: Document, destination: Destination) -> list[str]:
        problems = []
        if not (destination.record or "").strip():
            problems.append("Enter the REDCap record ID.")
        if not (destination.field or self.config.redcap_field):
            problems.append("Choose the REDCap file-upload field.")
        if destination.repeat_instance is not None and destination.repeat_instance < 1:
            problems.append("The repeat instance must be 1 or more.")
        limit = self.config.size_limit or DEFAULT_LIMIT
        if document.size > limit:
            problems.append(f"The file is larger than this REDCap profile's limit of "
                            f"{limit // (1024 * 1024)} MB.")
        token = self.credentials.token
        if not token:
            problems.append("The REDCap API token is not set for this profile.")
        elif not TOKEN_SHAPE.match(token.reveal()):
            problems.append("The REDCap API token should be 32 letters and digits (0-9, A-F).")
        return problems

    def prepare(self, destination: Destination) -> list[str]:
        """Check the field, the event and the record against the live project."""
        proj = self.project()
        field_name = destination.field or self.config.redcap_field or ""
        event = destination.event or self.config.redcap_event
        problems = []
        if field_name in proj.signature_fields:
            problems.append(f"“{field_name}” is a signature field; REDCap does not let the API "
                            "upload signatures. Choose a file-upload field.")
        elif field_name not in proj.file_fields:
            kind = "is not a file-upload field" if field_name in proj.other_fields else \
                "is not a field in this project"
            choices = ", ".join(sorted(proj.file_fields)) or "none"
            problems.append(f"“{field_name}” {kind}. File-upload fields: {choices}.")
        elif proj.longitudinal:
            allowed = proj.events_for(field_name)
            if not event:
                problems.append(f"This REDCap project is longitudinal: choose the event. "
                                f"“{field_name}” can be used in: {', '.join(allowed) or 'no event'}.")
            elif event not in proj.events:
                problems.append(f"“{event}” is not an event of this project. Events: "
                                f"{', '.join(proj.events)}.")
            elif event not in allowed:
                problems.append(f"“{field_name}” is not used in the event “{event}”. It can be "
                                f"used in: {', '.join(allowed) or 'no event'}.")
        if not problems and destination.record and not self.record_exists(destination.record.strip()):
            problems.append(f"REDCap has no record “{destination.record.strip()}” in this project. "
                            "Check the record ID.")
        return problems

    # ------------------------------------------------------------------ existing file

    def _file_fields(self, destination: Destination) -> dict[str, str]:
        proj = self.project()
        fields = {"content": "file", "record": (destination.record or "").strip(),
                  "field": destination.field or self.config.redcap_field or ""}
        event = destination.event or self.config.redcap_event
        if proj.longitudinal and event:
            fields["event"] = event
        if destination.repeat_instance is not None:
            fields["repeat_instance"] = str(destination.repeat_instance)
        return fields

    def export_file(self, destination: Destination) -> ExistingFile | None:
        """Export File: the field's file, checked to be one; None when the field is empty.

        The one call behind the check before an import, the backup before an overwrite
        and the read-back after it. What comes back must be a file of the size REDCap
        announced, not a web page or an error in JSON, XML or CSV: otherwise this raises
        (REJECTED), and nothing may be replaced on the strength of it.
        """
        token = self.credentials.token
        data = {"token": token.reveal() if token else "", "returnFormat": "json",
                **self._file_fields(destination), "action": "export"}
        resp = self.transport.request("POST", self.url, data=data)
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        if resp.status_code == 200:
            problem = not_a_file(resp)
            if problem:
                raise UploadError(
                    REJECTED,
                    f"REDCap's Export File answered with {problem} instead of the field's file.",
                    http_status=resp.status_code, server_message=server_text(resp))
            return ExistingFile(attachment_name(resp) or "existing-file", resp.content)
        text = redcap_error_text(resp).lower()
        if resp.status_code in (400, 404) and ("no file" in text or "not contain a file" in text):
            return None
        raise self._error(resp, "the request to read the field's file")

    def existing_file(self, destination: Destination) -> ExistingFile | None:
        """The file the field holds now, or None when it is empty.

        An import replaces that file permanently, so it is checked first.
        """
        return self.export_file(destination)

    def _where(self, destination: Destination) -> str:
        f = self._file_fields(destination)
        where = f"record {f['record']}, field {f['field']}"
        if "event" in f:
            where += f", event {f['event']}"
        if "repeat_instance" in f:
            where += f", instance {f['repeat_instance']}"
        return where

    def _keep(self, destination: Destination, existing: ExistingFile, folder: Path,
              tag: str = "") -> Path:
        """Write a file read from the field under ``folder`` (0600, never overwriting)."""
        f = self._file_fields(destination)
        parts = [*([tag] if tag else []), f"record-{f['record']}", f["field"]]
        if "event" in f:
            parts.append(f["event"])
        if "repeat_instance" in f:
            parts.append(f"instance-{f['repeat_instance']}")
        parts.append(time.strftime("%Y%m%d-%H%M%S"))
        safe = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in parts)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = folder / f"{safe}_{re.sub(r'[^A-Za-z0-9._-]+', '-', existing.name)}"
        n = 1
        while out.exists():
            out = out.with_name(f"{out.stem}-{n}{out.suffix}")
            n += 1
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(existing.content)
            fh.flush()
            os.fsync(fh.fileno())
        # The copy on disk must be byte for byte what REDCap gave, before anything relies on it.
        if hashlib.sha256(out.read_bytes()).digest() != hashlib.sha256(existing.content).digest():
            out.unlink(missing_ok=True)
            raise UploadError(REJECTED, f"The copy of the file saved in {folder} does not match "
                              "what REDCap sent. Nothing was replaced; check the disk.",
                              reached_server=False)
        return out

    def backup_existing(self, destination: Destination, folder: Path) -> Path | None:
        """Save the field's current file under ``folder`` before it is replaced.

        Raises (and nothing may be replaced) when the download fails or is not the file.
        """
        try:
            existing = self.export_file(destination)
        except UploadError as err:
            raise UploadError(
                REJECTED,
                f"The file that {self._where(destination)} holds could not be saved before "
                f"replacing it: {err.message} Nothing was replaced. Check the profile's address "
                "and token, or replace the file in REDCap itself.",
                http_status=err.http_status, server_message=err.server_message,
            ) from None
        if existing is None:
            return None
        return self._keep(destination, existing, folder)

    def verify(self, document: Document, destination: Destination, receipt: Receipt,
               sha256: str) -> Verification:
        """Read the field back (Export File) and compare the bytes' SHA-256 with what was sent."""
        where = self._where(destination)
        try:
            got = self.export_file(destination)
        except UploadError as err:
            words = err.server_message or err.message
            return Verification(None, message=f"REDCap accepted the file, but reading {where} back "
                                f"to check it was refused, so it is not verified. REDCap said: {words}")
        if got is None:
            return Verification(False, proof="redcap-readback-sha256",
                                message=f"REDCap answered the upload with success, but {where} holds "
                                "no file when read back. Send it again, or check the record in REDCap.")
        if hashlib.sha256(got.content).hexdigest() == sha256:
            return Verification(True, proof="redcap-readback-sha256",
                                message=f"Read back from {where}: the same bytes as sent.")
        kept = self._keep(destination, got, self.backup_folder, tag="retrieved")
        return Verification(False, proof="redcap-readback-sha256",
                            message=f"REDCap holds a different file than the one sent ({where}). "
                            f"The file read back was kept at {kept}. Check the record in REDCap "
                            "before sending it again.")

    # ------------------------------------------------------------------ upload

    def upload(
        self,
        document: Document,
        destination: Destination,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> Receipt:
        field_name = destination.field or self.config.redcap_field or ""
        backup = self._backups.get(document.document_id)
        if backup is None and document.document_id not in self._checked:
            # Never replace a file silently: back it up when allowed, else refuse.
            if destination.replace:
                saved = self.backup_existing(destination, self.backup_folder)
                self._backups[document.document_id] = str(saved) if saved else ""
            elif self.existing_file(destination) is not None:
                raise UploadError(
                    REJECTED,
                    f"Record {destination.record}, field {field_name} already holds a file. "
                    "Sending would replace it permanently; choose to replace it (a backup of "
                    "the old file is kept first) or pick another field.",
                    reached_server=True,
                )
            self._checked.add(document.document_id)
        backup = self._backups.get(document.document_id) or None
        fields = {**self._file_fields(destination), "action": "import", "returnFormat": "json"}
        token = self.credentials.token
        fields = {"token": token.reveal() if token else "", **fields}
        resp = self.transport.upload(
            self.url, file_field="file", path=document.path, filename=document.filename,
            fields=fields, headers={"Accept": "application/json"},
            progress=progress, cancelled=cancelled,
        )
        if 300 <= resp.status_code < 400:
            raise redirect_error(resp)
        if resp.status_code != 200:
            raise self._error(resp)
        text = error_in_body(resp)
        if text:
            raise UploadError(REJECTED, f"REDCap said: {text}", http_status=200,
                              server_message=text, body_sent=True)
        if looks_like_html(resp):
            raise not_the_api(resp, "REDCap")
        where = self._where(destination)
        return Receipt(
            target=self.kind,
            remote_id=where,
            url=None,
            http_status=resp.status_code,
            server_message=server_text(resp),
            extra={**{k: fields[k] for k in ("record", "field", "event", "repeat_instance")
                      if k in fields}, **({"backup_path": backup} if backup else {})},
        )

    def retry_decision(self, error: UploadError) -> str:
        # An import replaces the field's file, so sending again is safe.
        if error.http_status is not None and error.http_status >= 500:
            return "retry"
        if error.kind in ("network", "outcome_unknown") and error.reached_server:
            return "retry"
        return super().retry_decision(error)

    def test_connection(self) -> str:
        resp = self._post({"content": "version"})
        version = resp.text.strip()[:40]
        proj = self.project(refresh=True)
        kind = "longitudinal" if proj.longitudinal else "classic"
        return (f"Connected to REDCap {version} at {self.url}: project “{proj.title}” ({kind}), "
                f"{len(proj.file_fields)} file-upload field(s).")
