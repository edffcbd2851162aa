#!/bin/sh
# Build the Linux bundle with PyInstaller and package it as uploader-gui_<version>_amd64.deb.
#
#   sh packaging/build-deb.sh [--venv DIR] [--work DIR] [--out DIR]
#
#   --venv DIR   build virtual environment, made (python3 -m venv) when missing and
#                reused otherwise; default build/venv. Only the app's own dependencies
#                and PyInstaller go in it, so nothing else on this machine is bundled.
#   --work DIR   scratch folder (source copy, PyInstaller work, staging root); default build/
#   --out DIR    where the .deb goes; default dist/
#
# The package installs the bundle to /opt/uploader-gui/, a /usr/bin/uploader-gui
# launcher, the desktop entry and hicolor icons. Depends: Qt's xcb libraries plus every
# library the bundle links from the system (packaging/linux/debdeps.py). Needs python3
# (with venv), dpkg-deb and ldd; run it on the oldest Debian/Ubuntu you support.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK="$REPO/build"
OUT="$REPO/dist"
VENV=""
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) VENV="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build-deb: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$VENV" ] || VENV="$WORK/venv"
PYTHON=${PYTHON:-python3}
mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd)
OUT=$(cd "$OUT" && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "build-deb: $*"; }
now() { date +%s; }
T0=$(now)

# 1. A copy of the source (tracked and untracked files, not ignored ones), so the build
#    leaves no build/ or .egg-info behind in the checkout.
SRC="$WORK/src"
rm -rf "$SRC"
mkdir -p "$SRC"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z -co --exclude-standard | xargs -0 sh -c \
        'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh | tar --null -cf - -T -) \
        | tar -xf - -C "$SRC"
else
    (cd "$REPO" && tar --exclude=./.git --exclude=./build --exclude=./dist -cf - .) \
        | tar -xf - -C "$SRC"
fi

# 2. The build environment: the app's dependencies and PyInstaller, then this source.
if [ ! -x "$VENV/bin/pyinstaller" ]; then
    say "making the build environment in $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q "$SRC" pyinstaller
else
    "$VENV/bin/pip" install -q "$SRC"   # picks up new dependencies, if any
fi
"$VENV/bin/pip" install -q --no-deps --force-reinstall "$SRC"
VERSION=$("$VENV/bin/python" -c 'import uploader_gui; print(uploader_gui.__version__)')
T1=$(now)

# 3. The bundle.
say "PyInstaller bundle of uploader-gui $VERSION"
rm -rf "$WORK/pyinstaller" "$WORK/bundle"
(cd "$WORK" && "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$WORK/bundle" --workpath "$WORK/pyinstaller" "$SRC/packaging/uploader-gui.spec")
BUNDLE="$WORK/bundle/uploader-gui"
[ -x "$BUNDLE/uploader-gui" ] || { echo "build-deb: no bundle was made" >&2; exit 1; }
stray=$(find "$BUNDLE" \( -name 'libgtk*' -o -name 'libgdk*' -o -name 'libQt6WebEngine*' \
    -o -name 'libQt6Quick*' -o -name 'libQt6Qml*' -o -name 'libQt63D*' -o -name 'libLLVM*' \
    -o -name 'libQt6Multimedia*' -o -name 'libstdc++*' -o -name 'libfontconfig*' \) -print)
if [ -n "$stray" ]; then
    echo "build-deb: the bundle holds libraries it must not:" >&2
    echo "$stray" >&2
    exit 1
fi
T2=$(now)

# 4. The package tree.
ROOT="$WORK/deb-root"
rm -rf "$ROOT"
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
    "$ROOT/usr/share/doc/uploader-gui"
cp -a "$BUNDLE" "$ROOT/opt/uploader-gui"
cat > "$ROOT/usr/bin/uploader-gui" <<'LAUNCHER'
#!/bin/sh
exec /opt/uploader-gui/uploader-gui "$@"
LAUNCHER
chmod 0755 "$ROOT/usr/bin/uploader-gui"
cp "$SRC/resources/uploader-gui.desktop" "$ROOT/usr/share/applications/uploader-gui.desktop"
# The watched-folder service (one instance per profile) and its system user.
mkdir -p "$ROOT/lib/systemd/system"
cp "$SRC/packaging/linux/uploader-gui-watch@.service" "$ROOT/lib/systemd/system/"
cat > "$ROOT/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && ! getent passwd uploader-gui >/dev/null; then
    adduser --system --group --home /var/lib/uploader-gui --no-create-home \
        --gecos "uploader-gui watched folders" uploader-gui >/dev/null
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
POSTINST
chmod 0755 "$ROOT/DEBIAN/postinst"
"$VENV/bin/python" "$SRC/packaging/icons.py" hicolor "$ROOT" >/dev/null
cat > "$ROOT/usr/share/doc/uploader-gui/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: uploader-gui

Files: *
License: MIT
Comment: The bundle in /opt/uploader-gui also holds Python, Qt for Python (PySide6,
 LGPL-3.0), Pillow, pypdf, requests, keyring, cryptography and their own libraries,
 each under its own licence; see the *.dist-info folders in /opt/uploader-gui/_internal.
COPYRIGHT
chmod -R u+rwX,go+rX,go-w "$ROOT"
chmod 0755 "$ROOT/DEBIAN/postinst"

DEPENDS=$("$VENV/bin/python" "$SRC/packaging/linux/debdeps.py" "$BUNDLE")
INSTALLED=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: uploader-gui
Version: $VERSION
Architecture: amd64
Maintainer: uploader-gui maintainers <uploader-gui@localhost>
Installed-Size: $INSTALLED
Depends: $DEPENDS
Section: misc
Priority: optional
Description: send clinic documents to Redox, Claros Health and REDCap
 Clinic staff drag PDF, JPEG and PNG files onto the window; each file is
 checked on this computer (type, size, damage, passwords, active content)
 before it is uploaded. Includes a built-in sandbox for training
 (uploader-gui --sandbox) and headless commands for scripts.
CONTROL

DEB="$OUT/uploader-gui_${VERSION}_amd64.deb"
rm -f "$DEB"
dpkg-deb --root-owner-group -Zzstd -b "$ROOT" "$DEB" >/dev/null
T3=$(now)

say "bundle $(du -sh "$BUNDLE" | cut -f1) in $BUNDLE"
say "package $(du -h "$DEB" | cut -f1) at $DEB"
say "times: environment $((T1 - T0)) s, PyInstaller $((T2 - T1)) s, package $((T3 - T2)) s"
