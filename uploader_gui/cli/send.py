"""`uploader-gui send`: validate, check and deliver files headlessly.

Credentials never come from the command line (other users can read it in
``ps``): they come from environment variables, for scripts and tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uploader_gui.cli import prestart
from uploader_gui.cli.arguments import (  # noqa: F401 - add_send_parser re-exported
    ENV_REDOX_CLIENT_ID,
    ENV_REDOX_KEY,
    ENV_REDOX_KEY_ID,
    ENV_REDOX_PLATFORM_KEY,
    ENV_REDOX_PRIVATE_KEY,
    ENV_REDOX_SECRET,
    ENV_TOKEN,
    add_send_parser,
)
from uploader_gui.cli.store import VIEWABLE, open_history  # noqa: F401 - re-exported
from uploader_gui.core.batch import needs_conversion
from uploader_gui.core.delivery import wait_for_delivery
from uploader_gui.core.diskspace import PlannedWrite, bytes_needed, free_space_problem
from uploader_gui.core.dispatcher import Dispatcher, DispatcherListener
from uploader_gui.core.history import HistoryError, HistoryStore
from uploader_gui.core.jobs import FAILED, SENT, SUCCESS, VERIFIED, Job
from uploader_gui.core.paths import data_dir
from uploader_gui.core.planner import (
    DUPLICATE,
    PATIENT_NOTE,
    REMOVE_SCRIPTS_Q,
    REPLACE_FILE,
    UNKNOWN_EARLIER,
    PlanInput,
    Refusal,
    answers_from_flags,
    plan,
)
from uploader_gui.core.profiles import Profile, ProfileError, load_profile_set
from uploader_gui.core.retry import RetryPolicy
from uploader_gui.core.secrets import (
    SecretError,
    SecretStore,
    credentials_for,
    missing_secrets,
    register_credentials,
)
from uploader_gui.core.targets import (
    Credentials,
    Destination,
    Secret,
    TargetConfig,
    make_target,
)
from uploader_gui.core.targets.base import DELIVERY_STATUS
from uploader_gui.core.transport import UploadError, require_secure_url
from uploader_gui.core.validation import expand_paths, size_limit


def _secret(name: str) -> Secret | None:
    value = os.environ.get(name)
    return Secret(value.strip()) if value and value.strip() else None


def credentials_from_env() -> Credentials:
    """Secrets for scripts, from environment variables; registered for log redaction."""
    creds = Credentials(
        token=_secret(ENV_TOKEN),
        redox_api_key=_secret(ENV_REDOX_KEY),
        redox_secret=_secret(ENV_REDOX_SECRET),
        redox_private_key=_secret(ENV_REDOX_PRIVATE_KEY),
        platform_key=_secret(ENV_REDOX_PLATFORM_KEY),
    )
    register_credentials(creds)
    return creds


def load_profile(name: str, parser: argparse.ArgumentParser) -> Profile:
    try:
        profiles = load_profile_set()
    except ProfileError as err:
        parser.exit(2, f"uploader-gui: {err}\n")
    if name not in profiles:
        names = ", ".join(sorted(profiles)) or "none saved yet"
        parser.error(f"no profile named {name!r} (profiles: {names})")
    return profiles[name]


def profile_and_credentials(name: str, parser: argparse.ArgumentParser) -> tuple[Profile, Credentials]:
    """A saved profile and its secrets: from the OS keyring, else the environment variables."""
    profile = load_profile(name, parser)
    env = credentials_from_env()
    store = SecretStore.detect()
    creds = Credentials()
    if store.available:
        try:
            creds = credentials_for(profile.config, store)
        except SecretError as err:
            if not any(vars(env).values()):
                parser.exit(2, f"uploader-gui: {err}\n")
    for role, value in vars(env).items():
        if value and not getattr(creds, role):
            setattr(creds, role, value)
    missing = missing_secrets(profile.config, creds)
    if missing:
        where = ("the keyring" if store.available else
                 f"the environment (no secure keyring here: {store.describe()})")
        parser.exit(2, f"uploader-gui: profile {name!r} has no {', '.join(missing)} in {where}. "
                    f"Set it with: uploader-gui profiles set-secret {name} ROLE\n")
    register_credentials(creds)
    return profile, creds


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TargetConfig:
    if args.profile:
        cfg = load_profile(args.profile, parser).config
    else:
        if not args.url:
            parser.error("--target needs --url")
        cfg = TargetConfig(kind=args.target, base_url=args.url, name=f"ad-hoc {args.target}")
        if args.target == "redox":
            cfg.blob_url = args.blob_url
            cfg.auth = args.auth or "jwt"
            cfg.client_id = os.environ.get(ENV_REDOX_CLIENT_ID)
            cfg.key_id = os.environ.get(ENV_REDOX_KEY_ID)
            cfg.platform_org_id = os.environ.get("UPLOADER_GUI_REDOX_PLATFORM_ORG")
            cfg.platform_environment_id = os.environ.get("UPLOADER_GUI_REDOX_PLATFORM_ENV")
            cfg.platform_client_id = os.environ.get("UPLOADER_GUI_REDOX_PLATFORM_CLIENT_ID")
            cfg.platform_key_id = os.environ.get("UPLOADER_GUI_REDOX_PLATFORM_KEY_ID")
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
        replace=bool(getattr(args, "replace", False)),
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
    if args.profile:
        _profile, creds = profile_and_credentials(args.profile, parser)
    else:
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
    if args.verify_timeout <= 0:
        parser.error("--verify-timeout must be more than 0 seconds")
    room = _room_problem(cfg, files, replace=args.replace)
    if room:
        target.close()
        parser.exit(2, f"uploader-gui: {room}\n")
    history = open_history(parser)
    printer = _Printer(args.json, out, verify=args.verify)
    try:
        with prestart.validator(prestart.WORKERS["send"]) as validator:
            inputs = [PlanInput(str(path), path.resolve(),
                                validator.validate(path, cfg.kind, limit)) for path in files]
            the_plan = plan(inputs, cfg, creds, destination, history, profile=args.profile,
                            target=target, validator=validator)
        can_follow = target.supports(DELIVERY_STATUS)
    finally:
        target.close()
    answers = answers_from_flags(the_plan, allow_duplicate=args.allow_duplicate,
                                 replace_file=args.replace, allow_unknown=args.allow_unknown,
                                 remove_scripts=getattr(args, "remove_scripts", False))
    for question in the_plan.questions:
        if answers[question.id] and question.kind in (DUPLICATE, UNKNOWN_EARLIER, PATIENT_NOTE):
            print(f"uploader-gui: warning: {question.text} Sending as asked.", file=sys.stderr)
    resolution = the_plan.resolve(answers)
    for refusal in [*the_plan.refused, *resolution.skipped]:
        printer.row(refusal_row(refusal))
    jobs = [planned.job for planned in resolution.jobs]
    done: list[Job] = []
    problem = deliver_jobs(history, jobs, lambda _job: creds, policy, args.concurrency,
                           printer, hold=done if args.verify else None)
    if args.verify:
        sent = [j.id for j in done if j.status == SENT and j.log_ids and j.id is not None]
        if sent and can_follow and problem is None:
            wait_for_delivery(history, lambda _job: creds, sent, args.verify_timeout)
        for job in done:
            printer.job(history.get(job.id) or job if job.id is not None else job)
    history.close()
    code = printer.finish()
    return 2 if problem is not None else code


#: What to add to a skipped file's reason: the flag that sends it anyway.
_FLAG_HINTS = {
    DUPLICATE: " Use --allow-duplicate to send it again anyway.",
    REPLACE_FILE: " Use --replace to replace it (a backup of the current file is kept).",
    UNKNOWN_EARLIER: " Use --allow-unknown to send it anyway.",
    REMOVE_SCRIPTS_Q: " Use --remove-scripts to send a copy without them.",
}


def refusal_row(refusal: Refusal) -> dict[str, Any]:
    """A `send` row for a file that was not sent, and why."""
    reason = refusal.reason + _FLAG_HINTS.get(refusal.question or "", "")
    status = refusal.status if refusal.status in (FAILED, "unknown") else "rejected"
    row: dict[str, Any] = {
        "path": refusal.key, "status": status, "remote_id": None, "url": None, "log_ids": [],
        "http_status": refusal.http_status, "error": reason, "attempts": 0, "job_id": None,
        "verified": False, "proof": None, "patient": None,
    }
    if refusal.question == DUPLICATE:
        row["duplicate_of"] = refusal.earlier_id
    return row


def _room_problem(cfg: TargetConfig, files: list[Path], *, replace: bool) -> str | None:
    """Is there room in the data folder for this batch? (History, PDFs from images, backups.)"""
    writes = []
    for path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue  # reported when the file is checked
        image = path.suffix.lower() in (".jpg", ".jpeg", ".png")
        writes.append(PlannedWrite(size, converted=image and needs_conversion(cfg.kind, "png"),
                                   backup=cfg.kind == "redcap" and replace))
    return free_space_problem(data_dir(), bytes_needed(writes))


@dataclass
class Connections:
    """For jobs sent again: each profile's settings and secrets as they are now."""

    profiles: dict[str, tuple[Profile, Credentials]]
    fallback: Credentials

    def settings_for(self, job: Job) -> TargetConfig | None:
        found = self.profiles.get(job.profile or "")
        return found[0].config if found else None

    def credentials_for(self, job: Job) -> Credentials:
        found = self.profiles.get(job.profile or "")
        return found[1] if found else self.fallback


