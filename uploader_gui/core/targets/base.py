"""The small interface every target implements, and what travels through it."""

from __future__ import annotations

import abc
import json
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uploader_gui.core.logging_setup import register_secret
from uploader_gui.core.names import KIND_LABELS, KINDS  # noqa: F401 - re-exported
from uploader_gui.core.outcome import (
    AUTH,
    NOT_FOUND,
    OUTCOME_UNKNOWN,
    RATE_LIMITED,
    REJECTED,
    SERVER,
    TOO_LARGE,
    CancelFn,
    ProgressFn,
    Receipt,
    UploadError,
    server_text,
    wait_hint,
)
from uploader_gui.core.target_config import Destination, TargetConfig

if TYPE_CHECKING:  # the HTTP stack is loaded when a target is first made, not at start-up
    import requests

    from uploader_gui.core.transport import Transport


class Secret:
    """A credential that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        # Every configured secret is known to the one scrubber (core.logging_setup), so
        # no server echo, exception or stored text can carry it.
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a file or a child process
        raise TypeError("secrets cannot be pickled")


@dataclass
class Credentials:
    """Secrets a target needs. Only the ones for its auth kind are set."""

    token: Secret | None = None  # Claros API key, or REDCap project token
    redox_api_key: Secret | None = None
    redox_secret: Secret | None = None
    redox_private_key: Secret | None = None  # PEM text, for signed-JWT auth
    platform_key: Secret | None = None  # Redox Platform API

    def __repr__(self) -> str:
        present = [k for k, v in self.__dict__.items() if v]
        return f"Credentials(set={present})"


@dataclass
class Document:
    """One file to send: already validated; ``document_id`` is kept across retries."""

    path: Path
    file_type: str  # "pdf" | "jpeg" | "png"
    size: int
    document_id: str = dc_field(default_factory=lambda: str(uuid.uuid4()))
    upload_name: str | None = None

    @property
    def filename(self) -> str:
        """The name the server sees: a base name on every OS (see :func:`upload_file_name`)."""
        return upload_file_name(self.upload_name or self.path.name)


_CONTROL = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, 0x200E,
                          0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def upload_file_name(name: str, fallback: str = "document") -> str:
    """A file name fit to send to any server: no folders, no control characters.

    ``..\\..\\evil.pdf``, ``/etc/x.pdf`` and ``C:\\scans\\a.pdf`` all become their last
    part, whichever OS sent them; control and direction-changing characters are dropped,
    and the extension is kept (a name left empty becomes ``document`` plus the extension).
    """
    cleaned = name.translate(_CONTROL)
    base = cleaned.replace("\\", "/").rsplit("/", 1)[-1]
    if ":" in base[:2]:  # a drive-relative Windows name such as C:x.pdf
        base = base.split(":", 1)[1]
    base = base.strip()
    if not base.strip("."):  # nothing, ".", ".."
        return fallback
    stem, dot, ext = base.rpartition(".")
    if dot and not stem.strip("."):  # ".pdf": only an extension
        return f"{fallback}.{ext}"
    return base


@dataclass(frozen=True)
class PatientInfo:
    """Who a destination is, as the target knows them: shown beside the id, never logged."""

    id: str
    name: str = ""
    birth_date: str = ""  # ISO 8601 (YYYY-MM-DD) when the target gives one
    #: Anything a person should know before sending (e.g. "already has a PDF").
    note: str = ""

    def label(self) -> str:
        """"Ben Sandbox, born 1975-06-15 (patient 1002)"; just the id when no name is known."""
        who = self.name
        if who and self.birth_date:
            who = f"{who}, born {self.birth_date}"
        return f"{who} ({self.id})" if who else self.id


@dataclass(frozen=True)
class ExistingFile:
    """A file a destination already holds (REDCap: the file in the field)."""

    name: str
    content: bytes = b""


@dataclass(frozen=True)
class Verification:
    """What reading back (or the receipt) proved about an upload that was accepted.

    ``verified``: True, proven; False, the server holds something else (the upload failed);
    None, it could not be proven (yet): the upload stays accepted, not verified.
    ``pending``: ask again later (e.g. Redox still delivering).
    """

    verified: bool | None
    proof: str = ""  # e.g. "redcap-readback-sha256", "redox-logs-succeeded", "claros-receipt"
    message: str = ""
    pending: bool = False


@dataclass(frozen=True)
class DestinationChoices:
    """What a person may pick for a destination, from the target's own metadata
    (REDCap: the project's file fields and events), as (value, label) pairs."""

    fields: tuple[tuple[str, str], ...] = ()
    events: tuple[tuple[str, str], ...] = ()
    repeating: bool = False


@dataclass(frozen=True)
class LogStatus:
    """Where one sent document stands at one destination (Redox's delivery logs)."""

    log_id: str
    status: str  # "succeeded", "failed", "filtered" or "pending"; the latest attempt decides
    destination: str = ""  # the destination's name, or its id
    message: str = ""  # the system's own words for a failure or a filter


class NotSupported(Exception):
    """The target cannot do this optional thing; callers check ``supports()`` first."""


#: Optional capabilities a target may declare in :attr:`Target.capabilities`.
FIND_PATIENTS = "find_patients"  # search the target's patients (the patient picker)
LOOKUP = "lookup"  # who is this destination (name and date of birth)
EXISTING_FILE = "existing_file"  # what the destination holds now (REDCap, before an overwrite)
DELIVERY_STATUS = "delivery_status"  # where a sent document is now (Redox logs)
VERIFY = "verify"  # prove that what arrived is what was sent
DESTINATION_CHOICES = "destination_choices"  # fields and events to pick from (REDCap)
CAPABILITIES = (FIND_PATIENTS, LOOKUP, EXISTING_FILE, DELIVERY_STATUS, VERIFY,
                DESTINATION_CHOICES)


class Target(abc.ABC):
    """A system that receives documents.

    The four abstract methods are what every target does. The optional capabilities
    (:data:`CAPABILITIES`) have safe defaults: a target lists the ones it supports in
    ``capabilities``, and callers ask :meth:`supports` instead of testing the class.
    """

    kind: str = ""
    capabilities: frozenset[str] = frozenset()

    def __init__(self, config: TargetConfig, credentials: Credentials,
                 transport: Transport | None = None) -> None:
        self.config = config
        self.credentials = credentials
        if transport is None:
            from uploader_gui.core.transport import Transport

            transport = Transport(ca_bundle=config.ca_bundle)
        self.transport = transport

    @abc.abstractmethod
    def check(self, document: Document, destination: Destination) -> list[str]:
        """Problems with sending this document there, in words; empty when it may go.

        Cheap checks only; no network.
        """

    @abc.abstractmethod
    def upload(
        self,
        document: Document,
        destination: Destination,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> Receipt:
        """Send one document once. Raises UploadError."""

    @abc.abstractmethod
    def test_connection(self) -> str:
        """A harmless call that proves the address and credentials work. Returns a sentence."""

    def prepare(self, destination: Destination) -> list[str]:
        """Checks that need the network (e.g. does the record exist). Default: none."""
        return []

    def retry_decision(self, error: UploadError) -> str:
        """'retry', 'fail' or 'unknown' for a failed attempt, per TARGETS.md."""
        if error.kind in ("config", "tls", "proxy", "cancelled"):
            return "fail"
        if not error.reached_server:  # DNS, refused, connect timeout: nothing arrived
            return "retry"
        if error.http_status in (429, 503):
            return "retry"
        if error.kind == "network" and not error.body_sent:  # cut before the body was complete
            return "retry"
        if error.kind == OUTCOME_UNKNOWN:
            return "unknown"
        return "fail"

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------ optional capabilities

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def find_patients(self, query: str = "") -> list[PatientInfo]:
        """Patients whose name, date of birth or id contains ``query`` (all when empty)."""
        raise NotSupported(FIND_PATIENTS)

    def lookup(self, destination: Destination) -> PatientInfo | None:
        """Who the destination is; None when the target has no such patient or record."""
        raise NotSupported(LOOKUP)

    def existing_file(self, destination: Destination) -> ExistingFile | None:
        """The file the destination holds now, or None when it holds none."""
        raise NotSupported(EXISTING_FILE)

    def destination_choices(self) -> DestinationChoices:
        """The fields and events a destination may name (from the target's metadata)."""
        raise NotSupported(DESTINATION_CHOICES)

    def verify(self, document: Document, destination: Destination, receipt: Receipt,
               sha256: str) -> Verification:
        """Prove that what arrived is what was sent (``sha256`` of the bytes sent)."""
        return Verification(None, message="This system offers no way to check an upload.")

    def delivery_status(self, log_id: str, created: float | None = None) -> LogStatus:
        """Where the document of one delivery log stands now (``created``: when it was sent,
        to narrow a search). The default knows nothing, so it never claims a delivery."""
        return LogStatus(log_id, "pending",
                         message="This system does not report where a document went.")


# --------------------------------------------------------------------------- helpers


def json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return None


def kind_for_status(status: int) -> str:
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status == 413:
        return TOO_LARGE
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER
    return REJECTED


def http_error(
    resp: requests.Response,
    message: str,
    server_message: str | None = None,
    kind: str | None = None,
) -> UploadError:
    return UploadError(
        kind or kind_for_status(resp.status_code),
        message,
        http_status=resp.status_code,
        server_message=server_message if server_message is not None else server_text(resp),
        retry_after=wait_hint(resp.headers),
        body_sent=True,
    )


def looks_like_html(resp: requests.Response) -> bool:
    """The body is a web page. (Content-Type alone proves nothing: REDCap labels its
    empty success replies text/html.)"""
    head = resp.content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def not_the_api(resp: requests.Response, what: str) -> UploadError:
    """A 2xx whose body is not what the API documents: e.g. a proxy's login page."""
    hint = (" It looks like a web page, perhaps a network login or proxy page."
            if looks_like_html(resp) else "")
    return UploadError(
        OUTCOME_UNKNOWN,
        f"{what} answered with something other than the expected reply.{hint} "
        "Check the address in the profile; whether the document arrived is not known.",
        http_status=resp.status_code,
        server_message=server_text(resp),
        body_sent=True,
    )


def redirect_error(resp: requests.Response) -> UploadError:
    where = resp.headers.get("Location", "another address").split("?")[0]
    return UploadError(
        REJECTED,
        f"The server tried to send the upload on to {where}. Uploads never follow redirects "
        "(credentials could leak); check the address in the profile.",
        http_status=resp.status_code,
        server_message=server_text(resp),
        body_sent=True,
    )

