"""`watch` with scanner PDFs that need a repair, and PDFs with scripts (the profile decides)."""

from __future__ import annotations

from pathlib import Path

import pdffaults as pf
from test_watch import outcomes, received, save_profile, watch


def test_watch_repairs_and_removes_scripts_only_if_the_profile_says(sandbox, tmp_path,
                                                                     app_home) -> None:
    scans = tmp_path / "scans"
    pf.scanner_garbage_after_eof(scans / "1001_scan.pdf")
    pf.field_keystroke_js(scans / "1002_form.pdf")
    name = save_profile(sandbox)
    first = outcomes(watch("--profile", name, "--once", "--settle", "0", "--json", str(scans),
                           home=app_home, token="sandbox-claros-key"))
    assert first["1001_scan.pdf"]["status"] == "sent"
    assert first["1002_form.pdf"]["status"] == "rejected"
    assert "scripts" in (scans / "Failed" / "1002_form.pdf.txt").read_text()
    assert received(sandbox, "1001_scan") == {"1001_scan.pdf": 1}
    assert received(sandbox, "1002_form") == {}
    [got] = [r for r in sandbox.received("claros") if r["filename"] == "1001_scan.pdf"]
    sent_scan = next((scans / "Sent").iterdir())
    assert Path(got["path"]).read_bytes() != sent_scan.read_bytes()  # the repaired copy went

    # The same form, with a profile that allows the copy without scripts.
    (scans / "Failed" / "1002_form.pdf").rename(scans / "1002_form.pdf")
    name = save_profile(sandbox, remove_active_content=True)
    second = outcomes(watch("--profile", name, "--once", "--settle", "0", "--json", str(scans),
                            home=app_home, token="sandbox-claros-key"))
    assert second["1002_form.pdf"]["status"] == "sent"
    [form] = [r for r in sandbox.received("claros") if r["filename"] == "1002_form.pdf"]
    assert b"JavaScript" not in Path(form["path"]).read_bytes()
