"""`uploader-gui profiles ...`: set up, check and share target profiles from a terminal.

    profiles list [--json]
    profiles show NAME [--json]
    profiles add --name NAME --target KIND --url URL [...]   (the same target flags as `send`)
    profiles remove NAME [--keep-secrets]
    profiles test NAME
    profiles set-secret NAME ROLE        (the value from stdin, or a prompt that does not echo)
    profiles import FILE [--replace]
    profiles export FILE [NAME...]

Secrets are never taken from the command line (other users can read it with ``ps``)
and never printed: ``show`` says only "set" or "not set". Exit status: 0 on success,
1 when the command failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from uploader_gui.cli.arguments import (  # noqa: F401 - re-exported
    add_profiles_parser,
    add_target_options,
)
from uploader_gui.core.outcome import UploadError
from uploader_gui.core.profiles import (
    Profile,
    ProfileError,
    check_config,
    defaults_to_json,
    export_profiles,
    import_profiles,
    load_profile_set,
    save_profile_set,
)
from uploader_gui.core.secrets import (
    ROLE_LABELS,
    InvalidSecretError,
    SecretError,
    SecretStore,
    credentials_for,
    missing_secrets,
    roles_for,
)
from uploader_gui.core.targets import KIND_LABELS, Credentials, Destination, TargetConfig

MAX_SECRET = 64 * 1024
Out = Callable[[str], None]

#: How the CLI finds the keyring; tests replace it with an in-memory store.
store_factory: Callable[[], SecretStore] = SecretStore.detect


# --------------------------------------------------------------------------- helpers


def parse_destination(value: str) -> dict[str, str]:
    ident, _, name = value.partition("=")
    out = {"ID": ident.strip()}
    if name.strip():
        out["Name"] = name.strip()
    return out


def profile_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Profile:
    cfg = TargetConfig(kind=args.target, base_url=args.url, name=args.name)
    if args.target == "redox":
        cfg.blob_url = args.blob_url
        cfg.auth = args.auth or "jwt"
        cfg.client_id = args.client_id
        cfg.key_id = args.key_id
        cfg.jwt_alg = args.jwt_alg
        cfg.source_id = args.source_id
        cfg.platform_org_id = args.platform_org_id
        cfg.platform_environment_id = args.platform_environment_id
        cfg.redox_data_model = args.data_model or "Media"
        cfg.platform_client_id = args.platform_client_id
        cfg.platform_key_id = args.platform_key_id
        cfg.destinations = [parse_destination(d) for d in args.destination]
        if args.patient_id_type:
            cfg.patient_id_type = args.patient_id_type
        if args.document_type:
            cfg.document_type = args.document_type
    else:
        redox_only = [f"--{k.replace('_', '-')}" for k in ("blob_url", "auth", "client_id", "key_id",
                      "jwt_alg", "source_id", "platform_org_id", "platform_environment_id",
                      "data_model", "platform_client_id", "platform_key_id")
                      if getattr(args, k)]
        redox_only += ["--destination"] if args.destination else []
        if redox_only:
            parser.error(f"{', '.join(redox_only)} only apply to Redox profiles")
    if args.target == "redcap":
        cfg.redcap_field = args.field
        cfg.redcap_event = args.event
    elif args.field or args.event or args.repeat_instance is not None:
        parser.error("--field, --event and --repeat-instance only apply to REDCap profiles")
    if args.test_flag is not None:
        cfg.test = args.test_flag
    cfg.confirm = not args.no_confirm
    if args.redcap_overwrite:
        if args.target != "redcap":
            parser.error("--redcap-overwrite only applies to REDCap profiles")
        cfg.redcap_overwrite = args.redcap_overwrite
    if args.identity_fields:
        if args.target != "redcap":
            parser.error("--identity-fields only applies to REDCap profiles")
        cfg.redcap_identity_fields = [f.strip() for f in args.identity_fields.split(",")
                                      if f.strip()]
    if args.watch_pattern:
        from uploader_gui.core.watch import PatternError, compile_pattern

        try:
            compile_pattern(args.watch_pattern)
        except PatternError as err:
            parser.error(str(err))
        cfg.watch_pattern = args.watch_pattern
    if args.watch_folder:
        cfg.watch_folder = str(Path(args.watch_folder).expanduser().resolve())
    cfg.watch_auto = not args.watch_manual
    if args.size_limit_mb is not None:
        if args.size_limit_mb <= 0:
            parser.error("--size-limit-mb must be positive")
        cfg.size_limit = int(args.size_limit_mb * 1024 * 1024)
    if args.ca_bundle:
        cfg.ca_bundle = str(Path(args.ca_bundle).expanduser().resolve())
    defaults = Destination(field=args.field, event=args.event,
                           repeat_instance=args.repeat_instance) if args.target == "redcap" \
        else Destination()
    return Profile(cfg, Credentials(), defaults)


def read_secret(label: str, stdin: TextIO) -> str:
    """From a pipe or file when stdin is not a terminal; otherwise a prompt without echo."""
    if stdin.isatty():
        return getpass.getpass(f"{label} (typing is not shown): ")
    return stdin.read(MAX_SECRET + 1)


def _summary(p: Profile) -> dict[str, Any]:
    data = {k: v for k, v in asdict(p.config).items() if v not in (None, [], "")}
    defaults = defaults_to_json(p.defaults)
    if defaults:
        data["defaults"] = defaults
    return data


# --------------------------------------------------------------------------- the command


@dataclass
class _Run:
    """What every `profiles` action shares: its arguments, the saved profiles, the outputs."""

    args: argparse.Namespace
    here: argparse.ArgumentParser  # the action's own parser, for usage errors
    profiles: dict[str, Profile]
    out: Out
    err: Out
    stdin: TextIO
    store: SecretStore | None = None

    def keyring(self) -> SecretStore:
        if self.store is None:
            self.store = store_factory()
        return self.store

    def need(self, name: str) -> Profile:
        if name not in self.profiles:
            names = ", ".join(sorted(self.profiles)) or "none saved yet"
            self.here.error(f"no profile named {name!r} (profiles: {names})")
        return self.profiles[name]


def _list(r: _Run) -> int:
    if r.args.json:
        for p in r.profiles.values():
            r.out(json.dumps({"name": p.name, "kind": p.config.kind, "url": p.config.base_url},
                             ensure_ascii=False))
    elif not r.profiles:
        r.out("No profiles yet. Add one with `uploader-gui profiles add` or "
              "`uploader-gui profiles import FILE`.")
    else:
        width = max(len(n) for n in r.profiles)
        for p in r.profiles.values():
            r.out(f"{p.name:<{width}}  {KIND_LABELS[p.config.kind]:<13}  {p.config.base_url}")
    return 0


def _show(r: _Run) -> int:
    p = r.need(r.args.name)
    s = r.keyring()
    states = s.state(p.name, roles_for(p.config)) if s.available else {}
    if r.args.json:
        r.out(json.dumps({**_summary(p), "secrets": states, "keyring": s.status.to_json()},
                         ensure_ascii=False))
        return 0
    for key, value in _summary(p).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        r.out(f"{key}: {text}")
    if not s.available:
        r.out(f"secrets: unknown. {s.status.message}")
    for role, state in states.items():
        r.out(f"{ROLE_LABELS[role]}: {state}")
    return 0


def _add(r: _Run) -> int:
    p = profile_from_args(r.args, r.here)
    if p.name in r.profiles and not r.args.replace:
        r.here.error(f"a profile named {p.name!r} exists already (use --replace to change it)")
    problems = check_config(p.config)
    if problems:
        r.err(f"The profile was not saved. {' '.join(problems)}")
        return 1
    r.profiles[p.name] = p
    save_profile_set(r.profiles.values())
    r.out(f"Saved profile “{p.name}” ({KIND_LABELS[p.config.kind]}, {p.config.base_url}).")
    roles = roles_for(p.config)
    r.out("Now store its secret(s): " + "; ".join(
        f"uploader-gui profiles set-secret {json.dumps(p.name)} {role.replace('_', '-')}"
        for role in roles if role != "platform_key"))
    return 0


def _remove(r: _Run) -> int:
    p = r.need(r.args.name)
    del r.profiles[p.name]
    save_profile_set(r.profiles.values())
    if not r.args.keep_secrets:
        try:
            s = r.keyring()
            if s.available:
                s.delete_profile(p.name)
        except SecretError as exc:
            r.err(f"The profile was removed, but its keyring entries were not: {exc}")
            return 1
    r.out(f"Removed profile “{p.name}”.")
    return 0


def _set_secret(r: _Run) -> int:
    args = r.args
    if args.refused:
        r.here.error("secrets are never taken from the command line (other users can read "
                     "it); pipe the value in on standard input, or type it at the prompt")
    p = r.need(args.name)
    if args.role not in roles_for(p.config):
        uses = ", ".join(role.replace("_", "-") for role in roles_for(p.config))
        auth = f" with {p.config.auth} auth" if p.config.kind == "redox" else ""
        r.here.error(f"a {KIND_LABELS[p.config.kind]} profile{auth} uses: {uses}")
    s = r.keyring()
    if not s.available:
        r.err(f"Nothing was stored. {s.status.message} (The window can still be used in "
              "session-only mode, where secrets are kept in memory until it closes.)")
        return 1
    raw = read_secret(f"{ROLE_LABELS[args.role]} for {p.name}", r.stdin)
    if len(raw) > MAX_SECRET:
        r.err("Nothing was stored: the value is longer than 64 KB.")
        return 1
    s.set(p.name, args.role, raw)
    r.out(f"The {ROLE_LABELS[args.role]} of “{p.name}” is set (kept in {s.status.label}).")
    return 0


def _test(r: _Run) -> int:
    p = r.need(r.args.name)
    creds = credentials_for(p.config, r.keyring())
    missing = missing_secrets(p.config, creds)
    if missing:
        r.err(f"“{p.name}” cannot be tested: not set: {', '.join(missing)}. Use "
              "`uploader-gui profiles set-secret`.")
        return 1
    from uploader_gui.core.targets import make_target

    target = make_target(p.config, creds)
    try:
        r.out(target.test_connection())
    finally:
        target.close()
    return 0


def _import(r: _Run) -> int:
    if not r.args.file.is_file():
        r.here.error(f"no such file: {r.args.file}")
    result = import_profiles(r.args.file, replace=r.args.replace)
    for label, names in (("Added", result.added), ("Replaced", result.replaced),
                         ("Skipped (already here; use --replace)", result.skipped)):
        if names:
            r.out(f"{label}: {', '.join(names)}")
    if result.added or result.replaced:
        r.out("Secrets are not part of a profile file: store them on this computer with "
              "`uploader-gui profiles set-secret NAME ROLE`.")
    return 0


def _export(r: _Run) -> int:
    names = export_profiles(r.args.file, r.args.names or None)
    r.out(f"Exported {len(names)} profile(s) to {r.args.file} (without secrets).")
    return 0


ACTIONS: dict[str, Callable[[_Run], int]] = {
    "list": _list, "show": _show, "add": _add, "remove": _remove, "set-secret": _set_secret,
    "test": _test, "import": _import, "export": _export,
}


def cmd_profiles(args: argparse.Namespace, parser: argparse.ArgumentParser, *,
                 store: SecretStore | None = None, out: Out = print,
                 err: Out | None = None, stdin: TextIO | None = None) -> int:
    """Run one `profiles` action. ``parser`` is the `profiles` sub-parser (for usage errors)."""
    err = err or (lambda s: print(s, file=sys.stderr))
    action = args.profiles_command
    sub = getattr(parser, "_actions", [])
    subparsers = next((a for a in sub if isinstance(a, argparse._SubParsersAction)), None)
    here = subparsers.choices.get(action, parser) if subparsers else parser
    try:
        profiles = load_profile_set()
    except ProfileError as exc:
        err(str(exc))
        return 1
    handler = ACTIONS.get(action)
    if handler is None:
        here.error(f"unknown action {action!r}")
    run = _Run(args, here, profiles, out, err, stdin or sys.stdin, store)
    try:
        return handler(run)
    except InvalidSecretError as exc:
        err(f"Nothing was stored. {exc}")
        return 1
    except (ProfileError, SecretError, UploadError) as exc:
        err(str(exc))
        return 1


def main(argv: list[str] | None = None, *, store: SecretStore | None = None) -> int:
    """`python -m uploader_gui.cli.profiles ...`, the same as `uploader-gui profiles ...`."""
    parser = argparse.ArgumentParser(prog="uploader-gui")
    sub = parser.add_subparsers(dest="command", required=True)
    profiles_parser = add_profiles_parser(sub)
    args = parser.parse_args(["profiles", *(sys.argv[1:] if argv is None else argv)])
    return cmd_profiles(args, profiles_parser, store=store)


if __name__ == "__main__":
    sys.exit(main())

