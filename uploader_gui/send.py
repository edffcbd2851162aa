"""`uploader-gui send`: validate, check and deliver files headlessly.

Credentials never come from the command line (other users can read it in
``ps``): they come from environment variables, for scripts and tests.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from uploader_gui.core.profiles import load_profiles
from uploader_gui.core.retry import FAILED, SENT, RetryPolicy, deliver
from uploader_gui.core.targets import (
    KINDS,
    Credentials,
    Destination,
    Document,
    Secret,
    Target,
    TargetConfig,
    make_target,
)
from uploader_gui.core.transport import UploadError, require_secure_url
from uploader_gui.core.validation import IsolatedValidator, expand_paths, size_limit

ENV_TOKEN = "UPLOADER_GUI_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_REDOX_KEY = "UPLOADER_GUI_REDOX_KEY"
ENV_REDOX_SECRET = "UPLOADER_GUI_REDOX_SECRET"  # noqa: S105 - a variable name
ENV_REDOX_CLIENT_ID = "UPLOADER_GUI_REDOX_CLIENT_ID"
ENV_REDOX_KEY_ID = "UPLOADER_GUI_REDOX_KEY_ID"
ENV_REDOX_PRIVATE_KEY = "UPLOADER_GUI_REDOX_PRIVATE_KEY"


def add_send_parser(sub: Any) -> None:
    s = sub.add_parser(
        "send",
        help="validate and send files to a target",
        description="Validate each file, then send it. Credentials come from the profile's "
        f"keyring entries or from environment variables ({ENV_TOKEN}; {ENV_REDOX_KEY} and "
        f"{ENV_REDOX_SECRET}; or {ENV_REDOX_CLIENT_ID}, {ENV_REDOX_KEY_ID} and "
        f"{ENV_REDOX_PRIVATE_KEY}), never from the command line. Exit status 0 only when every "
        "file was sent.",
    )
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--profile", metavar="NAME", help="a saved profile")
    where.add_argument("--target", choices=KINDS, help="an ad-hoc target (needs --url)")
    s.add_argument("--url", help="base URL: Redox API base, Claros base, or the REDCap API endpoint")
    s.add_argument("--blob-url", help="Redox file upload base (default: same as --url)")
    s.add_argument("--auth", choices=("jwt", "legacy"), help="Redox authentication (default jwt)")
    s.add_argument("--patient", help="patient ID (Claros, Redox)")
    s.add_argument("--patient-id-type", help="Redox patient identifier type, e.g. MR")
    s.add_argument("--record", help="REDCap record ID")
    s.add_argument("--field", help="REDCap file-upload field")
    s.add_argument("--event", help="REDCap unique event name (longitudinal projects)")
    s.add_argument("--repeat-instance", type=int, help="REDCap repeat instance")
    s.add_argument("--document-type", help="Redox document type")
    s.add_argument("--destination", action="append", default=[], metavar="ID",
                   help="Redox destination ID (repeatable)")
    s.add_argument("--test-message", dest="test_flag", action="store_true", default=None,
                   help="mark Redox messages as Test")
    s.add_argument("--production", dest="test_flag", action="store_false",
                   help="mark Redox messages as not Test")
    s.add_argument("--max-attempts", type=int, default=5, help="attempts per file (default 5)")
    s.add_argument("--retry-base", type=float, default=1.0, help="backoff base, seconds")
    s.add_argument("--retry-cap", type=float, default=30.0, help="backoff cap, seconds")
    s.add_argument("--json", action="store_true", help="print one JSON object per file")
    s.add_argument("paths", nargs="+", metavar="PATH")


def _secret(name: str) -> Secret | None:
    value = os.environ.get(name)
    return Secret(value.strip()) if value and value.strip() else None


def credentials_from_env() -> Credentials:
    return Credentials(
        token=_secret(ENV_TOKEN),
        redox_api_key=_secret(ENV_REDOX_KEY),
        redox_secret=_secret(ENV_REDOX_SECRET),
        redox_private_key=_secret(ENV_REDOX_PRIVATE_KEY),
    )


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TargetConfig:
    if args.profile:
        profiles = load_profiles()
        if args.profile not in profiles:
            names = ", ".join(sorted(profiles)) or "none saved yet"
            parser.error(f"no profile named {args.profile!r} (profiles: {names})")
        cfg = profiles[args.profile]
    else:
        if not args.url:
            parser.error("--target needs --url")
        cfg = TargetConfig(kind=args.target, base_url=args.url, name=f"ad-hoc {args.target}")
        if args.target == "redox":
            cfg.blob_url = args.blob_url
            cfg.auth = args.auth or "jwt"
            cfg.client_id = os.environ.get(ENV_REDOX_CLIENT_ID)
            cfg.key_id = os.environ.get(ENV_REDOX_KEY_ID)
    if args.test_flag is not None:
        cfg = replace(cfg, test=args.test_flag)
    return cfg


def destination_from_args(args: argparse.Namespace) -> Destination:
    return Destination(
        patient_id=args.patient,
        patient_id_type=args.patient_id_type,
        record=args.record,
        field=args.field,
        event=args.event,
        repeat_instance=args.repeat_instance,
        document_type=args.document_type,
        destinations=list(args.destination),
    )


def _missing_credentials(cfg: TargetConfig, creds: Credentials) -> str | None:
    if cfg.kind in ("claros", "redcap") and not creds.token:
        return f"set {ENV_TOKEN} to the {'Claros API key' if cfg.kind == 'claros' else 'REDCap token'}"
    if cfg.kind == "redox" and cfg.auth == "legacy" and not (creds.redox_api_key and creds.redox_secret):
        return f"set {ENV_REDOX_KEY} and {ENV_REDOX_SECRET}"
    if cfg.kind == "redox" and cfg.auth == "jwt" and not (
            creds.redox_private_key and cfg.client_id and cfg.key_id):
        return f"set {ENV_REDOX_CLIENT_ID}, {ENV_REDOX_KEY_ID} and {ENV_REDOX_PRIVATE_KEY}"
    return None


def cmd_send(args: argparse.Namespace, parser: argparse.ArgumentParser,
             out: Callable[[str], None] = print) -> int:
    cfg = config_from_args(args, parser)
    creds = credentials_from_env()
    missing = _missing_credentials(cfg, creds)
    if missing:
        parser.error(f"no credentials for {cfg.kind}: {missing}")
    if args.max_attempts < 1:
        parser.error("--max-attempts must be at least 1")
    absent = [p for p in args.paths if not os.path.lexists(p)]
    if absent:
        parser.error("no such file or folder: " + ", ".join(absent))
    for url in filter(None, (cfg.base_url, cfg.blob_url)):
        try:
            require_secure_url(url)  # before any connection is made
        except UploadError as err:
            parser.error(err.message)
    target = make_target(cfg, creds)
    policy = RetryPolicy(base=args.retry_base, cap=args.retry_cap, max_attempts=args.max_attempts)
    destination = destination_from_args(args)
    files = list(expand_paths(args.paths))
    limit = cfg.size_limit or size_limit(cfg.kind)
    results = []
    checks = _NetworkChecks(target, destination)
    try:
        with IsolatedValidator(workers=1) as validator:
            for path in files:
                row = _send_one(target, validator, path, limit, destination, policy, checks)
                results.append(row)
                out(json.dumps(row, ensure_ascii=False) if args.json else _line(row))
    finally:
        target.close()
    if not args.json:
        sent = sum(r["status"] == SENT for r in results)
        out(f"\n{sent} of {len(results)} file(s) sent.")
    return 0 if results and all(r["status"] == SENT for r in results) else 1


class _NetworkChecks:
    """The target's network checks (REDCap field, event, record), run once, on first need."""

    def __init__(self, target: Target, destination: Destination) -> None:
        self.target = target
        self.destination = destination
        self._done = False
        self.problems: list[str] = []
        self.error: UploadError | None = None

    def run(self) -> None:
        if not self._done:
            self._done = True
            try:
                self.problems = self.target.prepare(self.destination)
            except UploadError as err:
                self.error = err