def current_connections(jobs: list[Job], parser: argparse.ArgumentParser) -> Connections:
    """Look every job's profile up once, before any upload starts (the keyring may ask)."""
    try:
        saved = load_profile_set()
    except ProfileError:
        saved = {}
    names = sorted({j.profile for j in jobs if j.profile and j.profile in saved})
    return Connections({name: profile_and_credentials(name, parser) for name in names},
                       credentials_from_env())


def deliver_jobs(history: HistoryStore, jobs: list[Job], credentials_for: Callable[[Job], Credentials],
                 policy: RetryPolicy, concurrency: int, printer: _Printer,
                 settings_for: Callable[[Job], TargetConfig | None] | None = None,
                 hold: list[Job] | None = None) -> HistoryError | None:
    """Queue the jobs, print each as it ends, and stop cleanly on Ctrl+C.

    With ``hold``, the jobs are collected there as they end (after any verification
    right after sending) instead of printed. When the history stops taking writes (a
    full disk), nothing more is started: the jobs not sent are printed as not sent, and
    the problem is returned.
    """
    if not jobs:
        return None
    done: dict[int, Job] = {}
    lock = threading.Lock()

    class Listener(DispatcherListener):
        def job_finished(self, job: Job) -> None:
            if job.id is not None:
                with lock:
                    if job.id not in done:
                        done[job.id] = job
                        if hold is None:
                            printer.job(job)
                        else:
                            hold.append(job)

    dispatcher = Dispatcher(history, credentials_for, concurrency=concurrency, policy=policy,
                            listener=Listener(), settings_for=settings_for)
    problem: HistoryError | None = None
    unrecorded: list[Job] = []
    try:
        for n, job in enumerate(jobs):
            try:
                dispatcher.submit(job)
            except HistoryError as exc:  # not recorded, so never sent
                problem, unrecorded = exc, jobs[n:]
                break
        dispatcher.wait_idle()
    except KeyboardInterrupt:
        dispatcher.shutdown(cancel=True)
        printer.out("Stopped: uploads in progress were cancelled.")
        raise SystemExit(130) from None
    problem = dispatcher.history_problem or problem
    if problem is not None and not dispatcher.retry_history():
        held = set(dispatcher.held_jobs())
        unrecorded += [j for j in jobs if j.id in held]
    dispatcher.shutdown(cancel=False)
    for job in unrecorded:
        printer.row({"path": job.path, "status": "not sent", "remote_id": None, "url": None,
                     "log_ids": [], "http_status": None, "attempts": 0, "job_id": job.id,
                     "error": f"{problem} This file was not sent.", "verified": False,
                     "proof": None, "patient": None})
    if problem is not None:
        print(f"uploader-gui: {problem}", file=sys.stderr)
    return dispatcher.history_problem or (problem if unrecorded else None)


