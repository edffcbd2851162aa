"""The command line's grammar: every command's options, and nothing heavy.

``uploader-gui send`` must start fast, so defining the options imports no command's
code: each command's module is imported only once that command is chosen
(:func:`uploader_gui.cli.main`), and :func:`build_parser` given the command defines
only its options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from uploader_gui import __version__
from uploader_gui.core.names import KINDS, PROFILES_FILE, ROLE_LABELS, ROLES

ENV_TOKEN = "UPLOADER_GUI_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_REDOX_KEY = "UPLOADER_GUI_REDOX_KEY"
ENV_REDOX_SECRET = "UPLOADER_GUI_REDOX_SECRET"  # noqa: S105 - a variable name
ENV_REDOX_CLIENT_ID = "UPLOADER_GUI_REDOX_CLIENT_ID"
ENV_REDOX_KEY_ID = "UPLOADER_GUI_REDOX_KEY_ID"
ENV_REDOX_PRIVATE_KEY = "UPLOADER_GUI_REDOX_PRIVATE_KEY"
ENV_REDOX_PLATFORM_KEY = "UPLOADER_GUI_REDOX_PLATFORM_KEY"

#: Each command's one-line help, for the list of commands.
HELP = {
    "send": "validate and send files to a target",
    "history": "list uploads and their outcomes",
    "resume": "send again the uploads that were interrupted",
    "watch": "send what a scanner saves in a folder",
    "profiles": "list, add, test and share target profiles",
    "audit": "check or export the audit trail",
    "db": "set up the clinic database (IT)",
    "cover-sheet": "print a cover sheet for a patient (for scanning batches)",
    "split": "show how a scanned batch would be split and routed",
    "scan": "scan pages into a PDF",
    "validate": "check files before sending",
    "sandbox": "run the local emulator of Redox, Claros and REDCap",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only that command's options are defined.

    The other commands are still listed (``--help``, "invalid choice"), but what their
    options need (the job states, …) is not imported.
    """
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
    for adder, names in _COMMANDS:
        if command is None or command in names:
            adder(sub)
        else:
            for name in names:
                sub.add_parser(name, help=HELP[name])
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, as argparse will find it (the top-level options take no
    value); None when there is none, or it is not one of ours."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in HELP else None
    return None


def add_validate_parser(sub: Any) -> None:
    v = sub.add_parser(
        "validate",
        help=HELP["validate"],
        description="Check files the way the app does before anything is sent. "
        "Exit status: 0 when every file is acceptable, 1 when any is rejected, 2 on a usage error.",
    )
    v.add_argument("--target", choices=KINDS, help="apply this system's size limit")
    v.add_argument("--max-size-mb", type=float, metavar="MB",
                   help="override the size limit, in megabytes")
    v.add_argument("--json", action="store_true", help="print one JSON object per file")
    v.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")


