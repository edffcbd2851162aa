"""A local emulator of the Redox, Claros Health and REDCap APIs, for tests and demos.

``Sandbox`` runs it in a background thread; ``main`` is the ``uploader-gui sandbox``
command. Qt-free; standard library HTTP server only.
"""

from .server import Sandbox, main

__all__ = ["Sandbox", "main"]
