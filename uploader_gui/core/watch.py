"""The watched ("hot") folder: where a scanner saves, emptied into a target.

Why polling: Qt's QFileSystemWatcher and watchdog rely on change notifications
(inotify, ReadDirectoryChangesW), which SMB/NFS shares often do not deliver,
and which say nothing about whether the scanner has finished writing. A scan
of the folder every second or two works everywhere, costs little for a
scanner's folder, and the stability rule (same size and mtime for a few
seconds) is needed anyway.

Rules:
* a file is taken once its size and mtime have been stable for ``settle``
  seconds; hidden files, partial downloads and our own Sent/ and Failed/ are
  skipped;
* a filename rule (a regex with a named group ``patient``, ``record`` or
  ``mrn``, and optionally ``doctype``) fills the destination; a file without a
  match "needs a destination" and is left where it is;
* after a confirmed upload the file moves to ``Sent/`` beside it, with its
  history id in the name; a failed file moves to ``Failed/`` with a ``.txt``
  reason beside it. Files are never deleted, and a move is one rename.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from uploader_gui.core.dispatcher import Dispatcher, DispatcherListener
from uploader_gui.core.history import HistoryError, HistoryStore
from uploader_gui.core.jobs import FINAL, SUCCESS, Job
from uploader_gui.core.planner import (
    DUPLICATE,
    UNKNOWN_EARLIER,
    Plan,
    PlanInput,
    answers_from_profile,
    plan,
)
from uploader_gui.core.targets import Credentials, Destination, Target, TargetConfig, make_target
from uploader_gui.core.validation import IsolatedValidator, size_limit
from uploader_gui.core.watch_split import NEEDS_PERSON, conclude_batch, prepare_batch
from uploader_gui.core.watch_status import WatchHealth

log = logging.getLogger(__name__)

SENT_DIR = "Sent"
FAILED_DIR = "Failed"
SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".txt")
DEFAULT_SETTLE = 3.0
#: How long a watcher holds a file it took before another may take it (it dies meanwhile).
CLAIM_LEASE = 600.0
ID_GROUPS = ("patient", "mrn", "record")


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"The filename rule is not a valid pattern: {exc}.") from None
    if not set(ID_GROUPS) & set(rx.groupindex):
        raise PatternError("The filename rule needs a named group (?P<patient>…), (?P<mrn>…) "
                           "or (?P<record>…) to tell where each file goes.")
    return rx


def destination_from_name(name: str, rx: re.Pattern[str] | None, kind: str,
                          defaults: Destination) -> Destination | None:
    """The destination a file's name gives, or None when the rule does not match."""
    if rx is None:
        return None
    m = rx.search(name)
    if m is None:
        return None
    groups = {k: v for k, v in m.groupdict().items() if v}
    ident = groups.get("record") or groups.get("patient") or groups.get("mrn")
    if not ident:
        return None
    dest = replace(defaults)
    if kind == "redcap":
        dest.record = ident
    else:
        dest.patient_id = ident
    if groups.get("doctype"):
        dest.document_type = groups["doctype"].replace("_", " ")
    return dest


@dataclass
class Outcome:
    path: Path
    #: sent / failed / unknown / rejected / needs_destination / needs_person / duplicate
    status: str
    message: str
    moved_to: Path | None = None
    job_id: int | None = None


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


@dataclass
class WatchSettings:
    folder: Path
    config: TargetConfig
    profile: str | None
    defaults: Destination = field(default_factory=Destination)
    pattern: str | None = None
    settle: float = DEFAULT_SETTLE
    poll: float = 1.0


def dest_text(planned: Plan) -> str:
    return planned.jobs[0].job.dest_key if planned.jobs else "that destination"


