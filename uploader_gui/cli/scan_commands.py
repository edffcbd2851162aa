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

from uploader_gui.cli.arguments import add_scan_parsers  # noqa: F401 - re-exported
from uploader_gui.core.targets.base import KIND_LABELS


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
