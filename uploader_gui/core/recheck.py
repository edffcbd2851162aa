"""The check just before sending: the staged file is still the regular file that was checked.

A file can be swapped between its check and its upload: for a FIFO (an open that
blocks for ever), a link to ``/dev/zero`` (a read that never ends) or a device.
So the file is opened without waiting (``O_NONBLOCK``), the *open descriptor* is
``fstat``-ed (what the name points at now does not matter any more), anything but a
regular file is refused, and the hash is read from that same descriptor, never more
than the size recorded at the check.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_BINARY", 0))


class StagedFileError(OSError):
    """The staged file cannot be sent as checked; ``message`` says why in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _open_fd(path: Path, name: str) -> tuple[int, os.stat_result]:
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise StagedFileError(f"The file {name} is no longer where it was staged. It was not "
                              "sent; add it again.") from None
    except OSError as exc:
        raise StagedFileError(f"The file {name} cannot be read ({exc.strerror}). It was not "
                              "sent.") from None
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise StagedFileError(f"The file {name} cannot be read ({exc.strerror}). It was not "
                              "sent.") from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise StagedFileError(
            f"The file {name} was replaced by something that is not an ordinary file (a pipe, "
            "a device or a link to one) after it was checked. It was not sent; add the real "
            "file again.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd, info


def open_regular(path: Path, size: int | None = None) -> BinaryIO:
    """The file opened for reading, if it is a regular file (of ``size`` bytes, if given).

    Raises :class:`StagedFileError`. Never blocks on a FIFO and never reads a device.
    """
    name = path.name
    fd, info = _open_fd(path, name)
    if size is not None and info.st_size != size:
        os.close(fd)
        raise StagedFileError(_changed(name))
    return os.fdopen(fd, "rb")


def hash_staged(path: Path, size: int) -> str:
    """The SHA-256 of the file's first ``size`` bytes, read from one checked descriptor.

    Raises :class:`StagedFileError` when the file is gone, unreadable, not a regular
    file, or not ``size`` bytes long any more.
    """
    with open_regular(path, size) as fh:
        digest = hashlib.sha256()
        left = size
        while left > 0:
            block = fh.read(min(CHUNK, left))
            if not block:
                raise StagedFileError(_changed(path.name))
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def read_regular(path: Path, size: int) -> bytes:
    """All ``size`` bytes of a regular file (for bodies sent inline), never more."""
    with open_regular(path, size) as fh:
        data = fh.read(size)
    if len(data) != size:
        raise StagedFileError(_changed(path.name))
    return data


def _changed(name: str) -> str:
    return (f"The file {name} changed after it was checked. It was not sent; add it again so "
            "the new version is checked.")
