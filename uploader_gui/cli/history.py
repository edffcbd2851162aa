"""`uploader-gui history` and `uploader-gui resume`.

Listing imports only the history: the sending machinery (HTTP, the queue) is
imported by `resume`, and by `history --refresh-delivery`, which need it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from uploader_gui.cli.arguments import add_history_parsers  # noqa: F401 - re-exported
from uploader_gui.cli.store import open_history
from uploader_gui.core.jobs import INTERRUPTED, STATE_LABELS, UNKNOWN, Job


def cmd_history(args: argparse.Namespace, parser: argparse.ArgumentParser,
                out: Callable[[str], None] = print) -> int:
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    store = open_history(parser, viewing=not args.refresh_delivery)
    if args.refresh_delivery:
        from uploader_gui.cli.send import credentials_from_env
        from uploader_gui.core.delivery import refresh_delivery

        env = credentials_from_env()
        refresh_delivery(store, lambda _job: env, force=True)
    jobs = store.jobs(status=args.status, limit=args.limit, search=args.search)
    for job in jobs:
        out(json.dumps(history_row(job), ensure_ascii=False) if args.json else _line(job))
    if not args.json:
        out(f"{len(jobs)} job(s).")
    store.close()
    return 0


def history_row(job: Job) -> dict[str, Any]:
    data = job.to_json()
    data["destination"] = job.dest_key
    data["destination_fields"] = job.destination.to_json()
    data.pop("destination_text", None)
    return data


def _line(job: Job) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created))
    status = STATE_LABELS.get(job.status, job.status)
    text = f"#{job.id:<5} {when}  {status:<16} {job.target:<7} {job.dest_key:<24} {job.name}"
    if job.remote_id:
        text += f"  [{job.remote_id}]"
    if job.delivery:
        text += f"  delivery: {job.delivery}"
    if job.error and job.status != "verified":
        text += f"\n       {job.error}"
    return text


def cmd_resume(args: argparse.Namespace, parser: argparse.ArgumentParser,
               out: Callable[[str], None] = print) -> int:
    from uploader_gui.cli.send import _Printer, current_connections, deliver_jobs
    from uploader_gui.core.retry import RetryPolicy

    store = open_history(parser)
    wanted = [INTERRUPTED] + ([UNKNOWN] if args.include_unknown else [])
    candidates = sorted(store.jobs(status=wanted), key=lambda j: j.id or 0)
    jobs = [j for j in candidates if args.include_unknown or j.safe_to_resume()]
    held = [j for j in candidates if j not in jobs]
    printer = _Printer(args.json, out)
    for job in held:
        if not args.json:
            out(f"HELD      {job.path}\n          Job #{job.id} went to Claros and may have "
                "arrived; check, then use --include-unknown to send it again.")
    if not jobs:
        if not args.json:
            out("Nothing to resume.")
        store.close()
        return 0 if not held else 1
    connections = current_connections(jobs, parser)
    deliver_jobs(store, jobs, connections.credentials_for, RetryPolicy(), args.concurrency,
                 printer, settings_for=connections.settings_for)
    store.close()
    code = printer.finish()
    return code if not held else 1
