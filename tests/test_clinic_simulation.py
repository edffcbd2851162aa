"""A clinic on loopback: five desks and a scan server share one PostgreSQL history.

300 documents go to the sandbox's Claros (5 desks × 50 with `send`, 50 through the
scan server's `watch`). Two desks are killed with SIGKILL mid-batch and resume
afterwards. Then a desk sends 10 files another desk already sent to the same
patients: every one is refused as a duplicate, naming the desk and user that
sent it. At the end every document is recorded once, received once (or held,
for a Claros upload caught mid-request), and the audit trail verifies; one
audit row edited by hand is then named by `audit verify`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import filemaker as fm
import psycopg

from uploader_gui.core.profiles import Profile, save_profile_set
from uploader_gui.core.targets import Credentials, Destination, TargetConfig

REPO = Path(__file__).resolve().parent.parent
DESKS = 5
PER_DESK = 50


def env_for(home: Path, desk: str, database: str, token: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADER_GUI_")}
    return {**clean, "UPLOADER_GUI_HOME": str(home), "UPLOADER_GUI_DATABASE": database,
            "UPLOADER_GUI_WORKSTATION": desk, "UPLOADER_GUI_TOKEN": token}


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "uploader_gui", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def arrived(sandbox, prefix: str) -> int:
    return sum(r["filename"].startswith(prefix) for r in sandbox.received("claros"))


def recorded(database: str, desk: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT COUNT(*) FROM jobs WHERE workstation = %s", (desk,)).fetchone()
    return int(row[0]) if row else 0


def test_five_desks_and_a_scan_server_share_one_history(sandbox, postgres_db, tmp_path,
                                                        monkeypatch) -> None:
    token = sandbox.credentials["claros_api_key"]
    folders = {}
    for d in range(1, DESKS + 1):
        folder = tmp_path / f"desk{d}"
        for i in range(PER_DESK):
            name = f"desk{d}-{i:02}.pdf"
            fm.write(folder / name, fm.pdf_bytes(1, text=name))
        folders[d] = folder
    scans = tmp_path / "share"
    for i in range(50):
        name = f"{1001 + i % 3}_scan-{i:02}.pdf"
        fm.write(scans / name, fm.pdf_bytes(1, text=name))
    server_home = tmp_path / "scan-server"
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(server_home))
    save_profile_set([Profile(TargetConfig(kind="claros", base_url=sandbox.url, name="Scans",
                                           watch_pattern=r"^(?P<patient>\d+)_", confirm=False),
                              Credentials(), Destination())])
    # Every upload takes a moment, so that the kills land mid-batch.
    sandbox.add_fault(r"^/patients/\d+/pdf/$", action="hang", delay=0.03, times=100_000)

    desks = {d: start(["send", "--target", "claros", "--url", sandbox.url, "--patient",
                       str(1001 + d % 3), "--concurrency", "2", "--json", str(folders[d])],
                      env_for(tmp_path / f"home{d}", f"desk-{d}", postgres_db, token))
             for d in desks_range()}
    server = start(["watch", "--profile", "Scans", "--settle", "0.3", "--json", str(scans)],
                   env_for(server_home, "scan-server", postgres_db, token))
    deadline = time.monotonic() + 120
    # Two desks die mid-batch, each as soon as all its jobs are recorded and some have
    # arrived: one loop watches both (desk 4 is not left sending while desk 3 is awaited).
    alive = {3, 4}
    while alive and time.monotonic() < deadline:
        for d in sorted(alive):
            if arrived(sandbox, f"desk{d}-") >= 10 and recorded(postgres_db,
                                                               f"desk-{d}") >= PER_DESK:
                assert arrived(sandbox, f"desk{d}-") < PER_DESK, "the kill came too late"
                os.kill(desks[d].pid, signal.SIGKILL)
                alive.discard(d)
        time.sleep(0.02)
    assert not alive, f"desks {sorted(alive)} never had all their jobs recorded"
    for d, proc in desks.items():
        proc.communicate(timeout=180)
        assert proc.returncode == (-signal.SIGKILL if d in (3, 4) else 0), d
    while time.monotonic() < deadline and arrived(sandbox, "100") < 50:
        time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=60)
    sandbox.clear_faults()
    # The killed desks start again and resume what was left.
    for d in (3, 4):
        resume = subprocess.run([sys.executable, "-m", "uploader_gui", "resume", "--json"],
                                capture_output=True, text=True, timeout=180, cwd=REPO,
                                env=env_for(tmp_path / f"home{d}", f"desk-{d}", postgres_db,
                                            token))
        assert resume.returncode in (0, 1), resume.stderr  # 1: some held for a person

    # Desk 2 sends ten of desk 1's documents to the same patient: all refused, by name.
    again = tmp_path / "again"
    for i in range(10):
        (again / f"desk1-{i:02}.pdf").parent.mkdir(exist_ok=True)
        (again / f"desk1-{i:02}.pdf").write_bytes((folders[1] / f"desk1-{i:02}.pdf").read_bytes())
    dup = subprocess.run([sys.executable, "-m", "uploader_gui", "send", "--target", "claros",
                          "--url", sandbox.url, "--patient", str(1001 + 1 % 3), "--json",
                          str(again)], capture_output=True, text=True, timeout=180, cwd=REPO,
                         env=env_for(tmp_path / "home2", "desk-2", postgres_db, token))
    rows = [json.loads(line) for line in dup.stdout.splitlines()]
    assert dup.returncode == 1 and len(rows) == 10
    assert all(r["status"] == "rejected" and "at desk-1" in r["error"] for r in rows), rows[0]

    with psycopg.connect(postgres_db) as conn:
        jobs = conn.execute("SELECT name, status, workstation, began_sending FROM jobs").fetchall()
    names = [j[0] for j in jobs]
    assert len(names) == len(set(names)) == DESKS * PER_DESK + 50  # every document once
    counts: dict[str, int] = {}
    for r in sandbox.received("claros"):
        if r["filename"].startswith(("desk", "100")):
            counts[r["filename"]] = counts.get(r["filename"], 0) + 1
    assert max(counts.values()) == 1  # nothing received twice
    held = {j[0] for j in jobs if j[1] == "interrupted"}
    assert all(j[3] for j in jobs if j[0] in held)  # held only when it may have arrived
    assert set(counts) | held == set(names)  # received, or held for a person
    assert {j[2] for j in jobs} == {*(f"desk-{d}" for d in range(1, 6)), "scan-server"}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "uploader_gui", "audit", "verify"],
                              capture_output=True, text=True, timeout=120, cwd=REPO,
                              env=env_for(tmp_path / "it", "it-desk", postgres_db, token))

    clean = verify()
    assert clean.returncode == 0 and "intact" in clean.stdout, clean.stdout + clean.stderr
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_change")
        conn.execute("UPDATE audit SET destination = 'patient 9999' WHERE seq = 42")
    tampered = verify()
    assert tampered.returncode == 1 and "entry 42" in tampered.stdout


def desks_range() -> range:
    return range(1, DESKS + 1)
