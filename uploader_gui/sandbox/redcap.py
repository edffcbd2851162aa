"""The REDCap API emulator: ``POST /api/`` (``/api`` answers 301 to ``/api/``, as Apache does).

Every call is a POST, form-encoded or multipart, with the project token in ``token``.
Errors are HTTP 4xx with the message formatted by ``returnFormat``: ``json`` gives
``{"error": "..."}``, ``csv`` the bare text, anything else (the default) REDCap's XML
``<?xml version="1.0" encoding="UTF-8" ?><hash><error>...</error></hash>``.
A body refused on its Content-Length alone (bigger than ``redcap_limit`` plus multipart
framing) gets a 413 with the JSON shape, since its ``returnFormat`` was never read.

* Missing or unknown token: 403 "You do not have permissions to use the API".
* ``content=version`` (text), ``project``, ``metadata`` (``fields[]``/``forms[]``
  filters), ``instrument``, ``event`` / ``arm`` / ``formEventMapping`` (400 for the
  classic project, as REDCap does), ``repeatingFormsEvents`` and ``record`` (export
  only; ``records[]``, ``fields[]``, ``forms[]``, ``events[]``). Exports follow
  ``format`` (``json``, ``csv``, default ``xml``). In a record export a file field
  reads ``[document]`` when it holds a file. Rows of the longitudinal project: one per
  record and event, plus one per stored instance of the repeating instrument.
* ``content=file``, ``action=import|export|delete`` with ``record``, ``field``,
  ``event``, ``repeat_instance``:
  the record must exist (400 "The record 'X' does not exist"; seed 004 only says a
  missing *instance* is created); the field must exist and be a file field; signature
  fields refuse import; longitudinal: ``event`` is required, must be a valid unique
  event name and its event must have the field's instrument designated; classic:
  ``event`` is ignored (seed 004: "omit" it); ``repeat_instance`` defaults to 1, must
  be a positive integer, and may exceed 1 only for a repeating instrument/event.
  Import needs a multipart ``file`` part with a filename (that name is stored); beyond
  ``redcap_limit`` it is a 413. Import success is HTTP 200 with an empty body (what
  REDCap servers send), or, with ``redcap_import_reply="seed"``, seed 004's
  ``{"success": true, "message": "File uploaded successfully"}`` when
  ``returnFormat=json``. Import replaces an existing file (the old entry stays in
  ``received()`` with ``replaced: true``). Export returns the bytes
  (``Content-Type: <type>; name="<file>"``) or 400 "There is no file to download for
  this record"; delete answers an empty 200 or 400 "There is no file to delete for
  this record" (the entry is marked ``deleted: true``).

Fault switch: :meth:`RedcapService.swap_next_imports` makes the next imports store
different bytes from the ones received (the entry then reads ``swapped: true`` and its
``sha256`` is that of what the field holds), as a broken plug-in or a race with another
user would, so that a client's read-back can be seen to catch it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
from html import escape
from typing import Any

from .exchange import (
    MULTIPART_SLACK,
    BadRequest,
    Exchange,
    FileStore,
    Response,
    iso_z,
    json_response,
    utc_now,
)
from .multipart import BodyError, BodyTooLarge, FilePart, MultipartForm
from .redcap_projects import PROJECTS, Field, Project

REDCAP_VERSION = "14.5.0"
NO_PERMISSION = "You do not have permissions to use the API"
FORM_LIMIT = 1024 * 1024  # form-encoded bodies (no files) are small

FileKey = tuple[int, str, str, str, int]  # project, record, event or "", field, instance


class Params:
    """The request's fields, whether they came form-encoded or multipart."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def array(self, name: str) -> list[str]:
        """``name[0]=a&name[1]=b``, ``name[]=a`` or ``name=a,b``."""
        items: list[tuple[int, str]] = []
        pattern = re.compile(re.escape(name) + r"\[(\d*)\]$")
        for key, values in self._values.items():
            if match := pattern.match(key):
                index = int(match[1]) if match[1] else 10**9
                items.extend((index, v) for v in values)
        result = [v for _, v in sorted(items, key=lambda pair: pair[0])]
        if not result and (plain := self.get(name)):
            result = [part.strip() for part in plain.split(",")]
        return [v for v in result if v != ""]