def _send_one(
    target: Target,
    validator: IsolatedValidator,
    path: Path,
    limit: int,
    destination: Destination,
    policy: RetryPolicy,
    checks: _NetworkChecks,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "path": str(path), "status": "rejected", "remote_id": None, "url": None, "log_ids": [],
        "http_status": None, "error": None, "attempts": 0,
    }
    res = validator.validate(path, target.kind, limit)
    if not res.ok:
        row["error"] = " ".join(p.message for p in res.errors)
        return row
    assert res.type is not None and res.size is not None
    document = Document(path=path, file_type=res.type, size=res.size)
    problems = target.check(document, destination)
    if problems:
        row["error"] = " ".join(problems)
        return row
    checks.run()
    if checks.error is not None:
        row.update(status=FAILED, error=checks.error.message, http_status=checks.error.http_status)
        return row
    if checks.problems:
        row["error"] = " ".join(checks.problems)
        return row
    result = deliver(target, document, destination, policy)
    row["attempts"] = len(result.attempts)
    row["status"] = result.status
    if result.receipt is not None:
        r = result.receipt
        row.update(remote_id=r.remote_id, url=r.url, log_ids=r.log_ids, http_status=r.http_status)
    if result.error is not None:
        row["error"] = result.error.message
        row["http_status"] = result.error.http_status
    return row


def _line(row: dict[str, Any]) -> str:
    status = row["status"].upper()
    text = f"{status:9} {row['path']}"
    if row["status"] == SENT:
        bits = [f"id {row['remote_id']}" if row["remote_id"] else "",
                f"logs {', '.join(row['log_ids'])}" if row["log_ids"] else "",
                f"{row['attempts']} attempt(s)" if row["attempts"] > 1 else ""]
        extra = "; ".join(b for b in bits if b)
        return text + (f"  ({extra})" if extra else "")
    return text + f"\n          {row['error']}"

