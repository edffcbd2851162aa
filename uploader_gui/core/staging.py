"""The staged-file model: what a person has put on the table to send."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from uploader_gui.core.validation import REMOVE_SCRIPTS, ValidationResult


@dataclass
class StagedFile:
    """One file on the staging table, with its verdict once checked."""

    path: Path
    result: ValidationResult | None = None
    #: queued / uploading / sent / failed / unknown / cancelled / rejected (by the target), or None
    upload_state: str | None = None
    upload_message: str = ""
    #: Where it was sent (or is being sent), once it is on the queue.
    destination_text: str = ""
    key_cache: str | None = field(default=None, repr=False)
    #: For a PDF the app made from the user's images: [{"path", "sha256"}] of those images.
    sources: list[dict[str, str]] = field(default_factory=list)

    @property
    def key(self) -> str:
        if self.key_cache is None:
            self.key_cache = staging_key(self.path)
        return self.key_cache

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def ready(self) -> bool:
        """Checked, acceptable, and not already sent or on its way."""
        return (self.result is not None and self.result.ok
                and self.upload_state not in ("sent", "verified", "queued", "uploading"))

    @property
    def offers_copy(self) -> bool:
        """Refused as it is, but a safe copy may be sent if a person agrees (scripts removed)."""
        return (self.result is not None and not self.result.ok
                and self.result.remedy == REMOVE_SCRIPTS and self.result.sha256 is not None
                and self.upload_state not in ("sent", "queued", "uploading"))

    @property
    def rejected(self) -> bool:
        return self.result is not None and not self.result.ok


def staging_key(path: str | os.PathLike[str]) -> str:
    """Identity used to refuse staging the same file twice.

    Resolves symlinks and relative parts, and folds case where the file system
    does (Windows), so that two spellings of one file are one entry.
    """
    resolved = Path(path).expanduser().resolve(strict=False)
    return os.path.normcase(str(resolved))
