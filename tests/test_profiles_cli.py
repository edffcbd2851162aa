"""`uploader-gui profiles ...`: add, show, set-secret, test against the sandbox, share."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from uploader_gui.cli import profiles as profiles_cli
from uploader_gui.core.secrets import SERVICE, MemoryKeyring, SecretStore
from uploader_gui.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


class Run:
    def __init__(self, backend: MemoryKeyring) -> None:
        self.backend = backend
        self.out: list[str] = []
        self.err: list[str] = []

    def __call__(self, *argv: str, stdin: str = "", store: SecretStore | None = None) -> int:
        import argparse

        parser = argparse.ArgumentParser(prog="uploader-gui")
        sub = parser.add_subparsers(dest="command")
        profiles_parser = profiles_cli.add_profiles_parser(sub)
        self.out, self.err = [], []
        try:
            args = parser.parse_args(["profiles", *argv])
            return profiles_cli.cmd_profiles(
                args, profiles_parser, store=store or SecretStore(self.backend),
                out=self.out.append, err=self.err.append, stdin=io.StringIO(stdin))
        except SystemExit as exc:
            return int(exc.code or 0)

    @property
    def text(self) -> str:
        return "\n".join(self.out + self.err)


@pytest.fixture
def run(keyring_backend) -> Run:
    return Run(keyring_backend)


def test_add_set_secret_show_test_remove_redcap(run: Run, sandbox, keyring_backend) -> None:
    token = sandbox.credentials["redcap_longitudinal_token"]
    assert run("add", "--name", "Study", "--target", "redcap", "--url", sandbox.url + "/api/",
               "--field", "consent_pdf", "--event", "baseline_arm_1", "--size-limit-mb", "20") == 0
    assert "set-secret" in run.text
    assert run("show", "Study") == 0 and "API token: not set" in run.text
    assert run("test", "Study") == 1 and "not set: API token" in run.text

    assert run("set-secret", "Study", "token", stdin=f"  {token}\n") == 0
    assert keyring_backend.entries[(SERVICE, "Study/token")] == token
    assert token not in run.text

    assert run("show", "Study", "--json") == 0
    shown = json.loads(run.out[0])
    assert shown["secrets"] == {"token": "set"} and shown["redcap_event"] == "baseline_arm_1"
    assert shown["size_limit"] == 20 * 1024 * 1024 and token not in run.out[0]

    assert run("test", "Study") == 0
    assert "Connected to REDCap" in run.text and "longitudinal" in run.text
    assert token not in run.text

    assert run("list") == 0 and "Study" in run.text and "REDCap" in run.text
    assert run("remove", "Study") == 0
    assert keyring_backend.entries == {}
    assert run("list") == 0 and "No profiles yet" in run.text


def test_bad_token_reported_in_words(run: Run, sandbox) -> None:
    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    run("set-secret", "C", "token", stdin="wrong-claros-key-000")
    assert run("test", "C") == 1
    assert "refused the API key" in run.text and "wrong-claros-key-000" not in run.text


def test_redox_jwt_profile(run: Run, sandbox) -> None:
    creds = sandbox.credentials
    assert run("add", "--name", "Redox", "--target", "redox", "--url", sandbox.url,
               "--client-id", creds["redox_client_id"], "--key-id", creds["redox_rsa_kid"],
               "--destination", f"{creds['redox_destinations'][0]['ID']}=Sandbox EHR",
               "--production") == 0
    assert run("set-secret", "Redox", "redox-private-key",
               stdin=creds["redox_rsa_private_key"]) == 0
    assert run("test", "Redox") == 0 and "signed JWT" in run.text
    assert run("show", "Redox", "--json") == 0
    shown = json.loads(run.out[0])
    assert shown["destinations"] == [{"ID": creds["redox_destinations"][0]["ID"],
                                      "Name": "Sandbox EHR"}]
    assert shown["test"] is False and shown["secrets"]["redox_private_key"] == "set"
    assert "PRIVATE" not in run.out[0]
    # a role the profile does not use is refused
    assert run("set-secret", "Redox", "token", stdin="x" * 32) == 2


def test_secret_never_from_argv(run: Run, sandbox, keyring_backend) -> None:
    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    assert run("set-secret", "C", "token", "sandbox-claros-key") == 2
    assert keyring_backend.entries == {}


def test_control_characters_refused(run: Run, sandbox, keyring_backend) -> None:
    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    assert run("set-secret", "C", "token", stdin="abc\r\nX-Evil: 1\n") == 1
    assert "control characters" in run.text and "X-Evil" not in run.text
    assert keyring_backend.entries == {}


def test_http_refused_on_add(run: Run) -> None:
    assert run("add", "--name", "R", "--target", "redcap", "--url",
               "http://redcap.example.edu/api/") == 1
    assert "does not use HTTPS" in run.text and "not saved" in run.text
    assert run("list") == 0 and "No profiles yet" in run.text


def test_wrong_flags_for_kind(run: Run) -> None:
    assert run("add", "--name", "C", "--target", "claros", "--url", "https://x.example",
               "--client-id", "c") == 2


def test_no_secure_keyring(run: Run, sandbox) -> None:
    from keyring.backends import fail

    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    assert run("set-secret", "C", "token", stdin="sandbox-claros-key",
               store=SecretStore(fail.Keyring())) == 1
    assert "No secure keyring" in run.text and "GNOME Keyring" in run.text


def test_locked_keyring_is_not_a_bad_token(run: Run, sandbox, keyring_backend) -> None:
    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    run("set-secret", "C", "token", stdin="sandbox-claros-key")
    keyring_backend.locked = True
    assert run("test", "C") == 1
    assert "keyring is locked" in run.text and "refused" not in run.text
    assert run("show", "C") == 0 and "API token: locked" in run.text


def test_export_import(run: Run, tmp_path: Path, monkeypatch, sandbox) -> None:
    run("add", "--name", "C", "--target", "claros", "--url", sandbox.url)
    run("set-secret", "C", "token", stdin="sandbox-claros-key")
    shared = tmp_path / "profiles-for-ward-3.json"
    assert run("export", str(shared)) == 0 and "without secrets" in run.text
    assert "sandbox-claros-key" not in shared.read_text()
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(tmp_path / "ws2"))
    fresh = MemoryKeyring()
    assert run("import", str(shared), store=SecretStore(fresh)) == 0 and "Added: C" in run.text
    assert run("import", str(shared)) == 0 and "Skipped" in run.text
    # the new workstation enters the token once, then the profile works
    assert run("set-secret", "C", "token", stdin="sandbox-claros-key\n",
               store=SecretStore(fresh)) == 0
    assert run("test", "C", store=SecretStore(fresh)) == 0 and "Connected to Claros" in run.text


def test_add_takes_the_workflow_settings(app_home) -> None:
    from uploader_gui.cli.profiles import main
    from uploader_gui.core.profiles import load_profile_set

    code = main(["add", "--name", "Scan station", "--target", "redcap",
                 "--url", "https://redcap.example.edu/api/", "--field", "scan",
                 "--redcap-overwrite", "backup", "--no-confirm", "--watch-folder", str(app_home),
                 "--watch-pattern", r"^(?P<record>\d+)_",
                 "--identity-fields", "first_name, last_name,dob"])
    assert code == 0
    cfg = load_profile_set()["Scan station"].config
    assert cfg.redcap_identity_fields == ["first_name", "last_name", "dob"]
    assert (cfg.redcap_overwrite, cfg.confirm, cfg.watch_auto) == ("backup", False, True)
    assert cfg.watch_pattern == r"^(?P<record>\d+)_" and cfg.watch_folder == str(app_home)
    with pytest.raises(SystemExit):
        main(["add", "--name", "Bad", "--target", "claros", "--url", "https://c.example",
              "--redcap-overwrite", "backup"])
