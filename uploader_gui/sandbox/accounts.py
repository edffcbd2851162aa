"""The sandbox's fixed demo accounts and credentials.

These values only open the local emulator; they are not secrets of any real service.
``Sandbox.credentials`` returns them (plus the URLs), and ``start()`` writes the same
dict to ``<data_dir>/credentials.json`` (mode 0600).

Claros Health
    API key ``sandbox-claros-key`` (header ``X-API-Key``). Patients 1001, 1002 and 1003
    belong to that key's account; 2001 exists but belongs to another account (403);
    any other id is unknown (404).

REDCap (``POST /api/``)
    Classic project token ``a1b2c3d4e5f60718293a4b5c6d7e8f90``; longitudinal project
    token ``0f1e2d3c4b5a69788796a5b4c3d2e1f0``. See ``redcap.py`` for the projects.

Redox, data-model API (one *source* per credential, files belong to a source)
    * OAuth 2.0 with a signed JWT: client id ``sandbox-client``; key ids ``sandbox-rsa``
      (RSA 2048, RS384) and ``sandbox-ec`` (P-384, ES384). The private keys are made on
      first use of a data directory and kept in its credentials.json, so a restarted
      ``uploader-gui sandbox`` keeps the same keys.
    * Legacy API key ``sandbox-redox-key`` with secret ``sandbox-redox-secret``.
    * Destinations ``Sandbox EHR`` and ``Sandbox Document Store`` (ids below).

Redox Platform API
    Organisation id ``sandbox-org`` (the organisation-based shape) and environment id
    ``sandbox-env`` (the environment-based search). Redox authenticates the Platform API with a
    *user-level API key*: an OAuth client whose JWT assertion is exchanged at
    ``/v2/auth/token`` for a Bearer token, exactly like a source's OAuth key. The sandbox
    mirrors that: client id ``sandbox-platform-key``, signed with the same two key pairs
    (kids ``sandbox-rsa`` / ``sandbox-ec``). Its tokens work only on ``/platform/...``;
    source tokens are refused there (403), and platform tokens are refused on the
    data-model endpoints (403).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# Demo values for a local emulator; hard-coding them is the point.
CLAROS_API_KEY = "sandbox-claros-key"
CLAROS_PATIENTS: dict[int, dict[str, Any]] = {
    1001: {"id": 1001, "first_name": "Ada", "last_name": "Sandbox", "date_of_birth": "1980-01-01"},
    1002: {"id": 1002, "first_name": "Ben", "last_name": "Sandbox", "date_of_birth": "1975-06-15"},
    1003: {"id": 1003, "first_name": "Cleo", "last_name": "Sandbox", "date_of_birth": "1999-12-31"},
}
CLAROS_FOREIGN_PATIENTS = frozenset({2001})

REDCAP_CLASSIC_TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # noqa: S105 - public demo credential
REDCAP_LONGITUDINAL_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # noqa: S105 - public demo credential

REDOX_API_KEY = "sandbox-redox-key"
REDOX_SECRET = "sandbox-redox-secret"  # noqa: S105 - public demo credential
REDOX_CLIENT_ID = "sandbox-client"
REDOX_PLATFORM_CLIENT_ID = "sandbox-platform-key"
REDOX_RSA_KID = "sandbox-rsa"
REDOX_EC_KID = "sandbox-ec"
REDOX_ORG_ID = "sandbox-org"
REDOX_ENVIRONMENT_ID = "sandbox-env"
REDOX_DESTINATIONS: dict[str, str] = {
    "0b4f8a52-2d2e-4f7e-9a55-5d1f3c0e7a11": "Sandbox EHR",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7": "Sandbox Document Store",
}

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class SigningKeys:
    """The two private keys clients sign Redox JWT assertions with (PEM, PKCS#8)."""

    rsa_pem: str
    ec_pem: str

    @classmethod
    def generate(cls) -> SigningKeys:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_key = ec.generate_private_key(ec.SECP384R1())
        return cls(rsa_pem=_pem(rsa_key), ec_pem=_pem(ec_key))

    @functools.cached_property
    def public_keys(self) -> dict[str, Any]:
        """kid -> public key object, as PyJWT wants it for verification."""
        # The keys are our own (made here, or read back from our credentials.json); the
        # slow RSA consistency check adds nothing but start-up time.
        rsa_key = serialization.load_pem_private_key(
            self.rsa_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        ec_key = serialization.load_pem_private_key(self.ec_pem.encode(), password=None)
        if not isinstance(rsa_key, rsa.RSAPrivateKey):
            raise ValueError("the stored RSA key is not an RSA key")
        if not isinstance(ec_key, ec.EllipticCurvePrivateKey) or not isinstance(ec_key.curve, ec.SECP384R1):
            raise ValueError("the stored EC key is not a P-384 key")
        return {REDOX_RSA_KID: rsa_key.public_key(), REDOX_EC_KID: ec_key.public_key()}


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_or_generate_keys(data_dir: Path) -> SigningKeys:
    """Reuse the key pairs of an earlier run in ``data_dir``, or make new ones."""
    path = data_dir / CREDENTIALS_FILE
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        keys = SigningKeys(rsa_pem=stored["redox_rsa_private_key"], ec_pem=stored["redox_ec_private_key"])
        if keys.public_keys:  # loading them raises ValueError if either is unusable
            return keys
    return SigningKeys.generate()


def build_credentials(url: str | None, keys: SigningKeys) -> dict[str, Any]:
    """Every demo credential plus, once the server listens, the URLs to use them at."""
    creds: dict[str, Any] = {
        "claros_api_key": CLAROS_API_KEY,
        "claros_patient_ids": sorted(CLAROS_PATIENTS),
        "claros_foreign_patient_id": min(CLAROS_FOREIGN_PATIENTS),
        "redcap_token": REDCAP_CLASSIC_TOKEN,
        "redcap_longitudinal_token": REDCAP_LONGITUDINAL_TOKEN,
        "redox_api_key": REDOX_API_KEY,
        "redox_secret": REDOX_SECRET,
        "redox_client_id": REDOX_CLIENT_ID,
        "redox_rsa_kid": REDOX_RSA_KID,
        "redox_ec_kid": REDOX_EC_KID,
        "redox_rsa_private_key": keys.rsa_pem,
        "redox_ec_private_key": keys.ec_pem,
        "redox_destinations": [{"ID": i, "Name": n} for i, n in REDOX_DESTINATIONS.items()],
        "redox_org_id": REDOX_ORG_ID,
        "redox_environment_id": REDOX_ENVIRONMENT_ID,
        "redox_platform_client_id": REDOX_PLATFORM_CLIENT_ID,
    }
    if url is not None:
        creds.update(
            sandbox_url=url,
            redox_api_url=url,
            redox_blob_url=url,
            redox_token_url=f"{url}/v2/auth/token",
            claros_base_url=url,
            redcap_api_url=f"{url}/api/",
        )
    return creds


def write_credentials_file(data_dir: Path, creds: dict[str, Any]) -> Path:
    """Write ``credentials.json`` readable by the owner only (0600)."""
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        if hasattr(os, "fchmod"):  # the file may predate us with looser modes
            with contextlib.suppress(OSError):
                os.fchmod(out.fileno(), 0o600)
        json.dump(creds, out, indent=2)
        out.write("\n")
    return path
