"""`uploader-gui audit verify|export` and `uploader-gui db init` (for IT)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from uploader_gui.cli.arguments import add_audit_parsers  # noqa: F401 - re-exported
from uploader_gui.core.audit import AuditError, export_csv, init_postgres, open_audit, verify
from uploader_gui.core.identity import os_user, workstation
from uploader_gui.core.settings import SettingsError, database_url


def cmd_audit(args: argparse.Namespace, out: Callable[[str], None] = print,
              err: Callable[[str], None] | None = None) -> int:
    err = err or _stderr
    try:
        store = open_audit(database_url())
    except (AuditError, SettingsError) as exc:
        err(f"uploader-gui: {exc}")
        return 2
    try:
        if args.audit_command == "verify":
            verdict = verify(store.entries())
            out(verdict.sentence())
            return 0 if verdict.ok else 1
        entries = list(store.entries(args.start, args.end))
        count = export_csv(entries, args.output)
        store.append("exported", username=os_user(), workstation=workstation(),
                     receipt=f"{count} entries to {args.output.name}")
        out(f"Exported {count} audit entries to {args.output}.")
        return 0
    except AuditError as exc:
        err(f"uploader-gui: {exc}")
        return 2
    finally:
        store.close()


def cmd_db(args: argparse.Namespace, out: Callable[[str], None] = print,
           err: Callable[[str], None] | None = None) -> int:
    err = err or _stderr
    try:
        url = database_url()
    except SettingsError as exc:
        err(f"uploader-gui: {exc}")
        return 2
    if not url:
        err("uploader-gui: no clinic database is configured (set UPLOADER_GUI_DATABASE or "
            "database in settings.toml); this desk's SQLite needs no set-up.")
        return 2
    import psycopg

    try:
        for line in init_postgres(url, args.app_role):
            out(f"Done: {line}.")
    except psycopg.Error as exc:
        err(f"uploader-gui: the database could not be set up: {str(exc).splitlines()[0]}")
        return 1
    return 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)
