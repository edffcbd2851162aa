"""`uploader-gui cover-sheet`, `split` and `scan`: scan to send, headless.

* ``cover-sheet`` asks the profile's system who the patient is (name, date of
  birth) and writes a one-page cover sheet PDF to print;
* ``split`` shows how a batch would be split at cover sheets and routed
  (parts, pages, destination, or unmatched), without sending anything;
* ``scan`` scans from a SANE scanner into a PDF.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from uploader_gui.core.targets.base import KIND_LABELS


def add_scan_parsers(sub: Any) -> None:
    c = sub.add_parser(
        "cover-sheet",
        help="print a cover sheet for a patient (for scanning batches)",
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
        help="show how a scanned batch would be split and routed",
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
        help="scan pages into a PDF",
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


def cmd_cover_sheet(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from uploader_gui.cli.send import profile_and_credentials
    from uploader_gui.core.coversheet import CoverSheetError, make_cover_sheet

    profile, creds = profile_and_credentials(args.profile, parser)
    cfg = profile.config
    doctype = args.doctype or profile.defaults.document_type or (
        cfg.document_type if cfg.kind == "redox" else "")
    out = Path(args.output)
    try:
        patient = make_cover_sheet(out, profile.name, cfg, creds, profile.defaults,
                                   args.patient, doctype)
    except CoverSheetError as err:
        print(f"uploader-gui: {err}", file=sys.stderr)
        return 1
    who = patient.label() if patient is not None else args.patient
    print(f"Cover sheet for {who} ({KIND_LABELS.get(cfg.kind, cfg.kind)}) written to {out}.")
    return 0


def cmd_split(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from uploader_gui.cli.send import load_profile
    from uploader_gui.core.pages import PageError
    from uploader_gui.core.splitter import LabelRuleError, analyse
    from uploader_gui.core.targets.base import TargetConfig

    path = Path(args.file)
    if not path.is_file():
        parser.error(f"no such file: {path}")
    cfg = (load_profile(args.profile, parser).config if args.profile
           else TargetConfig(kind="claros", base_url="https://localhost", name=""))
    try:
        result = analyse(path, cfg)
    except (PageError, LabelRuleError) as err:
        print(f"uploader-gui: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    sheets = ", ".join(str(p + 1) for p in result.sheet_pages) or "none"
    print(f"{path.name}: {result.page_count} page(s); cover sheets on pages {sheets}.")
    for n, part in enumerate(result.parts, 1):
        pages = _ranges(part.page_numbers)
        if part.route == "unmatched":
            where = "UNMATCHED (choose the patient by hand)"
        else:
            how = "cover sheet" if part.route == "cover_sheet" else "patient label, suggested"
            where = f"{part.dest_id} ({how})"
            if part.sheet is not None and part.sheet.profile and part.sheet.profile != cfg.name:
                where += f", profile {part.sheet.profile}"
        print(f"  part {n}: pages {pages} -> {where}")
        if part.note and part.route != "unmatched":
            print(f"      note: {part.note}")
    return 0


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    for n in numbers:
        if out and "-" not in out[-1] and int(out[-1]) == n - 1:
            out[-1] = f"{out[-1]}-{n}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def cmd_scan(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from uploader_gui.cli.send import load_profile
    from uploader_gui.core.scan import (
        COLOR,
        GRAY,
        ScanError,
        ScanOptions,
        scan_to_pdf,
        system_scanner,
    )

    profile = load_profile(args.profile, parser)
    scanner = system_scanner()
    if args.list:
        try:
            for device in scanner.devices():
                print(f"{device.id}\t{device.label()}")
        except ScanError as err:
            print(f"uploader-gui: {err}", file=sys.stderr)
            return 1
        return 0
    if not args.output:
        parser.error("scan needs -o FILE (or --list)")
    options = ScanOptions(device=args.device or profile.config.scan_device, source=args.source,
                          duplex=args.duplex, mode=COLOR if args.color else GRAY,
                          resolution=args.resolution, pages=args.pages)
    problems = options.problems()
    if problems:
        parser.error(" ".join(problems))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        pdf, result = scan_to_pdf(scanner, options, Path(args.output),
                                  on_page=lambda n, _p: print(f"Scanned page {n}.", flush=True),
                                  cancelled=stop.is_set)
    except ScanError as err:
        print(f"uploader-gui: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("uploader-gui: scanning was cancelled; nothing was saved.", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    if pdf is None:
        print("uploader-gui: scanning was cancelled before any page; nothing was saved.",
              file=sys.stderr)
        return 1
    note = " (cancelled: the pages scanned so far)" if result.cancelled else ""
    print(f"Saved {len(result.pages)} page(s) to {pdf}{note}.")
    return 0
