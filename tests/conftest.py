"""Test configuration shared by every test.

Qt runs offscreen here, not only in CI, and every folder the app writes is
redirected to a temporary UPLOADER_GUI_HOME.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_SCALE_FACTOR_ROUNDING_POLICY", "PassThrough")

import pytest

pytest_plugins = ["pg_fixture"]

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("UPLOADER_GUI_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _stop_uploads_when_pytest_qt_closes_a_window(request, monkeypatch) -> None:
    """pytest-qt closes each test's windows before the test's own fixtures end; a window
    whose queue has not yet told it the last job ended would then ask "Uploads are running"
    in a modal box nobody answers. Outside tests marked ``close_question`` the answer is
    "Stop and close", as the fixtures' shutdown() would do anyway."""
    import sys

    if "uploader_gui.gui.main_window" in sys.modules and "close_question" not in request.keywords:
        from uploader_gui.gui import background  # where the window's closeEvent asks

        monkeypatch.setattr(background, "ask_on_close", lambda _parent, _n: "close")


@pytest.fixture(scope="session")
def validator():
    from uploader_gui.core.validation import IsolatedValidator

    with IsolatedValidator(workers=2, timeout=20) as v:
        yield v


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory):
    """One emulator of the three APIs per test module, on a free loopback port."""
    from uploader_gui.sandbox import Sandbox

    with Sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


@pytest.fixture
def sandbox(sandbox_server):
    """The module's sandbox, with no fault left over from another test."""
    sandbox_server.clear_faults()
    yield sandbox_server
    sandbox_server.clear_faults()
