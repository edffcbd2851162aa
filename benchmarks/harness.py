"""What every case shares: statistics, results, the table, child processes."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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
    ``floor`` is what the same measurement gives with nothing of the app's to do, taken in
    the same run and conditions (docs/benchmarks.md says what it is for each case); None
    where the reference is itself that floor (the idle heartbeat, a bare window, …).
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
    floor_name: str = ""
    floor: Stats | None = None

    @property
    def ratio(self) -> float:
        return self.app.median / self.reference.median if self.reference.median else float("inf")

    def floor_stats(self) -> Stats:
        return self.floor or self.reference

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["measured"] = True
        data["floor"] = asdict(self.floor_stats())
        data["floor_name"] = self.floor_name if self.floor else self.reference_name
        data["floor_is_reference"] = self.floor is None
        return data

    def row(self) -> tuple[str, ...]:
        floor = fmt(self.floor_stats().median, self.unit) + (
            " (= reference)" if self.floor is None else f" ({self.floor_name})")
        return (f"{self.id} {self.name}", self.app.show(self.unit),
                f"{self.reference.show(self.unit)} ({self.reference_name})", floor,
                f"{self.ratio:.2f}", self.target, result_word(self.passed))


@dataclass
class NotMeasured:
    """A case that could not be measured in this run, and why (in one sentence)."""

    id: str
    reason: str

    passed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "measured": False, "reason": self.reason, "passed": None}

    def row(self) -> tuple[str, ...]:
        return (self.id, "not measured", "—", "—", "—", "—", "not measured")


Result = CaseResult | NotMeasured

#: The Debian package that provides each reference tool.
TOOL_PACKAGES = {"curl": "curl", "qpdf": "qpdf", "xargs": "findutils"}


def missing_tools(tools: Sequence[str]) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def cases_word(ids: Sequence[str]) -> str:
    return f"case {ids[0]}" if len(ids) == 1 else f"cases {', '.join(ids)}"


def measure(ids: Sequence[str], run: Callable[[], Sequence[Result]],
            needs: Sequence[str] = ()) -> list[Result]:
    """``run()``'s results, or the cases recorded as not measured when a reference tool is
    missing (named in one line on stderr, e.g. ``case 6 not measured: qpdf is not installed
    (apt-get install qpdf)``), or when the measurement itself failed (its error, no
    traceback; the rest of the run goes on)."""
    missing = missing_tools(needs)
    if missing:
        tools = " and ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        packages = " ".join(dict.fromkeys(TOOL_PACKAGES.get(t, t) for t in missing))
        reason = f"{tools} {verb} not installed (apt-get install {packages})"
    else:
        try:
            return list(run())
        except Exception as exc:  # noqa: BLE001 - any failure: say it, record it, go on
            reason = f"the measurement failed: {exc}".strip()
    print(f"{cases_word(ids)} not measured: {reason.splitlines()[0]}", file=sys.stderr, flush=True)
    if "\n" in reason:
        print(reason, file=sys.stderr, flush=True)
    return [NotMeasured(i, reason.splitlines()[0]) for i in ids]


def result_word(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "report"}[passed]


def table(results: Sequence[Result]) -> str:
    head = ("case", "this app", "reference", "idle floor", "ratio", "target", "result")
    rows = [r.row() for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += [f"case {r.id} not measured: {r.reason}" for r in results if isinstance(r, NotMeasured)]
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
    curl, qpdf = (tool_version(t) for t in ("curl", "qpdf"))
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "pyside6": PySide6.__version__, "platform": platform.platform(), "curl": curl, "qpdf": qpdf,
        "loadavg_start": os.getloadavg(),
    }


def tool_version(tool: str) -> str:
    """The first line of ``TOOL --version``, or "not installed"."""
    if shutil.which(tool) is None:
        return "not installed"
    proc = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return proc.stdout.split("\n")[0]


def write_json(path: Path, results: Sequence[Result], meta: dict[str, Any]) -> None:
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
