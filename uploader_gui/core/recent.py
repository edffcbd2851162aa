"""Recent destinations, kept on this computer so that a repeat send is one click.

Only identifiers are stored (patient IDs, REDCap record/field/event), plus a
label when the receiving system itself returned one (e.g. Claros's patient
list). Nothing is sent anywhere; the file is private (0600).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from uploader_gui.core.paths import data_dir

RECENT_FILE = "recent-destinations.json"
KEEP = 20


def recent_path() -> Path:
    return data_dir() / RECENT_FILE


def load_recent(profile: str, path: Path | None = None) -> list[dict[str, Any]]:
    path = path or recent_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    items = data.get(profile, []) if isinstance(data, dict) else []
    return [i for i in items if isinstance(i, dict) and i.get("id")]


def remember(profile: str, ident: str, label: str | None = None,
             path: Path | None = None) -> None:
    """Put ``ident`` first in the profile's list (at most :data:`KEEP`)."""
    path = path or recent_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    items = [i for i in data.get(profile, []) if isinstance(i, dict) and i.get("id") != ident]
    known = next((i.get("label") for i in data.get(profile, [])
                  if isinstance(i, dict) and i.get("id") == ident), None)
    entry: dict[str, Any] = {"id": ident, "used": time.time()}
    if label or known:
        entry["label"] = label or known
    data[profile] = [entry, *items][:KEEP]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def _settings_path() -> Path:
    return data_dir() / "window-state.json"


def load_window_state() -> dict[str, Any]:
    """What the window remembers between runs (last profile, sizes); empty when none."""
    try:
        data = json.loads(_settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_window_state(updates: dict[str, Any]) -> None:
    """Merge ``updates`` into the remembered state (a private file, 0600)."""
    data = load_window_state()
    if all(data.get(k) == v for k, v in updates.items()):
        return
    data.update(updates)
    try:
        path = _settings_path()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def load_last_profile() -> str | None:
    value = load_window_state().get("last_profile")
    return value if isinstance(value, str) else None


def save_last_profile(name: str) -> None:
    """Remember the profile last chosen, so the next start offers it first."""
    save_window_state({"last_profile": name})
