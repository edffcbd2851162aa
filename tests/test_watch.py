"""The watched folder, headless, against the sandbox."""

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

from uploader_gui.core.profiles import Profile, save_profile_set
from uploader_gui.core.targets import Credentials, Destination, TargetConfig
from uploader_gui.core.watch import PatternError, compile_pattern, destination_from_name

REPO = Path(__file__).resolve().parent.parent
PATTERN = r"^(?P<patient>\d+)_(?P<doctype>[a-z]+)"


def save_profile(sandbox, kind: str = "claros", **cfg) -> str:
    if kind == "claros":
        config = TargetConfig(kind="claros", base_url=sandbox.url, name="Front desk",
                              watch_pattern=PATTERN, confirm=False, **cfg)
    else:
        config = TargetConfig(kind="redcap", base_url=sandbox.url + "/api/", name="Study",
                              redcap_field="scan", confirm=False, **cfg)
    save_profile_set([Profile(config, Credentials(), Destination(field=config.redcap_field))])
    return config.name


def watch(*args: str, home: Path, token: str, database: str | None = None,
          **kw) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    extra = {"UPLOADER_GUI_DATABASE": database} if database else {}
    return subprocess.Popen(
        [sys.executable, "-m", "uploader_gui", "watch", *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**clean, "UPLOADER_GUI_HOME": str(home), "UPLOADER_GUI_TOKEN": token, **extra},
        **kw)


