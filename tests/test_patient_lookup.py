"""Who a destination is: REDCap's identity fields, Redox's typed name and date of birth."""

from __future__ import annotations

from pathlib import Path

import filemaker as fm

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.core.profiles import check_config, config_from_json, profile_to_json
from uploader_gui.core.targets import (
    Credentials,
    Destination,
    Document,
    Secret,
    TargetConfig,
    make_target,
)
from uploader_gui.core.targets.base import LOOKUP, PatientInfo
from uploader_gui.core.targets.redox import RedoxTarget


def _redcap(sandbox, identity: list[str]):
    return make_target(TargetConfig(kind="redcap", base_url=sandbox.url + "/api/",
                                    redcap_identity_fields=identity),
                       Credentials(token=Secret(sandbox.credentials["redcap_token"])))


def test_redcap_lookup_reads_the_identity_fields_of_one_record(sandbox) -> None:
    t = _redcap(sandbox, ["first_name", "last_name", "dob"])
    assert t.supports(LOOKUP)
    ben = t.lookup(Destination(record="2", field="scan"))
    assert ben == PatientInfo(id="2", name="Ben Sandbox", birth_date="1975-06-15")
    assert ben.label() == "Ben Sandbox, born 1975-06-15 (2)"
    assert t.lookup(Destination(record="9999", field="scan")) is None
    assert t.lookup(Destination(record="", field="scan")) is None


def test_redcap_lookup_without_identity_fields_knows_the_record_only(sandbox) -> None:
    t = _redcap(sandbox, [])
    assert t.lookup(Destination(record="1")) == PatientInfo(id="1")
    assert t.lookup(Destination(record="77")) is None


def test_redcap_identity_fields_in_profiles(sandbox) -> None:
    redcap = next(p for p in sandbox_profiles(sandbox.url, sandbox.credentials)
                  if p.config.kind == "redcap")
    data = profile_to_json(redcap)
    assert data["redcap_identity_fields"] == ["first_name", "last_name", "dob"]
    data.pop("defaults", None)
    assert config_from_json(data).redcap_identity_fields == ["first_name", "last_name", "dob"]
    four = TargetConfig(kind="redcap", base_url="https://redcap.example.org/api/", name="R",
                        redcap_identity_fields=["a", "b", "c", "d"])
    assert any("three REDCap identity fields" in p for p in check_config(four))


def test_redox_message_carries_the_typed_name_and_birth_date(sandbox, tmp_path: Path) -> None:
    c = sandbox.credentials
    t = make_target(TargetConfig(kind="redox", base_url=sandbox.url, blob_url=sandbox.url,
                                 client_id="sandbox-client", key_id="sandbox-rsa",
                                 destinations=[{"ID": "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11"}]),
                    Credentials(redox_private_key=Secret(c["redox_rsa_private_key"])))
    assert isinstance(t, RedoxTarget)
    path = fm.good_pdf(tmp_path / "letter.pdf")
    document = Document(path, "pdf", path.stat().st_size)
    dest = Destination(patient_id="MRN-0001", patient_id_type="MR", patient_name="Ben Sandbox",
                       patient_birth_date="1975-06-15")
    patient = t.media_message(document, dest, "x")["Patient"]
    assert patient["Identifiers"] == [{"ID": "MRN-0001", "IDType": "MR"}]
    assert patient["Demographics"] == {"FirstName": "Ben", "LastName": "Sandbox",
                                       "DOB": "1975-06-15"}
    bare = t.media_message(document, Destination(patient_id="MRN-0001"), "x")["Patient"]
    assert "Demographics" not in bare
    # The sandbox (which follows Redox's documents) accepts the message with Demographics.
    receipt = t.upload(document, dest)
    assert receipt.log_ids
