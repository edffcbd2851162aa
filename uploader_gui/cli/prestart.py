"""Helper processes started first thing, so their start-up overlaps the command's own.

``uploader-gui send`` and ``validate`` check files in helper processes (a hostile
PDF costs a helper, never the command). Starting one takes as long as the rest of
the command's start-up, so :func:`uploader_gui.cli.main` starts it before importing
anything else; the command then takes it with :func:`validator`. While the process
still has one thread the helper is forked, not spawned: it starts without a second
interpreter, and imports only the parsers its files need.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from uploader_gui.core.validation.isolation import IsolatedValidator, fork_is_safe, preload_for
from uploader_gui.core.validation.result import size_limit

#: Helper processes checking files at once, by command.
WORKERS = {"send": 1, "validate": min(2, os.cpu_count() or 1)}

_started: IsolatedValidator | None = None


def start_validator(paths: Sequence[str], workers: int, target: str | None = None,
                    check_now: bool = False) -> None:
    """Start the helper that will check these files (before anything heavy is imported).

    ``check_now``: the command will check the one file given, for ``target`` with its
    usual size limit; the helper starts on it at once (see ``IsolatedValidator.ask_early``)."""
    global _started
    if _started is not None or not fork_is_safe():
        return  # a second command in this process, or threads already: start them as before
    validator = IsolatedValidator(workers=workers, preload=preload_for(paths), fork=True)
    _started = validator.start(1)  # the commands check one file at a time
    if check_now and len(paths) == 1 and os.path.isfile(paths[0]):
        try:
            limit = size_limit(target)
        except ValueError:
            return
        validator.ask_early(Path(paths[0]), target, limit)


def validator(workers: int) -> IsolatedValidator:
    """The helpers started for this command, once; otherwise new ones, spawned."""
    global _started
    early, _started = _started, None
    return early if early is not None else IsolatedValidator(workers=workers)
