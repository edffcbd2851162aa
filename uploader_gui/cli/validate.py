"""`uploader-gui validate`: check files the way the app does before anything is sent."""

from __future__ import annotations

import argparse
import json
import os
import shutil

from uploader_gui.cli import prestart
from uploader_gui.core.validation import ValidationResult, expand_paths, human_size


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
    with prestart.validator(prestart.WORKERS["validate"]) as validator:
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
