"""The reads both history stores share (SQLite on one desk, PostgreSQL for a clinic).

Written with ``?`` placeholders; each store runs them through its own ``_rows``
(PostgreSQL's translates the placeholders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uploader_gui.core.history_pages import PAGE_SIZE, HistoryQuery, Page
from uploader_gui.core.jobs import AttemptRecord, Job

#: What counts as "it went" for duplicates: accepted, or proven.
WENT = "status IN ('sent', 'verified')"


class JobQueries:
    #: Case-insensitive matching for search (PostgreSQL's LIKE is case-sensitive).
    LIKE = "LIKE"
    #: Text sorted by code point, as Python sorts it (PostgreSQL's default is the locale's).
    TEXT_ORDER = ""

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Each store runs the query on its own reader connection (an abstract method)."""
        raise NotImplementedError(f"{type(self).__name__} must define _rows")

    def _jobs(self, sql: str, params: Sequence[Any] = ()) -> list[Job]:
        from uploader_gui.core.history import _job_from_row

        return [_job_from_row(r) for r in self._rows(sql, params)]

    def get(self, job_id: int) -> Job | None:
        found = self._jobs("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return found[0] if found else None

    def jobs(self, *, status: str | list[str] | None = None, limit: int | None = None,
             since: float | None = None, search: str | None = None) -> list[Job]:
        where: list[str] = []
        params: list[Any] = []
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if since is not None:
            where.append("created >= ?")
            params.append(since)
        if search:
            like = self.LIKE
            where.append(f"(name {like} ? OR dest_key {like} ? OR remote_id {like} ?)")
            params += [f"%{search}%"] * 3
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._jobs(sql, params)

    def attempts(self, job_id: int) -> list[AttemptRecord]:
        rows = self._rows("SELECT * FROM attempts WHERE job_id = ? ORDER BY number, id",
                          (job_id,))
        return [AttemptRecord(id=r["id"], job_id=r["job_id"], number=r["number"],
                              started=r["started"], ended=r["ended"], bytes_sent=r["bytes_sent"],
                              http_status=r["http_status"], error=r["error"],
                              decision=r["decision"], url=r["url"]) for r in rows]

    def find_duplicates(self, sha256: str, target: str, dest_key: str) -> list[Job]:
        """Uploads of these bytes to this place that went (accepted or proven)."""
        return self._jobs(f"SELECT * FROM jobs WHERE sha256 = ? AND target = ? AND dest_key = ? "  # noqa: S608
                          f"AND {WENT} ORDER BY created DESC", (sha256, target, dest_key))

    def find_source_duplicates(self, sha256: str, target: str, dest_key: str) -> list[Job]:
        """Uploads that went, made from a file with these bytes (an image converted to PDF)."""
        return self._jobs(f"SELECT * FROM jobs WHERE target = ? AND dest_key = ? AND {WENT} "  # noqa: S608
                          "AND sources LIKE ? ORDER BY created DESC",
                          (target, dest_key, f'%"sha256": "{sha256}"%'))

    def find_same(self, sha256: str, target: str, dest_key: str,
                  statuses: tuple[str, ...]) -> list[Job]:
        """Jobs for these bytes and this place in the given states, newest first."""
        marks = ",".join("?" * len(statuses))
        return self._jobs(f"SELECT * FROM jobs WHERE sha256 = ? AND target = ? AND "  # noqa: S608
                          f"dest_key = ? AND status IN ({marks}) ORDER BY created DESC",
                          (sha256, target, dest_key, *statuses))

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM jobs")[0]["n"])

    # ------------------------------------------------------------------ the History tab

    def page(self, query: HistoryQuery, after: tuple[Any, ...] | None = None,
             size: int = PAGE_SIZE, *, total: bool = False) -> Page:
        """The next ``size`` uploads that ``query`` asks for, after the row keyed ``after``
        (None: from the top). ``total``: also count every upload in the history."""
        sql, params = query.sql(after=after, limit=size + 1, text_order=self.TEXT_ORDER)
        jobs = self._jobs(sql, params)
        page = Page(jobs[:size], len(jobs) > size)
        if total:
            # Two subqueries, not COUNT(*) and MAX(id) side by side: SQLite then counts the
            # smallest index's entries and reads the highest id off the table's end, instead
            # of reading every row (10,000 rows: ~0.01 ms instead of ~0.8 ms, warm). One
            # statement, so both come from the same moment.
            row = self._rows("SELECT (SELECT COUNT(*) FROM jobs) AS n, "
                             "(SELECT COALESCE(MAX(id), 0) FROM jobs) AS top")[0]
            page.total, page.top_id = int(row["n"]), int(row["top"])
        return page

    def matching(self, query: HistoryQuery) -> list[Job]:
        """Every upload ``query`` asks for, in its order (what an export writes)."""
        sql, params = query.sql(text_order=self.TEXT_ORDER)
        return self._jobs(sql, params)
