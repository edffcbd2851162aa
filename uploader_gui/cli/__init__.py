"""The `uploader-gui` command: the window by default, headless subcommands otherwise.

Only what the chosen command needs is imported (a headless command never imports
Qt): the options are defined in :mod:`.arguments`, each command's code is imported
once it is chosen, and the helper that checks files starts before that import
(:mod:`.prestart`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from uploader_gui.cli.arguments import build_parser, command_of

__all__ = ["build_parser", "main"]


#: Commands that end without the interpreter's teardown when run as the program.
QUICK_EXIT = frozenset({"send", "validate", "history"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this program's arguments); its exit status."""
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_of(argv))
    args = parser.parse_args(argv)
    if args.command in ("send", "validate") and not args.self_test:
        from uploader_gui.cli import prestart

        # Before anything else is imported: the helper starts while this process does.
        # `send --target KIND FILE` checks that one file with the target's usual limit:
        # the helper starts on it now (a profile's own limit is known only later).
        adhoc = args.command == "send" and not getattr(args, "profile", None)
        prestart.start_validator(args.paths, prestart.WORKERS[args.command],
                                 target=getattr(args, "target", None), check_now=adhoc)
    code = _run(args, parser)
    if as_program and args.command in QUICK_EXIT:
        end_now(code)
    return code


def end_now(code: int) -> None:
    """End the program now, with ``code``, once what it wrote is out.

    Tearing the interpreter down (freeing every imported module's objects) takes
    longer than a small upload, and on a busy computer far longer. The command has
    closed its history and its helpers; what the interpreter would still do at exit
    is done here: the exit handlers (the logs' flush among them) and the flush of
    standard output. While another thread still runs, the usual exit is kept.
    """
    import atexit
    import threading

    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.self_test:
        from uploader_gui.cli.selftest import run_self_test

        return run_self_test()
    if args.command is not None:
        from uploader_gui.cli.pipes import quiet_stdout

        quiet_stdout()  # `uploader-gui history --json | head` ends quietly
    if args.command in ("send", "watch", "history", "resume", "profiles", "cover-sheet", "split",
                        "scan"):
        from uploader_gui.core.logging_setup import configure_logging

        configure_logging()
    if args.command == "validate":
        from uploader_gui.cli.validate import cmd_validate

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
    if args.command in ("cover-sheet", "split", "scan"):
        from uploader_gui.cli import scan_commands

        handler = {"cover-sheet": scan_commands.cmd_cover_sheet, "split": scan_commands.cmd_split,
                   "scan": scan_commands.cmd_scan}[args.command]
        return handler(args, parser.subparsers[args.command])
    if args.command == "profiles":
        from uploader_gui.cli.profiles import cmd_profiles

        return cmd_profiles(args, parser.subparsers["profiles"])
    if args.command in ("history", "resume"):
        from uploader_gui.cli import history as history_cli

        handler = history_cli.cmd_history if args.command == "history" else history_cli.cmd_resume
        return handler(args, parser.subparsers[args.command])
    from uploader_gui.gui.launch import prepare_window_start

    prepare_window_start()  # the History tab's newest page read on the other core, and more
    from uploader_gui.gui.app import run_gui

    return run_gui(use_sandbox=args.sandbox)


# --------------------------------------------------------------------------- sandbox


def cmd_sandbox(args: argparse.Namespace) -> int:
    from uploader_gui.sandbox import main as sandbox_main

    argv = ["--port", str(args.port), "--host", args.host]
    if args.data:
        argv += ["--data", str(Path(args.data))]
    return sandbox_main(argv)


if __name__ == "__main__":
    sys.exit(main())
