"""Files onto the staging list, checked on workers; removing, ordering and combining them.

Given the model, a task runner, the validator and a ``target_provider`` (the kind of
system the files are checked for now); it reports with signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from uploader_gui.core.staging import StagedFile, staging_key
from uploader_gui.core.validation import (
    IsolatedValidator,
    Problem,
    ValidationResult,
    expand_paths,
)
from uploader_gui.gui.pipe_checks import PipeChecks
from uploader_gui.gui.staging_model import StagingModel
from uploader_gui.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

#: Rows added to the model per event-loop turn when a large folder arrives.
ADD_CHUNK = 100
#: Verdicts that arrive within this many ms go into the table together (one change signal
#: per run of rows, not one per file).
VERDICT_BATCH_MS = 20


def tr(text: str) -> str:
    return QCoreApplication.translate("Staging", text)


class StagingController(QObject):
    #: The counts may have changed (many verdicts at once cause one refresh later).
    changed = Signal()
    #: The last check of a burst answered: show the final counts at once.
    settled = Signal()
    #: (a sentence, how long to show it in ms) for the status bar.
    status = Signal(str, int)
    #: Combining failed: the reason.
    failed = Signal(str)

    def __init__(self, model: StagingModel, runner: TaskRunner, validator: IsolatedValidator,
                 target_provider: Callable[[], str | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._runner = runner
        self._validator = validator
        self._target = target_provider
        self._generation = 0
        self._checks_running = 0
        self._pending_add: list[tuple[Path, str]] = []
        self._pending_sources: dict[str, list[dict[str, str]]] = {}
        self._checks = PipeChecks(validator, runner, self)
        self._verdicts: list[tuple[str, ValidationResult]] = []
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(VERDICT_BATCH_MS)
        self._flush.timeout.connect(self._apply_verdicts)

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Stage files and folders. Folders are walked on a worker thread."""
        items = [str(p) for p in paths]
        if not items:
            return
        self.status.emit(tr("Looking for files…"), 2000)
        self._runner.run(
            lambda: [(p, staging_key(p)) for p in expand_paths(items)], self._expanded
        )

    def _expanded(self, paths: list[tuple[Path, str]] | None, error: BaseException | None) -> None:
        if error is not None:
            self.status.emit(tr("Could not read that folder: {error}").format(error=error), 8000)
            return
        self.status.emit("", 0)
        self._pending_add.extend(paths or [])
        self._add_chunk()

    def _add_chunk(self) -> None:
        chunk, self._pending_add = self._pending_add[:ADD_CHUNK], self._pending_add[ADD_CHUNK:]
        fresh = self.model.add_paths(chunk)
        for item in fresh:
            item.sources = self._pending_sources.pop(item.key, item.sources)
        skipped = len(chunk) - len(fresh)
        if skipped:
            self.status.emit(
                tr("1 file already on the list was not added again.") if skipped == 1 else
                tr("{n} files already on the list were not added again.").format(n=skipped),
                5000)
        self._check([(item.key, item.path) for item in fresh])
        self.changed.emit()
        if self._pending_add:
            QTimer.singleShot(0, self, self._add_chunk)  # not after the controller is gone

    def _check(self, files: list[tuple[str, Path]]) -> None:
        """Check these files (key, path) for the system chosen now, in helper processes."""
        generation, target = self._generation, self._target()
        self._checks_running += len(files)
        self._checks.check_many([(path, target, partial(self._checked, generation, key, path))
                                 for key, path in files])

    def _checked(self, generation: int, key: str, path: Path, result: ValidationResult | None,
                 error: BaseException | None) -> None:
        if generation != self._generation:
            return  # the target changed since; a newer check is on its way
        if error is not None or result is None:
            log.error("validation failed: %r", error)
            result = ValidationResult(path=str(path))
            result.problems.append(Problem(
                "internal_error",
                tr("This file could not be checked. Remove it and add it again."),
            ))
        self._verdicts.append((key, result))
        if not self._flush.isActive():
            self._flush.start()

    def _apply_verdicts(self) -> None:
        verdicts, self._verdicts = self._verdicts, []
        if not verdicts:
            return
        self._checks_running -= len(verdicts)
        self.model.set_results(verdicts)
        if self._checks_running == 0:
            self.settled.emit()
        else:
            self.changed.emit()

    def recheck(self) -> None:
        """Check every file again (the system they are checked for changed)."""
        self._generation += 1
        self._checks_running = 0  # results of the old generation are ignored
        self._verdicts.clear()
        self._checks.drop_queued()
        self.model.reset_results()
        self._check([(item.key, item.path) for item in self.model.items()])
        self.settled.emit()

    def clear(self) -> None:
        self._pending_add.clear()
        # Files of the list not yet sent to a helper are not checked for nothing.
        self._checks_running -= self._checks.drop_queued()
        self.model.clear()

    @staticmethod
    def combinable(chosen: list[StagedFile]) -> list[StagedFile]:
        if len(chosen) >= 2 and all(i.ready and i.result and i.result.type in ("jpeg", "png")
                                    for i in chosen):
            return chosen
        return []

    def combine(self, images: list[StagedFile]) -> None:
        """Images → one PDF in the app's private folder, staged in their place."""
        if not self.combinable(images):
            return
        name = f"{images[0].path.stem} and {len(images) - 1} more.pdf"
        sources = [{"path": str(i.path), "sha256": i.result.sha256 or ""} for i in images
                   if i.result is not None]
        keys = [i.key for i in images]

        def done(pdf: Path | None, error: BaseException | None) -> None:
            if error is not None or pdf is None:
                self.failed.emit(str(error))
                return
            self._pending_sources[staging_key(pdf)] = sources
            self.model.remove_rows([r for r, item in enumerate(self.model.items())
                                    if item.key in keys])
            self.add_paths([pdf])

        paths = [i.path for i in images]

        def combine() -> Path:  # PIL is imported here, on the worker, the first time
            from uploader_gui.core.convert import convert_for_upload

            return convert_for_upload(paths, name=name)

        self._runner.run(combine, done)
