"""The verdict's vocabulary: problems, results, limits and file types."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: What :attr:`ValidationResult.remedy` may say.
REMOVE_SCRIPTS = "remove_scripts"
#: What :attr:`ValidationResult.repair` may say.
STRUCTURAL = "structural"

MB = 1024 * 1024

#: Size limits per target, in bytes. Redox documents 10 MB for uploaded files;
#: Claros and REDCap do not publish one, so 32 MB is our configurable default.
DEFAULT_LIMITS: dict[str, int] = {
    "redox": 10 * MB,
    "claros": 32 * MB,
    "redcap": 32 * MB,
}
#: Limit used when no target has been chosen yet.
GENERIC_LIMIT = 32 * MB

TARGET_LABELS = {"redox": "Redox", "claros": "Claros Health", "redcap": "REDCap"}

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

EXTENSIONS: dict[str, frozenset[str]] = {
    "pdf": frozenset({".pdf"}),
    "jpeg": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "png": frozenset({".png"}),
}
PREFERRED_EXTENSION = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png"}
TYPE_LABELS = {"pdf": "PDF", "jpeg": "JPEG image", "png": "PNG image"}

#: How far into a file we look for a PDF header that does not start at byte 0.
HEADER_SCAN = 64 * 1024
#: Largest image we accept, in pixels (about 20 000 x 10 000). A scanner at
#: 600 dpi makes a letter page of 34 megapixels.
MAX_IMAGE_PIXELS = 200_000_000
#: Largest picture inside a PDF, decoded, in bytes: a 600 dpi A0 page in 1-bit
#: black and white is 60 MB, in colour 1.4 GB; 100,000 x 100,000 1-bit is 1.2 GB.
MAX_IMAGE_BYTES = 1024 * MB
#: Upper bounds for the walk through a PDF's object graph.
MAX_WALK_OBJECTS = 200_000
MAX_PAGES_WALKED = 5_000
#: Page content decoded to find pages that would appear blank (compressed bytes).
MAX_CONTENT_CHECKED = 64 * MB
#: Defaults for the isolated validator.
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MEMORY_CAP = 2 * 1024 * MB

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot go, or a caution about it."""

    code: str
    message: str
    severity: str = ERROR

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


@dataclass
class ValidationResult:
    path: str
    type: str | None = None
    size: int | None = None
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    problems: list[Problem] = field(default_factory=list)
    elapsed: float = 0.0
    #: SHA-256 of the bytes that were checked (of an acceptable file), so that a
    #: changed file is never sent in place of the one that was checked.
    sha256: str | None = None
    #: "structural" when the file is accepted but must be sent as a repaired
    #: copy (a ``pdf_repaired`` warning says so); None when it goes as it is.
    repair: str | None = None
    #: For a rejected file with a safe way out: "remove_scripts" when the only
    #: reason is active content, which a copy without it would not have.
    remedy: str | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def summary(self) -> str:
        """One line for a table cell: the first error, else the warnings, else 'Ready'."""
        if self.errors:
            return self.errors[0].message
        if self.warnings:
            return "Ready. " + " ".join(p.message for p in self.warnings)
        return "Ready to upload."

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "ok": self.ok,
            "type": self.type,
            "size": self.size,
        }
        if self.type == "pdf":
            out["pages"] = self.pages
        if self.type in ("jpeg", "png"):
            out["width"] = self.width
            out["height"] = self.height
        out["problems"] = [p.to_json() for p in self.problems]
        if self.sha256:
            out["sha256"] = self.sha256
        if self.repair:
            out["repair"] = self.repair
        if self.remedy:
            out["remedy"] = self.remedy
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationResult:
        problems = [Problem(**p) for p in data.pop("problems", [])]
        data.pop("ok", None)
        return cls(problems=problems, **data)


def size_limit(target: str | None, limits: dict[str, int] | None = None) -> int:
    if target is None:
        return GENERIC_LIMIT
    table = {**DEFAULT_LIMITS, **(limits or {})}
    if target not in table:
        raise ValueError(f"unknown target {target!r}")
    return table[target]


def human_size(n: int | float) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def sniff(head: bytes) -> str | None:
    """The type named by a file's leading bytes, or None."""
    if head.startswith(PDF_MAGIC):
        return "pdf"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    return None


def type_of_extension(suffix: str) -> str | None:
    suffix = suffix.lower()
    for kind, exts in EXTENSIONS.items():
        if suffix in exts:
            return kind
    return None


def memory_problem() -> Problem:
    return Problem(
        "too_complex",
        "This file needs too much memory to check, which damaged or hostile files do. "
        "It was not accepted. Save or print it to a new file and try again.",
    )
