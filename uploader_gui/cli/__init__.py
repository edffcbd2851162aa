"""The `uploader-gui` command: the window by default, headless subcommands otherwise."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from uploader_gui import __version__
from uploader_gui.core.validation import (
    DEFAULT_LIMITS,
    IsolatedValidator,
    ValidationResult,
    expand_paths,
    human_size,
)

TARGETS = tuple(DEFAULT_LIMITS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uploader-gui",
        description="Send patient documents (PDF, JPEG, PNG) to Redox, Claros Health or "
        "REDCap. With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"uploader-gui {__version__}")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="open the window connected to a built-in emulator of the three systems "
        "(no credentials needed)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check that this installation works (stage, check and send a generated PDF to a "
        "built-in test system), print one line per check, and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subparsers = sub.choices  # type: ignore[attr-defined]

    v = sub.add_parser(
        "validate",
        help="check files before sending",
        description="Check files the way the app does before anything is sent. "
        "Exit status: 0 when every file is acceptable, 1 when any is rejected, 2 on a usage error.",
    )
    v.add_argument("--target", choices=TARGETS, help="apply this system's size limit")
    v.add_argument("--max-size-mb", type=float, metavar="MB",
                   help="override the size limit, in megabytes")
    v.add_argument("--json", action="store_true", help="print one JSON object per file")
    v.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")

    from uploader_gui.cli.audit import add_audit_parsers
    from uploader_gui.cli.history import add_history_parsers
    from uploader_gui.cli.profiles import add_profiles_parser
    from uploader_gui.cli.send import add_send_parser
    from uploader_gui.cli.watch import add_watch_parser

    add_send_parser(sub)
    add_history_parsers(sub)
    add_watch_parser(sub)
    add_profiles_parser(sub)
    add_audit_parsers(sub)

    s = sub.add_parser(
        "sandbox",
        help="run the local emulator of Redox, Claros and REDCap",
        description="Serve a local emulator of the three APIs for training and tests.",
    )
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--data", metavar="DIR", help="where received files are kept")
    s.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from uploader_gui.cli.selftest import run_self_test

        return run_self_test()
    if args.command is not None:
        from uploader_gui.cli.pipes import quiet_stdout

        quiet_stdout()  # `uploader-gui history --json | head` ends quietly
    if args.command in ("send", "watch", "history", "resume", "profiles"):
        from uploader_gui.core.logging_setup import configure_logging

        configure_logging()
    if args.command == "validate":
        return cmd_validate(args, parser)
    if args.command == "sandbox":
        return cmd_sandbox(args)
    if args.command == "send":
        from uploader_gui.cli.send import cmd_send

        return cmd_send(args, parser.subparsers["send"])
    if args.command in ("audit", "db"):
        from uploader_gui.cli.audit import cmd_audit, cmd_db

        return cmd_audit(args) if args.command == "audit" else cmd_db(args)
    if args.command == "watch":
        from uploader_gui.cli.watch import cmd_watch

        return cmd_watch(args, parser.subparsers["watch"])
    if args.command == "profiles":
        from uploader_gui.cli.profiles import cmd_profiles

        return cmd_profiles(args, parser.subparsers["profiles"])
    if args.command in ("history", "resume"):
        from uploader_gui.cli import history as history_cli

        handler = history_cli.cmd_history if args.command == "history" else history_cli.cmd_resume
        return handler(args, parser.subparsers[args.command])
    from uploader_gui.gui.app import run_gui

    return run_gui(use_sandbox=args.sandbox)


# --------------------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    max_bytes = None
    if args.max_size_mb is not None:
        if args.max_size_mb <= 0:
            parser.error("--max-size-mb must be positive")
        max_bytes = int(args.max_size_mb * 1024 * 1024)
    missing = [p for p in args.paths if not os.path.lexists(p)]
    if missing:
        parser.error("no such file or folder: " + ", ".join(missing))

    files = list(expand_paths(args.paths))
    results: list[ValidationResult] = []
    with IsolatedValidator(workers=min(2, os.cpu_count() or 1)) as validator:
        for path in files:
            res = validator.validate(path, args.target, max_bytes)
            results.append(res)
            if args.json:
                print(json.dumps(res.to_json(), ensure_ascii=False), flush=True)
    if not args.json:
        print_table(results)
    return 0 if all(r.ok for r in results) else 1


def _details(r: ValidationResult) -> str:
    if r.pages is not None:
        return f"{r.pages} page" + ("" if r.pages == 1 else "s")
    if r.width is not None and r.height is not None:
        return f"{r.width}×{r.height}"
    return ""


def print_table(results: list[ValidationResult]) -> None:
    if not results:
        print("No files found.")
        return
    rows = [
        (
            "OK" if r.ok else "REJECTED",
            (r.type or "?").upper(),
            human_size(r.size) if r.size is not None else "",
            _details(r),
            r.path,
        )
        for r in results
    ]
    heads = ("VERDICT", "TYPE", "SIZE", "PAGES/SIZE", "FILE")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(heads[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*heads))
    wrap = max(40, shutil.get_terminal_size((100, 20)).columns - 6)
    for r, row in zip(results, rows, strict=True):
        print(fmt.format(*row))
        for p in r.problems:
            label = "warning" if p.severity == "warning" else "problem"
            print(f"      {label}: {p.message}"[: wrap * 3])
    ok = sum(r.ok for r in results)
    print(f"\n{ok} of {len(results)} file(s) can be sent; {len(results) - ok} rejected.")


# --------------------------------------------------------------------------- sandbox


def cmd_sandbox(args: argparse.Namespace) -> int:
    from uploader_gui.sandbox import main as sandbox_main

    argv = ["--port", str(args.port), "--host", args.host]
    if args.data:
        argv += ["--data", str(Path(args.data))]
    return sandbox_main(argv)


if __name__ == "__main__":
    sys.exit(main())
