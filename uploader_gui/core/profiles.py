"""Named target configurations ("profiles"), stored as JSON without any secret."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from uploader_gui.core.paths import config_dir
from uploader_gui.core.targets.base import KINDS, Credentials, Destination, TargetConfig

PROFILES_FILE = "profiles.json"


@dataclass
class Profile:
    """A target configuration, the secrets it uses in this session, and the usual destination."""

    config: TargetConfig
    credentials: Credentials
    defaults: Destination = dc_field(default_factory=Destination)

    @property
    def name(self) -> str:
        return self.config.name
_ALLOWED = {f.name for f in fields(TargetConfig)}


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


def config_from_json(data: dict[str, Any]) -> TargetConfig:
    unknown = set(data) - _ALLOWED
    if unknown:
        raise ValueError(f"unknown profile settings: {', '.join(sorted(unknown))}")
    if data.get("kind") not in KINDS:
        raise ValueError(f"profile kind must be one of {', '.join(KINDS)}")
    if not data.get("base_url"):
        raise ValueError("profile needs a base_url")
    return TargetConfig(**data)


def load_profiles(path: Path | None = None) -> dict[str, TargetConfig]:
    path = path or profiles_path()
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = raw.get("profiles", []) if isinstance(raw, dict) else raw
    out: dict[str, TargetConfig] = {}
    for item in items:
        cfg = config_from_json(dict(item))
        out[cfg.name] = cfg
    return out


def save_profiles(profiles: dict[str, TargetConfig], path: Path | None = None) -> Path:
    path = path or profiles_path()
    data = {"version": 1, "profiles": [asdict(p) for p in profiles.values()]}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return path
