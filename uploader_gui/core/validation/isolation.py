"""The check, and the making of sendable copies, in helper processes.

A PDF crafted to loop, to recurse or to exhaust memory costs one helper
process with a time limit and a memory cap, never the app.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from uploader_gui.core.forking import fork_is_safe
from uploader_gui.core.validation.result import (
    DEFAULT_MEMORY_CAP,
    DEFAULT_TIMEOUT_S,
    Problem,
    ValidationResult,
    memory_problem,
    sniff,
)

#: How much lower than the window's its helpers' CPU priority is (``nice``), see
#: :meth:`IsolatedValidator.lower_priority`: checking files is background work, and on a
#: busy PC the window must win the CPU over the helpers that check 2,000 files for it.
HELPER_NICE = 10

_IMAGE_MODULES = ("PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin")
#: Modules a helper imports before its memory is capped (unless told fewer).
_PRELOAD = (*_IMAGE_MODULES, "pypdf", "pypdf.generic", "pikepdf")


def preload_for(paths: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    """What a helper should import up front for these files, judged by their names.

    pikepdf for PDFs (pypdf is needed only to second a repair, and is imported
    then), Pillow for images. A file named wrongly still gets its check: the
    helper imports what it needs when it needs it, under the memory cap.
    """
    suffixes = {Path(p).suffix.lower() for p in paths}
    modules: list[str] = []
    if suffixes - {".jpg", ".jpeg", ".png"}:
        modules.append("pikepdf")
    if suffixes & {".jpg", ".jpeg", ".png"}:
        modules.extend(_IMAGE_MODULES)
    return tuple(modules)


def _worker_main(conn: Any, memory_cap: int, preload: Sequence[str] = _PRELOAD,
                 parent_end: Any = None) -> None:
    """Body of a helper process: handle whatever arrives until told to stop."""
    if parent_end is not None:
        # Forked: this copy of the app's end of the pipe would keep it open, and the
        # helper would wait forever instead of ending with the app.
        parent_end.close()
    # Import the parsers before capping memory, so the cap bounds the work on
    # a file and not the interpreter's start-up (what is not preloaded is imported
    # under the cap, which is far above what a parser's import takes).
    for module in preload:
        importlib.import_module(module)
    from uploader_gui.core.validation import validate_file
    from uploader_gui.core.validation.pdfrepair import CopyError, write_sendable_copy

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    except (ImportError, ValueError, OSError):  # Windows, or a lower hard limit
        pass
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        if request[0] == "copy":
            _, src, out, remove_scripts = request
            try:
                write_sendable_copy(src, out, remove_scripts=remove_scripts)
                conn.send(("ok", None))
            except CopyError as exc:
                conn.send(("error", str(exc)))
            except MemoryError:
                conn.send(("error", memory_problem().message))
            continue
        _, path, target, max_bytes = request
        try:
            res = validate_file(path, target, max_bytes)
        except MemoryError:
            res = ValidationResult(path=path, problems=[memory_problem()])
        conn.send(asdict(res))


def _timeout_problem(seconds: float) -> Problem:
    return Problem(
        "too_complex",
        f"Checking this file took longer than {seconds:g} seconds, which damaged or hostile "
        "files do. It was not accepted. Save or print it to a new file and try again.",
    )


class _Worker:
    def __init__(self, memory_cap: int, preload: Sequence[str], fork: bool = False,
                 nice: int = 0) -> None:
        ctx: Any = multiprocessing.get_context("fork" if fork and fork_is_safe() else "spawn")
        self.conn, child = ctx.Pipe()
        forked = ctx.get_start_method() == "fork"
        self.proc = ctx.Process(target=_worker_main, daemon=True, args=(
            child, memory_cap, tuple(preload), self.conn if forked else None))
        self.proc.start()
        child.close()
        if nice:
            _renice(self.proc, nice)

    def close(self, kill: bool = False) -> None:
        try:
            if not kill:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        if kill:
            self.proc.kill()
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=2)


#: Whether a helper's pipe is a file descriptor an event loop can watch (on Windows it is
#: a named pipe: callers there wait for answers on threads, with :meth:`validate`).
PIPES_ARE_WATCHABLE = os.name == "posix"


class HelperLease:
    """A helper process lent to one caller that reads its answers itself (without a
    thread waiting on the pipe): the window reads them on its UI thread when the pipe
    becomes readable. One request at a time; see :meth:`IsolatedValidator.lease`.
    POSIX only (see :data:`PIPES_ARE_WATCHABLE`)."""

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker
        #: Called (on the thread that closes the validator) when the helper is closed under
        #: the lessee, e.g. at shutdown: stop watching :meth:`fileno`.
        self.on_close: Any = None

    def fileno(self) -> int:
        """The pipe to watch for readability (an answer, or the helper's death)."""
        return self._worker.conn.fileno()

    def send_validate(self, path: str | os.PathLike[str], target: str | None = None,
                      max_bytes: int | None = None) -> None:
        """Ask for one check. Raises OSError if the helper is gone."""
        try:
            self._worker.conn.send(("validate", str(path), target, max_bytes))
        except (ValueError, BrokenPipeError) as exc:
            raise OSError(str(exc)) from exc

    def answered(self) -> bool:
        """An answer (or the end of the pipe) is waiting."""
        try:
            return bool(select.select([self._worker.conn.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # closed: receive() says how

    def receive(self) -> ValidationResult:
        """The answer to the request sent. Raises EOFError or OSError if the helper died."""
        try:
            data = self._worker.conn.recv()
        except ValueError as exc:  # the pipe was closed under us
            raise OSError(str(exc)) from exc
        return ValidationResult.from_json(data)


class IsolatedValidator:
    """Validate files in helper processes, each file with a time limit.

    Thread-safe: callers on several threads each borrow a helper process. A
    helper that overruns its time, dies or runs out of memory is replaced and
    the file gets a clear rejection.

    ``preload``: the modules each helper imports before its memory is capped
    (default: every parser; see :func:`preload_for`). ``fork``: fork helpers
    while that is safe (:func:`fork_is_safe`; far quicker than starting a new
    interpreter), spawn them otherwise; the default is to spawn. :meth:`start`
    starts helpers at once, so that their start-up overlaps the caller's work.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = DEFAULT_TIMEOUT_S,
        memory_cap: int = DEFAULT_MEMORY_CAP,
        *,
        preload: Sequence[str] = _PRELOAD,
        fork: bool = False,
        nice: int = 0,
    ) -> None:
        self.timeout = timeout
        self.memory_cap = memory_cap
        self.preload = tuple(preload)
        self.fork = fork
        self.nice = nice
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._workers = max(1, workers)
        self._slots = threading.BoundedSemaphore(self._workers)
        self._closed = False
        self._leased: set[HelperLease] = set()
        #: Requests sent before anyone asked (see :meth:`ask_early`), by request.
        self._early: dict[tuple[Any, ...], _Worker] = {}

    def __enter__(self) -> IsolatedValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """:meth:`close` was called: no helper will answer again."""
        return self._closed

    def start(self, count: int = 1) -> IsolatedValidator:
        """Start up to ``count`` helpers now (never more than ``workers``); returns self."""
        with self._lock:
            while not self._closed and len(self._idle) < min(count, self._workers):
                self._idle.append(_Worker(self.memory_cap, self.preload, self.fork,
                                          self.nice))
        return self

    def _borrow(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.is_alive():
                    return worker
                worker.close(kill=True)  # died while idle (e.g. the OOM killer)
        return _Worker(self.memory_cap, self.preload, self.fork, self.nice)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.close()

    def ask_early(self, path: str | os.PathLike[str], target: str | None,
                  max_bytes: int | None) -> None:
        """Have an idle helper check this file now, before anyone asks: the command's own
        start-up (its imports) then overlaps the check, and :meth:`validate` of the same
        file, target and limit takes the answer. Nothing happens if no helper is idle."""
        request = ("validate", str(path), target, max_bytes)
        with self._lock:
            if self._closed or not self._idle or request in self._early:
                return
            worker = self._idle.pop()
        try:
            worker.conn.send(request)
        except (OSError, BrokenPipeError):
            worker.close(kill=True)
            return
        with self._lock:
            self._early[request] = worker

    def _ask(self, request: tuple[Any, ...]) -> tuple[Any, Problem | None]:
        """Send one request to a helper: (answer, None), or (None, why it failed)."""
        with self._slots:
            with self._lock:
                early = self._early.pop(request, None)
            worker = early or self._borrow()
            try:
                if early is None:
                    worker.conn.send(request)
                if worker.conn.poll(self.timeout):
                    data = worker.conn.recv()
                    self._give_back(worker)
                    return data, None
                problem = _timeout_problem(self.timeout)
            except (EOFError, OSError, BrokenPipeError):
                # The helper died: out of memory, or a crash in a C library.
                problem = memory_problem()
            worker.close(kill=True)
        return None, problem

    def lower_priority(self, nice: int = HELPER_NICE) -> None:
        """Run the helpers ``nice`` steps below this process's CPU priority from now on
        (the window's choice: a command waiting for one verdict gains nothing by it)."""
        with self._lock:
            self.nice = nice
            idle = list(self._idle)
        for worker in idle:
            _renice(worker.proc, nice)

    # ------------------------------------------------------------------ lent helpers

    def lease(self) -> HelperLease | None:
        """A helper for a caller that reads the answers itself, or None at once if every
        helper is busy or none has started yet (see :meth:`start_helper`). Never blocks.
        Give it back with :meth:`release`."""
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            while self._idle and not self._closed:
                worker = self._idle.pop()
                if worker.proc.is_alive():
                    lease = HelperLease(worker)
                    self._leased.add(lease)
                    return lease
                _close_soon(worker)  # died while idle (e.g. the OOM killer)
        self._slots.release()
        return None

    def can_start_helper(self) -> bool:
        """A slot is free but no helper waits in it: :meth:`start_helper` would help."""
        with self._lock:
            if self._closed or self._idle:
                return False
        if not self._slots.acquire(blocking=False):
            return False
        self._slots.release()
        return True

    def start_helper(self) -> None:
        """Start one helper process and keep it idle (blocks a few ms: call off the UI thread)."""
        worker = _Worker(self.memory_cap, self.preload, self.fork, self.nice)
        self._give_back(worker)

    def release(self, lease: HelperLease, broken: bool = False) -> None:
        """Give a leased helper back (``broken``: it overran, died or its pipe failed — it is
        killed, on a thread of its own, so that this never waits)."""
        with self._lock:
            if lease not in self._leased:
                return  # already closed by close()
            self._leased.discard(lease)
        if broken:
            _close_soon(lease._worker)
        else:
            self._give_back(lease._worker)
        self._slots.release()

    def failed_result(self, path: str | os.PathLike[str], problem: Problem,
                      started: float | None = None) -> ValidationResult:
        """The rejection of a file whose check failed (reads the file's size and first bytes)."""
        res = ValidationResult(path=str(path), problems=[problem])
        try:
            res.size = os.path.getsize(path)
            with open(path, "rb") as fh:
                res.type = sniff(fh.read(16))
        except OSError:
            pass
        if started is not None:
            res.elapsed = time.monotonic() - started
        return res

    def validate(
        self,
        path: str | os.PathLike[str],
        target: str | None = None,
        max_bytes: int | None = None,
    ) -> ValidationResult:
        started = time.monotonic()
        data, problem = self._ask(("validate", str(path), target, max_bytes))
        if problem is None:
            return ValidationResult.from_json(data)
        return self.failed_result(path, problem, started)

    def write_copy(self, src: str | os.PathLike[str], out: str | os.PathLike[str],
                   remove_scripts: bool) -> None:
        """:func:`~uploader_gui.core.validation.pdfrepair.write_sendable_copy` in a helper.

        Raises CopyError with a sentence for the user.
        """
        from uploader_gui.core.validation.pdfrepair import CopyError

        data, problem = self._ask(("copy", str(src), str(out), remove_scripts))
        if problem is not None:
            raise CopyError("A copy of this PDF could not be made: " + problem.message[0].lower()
                            + problem.message[1:])
        status, message = data
        if status != "ok":
            raise CopyError(message)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            leased, self._leased = self._leased, set()
            early, self._early = list(self._early.values()), {}
        for worker in early:  # asked early, never collected: its answer is not wanted
            worker.close(kill=True)
        for lease in leased:  # busy with a file nobody waits for any more
            if lease.on_close is not None:
                lease.on_close()
            lease._worker.close(kill=True)
        for worker in idle:
            worker.close()


def _renice(proc: Any, nice: int) -> None:
    """Set a helper's CPU priority ``nice`` steps below this process's."""
    if proc.pid is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except (AttributeError, OSError):  # Windows (no nice levels), or it is gone
        pass


def timeout_problem(seconds: float) -> Problem:
    """The rejection of a file whose check overran its time."""
    return _timeout_problem(seconds)


def _close_soon(worker: _Worker) -> None:
    """Kill a helper and reap it on a thread of its own (its join may take a moment)."""
    threading.Thread(target=worker.close, kwargs={"kill": True}, daemon=True,
                     name="uploader-helper-reaper").start()
