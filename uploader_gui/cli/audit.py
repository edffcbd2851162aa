"""`uploader-gui audit verify|export` and `uploader-gui db init` (for IT)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uploader_gui.core.audit import AuditError, export_csv, init_postgres, open_audit, verify
from uploader_gui.core.identity import os_user, workstation
from uploader_gui.core.settings import SettingsError, database_url


def add_audit_parsers(sub: Any) -> None:
    a = sub.add_parser("audit", help="check or export the audit trail",
                       description="The audit trail: who sent what, from which desk, to whom.")
    asub = a.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad entry")
    e = asub.add_parser("export", help="write the entries as CSV")
    e.add_argument("--from", dest="start", metavar="DATE", help="from this date (ISO 8601)")
    e.add_argument("--to", dest="end", metavar="DATE", help="up to (not including) this date")
    e.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")

    d = sub.add_parser("db", help="set up the clinic database (IT)",
                       description="Create the tables in the PostgreSQL database named by "
                       "UPLOADER_GUI_DATABASE or the settings file, as its owner.")
    dsub = d.add_subparsers(dest="db_command", required=True)
    for name in ("init", "migrate"):
        p = dsub.add_parser(name, help="create or update the tables and the app role's grants")
        p.add_argument("--app-role", metavar="ROLE",
                       help="the role the app logs in as: it may read and add, nothing else")


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