def add_send_parser(sub: Any) -> None:
    s = sub.add_parser(
        "send",
        help=HELP["send"],
        description="Validate each file, then send it. Credentials come from the profile's "
        f"keyring entries or from environment variables ({ENV_TOKEN}; {ENV_REDOX_KEY} and "
        f"{ENV_REDOX_SECRET}; or {ENV_REDOX_CLIENT_ID}, {ENV_REDOX_KEY_ID} and "
        f"{ENV_REDOX_PRIVATE_KEY}), never from the command line. Exit status 0 only when every "
        "file was sent (with --verify: verified).",
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
    s.add_argument("--concurrency", type=int, default=3, help="uploads at once, 1-8 (default 3)")
    s.add_argument("--replace", action="store_true",
                   help="REDCap: replace a file the field already holds (a backup is saved first)")
    s.add_argument("--allow-duplicate", action="store_true",
                   help="send even if the same file already went to the same patient or record")
    s.add_argument("--allow-unknown", action="store_true",
                   help="send even if an earlier upload of the same file there may have arrived")
    s.add_argument("--remove-scripts", action="store_true",
                   help="a PDF with JavaScript or launch actions: send a copy with them removed "
                   "(never the file as it is); also the profile setting remove_active_content")
    s.add_argument("--verify", action="store_true",
                   help="wait until each upload is verified (REDCap read-back, Claros receipt, "
                   "Redox delivery logs); exit non-zero if any is not")
    s.add_argument("--verify-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="how long --verify waits for Redox's delivery logs (default 600)")
    s.add_argument("--json", action="store_true", help="print one JSON object per file")
    s.add_argument("paths", nargs="+", metavar="PATH")


def add_history_parsers(sub: Any) -> None:
    from uploader_gui.core.jobs import STATES  # only for `history` (or --help)

    h = sub.add_parser("history", help=HELP["history"],
                       description="Print the upload history, newest first.")
    h.add_argument("--json", action="store_true", help="one JSON object per job")
    h.add_argument("--status", choices=STATES, action="append",
                   help="only jobs in this state (repeatable)")
    h.add_argument("--search", help="file name, patient or record, or remote id contains this")
    h.add_argument("--limit", type=int, help="at most this many jobs")
    h.add_argument("--refresh-delivery", action="store_true",
                   help="ask the Redox Platform API whether sent documents were delivered")

    r = sub.add_parser(
        "resume", help=HELP["resume"],
        description="Re-send jobs that were interrupted when the app stopped. Claros jobs that "
        "had begun sending, and jobs whose outcome is unknown, may already have arrived: they "
        "are only re-sent with --include-unknown. Exit status 0 only when every job was sent.",
    )
    r.add_argument("--include-unknown", action="store_true",
                   help="also re-send jobs that may already have arrived (risk of a duplicate)")
    r.add_argument("--concurrency", type=int, default=3)
    r.add_argument("--json", action="store_true")


def add_watch_parser(sub: Any) -> None:
    w = sub.add_parser(
        "watch", help=HELP["watch"],
        description="Watch a folder and send each file once it has finished being written. "
        "A filename rule with a named group (?P<patient>…), (?P<mrn>…) or (?P<record>…) "
        "(and optionally (?P<doctype>…)) says where each file goes. Sent files move to Sent/ "
        "beside them, failed ones to Failed/ with a .txt reason; files without a match stay. "
        "With the profile's split_cover_sheets, PDFs with cover sheets are split and each part "
        "goes where its sheet says (unattended only with unattended_cover_sheets). "
        "Nothing is ever deleted. Stops cleanly on Ctrl+C or SIGTERM.",
    )
    w.add_argument("--profile", required=True, metavar="NAME")
    w.add_argument("--pattern", metavar="REGEX",
                   help="filename rule (default: the profile's watch_pattern)")
    w.add_argument("--once", action="store_true", help="process what is there now, then exit")
    w.add_argument("--settle", type=float, default=3.0,
                   help="seconds a file must stay unchanged before it is sent (default 3)")
    w.add_argument("--json", action="store_true", help="one JSON object per file handled")
    w.add_argument("--status-file", type=Path, metavar="FILE",
                   help="where to write the watcher's health after every scan (default: "
                   "watch-PROFILE.json in the app's data folder)")
    w.add_argument("--status", action="store_true",
                   help="print the health of the watcher for --profile and exit: 0 when it is "
                   "running and scanning, 1 otherwise (for monitoring)")
    w.add_argument("folder", metavar="DIR", nargs="?",
                   help="the folder (default: the profile's watch_folder)")


def _role(value: str) -> str:
    role = value.strip().lower().replace("-", "_")
    if role not in ROLES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(r.replace('_', '-') for r in ROLES)}")
    return role


def add_target_options(p: argparse.ArgumentParser) -> None:
    """The target flags `profiles add` shares with `send`'s ad-hoc target."""
    p.add_argument("--target", choices=KINDS, required=True, help="the kind of system")
    p.add_argument("--url", required=True,
                   help="base URL: Redox API base, Claros base, or the REDCap API endpoint")
    p.add_argument("--blob-url", help="Redox file upload base (default: same as --url)")
    p.add_argument("--auth", choices=("jwt", "legacy"), help="Redox authentication (default jwt)")
    p.add_argument("--client-id", help="Redox OAuth client ID (signed-JWT auth)")
    p.add_argument("--key-id", help="Redox key ID, the JWT's kid (signed-JWT auth)")
    p.add_argument("--jwt-alg", choices=("RS384", "ES384", "HS384"),
                   help="Redox JWT algorithm (default: from the key)")
    p.add_argument("--destination", action="append", default=[], metavar="ID[=NAME]",
                   help="Redox destination (repeatable)")
    p.add_argument("--source-id", help="Redox source ID (only when the organisation has several)")
    p.add_argument("--platform-org-id",
                   help="Redox organisation ID for the Platform API (organisation-based logs)")
    p.add_argument("--platform-environment-id",
                   help="Redox environment ID for the Platform API's log search (used when set)")
    p.add_argument("--data-model", choices=("Media", "Notes"),
                   help="Redox data model for documents: Media.New (default) or Notes.New")
    p.add_argument("--platform-client-id", help="Redox Platform API client ID (delivery status)")
    p.add_argument("--platform-key-id", help="Redox Platform API key ID (delivery status)")
    p.add_argument("--patient-id-type", help="Redox patient identifier type (default MR)")
    p.add_argument("--document-type", help="Redox document type (default Clinical Document)")
    p.add_argument("--field", help="REDCap file-upload field to use by default")
    p.add_argument("--event", help="REDCap unique event name to use by default")
    p.add_argument("--repeat-instance", type=int, help="REDCap repeat instance to use by default")
    p.add_argument("--size-limit-mb", type=float, metavar="MB", help="largest file to send")
    p.add_argument("--ca-bundle", metavar="FILE",
                   help="PEM file of the certificate authority to trust instead of this "
                   "computer's (for a private CA)")
    p.add_argument("--no-confirm", action="store_true",
                   help="send without the last-look confirmation in the window")
    p.add_argument("--redcap-overwrite", choices=("ask", "backup"),
                   help="REDCap: when the field already holds a file, ask (default) or always "
                   "back it up and replace it")
    p.add_argument("--identity-fields", metavar="FIELD,FIELD",
                   help="REDCap: up to three fields that say who a record is, shown before "
                   "sending (e.g. first_name,last_name,dob)")
    p.add_argument("--watch-folder", metavar="DIR", help="a folder to watch (scanner output)")
    p.add_argument("--watch-pattern", metavar="REGEX",
                   help="filename rule with (?P<patient>…), (?P<mrn>…) or (?P<record>…)")
    p.add_argument("--watch-manual", action="store_true",
                   help="in the window, put watched files on the list instead of sending them")
    p.add_argument("--test-message", dest="test_flag", action="store_true", default=None,
                   help="mark Redox messages as Test (the default)")
    p.add_argument("--production", dest="test_flag", action="store_false",
                   help="mark Redox messages as not Test")


def add_profiles_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "profiles", help=HELP["profiles"],
        description="Manage target profiles. Profiles are kept without secrets in "
        f"{PROFILES_FILE} in the config folder; secrets go to the system keyring and are "
        "never taken from the command line or printed.",
    )
    ps = p.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)

    ls = ps.add_parser("list", help="list the profiles")
    ls.add_argument("--json", action="store_true")

    sh = ps.add_parser("show", help="a profile's settings, and which secrets are set")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")

    add = ps.add_parser("add", help="add (or with --replace, change) a profile")
    add.add_argument("--name", required=True, help="the profile's name, as staff will see it")
    add_target_options(add)
    add.add_argument("--replace", action="store_true", help="replace a profile of the same name")

    rm = ps.add_parser("remove", help="remove a profile and its keyring entries")
    rm.add_argument("name")
    rm.add_argument("--keep-secrets", action="store_true", help="leave its keyring entries")

    t = ps.add_parser("test", help="try a harmless call with the profile's address and secrets")
    t.add_argument("name")

    ss = ps.add_parser(
        "set-secret", help="store a secret in the keyring (read from stdin or a silent prompt)",
        description="Store one of a profile's secrets in the system keyring. The value is read "
        "from standard input when it is not a terminal, otherwise from a prompt that does not "
        "echo; never from the command line. Roles: " +
        "; ".join(f"{r.replace('_', '-')} ({ROLE_LABELS[r]})" for r in ROLES) + ".",
    )
    ss.add_argument("name")
    ss.add_argument("role", type=_role, metavar="ROLE")
    ss.add_argument("refused", nargs="*", help=argparse.SUPPRESS)

    im = ps.add_parser("import", help="add the profiles in a file exported on another computer")
    im.add_argument("file", type=Path)
    im.add_argument("--replace", action="store_true", help="replace profiles of the same name")

    ex = ps.add_parser("export", help="write profiles (without secrets) to a file for other computers")
    ex.add_argument("file", type=Path)
    ex.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    return p