class FolderWatcher:
    """Scans a folder and sends what settles there. Qt-free; the CLI and the window use it."""

    def __init__(self, settings: WatchSettings, credentials: Credentials,
                 history: HistoryStore, validator: IsolatedValidator,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 dispatcher: Dispatcher | None = None) -> None:
        self.s = settings
        self.rx = compile_pattern(settings.pattern)
        self.credentials = credentials
        self.history = history
        self.validator = validator
        self.on_outcome = on_outcome or (lambda o: None)
        self._seen: dict[Path, _Seen] = {}
        self._reported: dict[Path, tuple[int, float]] = {}
        self._claims: dict[Path, str] = {}
        self._stop = threading.Event()
        self._listener = _Waiter()
        self.dispatcher = dispatcher or Dispatcher(history, lambda _j: credentials,
                                                   concurrency=2, listener=self._listener)
        self._owns_dispatcher = dispatcher is None
        self.health = WatchHealth(str(settings.folder), settings.profile or settings.config.name)
        #: Called after every scan with :attr:`health` (the service's status file).
        self.on_scan: Callable[[WatchHealth], None] = lambda _h: None

    # ------------------------------------------------------------------ scanning

    def candidates(self) -> list[Path]:
        """Regular, visible files directly in the folder (not in Sent/ or Failed/)."""
        out = []
        try:
            entries = list(os.scandir(self.s.folder))
        except OSError as exc:
            log.error("cannot read %s: %s", self.s.folder, exc)
            return []
        for entry in entries:
            name = entry.name
            if name.startswith((".", "~$")) or name.lower().endswith(SKIP_SUFFIXES):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            out.append(Path(entry.path))
        return sorted(out)

    def stable(self, now: float | None = None) -> list[Path]:
        """Files whose size and mtime have not changed for ``settle`` seconds."""
        now = time.monotonic() if now is None else now
        ready = []
        present = set()
        for path in self.candidates():
            try:
                st = path.stat()
            except OSError:
                continue
            present.add(path)
            seen = self._seen.get(path)
            if seen is None or (seen.size, seen.mtime) != (st.st_size, st.st_mtime):
                self._seen[path] = _Seen(st.st_size, st.st_mtime, now)
                continue
            if now - seen.since >= self.s.settle and st.st_size > 0:
                reported = self._reported.get(path)
                if reported != (st.st_size, st.st_mtime):
                    ready.append(path)
        for gone in set(self._seen) - present:
            self._seen.pop(gone, None)
            self._reported.pop(gone, None)
        return ready

    # ------------------------------------------------------------------ processing

    def process_once(self) -> list[Outcome]:
        """Send every file that is stable now; wait for their outcomes."""
        self.health.last_scan = time.time()
        try:
            outcomes = self._process()
        except Exception as exc:
            self._note_problem(f"{type(exc).__name__}: {exc}")
            self.on_scan(self.health)
            raise
        for o in outcomes:
            self.health.handled[o.status] = self.health.handled.get(o.status, 0) + 1
            if o.status in ("failed", "rejected", "unknown"):
                self._note_problem(f"{o.path.name}: {o.message}")
        self.health.pending = max(0, len(self.candidates()))
        self.on_scan(self.health)
        return outcomes

    def _note_problem(self, text: str) -> None:
        self.health.last_error, self.health.last_error_at = text, time.time()

    def _process(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        pending: list[tuple[Path, list[Job], bool]] = []  # (file, its jobs, split at sheets)
        target = make_target(self.s.config, self.credentials)
        try:
            for path in self.stable():
                if self._stop.is_set():
                    break
                if not self._claim(path):
                    continue  # another server watching this folder has it
                result = self._prepare(path, target)
                if isinstance(result, Outcome):
                    outcomes.append(self._report(result))
                else:
                    batch = isinstance(result, list)
                    pending.append((path, result if isinstance(result, list) else [result], batch))
        finally:
            target.close()
        for _path, jobs, _batch in pending:
            for job in jobs:
                if self._stop.is_set():
                    break
                self.dispatcher.submit(job)
        for path, jobs, batch in pending:
            finals = []
            for job in jobs:
                if job.id is None:
                    continue
                final = (self._listener.wait_for(job.id, self._stop) if self._owns_dispatcher
                         else self.dispatcher.wait_job(job.id, self._stop))
                if final is not None:  # None: stopping; the job is resumed later
                    finals.append(final)
            if not finals or len(finals) < len(jobs):
                continue
            if not batch:
                outcomes.append(self._report(self._conclude(path, finals[0])))
            else:
                outcomes.append(self._report(conclude_batch(self, path, finals)))
        return outcomes

    def _prepare(self, path: Path, target: Target) -> Job | list[Job] | Outcome:
        """The shared planner, answered by the profile's settings (nobody is asked)."""
        if self.s.config.split_cover_sheets:
            batch = prepare_batch(self, path, target)
            if batch is not None:
                return batch
        dest = destination_from_name(path.name, self.rx, self.s.config.kind, self.s.defaults)
        if dest is None:
            return Outcome(path, "needs_destination",
                           "The file name does not tell the patient or record, so it was left "
                           "in the folder. Rename it to match the rule, or send it by hand.")
        limit = self.s.config.size_limit or size_limit(self.s.config.kind)
        res = self.validator.validate(path, self.s.config.kind, limit)
        planned = plan([PlanInput(str(path), path.resolve(), res)], self.s.config, self.credentials,
                       dest, self.history, profile=self.s.profile, target=target,
                       validator=self.validator)
        resolution = planned.resolve(answers_from_profile(planned))
        if resolution.jobs:
            return resolution.jobs[0].job
        [refusal] = [*planned.refused, *resolution.skipped]
        if refusal.question == DUPLICATE:
            moved = self._move(path, SENT_DIR, refusal.earlier_id)
            return Outcome(path, "duplicate", f"Already sent to {dest_text(planned)} (history "
                           f"#{refusal.earlier_id}); not sent again.", moved, refusal.earlier_id)
        if refusal.question == UNKNOWN_EARLIER:
            return self._fail(path, refusal.reason, "unknown", refusal.earlier_id)
        return self._fail(path, refusal.reason, "rejected")

    def _conclude(self, path: Path, job: Job) -> Outcome:
        if job.status in SUCCESS:
            moved = self._move(path, SENT_DIR, job.id)
            return Outcome(path, "sent", f"Sent to {job.dest_key}"
                           + (f" (id {job.remote_id})" if job.remote_id else "") + ".",
                           moved, job.id)
        reason = job.error or job.status
        if job.status == "unknown":
            reason = "Not known whether it arrived: " + reason + " Check before sending it again."
        return self._fail(path, reason, job.status, job.id)

    def _fail(self, path: Path, reason: str, status: str, job_id: int | None = None) -> Outcome:
        moved = self._move(path, FAILED_DIR, job_id)
        if moved is not None:
            note = moved.with_name(moved.name + ".txt")
            note.write_text(f"{path.name}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                            f"{'history #' + str(job_id) if job_id else 'not sent'}\n\n{reason}\n",
                            encoding="utf-8")
        return Outcome(path, status, reason, moved, job_id)

    def _move(self, path: Path, folder_name: str, job_id: int | None) -> Path | None:
        """One rename into Sent/ or Failed/ beside the file; never a copy-and-delete."""
        folder = path.parent / folder_name
        folder.mkdir(exist_ok=True)
        stem, suffix = path.stem, path.suffix
        base = f"{stem}.job-{job_id}" if job_id is not None else stem
        target = folder / f"{base}{suffix}"
        n = 1
        while target.exists():
            target = folder / f"{base}-{n}{suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError as exc:
            log.error("could not move %s to %s: %s", path, target, exc)
            return None
        self._seen.pop(path, None)
        return target

    def _claim(self, path: Path) -> bool:
        """Take the file for this watcher: several scan servers may watch one share.

        The key is what every server sees alike (the profile, the file's name, size
        and modification time), not the path it is mounted at. The claim has a
        lease: a server that dies mid-file loses it, and the history's rules for
        an earlier upload (duplicate, outcome unknown) then apply to whoever takes it.
        """
        try:
            st = path.stat()
        except OSError:
            return False
        key = f"{self.s.profile or self.s.config.name}|{path.name}|{st.st_size}|{st.st_mtime_ns}"
        if not self.history.claim(key, CLAIM_LEASE):
            return False
        try:
            again = path.stat()
        except OSError:
            again = None
        if again is None or (again.st_size, again.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            self.history.finish_claim(key, None)  # another server handled and moved it
            return False
        self._claims[path] = key
        return True

    def _report(self, outcome: Outcome) -> Outcome:
        key = self._claims.pop(outcome.path, None)
        if key is not None and outcome.moved_to is not None:  # handled: never taken again
            self.history.finish_claim(key, outcome.job_id)
        if outcome.status in ("needs_destination", NEEDS_PERSON):
            try:
                st = outcome.path.stat()
                self._reported[outcome.path] = (st.st_size, st.st_mtime)
            except OSError:
                pass
        self.on_outcome(outcome)
        return outcome

    # ------------------------------------------------------------------ running

    def run(self, once: bool = False) -> None:
        """Until :meth:`stop` (SIGTERM, Ctrl+C); with ``once``, what is there now, then return."""
        if once:
            deadline = time.monotonic() + self.s.settle + 1
            # Files must be seen twice, ``settle`` apart, to count as written.
            self.stable()
            while time.monotonic() < deadline and not self._stop.is_set():
                self._stop.wait(min(self.s.poll, max(0.0, deadline - time.monotonic())))
            self.process_once()
            return
        while not self._stop.is_set():
            self.process_once()
            self._stop.wait(self.s.poll)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        try:
            self.history.release_claims()
        except HistoryError as exc:  # the lease runs out by itself
            log.warning("could not release claimed files: %s", exc)
        if self._owns_dispatcher:
            self.dispatcher.shutdown(cancel=False, timeout=10)


class _Waiter(DispatcherListener):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._final: dict[int, Job] = {}

    def job_changed(self, job: Job) -> None:
        if job.status in FINAL and job.id is not None:
            with self._cond:
                self._final[job.id] = job
                self._cond.notify_all()

    def wait_for(self, job_id: int, stop: threading.Event) -> Job | None:
        with self._cond:
            while job_id not in self._final:
                if stop.is_set():
                    return None
                self._cond.wait(0.2)
            return self._final.pop(job_id)