def format_error(status: int, message: str, return_format: str | None) -> Response:
    fmt = (return_format or "xml").lower()
    if fmt == "json":
        return json_response(status, {"error": message})
    if fmt == "csv":
        return Response(status, message.encode("utf-8"), "text/csv; charset=utf-8")
    body = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<hash>\n'
        f"  <error>{escape(message, quote=False)}</error>\n</hash>"
    )
    return Response(status, body.encode("utf-8"), "text/xml; charset=utf-8")


def format_export(data: list[dict[str, Any]] | dict[str, Any], fmt: str | None) -> Response:
    fmt = (fmt or "xml").lower()
    if fmt == "json":
        return json_response(200, data)
    rows = data if isinstance(data, list) else [data]
    if fmt == "csv":
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return Response(200, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8")
    root, item = ("project", None) if isinstance(data, dict) else ("records", "item")
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>', f"<{root}>"]
    for row in rows:
        cells = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in row.items())
        lines.append(f"<{item}>{cells}</{item}>" if item else cells)
    lines.append(f"</{root}>")
    return Response(200, "\n".join(lines).encode("utf-8"), "text/xml; charset=utf-8")


class RedcapService:
    target = "redcap"

    def __init__(self, store: FileStore, *, size_limit: int, import_reply: str = "empty") -> None:
        self.store = store
        self.size_limit = size_limit
        self.import_reply = import_reply
        self._lock = threading.Lock()
        self._files: dict[FileKey, dict[str, Any]] = {}
        self._swaps = 0

    def swap_next_imports(self, times: int = 1) -> None:
        """The next ``times`` imports leave the field holding a different file."""
        with self._lock:
            self._swaps = max(0, int(times))

    def owns(self, path: str) -> bool:
        return path in ("/api", "/api/")

    def error(self, ex: Exchange, status: int, message: str) -> Response:
        return json_response(status, {"error": message})

    def handle(self, ex: Exchange) -> Response:
        if ex.path == "/api":
            return Response(301, b"", None, {"Location": f"{ex.base_url}/api/"})
        if ex.method != "POST":
            return Response(
                405, b"The REDCap API only accepts POST requests.", "text/plain", {"Allow": "POST"}
            )
        length = ex.content_length
        if length is not None and length > self.size_limit + MULTIPART_SLACK:
            return json_response(413, {"error": self._too_large_message()})
        form: MultipartForm | None = None
        try:
            if ex.is_multipart():
                form = ex.read_multipart(self.size_limit)
                params = Params({k: [v] for k, v in form.fields.items()})
            elif ex.is_urlencoded():
                params = Params(ex.read_form(FORM_LIMIT))
            else:
                params = Params({})
        except BodyTooLarge as exc:
            return format_error(413, self._too_large_message(), exc.fields.get("returnFormat"))
        except BodyError as exc:
            return format_error(400, f"The request could not be read: {exc}", None)
        try:
            return self._dispatch(params, form)
        except BadRequest as exc:
            return format_error(exc.status, exc.message, params.get("returnFormat"))
        finally:
            if form is not None:
                form.cleanup()

    def _too_large_message(self) -> str:
        megabytes = self.size_limit / (1024 * 1024)
        return (
            "The uploaded file exceeds the maximum file size allowed on this REDCap server "
            f"({megabytes:g} MB)."
        )

    def _dispatch(self, params: Params, form: MultipartForm | None) -> Response:
        project = PROJECTS.get(params.get("token") or "")
        if project is None:
            raise BadRequest(403, NO_PERMISSION)
        content = params.get("content")
        fmt = params.get("format")
        if content == "version":
            return Response(200, REDCAP_VERSION.encode(), "text/html; charset=utf-8")
        if content == "project":
            return format_export(project.info(), fmt)
        if content == "metadata":
            return format_export(self._metadata(project, params), fmt)
        if content == "instrument":
            rows = [{"instrument_name": n, "instrument_label": lbl} for n, lbl in project.forms]
            return format_export(rows, fmt)
        if content in ("event", "arm", "formEventMapping"):
            return format_export(self._longitudinal_info(project, content), fmt)
        if content == "repeatingFormsEvents":
            rows = [
                {"event_name": event, "form_name": form_name, "custom_form_label": ""}
                for event, form_name in sorted(project.repeating)
            ]
            return format_export(rows, fmt)
        if content == "record":
            if (params.get("action") or "export") != "export":
                raise BadRequest(400, "The sandbox only supports exporting records.")
            return format_export(self._records(project, params), fmt)
        if content == "file":
            return self._file(project, params, form)
        raise BadRequest(400, 'The value of the parameter "content" is not valid')

    # --- discovery -----------------------------------------------------------------
    def _metadata(self, project: Project, params: Params) -> list[dict[str, str]]:
        names, forms = params.array("fields"), params.array("forms")
        unknown = [n for n in names if project.field(n) is None]
        if unknown:
            raise BadRequest(
                400, f'The following values in the parameter "fields" are not valid: {", ".join(unknown)}'
            )
        return [
            f.metadata_row()
            for f in project.fields
            if (not names and not forms) or f.name in names or f.form in forms
        ]

    def _longitudinal_info(self, project: Project, content: str) -> list[dict[str, Any]]:
        if not project.longitudinal:
            what = {"event": "events", "arm": "arms", "formEventMapping": "form/event mappings"}
            raise BadRequest(400, f"You cannot export {what[content]} for classic projects")
        if content == "event":
            return [e.row() for e in project.events]
        if content == "arm":
            return [{"arm_num": 1, "name": "Arm 1"}]
        return [
            {"arm_num": 1, "unique_event_name": e.unique_name, "form": form_name}
            for e in project.events
            for form_name, _ in project.forms
            if form_name in project.designations.get(e.unique_name, frozenset())
        ]

    def _records(self, project: Project, params: Params) -> list[dict[str, Any]]:
        wanted = params.array("records")
        names, forms, events = params.array("fields"), params.array("forms"), params.array("events")
        unknown = [n for n in names if project.field(n) is None]
        if unknown:
            raise BadRequest(
                400, f'The following values in the parameter "fields" are not valid: {", ".join(unknown)}'
            )
        chosen = [
            f for f in project.fields if (not names and not forms) or f.name in names or f.form in forms
        ]
        records = [r for r in project.records if not wanted or r in wanted]
        with self._lock:
            stored = set(self._files)
        rows: list[dict[str, Any]] = []

        def value(record: str, event: str, fld: Field, instance: int) -> str:
            if fld.name == project.record_id_field:
                return record
            if fld.is_file and (project.project_id, record, event, fld.name, instance) in stored:
                return "[document]"
            return project.values.get(record, {}).get(fld.name, "")

        for record in records:
            if not project.longitudinal:
                rows.append({f.name: value(record, "", f, 1) for f in chosen})
                continue
            for event in project.events:
                if events and event.unique_name not in events:
                    continue
                designated = project.designations.get(event.unique_name, frozenset())
                row: dict[str, Any] = {}
                for fld in chosen:
                    plain = fld.form in designated and not project.is_repeating(event.unique_name, fld.form)
                    row[fld.name] = value(record, event.unique_name, fld, 1) if plain else ""
                    if fld.name == project.record_id_field:
                        row[fld.name] = record
                rows.append(self._with_event_columns(row, event.unique_name, "", ""))
                for rep_event, form_name in sorted(project.repeating):
                    if rep_event != event.unique_name:
                        continue
                    instances = sorted(
                        {k[4] for k in stored if k[:3] == (project.project_id, record, rep_event)}
                    )
                    for instance in instances:
                        row = {
                            f.name: value(record, rep_event, f, instance)
                            if f.form == form_name or f.name == project.record_id_field
                            else ""
                            for f in chosen
                        }
                        rows.append(self._with_event_columns(row, rep_event, form_name, instance))
        return rows

    @staticmethod
    def _with_event_columns(
        row: dict[str, Any], event: str, instrument: str, instance: int | str
    ) -> dict[str, Any]:
        first = dict(list(row.items())[:1])
        rest = dict(list(row.items())[1:])
        return {
            **first,
            "redcap_event_name": event,
            "redcap_repeat_instrument": instrument,
            "redcap_repeat_instance": instance,
            **rest,
        }

    # --- files -----------------------------------------------------------------------
    def _file(self, project: Project, params: Params, form: MultipartForm | None) -> Response:
        action = params.get("action")
        if action not in ("import", "export", "delete"):
            raise BadRequest(
                400, 'The parameter "action" is missing or invalid; use import, export or delete.'
            )
        key, fld = self._file_key(project, params, action)
        if action == "import":
            part = form.files.get("file") if form is not None else None
            if part is None or not part.filename:
                raise BadRequest(
                    400,
                    "No valid file was uploaded. Send the file as multipart/form-data in a "
                    'part named "file".',
                )
            self._import(key, fld, part)
            if self.import_reply == "seed" and (params.get("returnFormat") or "").lower() == "json":
                return json_response(200, {"success": True, "message": "File uploaded successfully"})
            return Response(200, b"", "text/html; charset=UTF-8")
        with self._lock:
            current = self._files.get(key)
            if action == "delete" and current is not None:
                del self._files[key]
        if current is None:
            what = "download" if action == "export" else "delete"
            raise BadRequest(400, f"There is no file to {what} for this record")
        if action == "delete":
            self.store.update(current["id"], deleted=True)
            return Response(200, b"", "text/html; charset=UTF-8")
        with open(current["path"], "rb") as src:
            data = src.read()
        name = current["filename"].replace('"', "")
        return Response(200, data, f'{current["content_type"]}; name="{name}"')

    def _file_key(self, project: Project, params: Params, action: str) -> tuple[FileKey, Field]:
        record = params.get("record")
        field_name = params.get("field")
        if not record:
            raise BadRequest(400, 'The parameter "record" is missing')
        if not field_name:
            raise BadRequest(400, 'The parameter "field" is missing')
        fld = project.field(field_name)
        if fld is None:
            raise BadRequest(400, f'The field "{field_name}" does not exist in this project')
        if not fld.is_file:
            raise BadRequest(400, f'The field "{field_name}" is not a file upload field')
        if fld.is_signature and action == "import":
            raise BadRequest(
                400,
                f'The field "{field_name}" is a signature field. Signatures cannot be imported '
                "through the API; they can only be captured in the REDCap web interface.",
            )
        if record not in project.records:
            raise BadRequest(400, f"The record '{record}' does not exist")
        event = ""
        if project.longitudinal:
            event = params.get("event") or ""
            if not event:
                raise BadRequest(
                    400,
                    'The parameter "event" is required for longitudinal projects: give the '
                    'unique event name (for example "baseline_arm_1").',
                )
            if project.event(event) is None:
                raise BadRequest(400, f'The event "{event}" is not a valid unique event name')
            if fld.form not in project.designations.get(event, frozenset()):
                raise BadRequest(
                    400,
                    f'The field "{field_name}" is on the instrument "{fld.form}", which is not '
                    f'designated for the event "{event}"',
                )
        raw_instance = params.get("repeat_instance")
        instance = 1
        if raw_instance not in (None, ""):
            try:
                instance = int(str(raw_instance))
            except ValueError:
                instance = 0
            if instance < 1:
                raise BadRequest(400, 'The parameter "repeat_instance" must be a positive integer')
        if instance > 1 and not project.is_repeating(event, fld.form):
            where = f' in the event "{event}"' if event else ""
            raise BadRequest(
                400,
                f'The instrument "{fld.form}" does not repeat{where}, so "repeat_instance" must be 1',
            )
        return (project.project_id, record, event, fld.name, instance), fld

    def _import(self, key: FileKey, fld: Field, part: FilePart) -> None:
        project_id, record, event, field_name, instance = key
        number = self.store.next_number("redcap")
        entry_id = f"redcap_{number}"
        path = self.store.keep_file(part.path, "redcap", entry_id, part.filename)
        with self._lock:
            swapped, self._swaps = self._swaps > 0, max(0, self._swaps - 1)
        sha256 = part.sha256
        if swapped:
            with open(path, "ab") as out:
                out.write(b"\n% not the file that was sent (sandbox fault switch)\n")
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        kept = {
            "id": entry_id,
            "path": str(path),
            "filename": part.filename or "file",
            "content_type": part.content_type or "application/octet-stream",
        }
        with self._lock:
            previous = self._files.get(key)
            self._files[key] = kept
        if previous is not None:
            self.store.update(previous["id"], replaced=True, replaced_by=entry_id)
        self.store.add(
            {
                "target": "redcap",
                "id": entry_id,
                "filename": kept["filename"],
                "path": str(path),
                "sha256": sha256,
                "size": path.stat().st_size,
                "swapped": swapped,
                "content_type": kept["content_type"],
                "project_id": project_id,
                "record": record,
                "field": field_name,
                "form": fld.form,
                "event": event or None,
                "repeat_instance": instance,
                "replaced": False,
                "deleted": False,
                "received_at": iso_z(utc_now()),
            }
        )
