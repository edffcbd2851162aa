"""uploader-gui: send patient documents from a clinic desktop to Redox, Claros Health and REDCap."""

__version__ = "0.1.0"
APP_NAME = "uploader-gui"
