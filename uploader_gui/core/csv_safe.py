"""CSV cells that a spreadsheet will show as text, never run as a formula.

File names come from outside (a scanner, an e-mail attachment): a name such as
``=HYPERLINK(...)`` or ``@SUM(...)`` would be executed by Excel or LibreOffice when
the History export is opened (CSV injection). As OWASP advises, a cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The value as CSV text a spreadsheet cannot take for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
