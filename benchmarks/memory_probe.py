"""Case 2's uploading process: peak RSS while one big file goes to REDCap.

``python -m benchmarks.memory_probe app|requests|idle URL TOKEN FILE RECORD`` prints
``{"baseline_mb", "peak_mb", "delta_mb", "seconds"}``. ``app`` uses the app's REDCap target
(the GUI's code path, streamed by the multipart encoder); ``requests`` is plain
``requests.post(files=...)``, the naive way, for reference; ``idle`` makes the same target
and samples for ``IDLE_S`` without uploading: the floor (what the sampling itself sees). RSS is sampled from
``/proc/self/statm`` every 2 ms by a thread and cross-checked with ``ru_maxrss`` (used only
if it grew during the upload: it is a lifetime peak, and start-up briefly peaks higher than
the settled baseline).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
IDLE_S = 0.5


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = rss()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, rss())


def main(argv: list[str]) -> int:
    mode, url, token, file, record = argv
    path = Path(file)
    import requests

    from uploader_gui.core.targets import (
        Credentials,
        Destination,
        Document,
        Secret,
        TargetConfig,
        make_target,
    )

    target = make_target(TargetConfig(kind="redcap", base_url=url + "/api/", redcap_field="scan"),
                         Credentials(token=Secret(token)))
    dest = Destination(record=record, field="scan")
    baseline = rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    if mode == "app":
        target.upload(Document(path, "pdf", path.stat().st_size), dest)
    elif mode == "idle":
        time.sleep(IDLE_S)
    else:
        with open(path, "rb") as fh:
            resp = requests.post(url + "/api/", data={
                "token": token, "content": "file", "action": "import", "record": record,
                "field": "consent_form", "returnFormat": "json"},
                files={"file": (path.name, fh, "application/pdf")}, timeout=300)
        resp.raise_for_status()
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    peak = sampler.peak
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if maxrss_after > maxrss_before:
        peak = max(peak, maxrss_after * 1024)
    print(json.dumps({"baseline_mb": baseline / MB, "peak_mb": peak / MB,
                      "delta_mb": (peak - baseline) / MB, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
