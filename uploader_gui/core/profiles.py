"""Named target configurations ("profiles"), stored as JSON without any secret.

The file (``profiles.json`` in the config folder, or under ``UPLOADER_GUI_HOME``)
holds, per profile, the fields of :class:`TargetConfig` plus an optional
``"defaults"`` object (the usual REDCap field, event and repeat instance, the
document type). Secrets live in the keyring (:mod:`uploader_gui.core.secrets`).
The same format is used to export profiles for other workstations and to import
them. A profile whose address is not HTTPS (except to this computer) is refused
when it is saved or imported, and again by the transport before anything is sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from uploader_gui.core.names import PROFILES_FILE
from uploader_gui.core.outcome import UploadError
from uploader_gui.core.paths import config_dir
from uploader_gui.core.targets.base import KINDS, Credentials, Destination, TargetConfig

FORMAT = "uploader-gui profiles"
VERSION = 1
MAX_NAME = 80


@dataclass
class Profile:
    """A target configuration, the secrets it uses in this session, and the usual destination."""

    config: TargetConfig
    credentials: Credentials
    defaults: Destination = dc_field(default_factory=Destination)

    @property
    def name(self) -> str:
        return self.config.name


class ProfileError(ValueError):
    """A profile or profile file that cannot be used, with the reasons in words."""


_ALLOWED = {f.name for f in fields(TargetConfig)}
#: Destination fields a profile may preset. Patient IDs and records are typed per send.
DEFAULT_KEYS = ("field", "event", "repeat_instance", "document_type", "patient_id_type")
#: Keys that would mean someone put a secret into a profile file.
_SECRET_KEYS = {"token", "api_key", "apikey", "secret", "password", "private_key", "redox_api_key",
                "redox_secret", "redox_private_key", "platform_key", "credentials"}


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


def config_from_json(data: dict[str, Any]) -> TargetConfig:
    secretish = {k for k in data if k.lower() in _SECRET_KEYS}
    if secretish:
        raise ValueError(f"profile files never hold secrets; remove {', '.join(sorted(secretish))} "
                         "and set it with `uploader-gui profiles set-secret` or the profile editor")
    unknown = set(data) - _ALLOWED
    if unknown:
        raise ValueError(f"unknown profile settings: {', '.join(sorted(unknown))}")
    if data.get("kind") not in KINDS:
        raise ValueError(f"profile kind must be one of {', '.join(KINDS)}")
    if not data.get("base_url"):
        raise ValueError("profile needs a base_url")
    return TargetConfig(**data)


def defaults_from_json(data: Any) -> Destination:
    if data is None:
        return Destination()
    if not isinstance(data, dict):
        raise ValueError("a profile's defaults must be an object")
    unknown = set(data) - set(DEFAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown profile defaults: {', '.join(sorted(unknown))}")
    return Destination(**data)


def defaults_to_json(defaults: Destination) -> dict[str, Any]:
    return {k: getattr(defaults, k) for k in DEFAULT_KEYS if getattr(defaults, k) not in (None, "")}


def profile_to_json(profile: Profile) -> dict[str, Any]:
    data = asdict(profile.config)
    defaults = defaults_to_json(profile.defaults)
    if defaults:
        data["defaults"] = defaults
    return data


def profile_from_json(item: dict[str, Any]) -> Profile:
    item = dict(item)
    defaults = defaults_from_json(item.pop("defaults", None))
    return Profile(config_from_json(item), Credentials(), defaults)


def check_config(cfg: TargetConfig) -> list[str]:
    """What is wrong with this profile, in sentences; empty when it may be saved."""
    problems: list[str] = []
    name = (cfg.name or "").strip()
    if not name:
        problems.append("Give the profile a name.")
    elif len(name) > MAX_NAME or any(ord(c) < 32 for c in name) or name != cfg.name:
        problems.append(f"The profile name must be one line of at most {MAX_NAME} characters, "
                        "without spaces at either end.")
    if cfg.kind not in KINDS:
        problems.append(f"The kind must be one of {', '.join(KINDS)}.")
    if not cfg.base_url:
        problems.append("Enter the address (URL) of the system.")
    for url in (cfg.base_url, cfg.blob_url):
        if url:
            try:
                from uploader_gui.core.transport import require_secure_url

                require_secure_url(url)
            except UploadError as err:
                problems.append(err.message)
    if cfg.kind == "redox":
        if cfg.auth not in ("jwt", "legacy"):
            problems.append("Redox authentication must be “jwt” (signed JWT) or “legacy”.")
        if cfg.auth == "jwt" and not (cfg.client_id and cfg.key_id):
            problems.append("A Redox profile with signed-JWT authentication needs the client ID "
                            "and the key ID.")
        for d in cfg.destinations:
            if not isinstance(d, dict) or not str(d.get("ID", "")).strip():
                problems.append("Each Redox destination needs an ID.")
                break
        if cfg.jwt_alg not in (None, "RS384", "ES384", "HS384"):
            problems.append("The Redox JWT algorithm must be RS384, ES384 or HS384.")
        if cfg.redox_data_model not in ("Media", "Notes"):
            problems.append("The Redox data model must be “Media” (Media.New) or “Notes” "
                            "(Notes.New).")
        if (cfg.platform_org_id or cfg.platform_environment_id) and not cfg.platform_client_id:
            problems.append("To read Redox's delivery logs, enter the Platform API client's ID "
                            "as well (an organisation or user API client, not the source).")
    ident = cfg.redcap_identity_fields
    if not isinstance(ident, list) or len(ident) > 3 or not all(
            isinstance(f, str) and f.strip() for f in ident):
        problems.append("Name at most three REDCap identity fields (for example first_name, "
                        "last_name, dob), each a field name of the project.")
    if cfg.size_limit is not None and (not isinstance(cfg.size_limit, int) or cfg.size_limit <= 0):
        problems.append("The size limit must be a positive number of bytes.")
    if not isinstance(cfg.remove_active_content, bool):
        problems.append("“remove_active_content” must be true or false.")
    if cfg.ca_bundle:
        problems.extend(check_ca_bundle(cfg.ca_bundle))
    if cfg.label_barcodes or cfg.label_pattern:
        from uploader_gui.core.splitter import check_label_rule

        problems.extend(check_label_rule(cfg.label_barcodes, cfg.label_pattern))
    return problems


def check_ca_bundle(path: str) -> list[str]:
    p = Path(path).expanduser()
    if not p.is_file():
        return [f"The CA bundle {path} does not exist (or is not a file)."]
    try:
        head = p.read_bytes()[:1_000_000]
    except OSError as exc:
        return [f"The CA bundle {path} cannot be read ({exc.strerror})."]
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return [f"The CA bundle {path} holds no PEM certificate (“BEGIN CERTIFICATE”)."]
    return []


def require_valid(cfg: TargetConfig) -> None:
    problems = check_config(cfg)
    if problems:
        raise ProfileError(f"Profile “{cfg.name}”: " + " ".join(problems))


# --------------------------------------------------------------------------- files


def _read_items(path: Path) -> list[dict[str, Any]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path} is not a valid profile file (JSON error at line {exc.lineno}).") \
            from None
    items = raw.get("profiles", []) if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ProfileError(f"{path} is not a profile file (expected a list of profiles).")
    return items


def load_profile_set(path: Path | None = None) -> dict[str, Profile]:
    """Every saved profile with its defaults, and no credentials (those are in the keyring)."""
    path = path or profiles_path()
    if not path.exists():
        return {}
    out: dict[str, Profile] = {}
    for item in _read_items(path):
        try:
            p = profile_from_json(item)
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{path}: {exc}") from None
        out[p.name] = p
    return out


def load_profiles(path: Path | None = None) -> dict[str, TargetConfig]:
    return {name: p.config for name, p in load_profile_set(path).items()}


def _write(items: list[dict[str, Any]], path: Path) -> Path:
    data = {"format": FORMAT, "version": VERSION, "profiles": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def save_profile_set(profiles: Iterable[Profile], path: Path | None = None) -> Path:
    """Write the profiles (never their credentials). Refuses any invalid or non-HTTPS one."""
    items = []
    for p in profiles:
        require_valid(p.config)
        items.append(profile_to_json(p))
    return _write(items, path or profiles_path())


def save_profiles(profiles: dict[str, TargetConfig], path: Path | None = None) -> Path:
    existing = load_profile_set(path) if (path or profiles_path()).exists() else {}
    return save_profile_set(
        [Profile(cfg, Credentials(), existing[n].defaults if n in existing else Destination())
         for n, cfg in profiles.items()], path)


# --------------------------------------------------------------------------- import / export


def export_profiles(dest: Path, names: Iterable[str] | None = None,
                    path: Path | None = None) -> list[str]:
    """Write the chosen (default: all) profiles, without secrets, for other workstations."""
    profiles = load_profile_set(path)
    wanted = list(names) if names else list(profiles)
    unknown = [n for n in wanted if n not in profiles]
    if unknown:
        raise ProfileError(f"No profile named {', '.join(repr(n) for n in unknown)}.")
    _write([profile_to_json(profiles[n]) for n in wanted], dest)
    return wanted


@dataclass
class ImportResult:
    added: list[str] = dc_field(default_factory=list)
    replaced: list[str] = dc_field(default_factory=list)
    skipped: list[str] = dc_field(default_factory=list)  # already there, not replaced


def import_profiles(src: Path, *, replace: bool = False, path: Path | None = None) -> ImportResult:
    """Add the profiles in ``src`` to this computer's. All-or-nothing: any bad one stops it."""
    incoming: list[Profile] = []
    for n, item in enumerate(_read_items(src), 1):
        try:
            p = profile_from_json(item)
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{src}, profile {n}: {exc}") from None
        require_valid(p.config)
        incoming.append(p)
    profiles = load_profile_set(path)
    result = ImportResult()
    for p in incoming:
        if p.name in profiles and not replace:
            result.skipped.append(p.name)
            continue
        (result.replaced if p.name in profiles else result.added).append(p.name)
        profiles[p.name] = p
    save_profile_set(profiles.values(), path)
    return result
