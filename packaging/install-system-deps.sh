#!/bin/sh
# Install the system libraries uploader-gui needs on Debian/Ubuntu.
#
#   sh packaging/install-system-deps.sh          # what the app needs to run (Qt's libraries)
#   sh packaging/install-system-deps.sh --test   # plus what the test suite needs
#
# Packages already present are not reinstalled, so a second run is quick and
# needs no network. On systems without apt-get it does nothing and says so.
set -eu

RUNTIME="libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libglib2.0-0 fonts-dejavu-core"
# gnome-keyring + dbus-x11: the real Secret Service used by the keyring tests;
# xvfb + xauth: a virtual screen for screenshots; nsis + desktop-file-utils: the
# installer tests (the Windows script is compiled here, the .desktop file validated);
# curl + qpdf: the references the benchmark harness measures against; postgresql: the
# throw-away server the clinic-database tests start (tests/pg_fixture.py); poppler-utils
# (pdfinfo) + mupdf-tools (mutool): with qpdf, the readers the PDF corpus is judged by.
TEST="gnome-keyring dbus-x11 xvfb xauth nsis desktop-file-utils curl qpdf postgresql systemd
poppler-utils mupdf-tools"

want="$RUNTIME"
[ "${1:-}" = "--test" ] && want="$RUNTIME $TEST"

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install Qt 6's runtime libraries with your" \
         "package manager if the app does not start." >&2
    exit 0
fi

missing=""
for pkg in $want; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "install-system-deps: all system packages present."
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-system-deps: need root to install:$missing" >&2
        exit 1
    fi
fi

echo "install-system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-system-deps: done."