def outcomes(proc: subprocess.Popen, timeout: float = 120) -> dict[str, dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode in (0, 1), err
    return {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}


def received(sandbox, prefix: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in sandbox.received("claros"):
        if r["filename"].startswith(prefix):
            counts[r["filename"]] = counts.get(r["filename"], 0) + 1
    return counts


def test_filename_rule() -> None:
    rx = compile_pattern(PATTERN)
    d = destination_from_name("1042_referral.pdf", rx, "claros", Destination())
    assert d is not None and (d.patient_id, d.document_type) == ("1042", "referral")
    rec = destination_from_name("7_scan.pdf", compile_pattern(r"(?P<record>\d+)_"), "redcap",
                                Destination(field="scan"))
    assert rec is not None and (rec.record, rec.field) == ("7", "scan")
    assert destination_from_name("letter.pdf", rx, "claros", Destination()) is None
    with pytest.raises(PatternError, match="named group"):
        compile_pattern(r"\d+_")
    with pytest.raises(PatternError, match="not a valid pattern"):
        compile_pattern(r"(?P<patient>")


def test_watch_once_matched_unmatched_half_written_and_bad(sandbox, tmp_path, app_home) -> None:
    name = save_profile(sandbox)
    scans = tmp_path / "scans"
    fm.good_pdf(scans / "1001_referral.pdf")
    fm.good_jpeg(scans / "1002_card.jpg")
    fm.good_pdf(scans / "letter-without-id.pdf")
    fm.truncated_pdf(scans / "1003_broken.pdf")
    fm.write(scans / ".hidden.pdf", fm.pdf_bytes(1))
    growing = scans / "1001_growing.pdf"
    full = fm.pdf_bytes(2)
    growing.write_bytes(full[:100])

    scanned = threading.Event()  # the first pass is over: the scanner may finish

    def keep_writing() -> None:  # a scanner still writing: the file changes every 0.3 s
        step, at, last = max(1, len(full) // 12), 100, 0
        while not scanned.wait(0.3):  # however slow the watcher is to start and look
            if at < len(full) - 1:  # never the last byte: it is still being written
                with growing.open("r+b") as fh:
                    fh.seek(at)
                    fh.write(full[at:min(at + step, len(full) - 1)])
                at = min(at + step, len(full) - 1)
            last = max(time.time_ns(), last + 1_000_000)  # a new mtime every time
            os.utime(growing, ns=(last, last))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        proc = watch("--profile", name, "--once", "--settle", "1", "--json", str(scans),
                     home=app_home, token="sandbox-claros-key")
        results = outcomes(proc)
    finally:
        scanned.set()
        writer.join()
    assert proc.returncode == 1  # one file failed
    assert results["1001_referral.pdf"]["status"] == "sent"
    assert results["1002_card.jpg"]["status"] == "sent"  # converted to PDF for Claros
    assert results["letter-without-id.pdf"]["status"] == "needs_destination"
    assert results["1003_broken.pdf"]["status"] == "rejected"
    assert "1001_growing.pdf" not in results  # still being written: left alone
    assert ".hidden.pdf" not in results
    assert sorted(p.name for p in (scans / "Sent").iterdir()) == [
        f"1001_referral.job-{results['1001_referral.pdf']['job_id']}.pdf",
        f"1002_card.job-{results['1002_card.jpg']['job_id']}.jpg",
    ]
    failed = scans / "Failed"
    assert (failed / "1003_broken.pdf").exists()
    reason = (failed / "1003_broken.pdf.txt").read_text()
    assert "incomplete" in reason
    assert (scans / "letter-without-id.pdf").exists() and growing.exists()
    assert received(sandbox, "1001_referral") == {"1001_referral.pdf": 1}
    assert received(sandbox, "1002_card") == {"1002_card.pdf": 1}
    [stored] = [r for r in sandbox.received("claros") if r["filename"] == "1001_referral.pdf"]
    assert stored["patient_id"] == 1001

    # Once the scanner has finished, the next pass sends it.
    growing.write_bytes(full)
    again = outcomes(watch("--profile", name, "--once", "--settle", "0.5", "--json", str(scans),
                           home=app_home, token="sandbox-claros-key"))
    assert again["1001_growing.pdf"]["status"] == "sent"
    assert "letter-without-id.pdf" in again  # still reported, still left in place
    assert received(sandbox, "1001_growing") == {"1001_growing.pdf": 1}


def test_watch_stops_cleanly_and_resumes_without_duplicates(sandbox, tmp_path, app_home) -> None:
    name = save_profile(sandbox)
    scans = tmp_path / "scans"
    names = [f"{1001 + i % 3}_batch{i:02}.pdf" for i in range(12)]
    for n in names:
        fm.write(scans / n, fm.pdf_bytes(1, text=n))
    sandbox.add_fault(r"^/patients/\d+/pdf/$", action="hang", delay=0.3, times=1000)

    def batch_received() -> dict[str, int]:
        return {k: v for k, v in received(sandbox, "100").items() if "_batch" in k}

    proc = watch("--profile", name, "--settle", "0.5", "--json", str(scans),
                 home=app_home, token="sandbox-claros-key")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(batch_received()) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err
    sandbox.clear_faults()
    # Nothing is half-moved: every file is either still in the folder or in Sent/.
    left = {p.name for p in scans.iterdir() if p.is_file()}
    sent_dir = {p.name.split(".job-")[0] + ".pdf" for p in (scans / "Sent").glob("*.pdf")}
    assert left | sent_dir == set(names) and not (left & sent_dir)

    final = outcomes(watch("--profile", name, "--once", "--settle", "0.5", "--json", str(scans),
                           home=app_home, token="sandbox-claros-key"))
    assert all(r["status"] in ("sent", "duplicate") for r in final.values()), final
    assert not [p for p in scans.iterdir() if p.is_file()]
    counts = batch_received()
    assert set(counts) == set(names) and max(counts.values()) == 1  # all there, none twice


def test_watch_usage_errors(sandbox, tmp_path, app_home) -> None:
    name = save_profile(sandbox)
    missing = watch("--profile", name, "--once", str(tmp_path / "nope"), home=app_home, token="x")
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2 and "no such folder" in err
    bad = watch("--profile", name, "--once", "--pattern", r"\d+", str(tmp_path), home=app_home,
                token="x")
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "named group" in err


def test_watch_reports_its_health_for_monitoring(sandbox, tmp_path, app_home) -> None:
    """A status file after every scan; `watch --status` says running and scanning (0), then,
    once the watcher stopped, not running (1). The folder may come from the profile."""
    scans = tmp_path / "scans"
    scans.mkdir()
    name = save_profile(sandbox, watch_folder=str(scans))
    fm.good_pdf(scans / "1001_letter.pdf")
    (scans / "no-rule-match.pdf").write_bytes(fm.pdf_bytes(1))
    status_file = tmp_path / "run" / "watch.json"
    proc = watch("--profile", name, "--settle", "0.3", "--status-file", str(status_file),
                 "--json", home=app_home, token=sandbox.credentials["claros_api_key"])
    try:
        deadline = time.monotonic() + 60
        health = {}
        while time.monotonic() < deadline:
            if status_file.exists():
                health = json.loads(status_file.read_text())
                if health.get("handled", {}).get("sent"):
                    break
            time.sleep(0.1)
        assert health["handled"]["sent"] == 1 and health["pending"] == 1  # the unmatched one
        assert health["pid"] == proc.pid and health["folder"] == str(scans)
        assert oct(status_file.stat().st_mode & 0o777) == "0o600"
        check = watch("--profile", name, "--status", "--status-file", str(status_file),
                      home=app_home, token="")
        out, _ = check.communicate(timeout=60)
        assert check.returncode == 0 and "1 file(s) waiting" in out and "1 sent" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    stopped = watch("--profile", name, "--status", "--status-file", str(status_file), "--json",
                    home=app_home, token="")
    out, _ = stopped.communicate(timeout=60)
    assert stopped.returncode == 1 and json.loads(out)["healthy"] is False
    assert "not running" in json.loads(out)["message"]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_two_watchers_on_one_folder_send_each_file_once(sandbox, tmp_path, app_home, store,
                                                        request, monkeypatch) -> None:
    """Two scan servers watch one share: each file is claimed by one of them and sent once.
    SQLite: both on this computer, one history; PostgreSQL: two homes, the clinic's history."""
    database = request.getfixturevalue("postgres_db") if store == "postgresql" else None
    homes = [app_home, tmp_path / "server-b"] if database else [app_home, app_home]
    scans = tmp_path / "share"
    names = [f"{1001 + i % 3}_two-{store}{i:02}.pdf" for i in range(20)]
    for n in names:
        fm.write(scans / n, fm.pdf_bytes(1, text=n))
    for home in dict.fromkeys(homes):
        monkeypatch.setenv("UPLOADER_GUI_HOME", str(home))  # save_profile writes to this home
        save_profile(sandbox)
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(app_home))
    # The history exists before the servers start (first starts are tested on their own).
    from uploader_gui.core.history_store import open_store

    if database:
        monkeypatch.setenv("UPLOADER_GUI_DATABASE", database)
    open_store().close()
    sandbox.add_fault(r"^/patients/\d+/pdf/$", action="hang", delay=0.05, times=1000)
    procs = [watch("--profile", "Front desk", "--once", "--settle", "0.5", "--json", str(scans),
                   home=home, token="sandbox-claros-key", database=database) for home in homes]
    results = [outcomes(p) for p in procs]
    sandbox.clear_faults()
    counts = {k: v for k, v in received(sandbox, "100").items() if f"_two-{store}" in k}
    assert set(counts) == set(names) and max(counts.values()) == 1  # each file sent once
    assert all(r["status"] == "sent" for res in results for r in res.values())
    handled = [set(res) for res in results]
    assert not (handled[0] & handled[1]) and handled[0] | handled[1] == set(names)