class _Printer:
    def __init__(self, as_json: bool, out: Callable[[str], None], verify: bool = False) -> None:
        self.as_json = as_json
        self.out = out
        self.verify = verify
        self.rows: list[dict[str, Any]] = []

    def row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.out(json.dumps(row, ensure_ascii=False) if self.as_json else _line(row))

    def job(self, job: Job) -> None:
        row = job_row(job)
        if self.verify and job.status == SENT and not row["error"]:
            row["error"] = ("It was accepted, but it could not be verified in time"
                            + (" (Redox is still delivering it)." if job.log_ids else "."))
        self.row(row)

    def finish(self) -> int:
        good = {VERIFIED} if self.verify else SUCCESS
        if not self.as_json:
            sent = sum(r["status"] in SUCCESS for r in self.rows)
            verified = sum(r["status"] == VERIFIED for r in self.rows)
            self.out(f"\n{sent} of {len(self.rows)} file(s) sent, {verified} verified.")
        return 0 if self.rows and all(r["status"] in good for r in self.rows) else 1


def job_row(job: Job) -> dict[str, Any]:
    return {
        # The user's own file (a converted image's PDF copy is private and removed after sending).
        "path": job.sources[0]["path"] if len(job.sources) == 1 else job.path,
        "status": job.status, "remote_id": job.remote_id, "url": job.url,
        "log_ids": list(job.log_ids), "http_status": job.http_status, "error": job.error,
        "attempts": job.attempts, "job_id": job.id, "verified": job.verified, "proof": job.proof,
        "patient": job.patient_label,
    }


def _line(row: dict[str, Any]) -> str:
    status = row["status"].upper()
    text = f"{status:9} {row['path']}"
    if row["status"] in SUCCESS and not row["error"]:
        bits = [f"id {row['remote_id']}" if row["remote_id"] else "",
                f"logs {', '.join(row['log_ids'])}" if row["log_ids"] else "",
                f"{row['attempts']} attempt(s)" if row["attempts"] > 1 else ""]
        extra = "; ".join(b for b in bits if b)
        return text + (f"  ({extra})" if extra else "")
    return text + f"\n          {row['error']}"

