"""Repaired and script-free copies, sent to the sandbox like converted images (issue 13)."""

from __future__ import annotations

import stat
from pathlib import Path

import pdffaults as pf
import pytest
from pypdf import PdfReader
from test_queue import claros_config, received, run_jobs

from uploader_gui.core.batch import make_sendable_copy, new_job
from uploader_gui.core.convert import converted_dir
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import VERIFIED, sha256_of
from uploader_gui.core.profiles import load_profiles, save_profiles
from uploader_gui.core.targets import Destination, TargetConfig
from uploader_gui.core.validation import IsolatedValidator, validate_file
from uploader_gui.core.validation.pdfrepair import CopyError


@pytest.fixture
def history(app_home):
    store = HistoryStore()
    yield store
    store.close()


def _texts(path: Path) -> list[str]:
    return [p.extract_text().strip() for p in PdfReader(path).pages]


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "helper"])
def test_repaired_copy_is_sent_and_recorded_with_both_hashes(
        sandbox, history, tmp_path: Path, validator: IsolatedValidator, isolated: bool) -> None:
    src = pf.scanner_garbage_after_eof(tmp_path / f"canon-{isolated}.pdf")
    before = src.read_bytes()
    res = validate_file(src)
    assert res.ok and res.repair == "structural"
    config = claros_config(sandbox)
    job = new_job(src, res, config, Destination(patient_id="1001"), None)
    sent = make_sendable_copy(job, res, validator=validator if isolated else None)
    copy = Path(sent.path)
    assert copy.parent.parent == converted_dir()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    assert [p.name for p in copy.parent.iterdir()] == [src.name]  # no snapshot left behind
    assert sent.name == src.name and sent.sha256 == sha256_of(copy) != job.sha256
    assert sent.sources == [{"path": str(src), "sha256": res.sha256, "copy": "repaired"}]
    assert _texts(copy) == _texts(src)
    copy_bytes = copy.read_bytes()
    [done] = run_jobs(history, sandbox, [sent])
    assert done.status == VERIFIED  # Claros confirmed the patient and the name
    assert done.sha256 == sent.sha256 and done.sources[0]["sha256"] == res.sha256
    [got] = received(sandbox, "claros", src.name)
    assert Path(got["path"]).read_bytes() == copy_bytes  # the repaired copy, not the original
    assert not copy.exists()  # removed after sending, like a converted image
    assert src.read_bytes() == before


def test_scripts_removed_only_when_asked(app_home, tmp_path: Path) -> None:
    src = pf.field_click_js_with_fault(tmp_path / "form.pdf")
    res = validate_file(src)
    assert not res.ok and res.remedy == "remove_scripts" and res.repair == "structural"
    job = new_job(src, res, TargetConfig(kind="claros", base_url="https://claros.example"),
                  Destination(patient_id="1001"), None)
    with pytest.raises(CopyError, match="contains scripts"):
        make_sendable_copy(job, res)  # the verdict asks for a repair, not for scripts removed
    assert list(converted_dir().iterdir()) == []
    sent = make_sendable_copy(job, res, remove_scripts=True)
    again = validate_file(sent.path)
    assert again.ok and again.problems == [] and again.pages == 2
    assert sent.sources == [{"path": str(src), "sha256": res.sha256, "copy": "without scripts"}]


def test_a_file_changed_since_it_was_checked_is_not_copied(app_home, tmp_path: Path) -> None:
    src = pf.trailing_data(tmp_path / "scan.pdf")
    res = validate_file(src)
    job = new_job(src, res, TargetConfig(kind="claros", base_url="https://claros.example"),
                  Destination(patient_id="1001"), None)
    pf.trailing_data(src, size=5000)
    with pytest.raises(CopyError, match="changed since it was checked"):
        make_sendable_copy(job, res)
    assert list(converted_dir().iterdir()) == []


def test_a_clean_pdf_goes_as_it_is(app_home, tmp_path: Path) -> None:
    src = pf.text_pdf(tmp_path / "letter.pdf")
    res = validate_file(src)
    job = new_job(src, res, TargetConfig(kind="claros", base_url="https://claros.example"),
                  Destination(patient_id="1001"), None)
    assert make_sendable_copy(job, res, remove_scripts=True) is job


def test_profile_keeps_remove_active_content(app_home) -> None:
    cfg = TargetConfig(kind="claros", base_url="https://claros.example", name="Clinic",
                       remove_active_content=True)
    save_profiles({"Clinic": cfg})
    assert load_profiles()["Clinic"].remove_active_content is True
    assert TargetConfig(kind="claros", base_url="https://x.example").remove_active_content is False
