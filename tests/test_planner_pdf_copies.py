"""The planner's copy step and its "remove_scripts" question, against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pdffaults as pf
import pytest

from uploader_gui.core.convert import converted_dir
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.planner import (
    REMOVE_SCRIPTS_Q,
    SAFE_DEFAULTS,
    PlanInput,
    answers_from_flags,
    answers_from_profile,
    plan,
)
from uploader_gui.core.targets import Credentials, Destination, Secret, TargetConfig
from uploader_gui.core.validation import IsolatedValidator


@pytest.fixture
def history(app_home):
    store = HistoryStore()
    yield store
    store.close()


def _plan(sandbox, history, validator, paths: list[Path], **config):
    cfg = TargetConfig(kind="claros", base_url=sandbox.url, name="Claros", **config)
    inputs = [PlanInput(str(p), p, validator.validate(p, "claros")) for p in paths]
    return plan(inputs, cfg, Credentials(token=Secret("sandbox-claros-key")),
                Destination(patient_id="1002"), history, validator=validator)


def test_scripted_pdf_is_asked_about_and_never_goes_by_default(
        sandbox, history, tmp_path: Path, validator: IsolatedValidator) -> None:
    form = pf.field_click_js_with_fault(tmp_path / "form.pdf")
    scan = pf.trailing_data(tmp_path / "scan.pdf")
    bomb = pf.image_bomb(tmp_path / "bomb.pdf")
    the_plan = _plan(sandbox, history, validator, [form, scan, bomb])
    assert [r.name for r in the_plan.refused] == ["bomb.pdf"]
    [q] = the_plan.questions
    assert (q.kind, q.key, q.default) == (REMOVE_SCRIPTS_Q, str(form), False)
    assert SAFE_DEFAULTS[REMOVE_SCRIPTS_Q] is False
    assert "Send a copy with them removed instead?" in q.text
    jobs = {p.key: p.job for p in the_plan.jobs}
    assert jobs[str(scan)].sources[0]["copy"] == "repaired"
    assert jobs[str(form)].sources[0]["copy"] == "without scripts"
    copy = Path(jobs[str(form)].path)
    assert copy.parent.parent == converted_dir() and b"JavaScript" not in copy.read_bytes()

    # Nobody answers (the dialog's default, `send` without the flag, `watch`): not sent.
    for answers in ({}, answers_from_flags(the_plan), answers_from_profile(the_plan)):
        res = the_plan.resolve(answers)
        assert [p.key for p in res.jobs] == [str(scan)]
        [skipped] = res.skipped
        assert skipped.key == str(form) and "scripts" in skipped.reason
    assert not copy.exists()  # the declined copy is removed
    the_plan.discard()


def test_yes_from_flag_or_profile_sends_the_copy(sandbox, history, tmp_path: Path,
                                                 validator: IsolatedValidator) -> None:
    form = pf.field_keystroke_js(tmp_path / "form.pdf")
    flagged = _plan(sandbox, history, validator, [form])
    assert [p.key for p in flagged.resolve(answers_from_flags(flagged, remove_scripts=True)).jobs] \
        == [str(form)]
    flagged.discard()
    profiled = _plan(sandbox, history, validator, [form], remove_active_content=True)
    assert [p.key for p in profiled.resolve(answers_from_profile(profiled)).jobs] == [str(form)]
    assert [p.key for p in profiled.resolve(answers_from_flags(profiled)).jobs] == [str(form)]
    profiled.discard()
    assert list(converted_dir().iterdir()) == []
