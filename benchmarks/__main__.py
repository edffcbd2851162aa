"""``python -m benchmarks [--quick] [--out FILE] [--only IDS]``: run, print the table, write JSON.

Exit status: 0 when every case selected was measured (whatever its result), 3 when some
case was not (a reference tool missing, or the measurement failed): the table and the
JSON say which and why.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import pdfcheck, splitbatch, startup, transfer, window
from benchmarks.harness import REPO, NotMeasured, Result, machine, measure, table, write_json

DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.json"
NOT_MEASURED = 3

#: Every case, in the order of the issue: (ids it yields, how to run it given work dir and
#: quick, the reference tools it needs; the transfer suite checks curl per case itself).
SUITES: list[tuple[tuple[str, ...], Callable[[Path, bool], Sequence[Result]], tuple[str, ...]]] = [
    (("1a", "1b", "2", "3"), transfer.run, ()),
    (("4a", "4b"), lambda work, quick: window.ui_during_batch(work, reps=1 if quick else 3), ()),
    (("5a", "5b", "5c"), lambda work, quick: window.staging(work, reps=1 if quick else 3), ()),
    (("4a-load", "4b-load"),
     lambda work, quick: window.ui_during_batch(work, reps=1 if quick else 3, loaded=True), ()),
    (("5c-load",), lambda work, quick: window.staging_stall_loaded(work, reps=1 if quick else 3), ()),
    (("6",), lambda work, quick: [pdfcheck.run(work, quick)], ("qpdf",)),
    (("7",), lambda work, quick: [startup.run(work, quick)], ()),
    (("17",), lambda work, quick: [splitbatch.run(work, quick)], ()),
]
CASE_IDS = [i for ids, _, _ in SUITES for i in ids]


def selected(ids: tuple[str, ...], wanted: set[str] | None) -> bool:
    """``--only`` names cases (their suites run) or ``load`` for every loaded case."""
    if wanted is None:
        return True
    return bool(wanted & set(ids)) or ("load" in wanted and any(i.endswith("-load") for i in ids))


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that ``finally`` blocks kill the child processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions (under 2 minutes); a smoke test, not for the record")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})")
    parser.add_argument("--only", help="comma-separated case ids to run, e.g. 1a,7,5c-load (runs "
                        "their suites); 'load' selects every loaded case")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.only.split(",")} if args.only else None
    unknown = (wanted or set()) - set(CASE_IDS) - {"load"}
    if unknown:
        parser.error(f"no case {', '.join(sorted(unknown))}; the cases are {', '.join(CASE_IDS)}")
    signal.signal(signal.SIGTERM, _terminate)

    started = time.perf_counter()
    meta: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full", "machine": machine()}
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="uploader-gui-bench-"))
    try:
        for ids, suite, needs in SUITES:
            if not selected(ids, wanted):
                continue
            t0 = time.perf_counter()
            print(f"running {', '.join(ids)} …", file=sys.stderr, flush=True)
            results += measure(ids, partial(suite, work, args.quick), needs)
            print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["seconds"] = time.perf_counter() - started
    missing = [r.id for r in results if isinstance(r, NotMeasured)]
    meta["not_measured"] = missing
    print(table(results))
    print(f"\n{meta['mode']} run, {meta['seconds']:.0f} s; JSON written to {args.out}")
    write_json(args.out, results, meta)
    if missing:
        print(f"Not measured: {', '.join(missing)} (see above); exit status {NOT_MEASURED}.")
        return NOT_MEASURED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
