"""SANE's virtual ``test`` scanner for the tests: a SANE_CONFIG_DIR whose dll.conf says ``test``.

Debian ships the test backend commented out in /etc/sane.d/dll.conf. In CI a missing
``scanimage`` (package sane-utils) fails the test, never skips it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def use_test_device(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("scanimage") is None:
        message = ("scanimage (sane-utils) is not installed: "
                   "sh packaging/install-system-deps.sh --test")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    conf = folder / "sane.d"
    conf.mkdir(exist_ok=True)
    (conf / "dll.conf").write_text("test\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(conf))
    return conf
