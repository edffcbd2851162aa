import sys

from uploader_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
