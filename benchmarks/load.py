"""The loaded cases' second load: one CPU-bound process pinned to one core.

:func:`cpu_hog` starts ``python -c <spin loop>`` pinned with ``os.sched_setaffinity`` to
core 0 (the lowest core this process may use), waits until it is spinning, and kills it
when the ``with`` block ends, whatever ends it (an error, Ctrl-C, or SIGTERM, which
``python -m benchmarks`` turns into an exception). Should the harness itself be killed
with SIGKILL, the hog notices that its parent is gone and exits on its own.

This is the issue's "second load on the two cores": a clinic PC runs an EHR, a browser
and antivirus beside the app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Checks its parent every 262,144 iterations (a few ms): pure Python bytecode in between.
_SPIN = """
import os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
parent = int(sys.argv[2])
print("spinning", flush=True)
n = 0
while True:
    n += 1
    if not n & 0x3FFFF and os.getppid() != parent:
        break
"""

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Hog:
    """What the hog did, for the JSON: its core, and CPU seconds over wall seconds."""

    pid: int
    core: int
    started: float
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def record(self) -> dict[str, float | int]:
        return {"core": self.core, "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3),
                "busy": round(self.cpu_s / self.wall_s, 3) if self.wall_s else 0.0}


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (0 if it is already gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of stat(5)


def hog_core() -> int:
    """Core 0 if this process may run there, else the lowest core it may use."""
    return min(os.sched_getaffinity(0))


@contextmanager
def cpu_hog() -> Iterator[Hog]:
    """A busy loop on one core for the duration of the block; always killed afterwards."""
    core = hog_core()
    proc = subprocess.Popen([sys.executable, "-c", _SPIN, str(core), str(os.getpid())],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    hog = Hog(proc.pid, core, time.perf_counter())
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "spinning":
            raise RuntimeError(f"The CPU-bound background process did not start ({proc.poll()}).")
        hog.started = time.perf_counter()
        yield hog
    finally:
        hog.cpu_s = _cpu_seconds(proc.pid)
        hog.wall_s = time.perf_counter() - hog.started
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
