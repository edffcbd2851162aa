"""Which files a person's selection means: folders expanded, hidden files skipped."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files as given, and folders expanded (recursively) to the regular files inside.

    Hidden files and folders (dot-names) inside a dropped folder are skipped:
    they are thumbnails and system files, never documents a person chose.
    Symbolic links to folders are not followed, so a link loop cannot hang us.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    child = Path(dirpath) / name
                    if child.is_file():
                        yield child
        else:
            yield p
