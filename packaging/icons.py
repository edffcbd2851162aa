"""Icon files the installers need, made from resources/icons/ (PNG, rendered from the SVG).

    python3 packaging/icons.py ico OUT.ico     # Windows: 16-256 px in one .ico
    python3 packaging/icons.py hicolor ROOT    # Linux: ROOT/usr/share/icons/hicolor/...

The PyInstaller spec imports this module too; only Pillow is needed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
NAME = "uploader-gui"


def png_sizes() -> dict[int, Path]:
    found = {}
    for png in ICONS.glob(f"{NAME}-*.png"):
        size = png.stem.rsplit("-", 1)[1]
        if size.isdigit():
            found[int(size)] = png
    if not found:
        raise SystemExit(f"no {NAME}-<size>.png icons in {ICONS}; run packaging/render_icons.py")
    return dict(sorted(found.items()))


def write_ico(out: Path) -> Path:
    from PIL import Image

    sizes = [s for s in png_sizes() if s <= 256]
    with Image.open(png_sizes()[max(sizes)]) as big:
        big.save(out, format="ICO", sizes=[(s, s) for s in sizes])
    return out


def install_hicolor(root: Path) -> list[Path]:
    """Copy the icons into a hicolor theme under ``root`` (a package's staging root)."""
    theme = root / "usr" / "share" / "icons" / "hicolor"
    written = []
    for size, png in png_sizes().items():
        dest = theme / f"{size}x{size}" / "apps" / f"{NAME}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copyfile(png, dest)))
    svg = theme / "scalable" / "apps" / f"{NAME}.svg"
    svg.parent.mkdir(parents=True, exist_ok=True)
    written.append(Path(shutil.copyfile(ICONS / f"{NAME}.svg", svg)))
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("ico", "hicolor"):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[1])
    if argv[0] == "ico":
        print(write_ico(target))
    else:
        for path in install_hicolor(target):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