def add_audit_parsers(sub: Any) -> None:
    a = sub.add_parser("audit", help=HELP["audit"],
                       description="The audit trail: who sent what, from which desk, to whom.")
    asub = a.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad entry")
    e = asub.add_parser("export", help="write the entries as CSV")
    e.add_argument("--from", dest="start", metavar="DATE", help="from this date (ISO 8601)")
    e.add_argument("--to", dest="end", metavar="DATE", help="up to (not including) this date")
    e.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")

    d = sub.add_parser("db", help=HELP["db"],
                       description="Create the tables in the PostgreSQL database named by "
                       "UPLOADER_GUI_DATABASE or the settings file, as its owner.")
    dsub = d.add_subparsers(dest="db_command", required=True)
    for name in ("init", "migrate"):
        p = dsub.add_parser(name, help="create or update the tables and the app role's grants")
        p.add_argument("--app-role", metavar="ROLE",
                       help="the role the app logs in as: it may read and add, nothing else")


def add_scan_parsers(sub: Any) -> None:
    c = sub.add_parser(
        "cover-sheet",
        help=HELP["cover-sheet"],
        description="Write a one-page cover sheet PDF for one patient: a QR code and a Code 128 "
        "with the profile, the patient or record, the document type and a check value, and the "
        "patient's name and date of birth in large print. Put it on top of the patient's pages "
        "in a scan batch. Exit status 0 when written, 1 when the patient is unknown.",
    )
    c.add_argument("--profile", metavar="NAME", required=True, help="a saved profile")
    c.add_argument("--patient", metavar="ID", required=True,
                   help="patient ID (Claros, Redox) or record ID (REDCap)")
    c.add_argument("--doctype", metavar="T", help="document type to print on the sheet")
    c.add_argument("-o", "--output", metavar="FILE", required=True, help="the PDF to write")

    s = sub.add_parser(
        "split",
        help=HELP["split"],
        description="Read the cover sheets and patient labels in a PDF and show the parts it "
        "would be split into, their pages and destinations, or that they are unmatched. "
        "Nothing is sent and the file is not changed.",
    )
    s.add_argument("file", metavar="FILE")
    s.add_argument("--profile", metavar="NAME",
                   help="a saved profile (its patient-label rule is applied)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    sc = sub.add_parser(
        "scan",
        help=HELP["scan"],
        description="Scan from a SANE scanner into a PDF (0600). Exit status 0 when saved, "
        "1 when scanning failed or was cancelled with no page, 2 on a usage error.",
    )
    sc.add_argument("--profile", metavar="NAME", required=True, help="a saved profile")
    sc.add_argument("--device", metavar="D", help="scanner (see --list); default: the first found")
    sc.add_argument("--source", choices=("adf", "flatbed"), default="flatbed")
    sc.add_argument("--duplex", action="store_true", help="both sides (document feeder only)")
    sc.add_argument("--color", action="store_true", help="colour instead of grey")
    sc.add_argument("--resolution", type=int, default=200, metavar="DPI", help="default 200")
    sc.add_argument("--pages", type=int, metavar="N",
                    help="pages to scan (default: the whole feeder, or one from the flatbed)")
    sc.add_argument("--list", action="store_true", help="list the scanners and exit")
    sc.add_argument("-o", "--output", metavar="FILE", help="the PDF to write")


def add_sandbox_parser(sub: Any) -> None:
    s = sub.add_parser(
        "sandbox",
        help=HELP["sandbox"],
        description="Serve a local emulator of the three APIs for training and tests.",
    )
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--data", metavar="DIR", help="where received files are kept")
    s.add_argument("--host", default="127.0.0.1", help="loopback address to bind")


#: Who defines which commands, in the order ``--help`` lists them.
_COMMANDS: list[tuple[Callable[[Any], Any], tuple[str, ...]]] = [
    (add_validate_parser, ("validate",)),
    (add_send_parser, ("send",)),
    (add_history_parsers, ("history", "resume")),
    (add_watch_parser, ("watch",)),
    (add_profiles_parser, ("profiles",)),
    (add_audit_parsers, ("audit", "db")),
    (add_scan_parsers, ("cover-sheet", "split", "scan")),
    (add_sandbox_parser, ("sandbox",)),
]
