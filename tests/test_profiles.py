"""Profiles on disk: no secrets, HTTPS only, CA bundles, import and export for other workstations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uploader_gui.core.profiles import (
    Profile,
    ProfileError,
    check_config,
    config_from_json,
    export_profiles,
    import_profiles,
    load_profile_set,
    load_profiles,
    profiles_path,
    save_profile_set,
    save_profiles,
)
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig

TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def redcap(name: str = "Study REDCap", url: str = "https://redcap.example.edu/api/") -> Profile:
    return Profile(TargetConfig("redcap", url, name=name, redcap_field="consent_pdf",
                                redcap_event="baseline_arm_1"),
                   Credentials(token=Secret(TOKEN)),
                   Destination(field="consent_pdf", event="baseline_arm_1", repeat_instance=1))


def redox() -> Profile:
    return Profile(TargetConfig("redox", "https://api.redoxengine.com", name="Redox EHR",
                                blob_url="https://blob.redoxengine.com", client_id="client-1",
                                key_id="kid-1", destinations=[{"ID": "dest-1", "Name": "EHR"}],
                                size_limit=30 * 1024 * 1024),
                   Credentials(redox_private_key=Secret("-----BEGIN PRIVATE KEY-----x")))


def test_round_trip_without_secrets(app_home: Path) -> None:
    path = save_profile_set([redcap(), redox()])
    assert path == profiles_path() and path.is_relative_to(app_home)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = path.read_text()
    assert TOKEN not in text and "PRIVATE KEY" not in text
    assert "token" not in json.loads(text)["profiles"][0]
    loaded = load_profile_set()
    assert list(loaded) == ["Study REDCap", "Redox EHR"]
    r = loaded["Study REDCap"]
    assert r.config.redcap_event == "baseline_arm_1" and r.defaults.repeat_instance == 1
    assert not r.credentials.token  # credentials come from the keyring, not the file
    assert loaded["Redox EHR"].config.destinations == [{"ID": "dest-1", "Name": "EHR"}]
    # the older API still works
    assert load_profiles()["Redox EHR"].client_id == "client-1"
    cfgs = load_profiles()
    cfgs["Redox EHR"].test = False
    save_profiles(cfgs)
    assert load_profile_set()["Study REDCap"].defaults.field == "consent_pdf"  # defaults kept
    assert load_profiles()["Redox EHR"].test is False


@pytest.mark.parametrize("url", ["http://redcap.example.edu/api/", "http://10.1.2.3/"])
def test_plain_http_refused_at_save(url: str) -> None:
    with pytest.raises(ProfileError) as info:
        save_profile_set([redcap(url=url)])
    assert "does not use HTTPS" in str(info.value)
    assert not profiles_path().exists()


def test_loopback_http_allowed() -> None:
    save_profile_set([redcap(url="http://127.0.0.1:8765/api/")])
    assert "Study REDCap" in load_profile_set()


def test_checks_in_words(tmp_path: Path) -> None:
    cfg = TargetConfig("redox", "https://api.redoxengine.com", name=" padded ",
                       blob_url="http://blob.example.com", auth="jwt", size_limit=-1,
                       ca_bundle=str(tmp_path / "missing.pem"))
    problems = " ".join(check_config(cfg))
    for words in ("without spaces", "does not use HTTPS", "client ID", "size limit", "CA bundle"):
        assert words in problems
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    assert "no PEM certificate" in " ".join(check_config(TargetConfig(
        "claros", "https://backend.claros.health", name="C", ca_bundle=str(junk))))


def test_secret_keys_in_a_file_are_refused() -> None:
    with pytest.raises(ValueError, match="never hold secrets"):
        config_from_json({"kind": "claros", "base_url": "https://x", "name": "C", "token": "k"})


def test_export_then_import_on_another_workstation(tmp_path: Path, monkeypatch) -> None:
    save_profile_set([redcap(), redox()])
    shared = tmp_path / "clinic-profiles.json"
    assert export_profiles(shared) == ["Study REDCap", "Redox EHR"]
    assert TOKEN not in shared.read_text()
    data = json.loads(shared.read_text())
    assert data["format"] == "uploader-gui profiles" and len(data["profiles"]) == 2

    monkeypatch.setenv("UPLOADER_GUI_HOME", str(tmp_path / "workstation-2"))
    result = import_profiles(shared)
    assert result.added == ["Study REDCap", "Redox EHR"]
    assert load_profile_set()["Study REDCap"].defaults.event == "baseline_arm_1"
    again = import_profiles(shared)
    assert again.skipped == ["Study REDCap", "Redox EHR"] and not again.added
    assert import_profiles(shared, replace=True).replaced == ["Study REDCap", "Redox EHR"]


def test_import_is_all_or_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    good = {"kind": "claros", "base_url": "https://backend.claros.health", "name": "Claros"}
    insecure = {"kind": "claros", "base_url": "http://backend.example.org", "name": "Plain"}
    bad.write_text(json.dumps({"profiles": [good, insecure]}))
    with pytest.raises(ProfileError, match="does not use HTTPS"):
        import_profiles(bad)
    assert load_profile_set() == {}
    bad.write_text("{not json")
    with pytest.raises(ProfileError, match="not a valid profile file"):
        import_profiles(bad)


def test_export_unknown_name(tmp_path: Path) -> None:
    save_profile_set([redcap()])
    with pytest.raises(ProfileError, match="No profile named"):
        export_profiles(tmp_path / "x.json", ["Nope"])


def test_redox_data_model_defaults_to_media_and_is_kept(app_home) -> None:
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # A profile saved before the setting existed: Media.New, as before.
    path.write_text(json.dumps([{"kind": "redox", "base_url": "https://api.redoxengine.com",
                                 "name": "Old Redox", "client_id": "c", "key_id": "k"}]))
    [old] = load_profile_set().values()
    assert old.config.redox_data_model == "Media" and check_config(old.config) == []
    notes = TargetConfig("redox", "https://api.redoxengine.com", name="Notes Redox", client_id="c",
                         key_id="k", redox_data_model="Notes", platform_environment_id="env-1",
                         platform_client_id="platform-client")
    save_profile_set([old, Profile(notes, Credentials())])
    kept = load_profile_set()["Notes Redox"].config
    assert (kept.redox_data_model, kept.platform_environment_id) == ("Notes", "env-1")
    bad = TargetConfig("redox", "https://api.redoxengine.com", name="Bad", client_id="c",
                       key_id="k", redox_data_model="Results", platform_org_id="org")
    problems = " ".join(check_config(bad))
    assert "Media.New" in problems and "Platform API client" in problems
