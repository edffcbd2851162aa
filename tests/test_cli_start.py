"""The headless commands start fast: they import only what they need, never Qt.

Each command runs in a fresh interpreter, as a user runs it, and reports the
modules it had imported when it exited. The file-check helper `send` and
`validate` fork first thing keeps its limits, and ends with the command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import filemaker as fm
import pytest

from uploader_gui.cli.arguments import HELP, build_parser, command_of
from uploader_gui.core.validation.isolation import fork_is_safe

REPO = Path(__file__).resolve().parent.parent

#: Runs `uploader-gui ARGS...` in this interpreter and writes sys.modules at exit.
RUN_AND_LIST = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "uploader-gui"
from uploader_gui.cli import main
sys.exit(main())
"""

COMMAND_MODULES = {"uploader_gui.cli." + m for m in (
    "send", "validate", "history", "watch", "profiles", "audit", "scan_commands", "selftest")}


def imported_by(*args: str, home: Path, tmp_path: Path, **env: str) -> tuple[set[str], str]:
    listing = tmp_path / "modules.json"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, str(listing), *args], capture_output=True,
        text=True, timeout=120, cwd=REPO, env={**clean, "UPLOADER_GUI_HOME": str(home), **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(json.loads(listing.read_text())), proc.stdout


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_headless_commands_import_no_qt_and_no_other_command(sandbox, tmp_path: Path,
                                                             app_home: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "letter.pdf")

    sent, out = imported_by("send", "--target", "claros", "--url", sandbox.url, "--patient",
                            "1001", str(pdf), home=app_home, tmp_path=tmp_path,
                            UPLOADER_GUI_TOKEN="sandbox-claros-key")
    assert "1 of 1 file(s) sent" in out
    # It ends without the interpreter's teardown, but after the exit handlers: the
    # module list above was written by one, and the log holds what was logged.
    assert "history database migrated" in (app_home / "logs" / "uploader-gui.log").read_text()
    assert "PySide6" not in packages(sent) and not any(m.startswith("uploader_gui.gui")
                                                       for m in sent)
    assert COMMAND_MODULES & sent == {"uploader_gui.cli.send"}
    # An ad-hoc Claros target needs neither the keyring nor Redox's JWT and crypto
    # stack, and the parsers are imported by the helper process, not by the command.
    assert not packages(sent) & {"keyring", "jwt", "cryptography", "pikepdf", "pypdf", "PIL"}

    checked, out = imported_by("validate", str(pdf), home=app_home, tmp_path=tmp_path)
    assert "1 of 1 file(s) can be sent" in out
    assert "PySide6" not in packages(checked)
    assert COMMAND_MODULES & checked == {"uploader_gui.cli.validate"}
    assert not packages(checked) & {"requests", "urllib3", "keyring", "pikepdf", "pypdf"}
    assert "uploader_gui.core.history" not in checked

    listed, out = imported_by("history", home=app_home, tmp_path=tmp_path)
    assert "letter.pdf" in out and "1 job(s)." in out
    assert "PySide6" not in packages(listed)
    assert COMMAND_MODULES & listed == {"uploader_gui.cli.history"}
    assert not packages(listed) & {"requests", "urllib3", "keyring", "pikepdf", "pypdf", "PIL"}
    assert "uploader_gui.core.dispatcher" not in listed


@pytest.mark.parametrize("argv", [
    ["send", "--target", "claros", "--url", "http://127.0.0.1:1", "--patient", "7", "a.pdf"],
    ["--sandbox"],
    ["validate", "--json", "--target", "redox", "x.png", "y"],
    ["history", "--status", "sent", "--limit", "3"],
    ["profiles", "set-secret", "desk", "redox-secret"],
    ["audit", "export", "-o", "out.csv"],
    ["split", "batch.pdf", "--json"],
])
def test_one_commands_options_parse_as_the_whole_command_line(argv: list[str]) -> None:
    assert vars(build_parser(command_of(argv)).parse_args(argv)) == \
        vars(build_parser().parse_args(argv))


def test_the_command_list_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_of(["--sandbox"]) is None and command_of(["sendd"]) is None
    with pytest.raises(SystemExit):
        build_parser(command_of(["send", "--help"])).parse_args(["--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in HELP)


FORKED_HELPER = """
import json, sys
from uploader_gui.core.validation.isolation import IsolatedValidator, preload_for
png, pdf = sys.argv[1], sys.argv[2]
out = {}
with IsolatedValidator(workers=1, fork=True, memory_cap=64 * 1024 * 1024,
                       preload=preload_for([png])).start() as v:
    helper = v._idle[0].proc.pid
    out["cmdline"] = open(f"/proc/{helper}/cmdline", "rb").read().decode().split("\\0")
    out["mine"] = open("/proc/self/cmdline", "rb").read().decode().split("\\0")
    out["huge"] = v.validate(png).to_json()
    v.timeout = 0
    out["slow"] = v.validate(pdf).to_json()
    v.timeout = 30
    out["pdf"] = v.validate(pdf).to_json()
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="helpers are forked on Linux only")
def test_a_forked_helper_keeps_the_time_limit_and_the_memory_cap(tmp_path: Path) -> None:
    # 6000 x 6000 RGB needs about 100 MB to decode; the file itself is small.
    png = fm.good_png(tmp_path / "huge.png", size=(6000, 6000))
    pdf = fm.good_pdf(tmp_path / "a.pdf")
    proc = subprocess.run([sys.executable, "-c", FORKED_HELPER, str(png), str(pdf)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=True)
    out = json.loads(proc.stdout)
    assert out["cmdline"] == out["mine"]  # forked: not a new interpreter ("spawn_main")
    assert out["huge"]["ok"] is False and out["huge"]["problems"][0]["code"] == "too_complex"
    assert "memory" in out["huge"]["problems"][0]["message"]
    assert out["slow"]["ok"] is False and "took longer than" in out["slow"]["problems"][0]["message"]
    assert out["pdf"]["ok"] is True  # the helper killed at its time limit was replaced


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="helpers are forked on Linux only")
def test_helpers_are_forked_only_from_a_process_with_one_thread() -> None:
    alone = subprocess.run(
        [sys.executable, "-c", "from uploader_gui.core.validation.isolation import fork_is_safe;"
         "print(fork_is_safe())"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert alone.stdout.strip() == "True", alone.stderr
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not fork_is_safe()
    finally:
        stop.set()
        other.join()


ORPHAN = """
import os, signal, sys
from uploader_gui.cli import prestart
prestart.start_validator([sys.argv[1]], 1)
print(prestart._started._idle[0].proc.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="helpers are forked on Linux only")
def test_the_helper_started_first_ends_when_the_command_is_killed(tmp_path: Path) -> None:
    pdf = fm.good_pdf(tmp_path / "a.pdf")
    printed = tmp_path / "pid.txt"
    with printed.open("w") as out:  # a file: a helper left behind cannot hold a pipe open
        proc = subprocess.run([sys.executable, "-c", ORPHAN, str(pdf)], stdout=out,
                              stderr=subprocess.DEVNULL, timeout=60, cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    helper = int(printed.read_text().split()[0])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _running(helper):
            time.sleep(0.1)
        assert not _running(helper), "the helper outlived the command that started it"
    finally:
        if _running(helper):
            os.kill(helper, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended (its parent, init, reaps it)


EARLY = """
import json, sys
from uploader_gui.cli import prestart
from uploader_gui.core.validation.result import size_limit
prestart.start_validator([sys.argv[1]], 1, target="claros", check_now=True)
started = prestart._started
asked = list(started._early)
helper = next(iter(started._early.values())).proc.pid
with prestart.validator(1) as v:
    result = v.validate(sys.argv[1], "claros", size_limit("claros"))
    other = v.validate(sys.argv[2], "claros", size_limit("claros"))  # not asked early
    print(json.dumps({"asked": [list(a) for a in asked], "same_helper": v._idle[0].proc.pid == helper,
                      "ok": result.ok, "sha": result.sha256, "other_ok": other.ok,
                      "left": len(v._early)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="helpers are forked on Linux only")
def test_send_of_one_file_has_it_checked_while_the_command_starts(tmp_path: Path) -> None:
    """`send --target KIND FILE`: the helper forked first starts on the file at once, and the
    command's own check of that file takes that answer (the same helper, no second check)."""
    import hashlib

    from uploader_gui.core.validation.result import size_limit

    pdf = fm.good_pdf(tmp_path / "early.pdf")
    bad = tmp_path / "not.pdf"
    bad.write_bytes(b"plain text, not a PDF")
    proc = subprocess.run([sys.executable, "-c", EARLY, str(pdf), str(bad)], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["asked"] == [["validate", str(pdf), "claros", size_limit("claros")]]
    assert out["same_helper"] and out["left"] == 0
    assert out["ok"] and out["sha"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert out["other_ok"] is False  # asked the usual way, answered the usual way
