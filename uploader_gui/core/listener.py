"""What the upload queue tells whoever follows it (the window, ``send``, ``watch``).

Its own module, light to import: the window follows a queue that runs in another process
(``core.dispatch_service``) and needs none of the queue's machinery.
"""

from __future__ import annotations

from uploader_gui.core.history_errors import HistoryError
from uploader_gui.core.jobs import Job


class DispatcherListener:
    """Called from worker threads. Implementations must be quick and thread-safe."""

    def job_changed(self, job: Job) -> None:
        pass

    def job_progress(self, job_id: int, sent: int, total: int) -> None:
        pass

    def job_finished(self, job: Job) -> None:
        """The dispatcher is done with this job (after any verification right after sending)."""

    def history_failed(self, error: HistoryError) -> None:
        """The history stopped taking writes (``error.kind``, e.g. disk full); sent once."""


