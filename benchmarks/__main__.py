"""``python -m benchmarks [--quick] [--out FILE] [--only IDS]``: run, print the table, write JSON."""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import pdfcheck, splitbatch, startup, transfer, window
from benchmarks.harness import REPO, CaseResult, machine, table, write_json

DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.json"

#: Every case, in the order of the issue: (ids it yields, how to run it given work dir and quick).
SUITES: list[tuple[tuple[str, ...], Callable[[Path, bool], list[CaseResult]]]] = [
    (("1a", "1b", "2", "3"), transfer.run),
    (("4a", "4b"), lambda work, quick: window.ui_during_batch(work, reps=1 if quick else 3)),
    (("5a", "5b", "5c"), lambda work, quick: window.staging(work, reps=1 if quick else 3)),
    (("6",), lambda work, quick: [pdfcheck.run(work, quick)]),
    (("7",), lambda work, quick: [startup.run(work, quick)]),
    (("17",), lambda work, quick: [splitbatch.run(work, quick)]),
]
CASE_IDS = [i for ids, _ in SUITES for i in ids]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions (under 2 minutes); a smoke test, not for the record")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})")
    parser.add_argument("--only", help="comma-separated suite ids to run, e.g. 1a,7 (runs their suites)")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None

    started = time.perf_counter()
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full", "machine": machine()}
    results: list[CaseResult] = []
    work = Path(tempfile.mkdtemp(prefix="uploader-gui-bench-"))
    try:
        for ids, suite in SUITES:
            if wanted is not None and not wanted & set(ids):
                continue
            t0 = time.perf_counter()
            print(f"running {', '.join(ids)} …", file=sys.stderr, flush=True)
            results += suite(work, args.quick)
            print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["seconds"] = time.perf_counter() - started
    print(table(results))
    print(f"\n{meta['mode']} run, {meta['seconds']:.0f} s; JSON written to {args.out}")
    write_json(args.out, results, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
