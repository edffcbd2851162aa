"""Names the command line needs before anything heavy is imported.

The kinds of system, the roles of their secrets and the profiles file: argparse
lists them in ``--help`` and ``choices``, and importing them must not load the
HTTP stack, the keyring or the parsers (``uploader-gui send`` starts fast).
"""

from __future__ import annotations

KINDS = ("redox", "claros", "redcap")
KIND_LABELS = {"redox": "Redox", "claros": "Claros Health", "redcap": "REDCap"}

#: The roles match the fields of :class:`~uploader_gui.core.targets.base.Credentials`.
ROLES = ("token", "redox_api_key", "redox_secret", "redox_private_key", "platform_key")
ROLE_LABELS = {
    "token": "API token",
    "redox_api_key": "Redox API key",
    "redox_secret": "Redox API secret",
    "redox_private_key": "Redox private key (PEM)",
    "platform_key": "Redox Platform API key (delivery logs)",
}

PROFILES_FILE = "profiles.json"
