"""Jobs: one file going to one destination, and the states it passes through.

``queued → uploading → sent | failed | cancelled | unknown``, then
``sent → verified`` once the target proved that what arrived is what was sent
(REDCap's read-back, Claros's receipt, Redox's delivery logs), or ``sent →
failed`` when that proof shows otherwise (a different file, a failed or filtered
delivery). ``sent`` alone means "accepted, not verified". ``interrupted`` is what
start-up finds for a job that was ``queued`` or ``uploading`` when the process died.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from uploader_gui.core.target_config import Destination, TargetConfig

if TYPE_CHECKING:
    from pathlib import Path

QUEUED = "queued"
UPLOADING = "uploading"
SENT = "sent"
VERIFIED = "verified"
FAILED = "failed"
CANCELLED = "cancelled"
UNKNOWN = "unknown"
INTERRUPTED = "interrupted"

STATES = (QUEUED, UPLOADING, SENT, VERIFIED, FAILED, CANCELLED, UNKNOWN, INTERRUPTED)
FINAL = frozenset({SENT, VERIFIED, FAILED, CANCELLED, UNKNOWN})
#: The server accepted the document (and, for VERIFIED, it was proven to have arrived).
SUCCESS = frozenset({SENT, VERIFIED})
ACTIVE = frozenset({QUEUED, UPLOADING})

STATE_LABELS = {
    QUEUED: "Waiting",
    UPLOADING: "Uploading",
    SENT: "Accepted (not verified)",
    VERIFIED: "Verified",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
    UNKNOWN: "Outcome unknown",
    INTERRUPTED: "Interrupted",
}

#: Legal moves. Resending a failed/unknown/interrupted/cancelled job queues it again.
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({UPLOADING, CANCELLED, FAILED, INTERRUPTED}),
    UPLOADING: frozenset({SENT, FAILED, CANCELLED, UNKNOWN, INTERRUPTED}),
    SENT: frozenset({VERIFIED, FAILED}),
    VERIFIED: frozenset(),
    FAILED: frozenset({QUEUED}),
    CANCELLED: frozenset({QUEUED}),
    UNKNOWN: frozenset({QUEUED}),
    INTERRUPTED: frozenset({QUEUED, CANCELLED}),
}


class IllegalTransition(ValueError):
    pass


def check_transition(old: str, new: str) -> None:
    if new not in TRANSITIONS.get(old, frozenset()):
        raise IllegalTransition(f"a job cannot go from {old} to {new}")


def sha256_of(path: Path, chunk: int = 1024 * 1024) -> str:
    import hashlib  # loads OpenSSL: only once a file is really hashed

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def destination_key(kind: str, dest: Destination) -> str:
    """A short text naming who or where a document went: for search and duplicates."""
    if kind == "redcap":
        parts = [f"record {dest.record or ''}", dest.field or ""]
        if dest.event:
            parts.append(dest.event)
        if dest.repeat_instance:
            parts.append(f"#{dest.repeat_instance}")
        return " / ".join(p for p in parts if p)
    return f"patient {dest.patient_id or ''}".strip()


@dataclass
class AttemptRecord:
    job_id: int
    number: int
    started: float
    ended: float | None = None
    bytes_sent: int = 0
    http_status: int | None = None
    error: str | None = None
    decision: str | None = None
    #: The address this attempt really sent to (the profile's, at the time of sending).
    url: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Job:
    """Everything the app knows about one document's journey. Never holds a secret."""

    path: str
    name: str
    size: int
    sha256: str
    file_type: str
    target: str
    destination: Destination
    target_config: TargetConfig
    profile: str | None = None
    pages: int | None = None
    status: str = QUEUED
    uid: str = field(default_factory=lambda: _new_uid())
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    bytes_sent: int = 0
    remote_id: str | None = None
    url: str | None = None
    log_ids: list[str] = field(default_factory=list)
    http_status: int | None = None
    server_message: str | None = None
    error: str | None = None
    #: True once any attempt began: for Claros, an interrupted job may then have arrived.
    began_sending: bool = False
    #: host:pid:start of the process that queued it (to tell a live owner from a dead one)
    owner: str | None = None
    #: The user's original files when what is sent was made from them (images → PDF):
    #: [{"path", "sha256"}]. ``path``/``sha256`` above are then those of the PDF sent.
    sources: list[dict[str, str]] = field(default_factory=list)
    #: History id of an earlier upload of the same bytes to the same place, sent anyway.
    duplicate_of: int | None = None
    #: Where the file this upload replaced was saved first (REDCap overwrite protection).
    backup_path: str | None = None
    #: Redox delivery status from the Platform API: pending/succeeded/failed/filtered.
    delivery: str | None = None
    delivery_checked: float | None = None
    #: Proven delivery: what arrived was checked to be what was sent, and how.
    verified: bool = False
    proof: str | None = None
    #: Who the destination is, as the target named them ("Ben Sandbox, born 1975-06-15").
    #: Patient data: kept here and in the history row, never logged.
    patient_label: str | None = None
    #: Who sent it, from which workstation, with which version of the app.
    user: str | None = None
    workstation: str | None = None
    app_version: str | None = None
    id: int | None = None

    @property
    def dest_key(self) -> str:
        return destination_key(self.target, self.destination)

    @property
    def document_id(self) -> str:
        """Kept across retries and resumes (Redox's DocumentID)."""
        return self.uid

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": self.uid,
            "path": self.path,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "type": self.file_type,
            "pages": self.pages,
            "profile": self.profile,
            "target": self.target,
            "destination": self.destination.to_json(),
            "destination_text": self.dest_key,
            "status": self.status,
            "attempts": self.attempts,
            "remote_id": self.remote_id,
            "url": self.url,
            "log_ids": list(self.log_ids),
            "http_status": self.http_status,
            "error": self.error,
            "created": _iso(self.created),
            "finished": _iso(self.finished),
            "sources": list(self.sources),
            "duplicate_of": self.duplicate_of,
            "backup_path": self.backup_path,
            "delivery": self.delivery,
            "verified": self.verified,
            "proof": self.proof,
            "patient": self.patient_label,
            "user": self.user,
            "workstation": self.workstation,
            "app_version": self.app_version,
        }

    def safe_to_resume(self) -> bool:
        """Whether an interrupted job may be sent again without asking.

        Redox (same DocumentID) and REDCap (an import replaces) are safe.
        Claros creates a document per POST: only a job that never began
        sending is safe.
        """
        if self.status != INTERRUPTED:
            return False
        return self.target != "claros" or not self.began_sending


