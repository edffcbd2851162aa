"""The keyring facade against a real Secret Service: GNOME Keyring on a private D-Bus.

Each test starts its own session ``dbus-daemon`` (without service activation) and an unlocked
``gnome-keyring-daemon --components=secrets`` (password on stdin) with its data in a
temporary folder, so the user's own keyring is never touched. The packages come from
``sh packaging/install-system-deps.sh --test``. When they cannot start, the tests fail
under CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from uploader_gui.core.secrets import (
    KeyringLockedError,
    SecretStore,
)
from uploader_gui.sandbox import Sandbox

pytestmark = pytest.mark.secret_service

REPO = Path(__file__).resolve().parent.parent
TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
KEYRING_PASSWORD = "test-keyring-password"
LOGIN = "/org/freedesktop/secrets/collection/login"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _unavailable(why: str) -> None:
    msg = (f"The real Secret Service test could not start: {why}. Install the test packages "
           "with `sh packaging/install-system-deps.sh --test` (gnome-keyring, dbus-x11).")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def _secret_service_backend():
    from keyring.backends import SecretService

    return SecretService.Keyring()


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed")
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(run_dir),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    # A session bus without service activation: an early call must not make D-Bus start
    # a second, locked gnome-keyring of its own ("another secret service is running").
    config = tmp_path / "session.conf"
    config.write_text(BUS_CONFIG.format(socket=run_dir / "bus"))
    bus = subprocess.Popen(
        ["dbus-daemon", "--nofork", "--print-address=1", f"--config-file={config}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    procs = [bus]
    try:
        address = bus.stdout.readline().strip() if bus.stdout else ""
        if not address:
            _unavailable("dbus-daemon printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=env,
        )
        procs.append(daemon)
        assert daemon.stdin is not None
        daemon.stdin.write(KEYRING_PASSWORD + "\n")
        daemon.stdin.close()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        # Ready when the login collection exists and is unlocked. Asking for a secret any
        # earlier could race the unlock and leave the collection locked.
        import secretstorage

        deadline = time.monotonic() + 20
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                _unavailable(f"gnome-keyring-daemon exited ({daemon.returncode}): "
                             f"{(daemon.stderr.read() if daemon.stderr else '')[:300]}")
            try:
                conn = secretstorage.dbus_init()
                try:
                    login = secretstorage.Collection(conn, LOGIN)
                    if not login.is_locked():
                        break
                finally:
                    conn.close()
            except Exception as exc:  # still starting
                last = exc
            time.sleep(0.05)
        else:
            _unavailable(f"the Secret Service did not unlock ({type(last).__name__}: {last})")
        yield env
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_facade_stores_reads_and_deletes_a_token(secret_service, tmp_path: Path) -> None:
    store = SecretStore.detect(_secret_service_backend, timeout=10)
    assert store.status.secure and store.persistent
    assert store.status.name == "keyring.backends.SecretService.Keyring"
    assert store.status.locked is False
    store.set("Study REDCap", "token", TOKEN + "\n")
    # a second facade (as after a restart) reads the same entry
    again = SecretStore.detect(_secret_service_backend, timeout=10)
    assert again.get("Study REDCap", "token").reveal() == TOKEN
    assert again.state("Study REDCap", ("token", "platform_key")) == {"token": "set",
                                                                      "platform_key": "not set"}
    # the keyring file on disk is encrypted: the token is not in it
    files = [f for f in (tmp_path / "data").rglob("*") if f.is_file()]
    assert files, "gnome-keyring wrote no keyring file"
    assert all(TOKEN.encode() not in f.read_bytes() for f in files)
    again.delete("Study REDCap", "token")
    assert store.get("Study REDCap", "token") is None


def test_locked_keyring_reported_as_locked(secret_service) -> None:
    import secretstorage

    store = SecretStore.detect(_secret_service_backend, timeout=10)
    store.set("Claros", "token", "sandbox-claros-key")
    conn = secretstorage.dbus_init()
    try:
        secretstorage.get_default_collection(conn).lock()
    finally:
        conn.close()
    relocked = SecretStore.detect(_secret_service_backend, timeout=10)
    assert relocked.status.secure and relocked.status.locked is True
    assert "locked" in relocked.status.message
    # There is no one to answer the unlock prompt here: it is dismissed, as a cancel is.
    with pytest.raises(KeyringLockedError) as info:
        relocked.get("Claros", "token")
    assert "keyring is locked" in str(info.value)
    assert relocked.state("Claros", ("token",)) == {"token": "locked"}


def test_new_workstation_imports_sets_token_once_and_tests(secret_service, tmp_path: Path) -> None:
    """IT's flow through the real CLI and the real keyring, in separate processes."""
    with Sandbox(tmp_path / "sandbox") as sb:
        shared = tmp_path / "clinic.json"
        shared.write_text(json.dumps({"profiles": [{
            "kind": "redcap", "name": "Study", "base_url": f"{sb.url}/api/",
            "redcap_field": "consent_pdf", "redcap_event": "baseline_arm_1"}]}))
        env = {k: v for k, v in secret_service.items() if not k.startswith("UPLOADER_GUI_")}
        env["UPLOADER_GUI_HOME"] = str(tmp_path / "home")

        def cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "uploader_gui.cli.profiles", *argv],
                                  input=stdin, capture_output=True, text=True, timeout=60,
                                  cwd=REPO, env=env)

        steps = [cli("import", str(shared)),
                 cli("set-secret", "Study", "token", stdin=TOKEN + "\n"),
                 cli("show", "Study"),
                 cli("test", "Study")]
        for proc in steps:
            assert proc.returncode == 0, proc.stderr
            assert TOKEN not in proc.stdout + proc.stderr
        assert "API token: set" in steps[2].stdout
        assert "Connected to REDCap" in steps[3].stdout
        for f in (tmp_path / "home").rglob("*"):
            assert not f.is_file() or TOKEN.encode() not in f.read_bytes()
