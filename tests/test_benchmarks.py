"""The benchmark harness runs end to end (``--quick``) and records every case.

A smoke test only: no timing is asserted here; the targets are for the benchmark itself
(see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_quick_benchmarks_write_every_case(tmp_path: Path) -> None:
    from benchmarks.__main__ import CASE_IDS

    missing = [tool for tool in ("curl", "qpdf") if shutil.which(tool) is None]
    if missing:
        # In CI the tools are installed by packaging/install-system-deps.sh --test.
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: the benchmarks compare against them")
        pytest.skip(f"{', '.join(missing)} not installed (the benchmarks compare against them)")

    out = tmp_path / "bench.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "UPLOADER_GUI_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=590)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    data = json.loads(out.read_text())
    assert data["mode"] == "quick"
    assert [c["id"] for c in data["cases"]] == CASE_IDS
    for case in data["cases"]:
        assert case["measures"] and case["target"] and case["reference_name"]
        for side in ("app", "reference"):
            assert case[side]["runs"] and case[side]["min"] <= case[side]["median"] <= case[side]["max"]
        assert case["ratio"] >= 0
        assert case["passed"] in (True, False, None)
        assert case["id"] in proc.stdout  # and in the printed table
