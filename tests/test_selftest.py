"""`uploader-gui --self-test` from source: the same run the frozen builds make."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = "import sys; from uploader_gui.cli.selftest import run_self_test; sys.exit(run_self_test(sys.argv[1:]))"
CHECKS = ["build", "keyring backends", "truststore", "Pillow JPEG/PNG", "pypdf", "pikepdf", "SQLite", "Qt",
          "window", "sandbox", "validation in the window", "upload to the sandbox",
          "sandbox received the file", "history"]


def self_test(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=90)


def headless_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "UPLOADER_GUI_HOME")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def test_self_test_passes_and_cleans_up_its_home() -> None:
    proc = self_test(headless_env())
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for name in CHECKS:
        assert re.search(rf"^ok    {re.escape(name)}\b", out, re.M), f"{name!r} missing:\n{out}"
    assert "Sent and verified; id pdf_" in out  # the row of the upload to Sandbox Claros
    assert re.search(r"platform plugin 'offscreen'", out)  # no display: offscreen on its own
    assert out.rstrip().splitlines()[-1].startswith("self-test passed: 14 checks")
    home = re.search(r"app data in (\S+)", out).group(1)
    assert not Path(home).exists()  # the temporary home is removed afterwards


def test_self_test_uses_the_given_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = self_test(headless_env(UPLOADER_GUI_HOME=str(home)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"app data in {home}" in proc.stdout
    assert (home / "data" / "history.sqlite3").exists() or list(home.rglob("history.sqlite3"))


def test_a_missing_module_fails_with_the_reason(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "truststore.py").write_text("raise ImportError('truststore was left out of this build')\n")
    env = headless_env()
    env["PYTHONPATH"] = os.pathsep.join([str(fake), env["PYTHONPATH"]])
    proc = self_test(env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  truststore: ImportError: truststore was left out of this build" in proc.stdout
    assert "self-test FAILED" in proc.stdout
    assert "ok    keyring backends" in proc.stdout  # the checks before it still ran


@pytest.mark.parametrize("args", [["--timeout", "soon"], ["--bogus"]])
def test_usage_error(args: list[str]) -> None:
    proc = self_test(headless_env(), *args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
