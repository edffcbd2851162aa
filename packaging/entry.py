"""The frozen app's entry point (PyInstaller runs this file as ``__main__``).

``freeze_support()`` comes first, before anything heavy is imported: the file
checks run in helper processes started with the "spawn" method, and in a frozen
build such a helper is this same executable started with ``--multiprocessing-fork``.
``freeze_support()`` turns that start into the helper's loop and exits, so a
helper never parses the command line or opens a window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()

    from uploader_gui.cli import main

    sys.exit(main())
