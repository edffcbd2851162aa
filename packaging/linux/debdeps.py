"""The Debian packages a PyInstaller bundle needs from the system, found with ldd and dpkg -S.

    python3 packaging/linux/debdeps.py BUNDLE_DIR      # prints a Depends: value

Every ELF file in the bundle is run through ``ldd`` (with the bundle's own folders on
the library path, as the bootloader sets it); each library resolved outside the bundle
is traced to its package. A library that resolves nowhere is an error. ``libc6`` gets
a minimum version from the newest GLIBC symbol version any file asks for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: What Qt's xcb platform plugin needs, named whether or not ldd sees it (Qt dlopens
#: some; without libxcb-icccm4 Qt wrongly blames xcb-cursor0 and aborts).
BASE_DEPENDS = [
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libxkbcommon0",
    "libegl1", "libgl1", "libfontconfig1", "libfreetype6", "libdbus-1-3", "libxcb-image0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-randr0", "libxcb-xkb1",
    "libx11-xcb1", "libglib2.0-0t64 | libglib2.0-0", "fonts-dejavu-core | fonts-liberation2",
    "ca-certificates",
]
LIBC_PACKAGES = {"libc6", "libc-bin"}


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def library_path(root: Path) -> str:
    dirs = {str(p.parent) for p in root.rglob("*.so*")}
    return ":".join(sorted(dirs))


def external_libraries(root: Path) -> tuple[set[str], list[str], str]:
    """(libraries outside the bundle, problems, highest GLIBC_x.y wanted)."""
    env = dict(os.environ, LD_LIBRARY_PATH=library_path(root), LC_ALL="C")
    root_s = str(root.resolve())
    outside: set[str] = set()
    problems: list[str] = []
    glibc = "2.17"

    def ldd(path: Path) -> tuple[Path, str]:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env,
                              check=False)
        return path, proc.stdout + proc.stderr

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(ldd, elf_files(root)))
    version_re = re.compile(rb"GLIBC_(2\.[0-9]+)")
    for path, out in results:
        for line in out.splitlines():
            line = line.strip()
            if "=> not found" in line:
                problems.append(f"{path.relative_to(root)}: {line}")
            m = re.match(r"\S+ => (/\S+) \(", line)
            if m and not os.path.realpath(m.group(1)).startswith(root_s):
                outside.add(m.group(1))
        for v in set(version_re.findall(path.read_bytes())):
            if _version(v.decode()) > _version(glibc):
                glibc = v.decode()
    return outside, problems, glibc


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def packages_of(paths: set[str]) -> tuple[set[str], list[str]]:
    """Debian packages owning these files; tries the /usr-merged spellings too."""
    owners: set[str] = set()
    missing: list[str] = []
    for path in sorted(paths):
        real = os.path.realpath(path)
        spellings = {path, real}
        for p in list(spellings):
            spellings.add(p[4:] if p.startswith("/usr/") else "/usr" + p)
        proc = subprocess.run(["dpkg", "-S", *sorted(spellings)], capture_output=True,
                              text=True, check=False)
        found = {line.split(":", 1)[0].split(":")[0] for line in proc.stdout.splitlines()
                 if ": " in line}
        found = {f.split(",")[0].strip() for f in found}
        if found:
            owners |= found
        else:
            missing.append(path)
    return owners, missing


def depends(root: Path) -> tuple[str, list[str]]:
    outside, problems, glibc = external_libraries(root)
    owners, unowned = packages_of(outside)
    problems += [f"no Debian package owns {p}" for p in unowned]
    names = list(BASE_DEPENDS)
    named = {alt.strip() for group in names for alt in group.split("|")}
    names += sorted(owners - named - LIBC_PACKAGES)
    return ", ".join([f"libc6 (>= {glibc})", *names]), problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    value, problems = depends(Path(argv[0]))
    for p in problems:
        print(f"debdeps: {p}", file=sys.stderr)
    print(value)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