def _new_uid() -> str:
    import uuid  # imports platform: only once a job is made, not to read the history

    return str(uuid.uuid4())


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) + _tz(t)


def _tz(t: float) -> str:
    offset = time.localtime(t).tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return f"{sign}{offset // 3600:02d}:{offset % 3600 // 60:02d}"


#: The settings that say how to reach a system (not what to send). A job resumed or
#: sent again uses its profile's current ones: an address, a certificate or a key may
#: have changed since it was queued (the sandbox, say, takes a new port).
CONNECTION_FIELDS = (
    "base_url", "blob_url", "auth", "client_id", "key_id", "jwt_alg", "ca_bundle",
    "platform_org_id", "platform_client_id", "platform_key_id", "source_id",
)


def with_connection(config: TargetConfig, current: TargetConfig | None) -> TargetConfig:
    """``config`` with the connection settings of ``current`` (the profile as it is now)."""
    if current is None or current.kind != config.kind:
        return config
    changes = {name: getattr(current, name) for name in CONNECTION_FIELDS
               if getattr(current, name) != getattr(config, name)}
    return replace(config, **changes) if changes else config


def config_to_json(config: TargetConfig) -> str:
    import json

    return json.dumps(asdict(config), sort_keys=True)


def config_from_json_text(text: str) -> TargetConfig:
    import json

    return TargetConfig(**json.loads(text))
