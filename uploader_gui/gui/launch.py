"""What `uploader-gui` does first when it opens the window, before Qt is imported.

- The garbage collector is paused until the window is built (``window_build`` turns it
  back on and moves what start-up made out of its sight with ``gc.freeze()``). Start-up
  makes hundreds of thousands of objects that all live as long as the window; collecting
  among them only costs time (about 14 ms of a 0.19 s start, measured).
- The child process that reads the History tab's newest page starts
  (:mod:`uploader_gui.core.history_preread`), so that it runs on the other core while this
  process imports Qt.

Nothing here imports Qt; ``benchmarks/coldstart.py`` calls it as the command does.
"""

from __future__ import annotations

import gc

#: Whether this process's start paused the collector (tests and tools that build a window
#: on their own leave it alone: freezing there would keep their garbage for good).
_paused = False


def prepare_window_start(read_history: bool = True) -> None:
    """``read_history``: also start the page's reader (the window's first frame takes it)."""
    global _paused
    _paused = True
    gc.disable()
    if read_history:
        from uploader_gui.core import history_preread

        history_preread.start()


def window_built() -> None:
    """The window is whole: collect again, never walking start-up's objects."""
    if _paused:
        gc.freeze()
        gc.enable()


def settled() -> None:
    """What loads soon after (the HTTP stack) is in: out of the collector's sight too."""
    if _paused:
        gc.freeze()
