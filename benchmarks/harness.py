"""What every case shares: statistics, results, the table, child processes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Stats:
    """Median, min and max of repeated measurements (and the runs themselves)."""

    median: float
    min: float
    max: float
    runs: list[float]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no measurements")
        vals = [float(v) for v in values]
        return cls(statistics.median(vals), min(vals), max(vals), vals)

    def show(self, unit: str) -> str:
        if len(self.runs) == 1:
            return fmt(self.median, unit)
        return f"{fmt(self.median, unit)} [{fmt(self.min, unit, False)}–{fmt(self.max, unit, False)}]"


def fmt(value: float, unit: str, with_unit: bool = True) -> str:
    if unit == "s":
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    elif unit == "ms":
        text = f"{value:.1f}"
    elif unit in ("MB", "files/s"):
        text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}" if with_unit else text


@dataclass
class CaseResult:
    """One row of the table.

    ``ratio`` is app / reference (medians): above 1 the app is slower, bigger or later.
    ``passed`` is None where the issue sets no target (reported only).
    """

    id: str
    name: str
    measures: str
    unit: str
    app: Stats
    reference_name: str
    reference: Stats
    target: str
    passed: bool | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.app.median / self.reference.median if self.reference.median else float("inf")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def result_word(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "report"}[passed]


def table(results: Sequence[CaseResult]) -> str:
    head = ("case", "this app", "reference", "ratio", "target", "result")
    rows = [(f"{r.id} {r.name}", r.app.show(r.unit), f"{r.reference.show(r.unit)} ({r.reference_name})",
             f"{r.ratio:.2f}", r.target, result_word(r.passed)) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    import PySide6

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    qpdf = subprocess.run(["qpdf", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "pyside6": PySide6.__version__, "platform": platform.platform(), "curl": curl, "qpdf": qpdf,
        "loadavg_start": os.getloadavg(),
    }


def write_json(path: Path, results: Sequence[CaseResult], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**meta, "cases": [r.to_json() for r in results]}
    path.write_text(json.dumps(data, indent=2) + "\n")


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def run_child(module: str, args: Sequence[str], env: dict[str, str] | None = None,
              timeout: float = 300) -> dict[str, Any]:
    """Run ``python -m benchmarks.MODULE ARGS``; its last stdout line is a JSON object."""
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=REPO,
                          env=env or child_env(), capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmarks.{module} {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def wall(cmd: Sequence[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Whole-process wall time of a command, from just before its fork to its exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)
    return time.perf_counter() - t0, proc
