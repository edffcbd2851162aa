"""The frozen app and its installers: build the bundle and the .deb, and run what they hold.

Slow (about a minute with a cached build environment, two more to make one). The build
environment is kept in UPLOADER_GUI_BUILD_VENV (default ~/.cache/uploader-gui/build-venv)
so later runs only reinstall the app. Tools missing here skip a test on a developer's
machine; under CI=true they fail it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))
import icons  # noqa: E402 - packaging/icons.py

from uploader_gui import __version__  # noqa: E402

XCB_DEPENDS = ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0",
               "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxcb-image0",
               "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-randr0",
               "libxcb-xkb1", "libglib2.0-0"]


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    why = f"{tool} is not installed (sh packaging/install-system-deps.sh --test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def run(*cmd: str | Path, **kw) -> subprocess.CompletedProcess[str]:
    kw.setdefault("timeout", 120)
    return subprocess.run([str(c) for c in cmd], text=True, capture_output=True, **kw)


def headless(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", UPLOADER_GUI_HOME=str(home))
    return env


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not sys.platform.startswith("linux"):
        pytest.skip("the .deb is built on Linux")
    for tool in ("dpkg-deb", "ldd", "dpkg"):
        require(tool)
    work = tmp_path_factory.mktemp("build")
    venv = Path(os.environ.get("UPLOADER_GUI_BUILD_VENV",
                               Path.home() / ".cache" / "uploader-gui" / "build-venv"))
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHON"] = sys.executable
    proc = run("sh", ROOT / "packaging" / "build-deb.sh", "--venv", venv, "--work", work,
               "--out", work / "out", env=env, timeout=800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(proc.stdout)
    deb = work / "out" / f"uploader-gui_{__version__}_amd64.deb"
    assert deb.is_file(), proc.stdout
    root = work / "root"
    x = run("dpkg", "-x", deb, root)
    assert x.returncode == 0, x.stderr
    return {"deb": deb, "root": root, "bundle": work / "bundle" / "uploader-gui", "work": work}


def test_package_metadata(build: dict[str, Path]) -> None:
    info = run("dpkg-deb", "-f", build["deb"])
    assert info.returncode == 0, info.stderr
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", info.stdout, re.M))
    assert fields["Package"] == "uploader-gui"
    assert fields["Version"] == __version__
    assert fields["Architecture"] == "amd64"
    wanted = {alt.strip().split(" ")[0] for group in fields["Depends"].split(",")
              for alt in group.split("|")}
    assert set(XCB_DEPENDS) <= wanted, set(XCB_DEPENDS) - wanted
    assert re.search(r"libc6 \(>= 2\.\d+\)", fields["Depends"])
    members = run("ar", "t", build["deb"]) if shutil.which("ar") else None
    if members is not None:
        assert "data.tar.zst" in members.stdout.split()
    else:  # no binutils: read the ar index by hand
        assert b"data.tar.zst" in build["deb"].read_bytes()[:4096]


def test_package_layout(build: dict[str, Path]) -> None:
    root = build["root"]
    launcher = root / "usr" / "bin" / "uploader-gui"
    assert os.access(launcher, os.X_OK)
    assert "/opt/uploader-gui/uploader-gui" in launcher.read_text()
    assert os.access(root / "opt" / "uploader-gui" / "uploader-gui", os.X_OK)
    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    sizes = sorted(int(p.parent.parent.name.split("x")[0])
                   for p in hicolor.glob("*x*/apps/uploader-gui.png"))
    assert sizes == sorted(icons.png_sizes()) and {16, 32, 48, 256} <= set(sizes)
    assert (hicolor / "scalable" / "apps" / "uploader-gui.svg").is_file()
    # Nothing of the build machine's desktop stack, nor unused Qt, is bundled.
    names = [p.name for p in (root / "opt" / "uploader-gui").rglob("*")]
    stray = [n for n in names if re.match(
        r"(libgtk|libgdk|libQt6(WebEngine|Quick|Qml|3D|Multimedia|Charts)|libstdc\+\+"
        r"|libfontconfig|libX11\.so|libxcb\.so)", n)]
    assert not stray, stray
    assert any(n.startswith("libQt6Pdf.so") for n in names)  # kept for previews
    assert any(n.startswith("libQt6Svg.so") for n in names)


def test_desktop_entry(build: dict[str, Path]) -> None:
    validate = require("desktop-file-validate")
    desktop = build["root"] / "usr" / "share" / "applications" / "uploader-gui.desktop"
    proc = run(validate, desktop)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    entry = dict(re.findall(r"^(\w+)=(.*)$", desktop.read_text(), re.M))
    assert entry["Exec"].split()[0] == "uploader-gui" and entry["Icon"] == "uploader-gui"


def test_watch_service_unit(build: dict[str, Path], tmp_path: Path) -> None:
    """The unit template is where systemd looks, names the packaged launcher, and passes
    `systemd-analyze verify` (no warning either) against the unpacked package."""
    analyze = require("systemd-analyze")
    unit = build["root"] / "lib" / "systemd" / "system" / "uploader-gui-watch@.service"
    text = unit.read_text()
    assert "ExecStart=/usr/bin/uploader-gui watch --profile %I" in text
    assert "User=uploader-gui" in text and "Restart=on-failure" in text
    assert "KillSignal=SIGTERM" in text and "UMask=0077" in text
    postinst = (build["work"] / "deb-root" / "DEBIAN" / "postinst").read_text()
    assert "adduser --system" in postinst
    # A root with the package and systemd's own targets, as an installed system has them.
    root = tmp_path / "root"
    shutil.copytree(build["root"] / "usr" / "bin", root / "usr" / "bin")
    units = root / "lib" / "systemd" / "system"
    units.mkdir(parents=True)
    for known in Path("/lib/systemd/system").glob("*"):
        if known.suffix in (".target", ".slice") and known.is_file():
            shutil.copy(known, units)
    shutil.copy(unit, units)
    proc = run(analyze, f"--root={root}", "verify", "uploader-gui-watch@Scan-server.service")
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stderr


def test_extracted_app_version_and_self_test(build: dict[str, Path], tmp_path: Path) -> None:
    exe = build["root"] / "opt" / "uploader-gui" / "uploader-gui"
    env = headless(tmp_path / "home")
    version = run(exe, "--version", env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"uploader-gui {__version__}"
    proc = run(exe, "--self-test", env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok    build: frozen" in proc.stdout
    assert "ok    history" in proc.stdout
    assert "self-test passed" in proc.stdout


def test_extracted_app_validates_in_helper_processes(build: dict[str, Path], tmp_path: Path) -> None:
    """The file checks run in spawned helpers, i.e. the frozen program started again."""
    from pypdf import PdfWriter

    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with open(good, "wb") as fh:
        writer.write(fh)
    bad.write_bytes(b"MZ not a pdf")
    exe = build["root"] / "opt" / "uploader-gui" / "uploader-gui"
    env = headless(tmp_path / "home")
    ok = run(exe, "validate", "--json", good, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert '"ok": true' in ok.stdout and '"pages": 1' in ok.stdout
    rejected = run(exe, "validate", good, bad, env=env)
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "1 of 2 file(s) can be sent" in rejected.stdout


def test_windows_installer_script_compiles(build: dict[str, Path]) -> None:
    makensis = require("makensis")
    work = build["work"]
    ico = icons.write_ico(work / "uploader-gui.ico")
    out = work / f"uploader-gui-{__version__}-setup.exe"  # "setup.exe" alone draws warning 9000
    proc = run(makensis, "-V2", "-WX", f"-DVERSION={__version__}", f"-DBUNDLE_DIR={build['bundle']}",
               f"-DICON={ico}", f"-DOUTFILE={out}", "-DFAST",
               ROOT / "packaging" / "windows" / "installer.nsi", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.stat().st_size > 50_000_000  # the bundle is in it
    assert out.read_bytes()[:2] == b"MZ"
