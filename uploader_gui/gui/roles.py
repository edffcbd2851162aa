"""Item data roles as plain numbers: the values of ``Qt.ItemDataRole``, fixed by Qt.

The first look-up of PySide6's ``Qt`` namespace builds every one of its enums (about
20 ms here); the window's first frame is drawn without it, so the models it holds compare
roles with these (``tests/test_gui_first_frame.py`` checks them against Qt's own).
"""

DISPLAY = 0
DECORATION = 1
TOOLTIP = 3
USER = 0x0100
