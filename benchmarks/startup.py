"""Case 7: cold start with 10,000 history rows against a bare PySide6 QMainWindow."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import REPO, CaseResult, Stats, child_env, run_child

ROWS = 10_000
#: Runs of each, interleaved. Five gave medians of the bare window from 0.130 to 0.174 s
#: in back-to-back runs of this case on this machine; eleven keep the ratio steadier.
RUNS = 11


def _launch(args: list[str], env: dict[str, str]) -> float:
    env = {**env, "BENCH_T0": repr(time.time())}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.coldstart", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"coldstart {args} failed: {proc.stdout}{proc.stderr[-3000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def run(work: Path, quick: bool) -> CaseResult:
    home = work / "coldstart-home"
    home.mkdir(exist_ok=True)
    env = child_env(UPLOADER_GUI_HOME=str(home))
    run_child("coldstart", ["seed", str(ROWS)], env=env)
    app_args = ["app", str(ROWS)]
    _launch(app_args, env), _launch(["bare"], env)  # warm the page cache for both
    app, ref = [], []
    for _ in range(3 if quick else RUNS):
        app.append(_launch(app_args, env))
        ref.append(_launch(["bare"], env))
    result = CaseResult(
        "7", "cold start, 10,000 history rows",
        "from just before the parent starts the process (time.time() passed in BENCH_T0) to the "
        "first paint of the main window (its first frame: tabs, drop hint, profile list) with "
        "the History tab's model holding the newest page (300) of the 10,000 rows, as "
        "`uploader-gui` starts (the page's reader process, QApplication, the window; the rest "
        "of the window is built after this); reference: a bare PySide6 QMainWindow script to "
        f"its first paint; page cache warm, median of {RUNS} interleaved runs each",
        "s", Stats.of(app), "bare QMainWindow", Stats.of(ref), "ratio ≤ 1.5", None)
    result.passed = result.ratio <= 1.5
    return result
