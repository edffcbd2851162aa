"""Output to a pipe that closes early (``uploader-gui history --json | head``) ends quietly.

The reader going away is not an error of ours: no ``BrokenPipeError`` traceback, and
the command carries on (a ``send`` still records every upload) and exits as it would.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class QuietPipe:
    """Wraps stdout; after the first broken pipe, output goes to the null device."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def quiet_stdout() -> None:
    """Install :class:`QuietPipe` on ``sys.stdout`` (once; nothing to do without a stdout)."""
    if sys.stdout is not None and not isinstance(sys.stdout, QuietPipe):
        sys.stdout = QuietPipe(sys.stdout)  # type: ignore[assignment]
