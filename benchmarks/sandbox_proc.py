"""The sandbox in its own process, so its CPU time is not charged to the process measured.

``python -m benchmarks.sandbox_proc DATA_DIR [--limit BYTES] [--nagle]`` prints one JSON
line (``url``, ``credentials``) once it listens, then serves until its stdin is closed.
:class:`SandboxProcess` does that from the harness.

TCP_NODELAY is set on the server's sockets unless ``--nagle`` is given. The sandbox's
handler writes a response's headers and its body in two ``send`` calls; with Nagle's
algorithm on, the body waits for the client's delayed ACK (40 ms on Linux) whenever the
connection is kept alive, as the app's is and curl's is not. Production servers do not
behave that way, so the benchmark does not measure it (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LIMIT = 256 * 1024 * 1024  # room for the 200 MB streaming case


class SandboxProcess:
    """Start the emulator in a child process; ``url`` and ``credentials`` once started."""

    def __init__(self, data_dir: Path, limit: int = LIMIT, nagle: bool = False) -> None:
        self.data_dir = data_dir
        self.limit = limit
        self.nagle = nagle
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.credentials: dict[str, Any] = {}

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_proc", str(self.data_dir),
             "--limit", str(self.limit), *(["--nagle"] if self.nagle else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise RuntimeError("The sandbox process did not start.")
        info = json.loads(line)
        self.url, self.credentials = info["url"], info["credentials"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    from uploader_gui.sandbox import Sandbox
    from uploader_gui.sandbox.handler import SandboxRequestHandler

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox_proc")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--limit", type=int, default=LIMIT)
    parser.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on (as shipped)")
    args = parser.parse_args(argv)
    SandboxRequestHandler.disable_nagle_algorithm = not args.nagle
    sb = Sandbox(args.data_dir, claros_limit=args.limit, redcap_limit=args.limit,
                 redox_limit=args.limit).start()
    try:
        print(json.dumps({"url": sb.url, "credentials": sb.credentials}), flush=True)
        sys.stdin.read()  # until the harness closes our stdin
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
