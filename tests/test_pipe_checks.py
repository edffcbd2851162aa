"""Files checked in helper processes with their answers read on the UI thread (no task
thread waits on the pipes), and the counts kept row by row while verdicts pour in."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import filemaker as fm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploader_gui.core.validation import (
    WARNING,
    IsolatedValidator,
    Problem,
    ValidationResult,
    validate_file,
)
from uploader_gui.gui import pipe_checks as pipe_checks_module
from uploader_gui.gui import tasks
from uploader_gui.gui.pipe_checks import PipeChecks
from uploader_gui.gui.staging_model import COL_STATUS, StagingModel, StateRole
from uploader_gui.gui.tasks import TaskRunner

MAKERS = [(fm.good_pdf, "a.pdf"), (fm.good_jpeg, "b.jpg"), (fm.good_png, "c.png"),
          (fm.truncated_pdf, "d.pdf"), (fm.junk_before_pdf, "e.pdf"), (fm.names_js_pdf, "f.pdf"),
          (fm.attachment_pdf, "g.pdf")]


def files(root: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        maker, name = MAKERS[i % len(MAKERS)]
        out.append(maker(root / f"{i:03d}-{name}"))
    return out


class Collect:
    """Verdicts by path, and the threads they arrived on."""

    def __init__(self) -> None:
        self.results: dict[Path, ValidationResult] = {}
        self.threads: set[str] = set()

    def done_for(self, path: Path):
        def done(result: ValidationResult | None, error: BaseException | None) -> None:
            assert error is None and result is not None
            self.threads.add(threading.current_thread().name)
            self.results[path] = result
        return done


@pytest.fixture
def runner(qtbot):
    r = TaskRunner(workers=2)
    yield r
    r.shutdown()


@pytest.mark.parametrize("threaded", [False, True], ids=["pipes watched", "threads (Windows)"])
def test_verdicts_arrive_on_the_ui_thread_and_match_the_in_process_check(
        qtbot, tmp_path: Path, runner: TaskRunner, threaded: bool, monkeypatch) -> None:
    # A grace long enough that a slow machine cannot end it before it is looked at.
    monkeypatch.setattr(pipe_checks_module, "QUIET_GRACE_MS", 5000)
    paths = files(tmp_path, 42)
    got = Collect()
    with IsolatedValidator(workers=2, timeout=30) as v:
        checks = PipeChecks(v, runner, runner, threaded=threaded)
        checks.check_many([(p, None, got.done_for(p)) for p in paths])
        assert checks.pending == 42
        assert not tasks.quiet.wait(0)  # background preloading waits while files are checked
        qtbot.waitUntil(lambda: len(got.results) == 42, timeout=30_000)
        assert checks.pending == 0
        assert not tasks.quiet.wait(0)  # a moment more: the last verdicts go in
        qtbot.waitUntil(lambda: tasks.quiet.wait(0), timeout=10_000)
        assert got.threads == {threading.main_thread().name}
        for p in paths:
            expected = validate_file(p)
            assert got.results[p].ok == expected.ok, p.name
            assert [x.code for x in got.results[p].problems] == [x.code for x in expected.problems]
        # Nothing is left lent out: the thread-safe API still has both helpers.
        assert not v._leased and len(v._idle) == 2
        checks.shutdown()


def test_a_check_that_overruns_is_rejected_and_its_helper_replaced(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    path = fm.good_pdf(tmp_path / "slow.pdf")
    got = Collect()
    with IsolatedValidator(workers=1, timeout=0) as v:
        checks = PipeChecks(v, runner, runner)
        checks.check(path, None, got.done_for(path))
        qtbot.waitUntil(lambda: path in got.results, timeout=20_000)
        res = got.results[path]
        assert not res.ok and res.problems[0].code == "too_complex"
        assert "took longer than" in res.problems[0].message
        assert res.type == "pdf" and res.size == path.stat().st_size
        v.timeout = 30
        again = tmp_path / "again.pdf"
        fm.good_pdf(again)
        checks.check(again, None, got.done_for(again))
        qtbot.waitUntil(lambda: again in got.results, timeout=20_000)
        assert got.results[again].ok
        checks.shutdown()


def test_a_helper_that_dies_gives_a_rejection_and_the_next_file_is_checked(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    first, second = fm.good_pdf(tmp_path / "a.pdf"), fm.good_png(tmp_path / "b.png")
    got = Collect()
    with IsolatedValidator(workers=1, timeout=30) as v:
        checks = PipeChecks(v, runner, runner)
        checks.check_many([(first, None, got.done_for(first)),
                           (second, None, got.done_for(second))])
        qtbot.waitUntil(lambda: bool(v._leased), timeout=20_000)
        # The helper is still importing its parsers: kill it before it answers.
        next(iter(v._leased))._worker.proc.kill()
        qtbot.waitUntil(lambda: len(got.results) == 2, timeout=30_000)
        assert not got.results[first].ok
        assert "memory" in got.results[first].problems[0].message
        assert got.results[second].ok
        checks.shutdown()


def test_shutdown_mid_burst_gives_the_shared_helpers_back(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    paths = files(tmp_path, 30)
    got = Collect()
    with IsolatedValidator(workers=2, timeout=30) as v:
        checks = PipeChecks(v, runner, runner)
        checks.check_many([(p, None, got.done_for(p)) for p in paths])
        qtbot.waitUntil(lambda: len(got.results) >= 3, timeout=30_000)
        runner.shutdown()  # what the window's shutdown does; the checks stop with it
        assert checks.pending == 0 and not v._leased
        assert tasks.quiet.wait(0)
        before = len(got.results)
        # The thread-safe API (the CLI, watch folders, copies) is not starved of helpers.
        answers: list[ValidationResult] = []
        workers = [threading.Thread(target=lambda: answers.append(v.validate(paths[0])))
                   for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        assert len(answers) == 3 and all(a.ok for a in answers)
        qtbot.wait(200)
        assert len(got.results) == before  # no callback after shutdown


def test_threads_and_the_ui_thread_share_the_helpers(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    paths = files(tmp_path, 40)
    got = Collect()
    answers: list[bool] = []
    with IsolatedValidator(workers=2, timeout=30) as v:
        checks = PipeChecks(v, runner, runner)
        checks.check_many([(p, None, got.done_for(p)) for p in paths])
        workers = [threading.Thread(target=lambda p=p: answers.append(v.validate(p).ok))
                   for p in paths[:6]]
        for w in workers:
            w.start()
        qtbot.waitUntil(lambda: len(got.results) == 40, timeout=60_000)
        for w in workers:
            w.join(30)
        assert len(answers) == 6
        assert sorted(answers) == sorted(validate_file(p).ok for p in paths[:6])
        checks.shutdown()


# ---------------------------------------------------------------- the counts, row by row


def naive_counts(model: StagingModel) -> tuple[dict[str, int], int, int]:
    """What the status bar must show, counted from what each row shows."""
    counts = dict.fromkeys(("checking", "ready", "warning", "rejected", "sent", "sending",
                            "failed", "unknown", "cancelled"), 0)
    for row in range(model.rowCount()):
        state = model.data(model.index(row, COL_STATUS), StateRole)
        kind = {"verified": "sent", "queued": "sending", "uploading": "sending",
                "waiting": "sending"}.get(state, state)
        counts[kind] += 1
    return counts, len(model.ready_files()), len(model.failed_files())


def verdict(path: Path, kind: int) -> ValidationResult:
    res = ValidationResult(path=str(path), type="pdf", size=100 + kind, pages=1)
    if kind == 1:
        res.problems.append(Problem("pdf_truncated", "This PDF is cut short."))
    elif kind == 2:
        res.problems.append(Problem("pdf_embedded_files", "It has attachments.",
                                    severity=WARNING))
    return res


OPS = st.lists(st.tuples(st.sampled_from(["add", "verdicts", "upload", "remove", "move",
                                          "batch", "recheck", "clear", "tally"]),
                         st.integers(0, 10_000)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_the_counts_kept_row_by_row_match_a_full_count(qtbot, ops) -> None:
    model = StagingModel()
    made = 0
    for op, seed in ops:
        rnd = random.Random(seed)
        items = model.items()
        if op == "add":
            n = rnd.randint(1, 30)
            model.add_paths([(Path(f"/nowhere/{made + i}.pdf"), f"/nowhere/{made + i}.pdf")
                             for i in range(n)])
            made += n
        elif op == "verdicts" and items:
            chosen = rnd.sample(items, rnd.randint(1, len(items)))
            model.set_results([(i.key, verdict(i.path, rnd.randint(0, 2))) for i in chosen])
        elif op == "upload" and items:
            chosen = rnd.sample(items, rnd.randint(1, len(items)))
            states = ["queued", "uploading", "sent", "verified", "failed", "unknown",
                      "cancelled", "rejected"]
            changes = [(i.key, rnd.choice(states), "Why. More.") for i in chosen]
            if rnd.random() < 0.5:
                model.set_upload_states(changes)
            else:
                for change in changes:
                    model.set_upload_state(*change)
            model.set_upload_progress({i.key: rnd.random() for i in chosen})
        elif op == "remove" and items:
            model.remove_rows(rnd.sample(range(len(items)), rnd.randint(1, len(items))))
        elif op == "move" and len(items) > 1:
            model.move(rnd.randrange(len(items)), rnd.choice([-1, 1]))
        elif op == "batch" and items:
            model.start_batch([i.key for i in rnd.sample(items, rnd.randint(1, len(items)))])
        elif op == "recheck":
            model.reset_results()
        elif op == "clear":
            model.clear()
        t = model.tally()
        counts, ready, failed = naive_counts(model)
        assert (t.counts, t.ready, t.failed) == (counts, ready, failed), (op, seed)
        assert sum(t.batch.values()) == t.progress.files == len(model.batch_items())
        assert t.progress.answered == model.batch_progress().answered


def test_the_window_runs_its_helpers_at_a_lower_priority_and_a_command_does_not(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    import os

    path = fm.good_pdf(tmp_path / "a.pdf")
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    with IsolatedValidator(workers=2, timeout=30) as v:
        assert v.validate(path).ok  # as the CLI and watch folders use it
        (idle,) = v._idle
        assert os.getpriority(os.PRIO_PROCESS, idle.proc.pid) == ours
        PipeChecks(v, runner, runner)  # the window's checks
        assert os.getpriority(os.PRIO_PROCESS, idle.proc.pid) == min(19, ours + 10)
        got = Collect()
        other = [fm.good_png(tmp_path / f"{i}.png") for i in range(6)]
        checks = PipeChecks(v, runner, runner)
        checks.check_many([(p, None, got.done_for(p)) for p in other])
        qtbot.waitUntil(lambda: len(got.results) == 6, timeout=30_000)
        # The first helper may have checked all six while the second was still being
        # started on a runner thread: wait for it to be given back idle.
        qtbot.waitUntil(lambda: len(v._idle) == 2, timeout=10_000)
        for worker in v._idle:  # the helper started since, too
            assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, ours + 10)
        checks.shutdown()


def test_closing_the_validator_mid_burst_stops_the_checks(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    paths = files(tmp_path, 30)
    got = Collect()
    v = IsolatedValidator(workers=2, timeout=30)
    checks = PipeChecks(v, runner, runner)
    checks.check_many([(p, None, got.done_for(p)) for p in paths])
    qtbot.waitUntil(lambda: len(got.results) >= 2, timeout=30_000)
    assert not [r.problems for r in got.results.values() if "memory" in str(r.problems)]
    v.close()
    assert checks.pending == 0
    assert tasks.quiet.wait(0), tasks.quiet.holders()
    before = len(got.results)
    checks.check(paths[0], None, got.done_for(paths[0]))
    qtbot.wait(300)
    assert len(got.results) == before and checks.pending == 0


def test_no_helper_can_be_started_each_file_says_so_and_the_window_is_quiet_again(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    import errno

    paths = files(tmp_path, 5)
    got = Collect()
    with IsolatedValidator(workers=2, timeout=30) as v:
        def no_process() -> None:  # what fork/spawn raise when the system has no room
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

        v.start_helper = no_process  # type: ignore[method-assign]
        checks = PipeChecks(v, runner, runner)
        checks.check_many([(p, None, got.done_for(p)) for p in paths])
        qtbot.waitUntil(lambda: len(got.results) == 5, timeout=30_000)
        assert all("memory" in r.problems[0].message for r in got.results.values())
        assert checks.pending == 0
        qtbot.waitUntil(lambda: tasks.quiet.wait(0), timeout=5_000)
        assert not tasks.quiet.holders()
        checks.shutdown()


def test_closing_the_validator_before_its_first_helper_is_up_stops_the_checks(
        qtbot, tmp_path: Path, runner: TaskRunner) -> None:
    paths = files(tmp_path, 8)
    got = Collect()
    v = IsolatedValidator(workers=2, timeout=30)
    checks = PipeChecks(v, runner, runner)
    checks.check_many([(p, None, got.done_for(p)) for p in paths])
    assert not v._leased  # the first helper is still starting, on a task thread
    v.close()
    qtbot.waitUntil(lambda: checks.pending == 0, timeout=10_000)
    assert tasks.quiet.wait(0), tasks.quiet.holders()
    qtbot.wait(300)
    assert not got.results and checks.pending == 0
