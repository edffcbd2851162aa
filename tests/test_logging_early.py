"""Records logged before the log file is open are kept, and written to it once, scrubbed.

The window opens its log file only after its first paint (``buffer_early_records()``
first thing, ``configure_logging()`` later). Each case runs in a fresh interpreter, as
the app starts, so that the root logger is the process's own and not pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET = "early-secret-7f3a9c41d2"
LATE_SECRET = "registered-later-5be01d"

EARLY = """
import json, logging, sys
from uploader_gui.core import logging_setup as ls

ls.buffer_early_records()
ls.buffer_early_records()  # twice: still one buffer
log = logging.getLogger("uploader_gui.start")
ls.register_secret(sys.argv[1])
log.info("before the file: token %s", sys.argv[1])
log.info("before the file, not yet known: %s", sys.argv[2])
log.debug("a debug line is not kept")
try:
    raise ValueError("refused " + sys.argv[1])
except ValueError:
    log.exception("an early failure")
ls.register_secret(sys.argv[2])  # known only after it was logged, before the file opens
ls.configure_logging()
log.info("after the file")
ls.configure_logging()  # again: nothing is written twice
log.info("the end")
print(json.dumps([type(h).__name__ for h in logging.getLogger().handlers]))
"""

FLOOD = """
import logging
from uploader_gui.core import logging_setup as ls

ls.buffer_early_records()
log = logging.getLogger("uploader_gui.flood")
for n in range(ls.EARLY_LIMIT + 5):
    log.info("early line %05d", n)
ls.configure_logging()
"""

NO_FILE = """
import logging
from uploader_gui.core import logging_setup as ls

ls.buffer_early_records()
logging.getLogger("uploader_gui.start").warning("a warning before the file")
logging.getLogger("uploader_gui.start").info("an info line before the file")
ls.configure_logging()
print(len(logging.getLogger().handlers))
"""


def run(script: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO,
                          env={**clean, "UPLOADER_GUI_HOME": str(home)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def log_text(home: Path) -> str:
    return (home / "logs" / "uploader-gui.log").read_text(encoding="utf-8")


def test_early_records_reach_the_file_once_and_scrubbed(tmp_path: Path) -> None:
    proc = run(EARLY, tmp_path, SECRET, LATE_SECRET)
    text = log_text(tmp_path)
    lines = text.splitlines()

    # Each early record once, in order, before the ones logged after the file opened.
    assert text.count("before the file: token [secret]") == 1
    assert text.count("before the file, not yet known: [secret]") == 1
    assert text.count("an early failure") == 1
    assert "ValueError: refused [secret]" in text  # the traceback is kept, scrubbed
    assert SECRET not in text and LATE_SECRET not in text
    assert "a debug line is not kept" not in text
    order = [next(i for i, line in enumerate(lines) if marker in line)
             for marker in ("before the file: token", "an early failure", "after the file",
                            "the end")]
    assert order == sorted(order)
    assert text.count("after the file") == 1 and text.count("the end") == 1
    # Nothing of the buffer is left: the root logger holds the file's handler alone.
    assert json.loads(proc.stdout) == ["PrivateRotatingFileHandler"]
    assert SECRET not in proc.stdout + proc.stderr
    assert (tmp_path / "logs" / "uploader-gui.log").stat().st_mode & 0o777 == 0o600


def test_at_most_the_newest_thousand_are_kept(tmp_path: Path) -> None:
    run(FLOOD, tmp_path)
    kept = [line for line in log_text(tmp_path).splitlines() if "early line" in line]
    assert len(kept) == 1000
    assert kept[0].endswith("early line 00005") and kept[-1].endswith("early line 01004")


def test_without_a_log_file_early_warnings_still_reach_stderr(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the log folder should be")
    proc = run(NO_FILE, tmp_path)
    assert "cannot be written" in proc.stderr
    assert "a warning before the file" in proc.stderr
    assert "an info line before the file" not in proc.stderr
    assert proc.stdout.strip() == "0"  # the buffer is gone: later warnings go to stderr too
