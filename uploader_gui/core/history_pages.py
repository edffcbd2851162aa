"""A window onto the history: what is asked for (search, status, system, dates, desk), in
which order, a page at a time, newest first by default.

The History tab shows the newest page at once and reads the rest on demand, so a
clinic's 10,000 uploads never have to be read before the window is useful. Pages follow
one another by their last row's sort key (keyset paging, never OFFSET): an upload that
arrives between two pages neither shifts the next page nor appears twice.

The same criteria and the same order are written twice, once as SQL (for both stores,
run through :meth:`JobQueries.page`) and once in Python (:meth:`HistoryQuery.accepts`,
:func:`sort_key`), so that live updates placed in the loaded rows land exactly where
the database would have put them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from uploader_gui.core.jobs import Job

#: Rows read per page: enough to fill any screen several times, quick to read and show.
PAGE_SIZE = 300

#: The orders the History tab offers, by name: the columns compared (before the id,
#: which breaks ties) as SQL and as Python. Text columns never hold NULL here.
ORDERS: dict[str, tuple[tuple[str, ...], Callable[[Job], tuple[Any, ...]]]] = {
    "created": (("created",), lambda j: (j.created,)),
    "name": (("name",), lambda j: (j.name,)),
    "patient": (("COALESCE(NULLIF(patient_label, ''), dest_key)", "dest_key"),
                lambda j: (j.patient_label or j.dest_key, j.dest_key)),
    "target": (("COALESCE(profile, '')", "target"), lambda j: (j.profile or "", j.target)),
    "delivery": (("COALESCE(delivery, '')",), lambda j: (j.delivery or "",)),
    "status": (("status", "COALESCE(error, '')"), lambda j: (j.status, j.error or "")),
}
_TEXT_FREE = {"created"}  # sort expressions that are numbers, not text

#: What a search looks in (patient ids and REDCap records are part of dest_key).
SEARCHED = ("name", "dest_key", "remote_id", "patient_label", "profile")


def sort_key(order: str, job: Job) -> tuple[Any, ...]:
    """The key the database sorts ``job`` by under ``order`` (the id breaks ties)."""
    return (*ORDERS[order][1](job), job.id or 0)


@dataclass(frozen=True)
class HistoryQuery:
    """Which uploads, in which order. Empty criteria: every upload, newest first."""

    text: str = ""
    status: str | None = None
    target: str | None = None
    since: float | None = None
    until: float | None = None
    #: Only this desk's uploads (a clinic's shared history); None: the whole clinic.
    workstation: str | None = None
    order: str = "created"
    descending: bool = True

    def with_(self, **changes: Any) -> HistoryQuery:
        return replace(self, **changes)

    def accepts(self, job: Job) -> bool:
        """The criteria in Python: the same as :meth:`where` says in SQL."""
        if self.workstation and job.workstation != self.workstation:
            return False
        if self.status and job.status != self.status:
            return False
        if self.target and job.target != self.target:
            return False
        if self.since is not None and job.created < self.since:
            return False
        if self.until is not None and job.created >= self.until:
            return False
        if self.text:
            needle = self.text.lower()
            fields = (job.name, job.dest_key, job.remote_id, job.patient_label, job.profile)
            return any(needle in f.lower() for f in fields if f)
        return True

    def key(self, job: Job) -> tuple[Any, ...]:
        return sort_key(self.order, job)

    def before(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        """Whether a row with key ``a`` is shown above one with key ``b``."""
        return a > b if self.descending else a < b

    # ------------------------------------------------------------------ SQL

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.workstation:
            clauses.append("workstation = ?")
            params.append(self.workstation)
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        if self.target:
            clauses.append("target = ?")
            params.append(self.target)
        if self.since is not None:
            clauses.append("created >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("created < ?")
            params.append(self.until)
        if self.text:
            pattern = "%" + _escape_like(self.text.lower()) + "%"
            clauses.append("(" + " OR ".join(f"LOWER({c}) LIKE ? ESCAPE '!'"
                                             for c in SEARCHED) + ")")
            params += [pattern] * len(SEARCHED)
        return clauses, params

    def sql(self, *, after: tuple[Any, ...] | None = None, limit: int | None = None,
            text_order: str = "") -> tuple[str, list[Any]]:
        """SELECT for this query; ``after``: the key of the last row already shown."""
        clauses, params = self.where()
        columns = [c if c in _TEXT_FREE else c + text_order for c in ORDERS[self.order][0]]
        columns.append("id")
        if after is not None:
            compare = "<" if self.descending else ">"
            marks = ", ".join("?" * len(after))
            clauses.append(f"({', '.join(columns)}) {compare} ({marks})")
            params += list(after)
        sql = "SELECT * FROM jobs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        direction = " DESC" if self.descending else ""
        sql += " ORDER BY " + ", ".join(c + direction for c in columns)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params


def _escape_like(text: str) -> str:
    """A search for "50%" or "a_b" means those characters, not LIKE's wildcards."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


@dataclass
class Page:
    """Rows in order, and whether the database has more after the last of them."""

    jobs: list[Job]
    more: bool
    #: Every upload in the history when the page was read (for "300 of 10,000 shown"),
    #: and the highest id then: a later upload with a higher id is one more.
    total: int | None = None
    top_id: int = 0
