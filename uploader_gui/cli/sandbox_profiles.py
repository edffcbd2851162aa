"""Ready-made profiles for the running sandbox, so a newcomer can send without any setup."""

from __future__ import annotations

from typing import Any

from uploader_gui.core.profiles import Profile
from uploader_gui.core.targets.base import Credentials, Destination, Secret, TargetConfig
from uploader_gui.sandbox import accounts


def sandbox_profiles(url: str, credentials: dict[str, Any]) -> list[Profile]:
    destinations = [{"ID": k, "Name": v} for k, v in accounts.REDOX_DESTINATIONS.items()]
    return [
        Profile(
            TargetConfig(kind="claros", base_url=url, name="Sandbox Claros"),
            Credentials(token=Secret(credentials["claros_api_key"])),
            Destination(patient_id="1001"),
        ),
        Profile(
            TargetConfig(kind="redcap", base_url=url + "/api/", name="Sandbox REDCap",
                         redcap_field="scan"),
            Credentials(token=Secret(credentials["redcap_token"])),
            Destination(record="1", field="scan"),
        ),
        Profile(
            TargetConfig(kind="redox", base_url=url, blob_url=url, name="Sandbox Redox",
                         auth="jwt", client_id=accounts.REDOX_CLIENT_ID,
                         key_id=accounts.REDOX_RSA_KID, destinations=destinations[:1],
                         test=True, document_type="Clinical Document",
                         platform_org_id=accounts.REDOX_ORG_ID,
                         platform_client_id=accounts.REDOX_PLATFORM_CLIENT_ID,
                         platform_key_id=accounts.REDOX_RSA_KID),
            Credentials(redox_private_key=Secret(credentials["redox_rsa_private_key"]),
                        platform_key=Secret(credentials["redox_rsa_private_key"])),
            Destination(patient_id="MRN-0001", patient_id_type="MR",
                        document_type="Clinical Document"),
        ),
    ]
