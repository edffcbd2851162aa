"""`uploader-gui watch`: empty a scanner's folder into a profile's target, unattended."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uploader_gui.cli.arguments import add_watch_parser  # noqa: F401 - re-exported
from uploader_gui.cli.send import profile_and_credentials
from uploader_gui.cli.store import open_history
from uploader_gui.core.paths import data_dir
from uploader_gui.core.validation import IsolatedValidator
from uploader_gui.core.watch import FolderWatcher, Outcome, PatternError, WatchSettings
from uploader_gui.core.watch_status import WatchHealth, describe, read_status, write_status


def status_path(args: argparse.Namespace) -> Path:
    if args.status_file:
        return Path(args.status_file)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.profile)
    return data_dir() / f"watch-{safe}.json"


def cmd_watch(args: argparse.Namespace, parser: argparse.ArgumentParser,
              out: Callable[[str], None] = print) -> int:
    if args.status:
        health = read_status(status_path(args))
        stale = max(60.0, 3 * args.settle + 10)
        ok, text = describe(health, stale)
        out(json.dumps({"healthy": ok, "message": text, **(health.to_json() if health else {})})
            if args.json else text)
        return 0 if ok else 1
    if args.settle < 0:
        parser.error("--settle must not be negative")
    profile, credentials = profile_and_credentials(args.profile, parser)
    if not (args.folder or profile.config.watch_folder):
        parser.error("give the folder, or set the profile's watch_folder")
    folder = Path(args.folder or profile.config.watch_folder or "")
    if not folder.is_dir():
        parser.error(f"no such folder: {folder}")
    pattern = args.pattern or profile.config.watch_pattern
    if not pattern and not profile.config.split_cover_sheets:
        parser.error("give --pattern, or set the profile's watch_pattern (or split_cover_sheets)")
    history = open_history(parser)
    counts: dict[str, int] = {}

    def report(o: Outcome) -> None:
        counts[o.status] = counts.get(o.status, 0) + 1
        row = {"path": str(o.path), "status": o.status, "message": o.message,
               "moved_to": str(o.moved_to) if o.moved_to else None, "job_id": o.job_id}
        out(json.dumps(row, ensure_ascii=False) if args.json else
            f"{time.strftime('%H:%M:%S')} {o.status.upper():<17} {o.path.name}: {o.message}")

    settings = WatchSettings(folder=folder, config=profile.config, profile=profile.name,
                             defaults=profile.defaults, pattern=pattern, settle=args.settle)
    with IsolatedValidator(workers=1) as validator:
        try:
            watcher = FolderWatcher(settings, credentials, history, validator, report)
        except PatternError as err:
            parser.error(str(err))
        where = status_path(args)

        def scanned(health: WatchHealth) -> None:
            try:
                write_status(where, health)
            except OSError as exc:  # monitoring only: the uploads go on
                print(f"uploader-gui: cannot write the status file {where}: {exc}",
                      file=sys.stderr)

        watcher.on_scan = scanned
        previous = {}

        def stop(signum: int, frame: Any) -> None:
            watcher.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop)
        try:
            if not args.json and not args.once:
                print(f"Watching {folder} for {profile.name}. Press Ctrl+C to stop.",
                      file=sys.stderr)
            watcher.run(once=args.once)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            watcher.close()
            history.close()
    bad = sum(v for k, v in counts.items() if k not in ("sent", "duplicate", "needs_destination",
                                                       "needs_person"))
    return 1 if bad else 0
