"""Who the typed patient id or record is: looked up as it is typed, debounced, on a worker.

The answer (a :class:`Lookup`) says whether Upload may be pressed and, in words, why not.
Names are patient data: they stay in memory here and are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from uploader_gui.core.outcome import UploadError
from uploader_gui.core.profiles import Profile
from uploader_gui.core.targets import Destination
from uploader_gui.core.targets.base import LOOKUP, PatientInfo

log = logging.getLogger(__name__)

#: Quiet time after the last key press before the target is asked.
DEBOUNCE_MS = 400

IDLE, LOOKING, KNOWN, UNKNOWN, FAILED, NO_LOOKUP = (
    "idle", "looking", "known", "unknown", "failed", "no_lookup")


def tr(text: str) -> str:
    return QCoreApplication.translate("PatientLookup", text)


@dataclass(frozen=True)
class Lookup:
    """The state of the lookup for one profile and destination."""

    state: str
    key: str = ""  # "Sandbox Claros: patient 1002": what was looked up
    patient: PatientInfo | None = None
    #: Why Upload cannot be pressed yet, as a sentence; empty when it can.
    reason: str = ""

    @property
    def blocks_upload(self) -> bool:
        return self.state in (LOOKING, UNKNOWN, FAILED, IDLE)


def _ident(profile: Profile, destination: Destination) -> str:
    if profile.config.kind == "redcap":
        return (destination.record or "").strip()
    return (destination.patient_id or "").strip()


def _what(profile: Profile) -> str:
    return tr("record") if profile.config.kind == "redcap" else tr("patient")


def _ask(profile: Profile, destination: Destination) -> tuple[bool, PatientInfo | None]:
    """Worker thread: (whether the target can look up, its answer; None: no such one)."""
    from uploader_gui.core.targets import make_target

    target = make_target(profile.config, profile.credentials)
    try:
        if not target.supports(LOOKUP):
            return False, PatientInfo(_ident(profile, destination))
        return True, target.lookup(destination)
    finally:
        target.close()


class PatientLookup(QObject):
    """Debounced lookups; emits :attr:`changed` with each new :class:`Lookup`."""

    changed = Signal(object)

    def __init__(self, runner: object, parent: QObject | None = None,
                 debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._runner = runner
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)
        self._pending: tuple[Profile, Destination, str] | None = None
        self._cache: dict[str, tuple[bool, PatientInfo | None] | None] = {}
        self.current = Lookup(IDLE)

    def request(self, profile: Profile | None, destination: Destination) -> None:
        """The profile or the destination changed: look it up after a quiet moment."""
        self._timer.stop()
        self._pending = None
        if profile is None:
            self._set(Lookup(IDLE, reason=tr("Choose where to send the files.")))
            return
        ident = _ident(profile, destination)
        key = f"{profile.name}: {_what(profile)} {ident}"
        if profile.config.kind == "redox":
            self._set(self._redox(key, destination))
            return
        if not ident:
            what = _what(profile)
            self._set(Lookup(IDLE, key, reason=tr("Enter the {what} to send to.").format(
                what=tr("record ID") if what == tr("record") else tr("patient ID"))))
            return
        if key in self._cache:
            self._answer(key, ident, profile, self._cache[key], None)
            return
        self._pending = (profile, destination, key)
        self._set(Lookup(LOOKING, key, reason=tr("Looking up {what} {ident}…").format(
            what=_what(profile), ident=ident)))
        self._timer.start()

    def forget(self) -> None:
        """Drop remembered answers (e.g. after the profiles were edited)."""
        self._cache.clear()

    def _redox(self, key: str, d: Destination) -> Lookup:
        ident = (d.patient_id or "").strip()
        name = (d.patient_name or "").strip()
        born = (d.patient_birth_date or "").strip()
        missing = [w for w, v in ((tr("the patient ID"), ident), (tr("the patient's name"), name),
                                  (tr("the date of birth"), born)) if not v]
        if missing:
            return Lookup(IDLE, key, reason=tr("Enter {what}.").format(what=_join(missing)))
        if not _is_date(born):
            return Lookup(IDLE, key, reason=tr("Enter the date of birth as year-month-day, "
                                               "for example 1975-06-15."))
        return Lookup(KNOWN, key, PatientInfo(ident, name, born))

    def _start(self) -> None:
        if self._pending is None:
            return
        profile, destination, key = self._pending
        self._pending = None
        ident = _ident(profile, destination)
        self._runner.run(  # type: ignore[attr-defined]
            _ask, lambda res, err: self._answer(key, ident, profile, res, err),
            profile, destination)

    def _answer(self, key: str, ident: str, profile: Profile,
                answer: tuple[bool, PatientInfo | None] | None,
                error: BaseException | None) -> None:
        if key != self.current.key:
            return  # the user typed on since; a newer lookup is on its way
        supported, patient = answer if answer is not None else (True, None)
        what = _what(profile)
        if error is not None:
            why = error.message if isinstance(error, UploadError) else str(error)
            log.info("patient lookup failed: %s", type(error).__name__)
            self._set(Lookup(FAILED, key, reason=tr(
                "Could not check {what} {ident} with {name}: {why} Try again, or check the "
                "profile.").format(what=what, ident=ident, name=profile.name, why=why)))
            return
        self._cache[key] = answer
        if not supported:
            self._set(Lookup(NO_LOOKUP, key, patient))
            return
        if patient is None:
            self._set(Lookup(UNKNOWN, key, reason=tr(
                "{name} has no {what} {ident}. Check the number{hint}.").format(
                name=profile.name, what=what, ident=ident,
                hint=tr(", or use Find patient…") if profile.config.kind == "claros" else "")))
            return
        self._set(Lookup(KNOWN, key, patient))

    def _set(self, lookup: Lookup) -> None:
        self.current = lookup
        self.changed.emit(lookup)


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + tr(" and ") + words[-1]


def _is_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
