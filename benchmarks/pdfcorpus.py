"""``python -m benchmarks.pdfcorpus DIR [--out FILE] [--jobs N]``: the validator against real PDFs.

Every PDF under DIR is first judged by three readers: ``qpdf --check``
(exit 0, or 3 = opened with warnings), ``pdfinfo`` (poppler) and ``mutool
info`` (MuPDF). Then the app's own check (:class:`IsolatedValidator`, as the
window and ``send`` use it) gives its verdict, and the figures are:

* **false-reject rate**: of the files all three readers open and that carry
  no scripts, the share the validator refuses (a receptionist who can open the
  file would be told no);
* **false-accept rate**: of the files all three readers fail to open (a
  password they do not have counts as failing), the share it accepts;
* scripted files sent as they are (must be none), scanner-made files refused,
  and the slowest file with its ``qpdf --check`` time.

"Carries scripts" is judged without our code: qpdf rewrites the file with
object streams and compression undone (``--qdf --object-streams=disable``)
and the text is searched for ``/JavaScript``, ``/JS`` and ``/Launch``.

The readers' verdicts are cached in ``DIR/.readers.json`` (by SHA-256), so
a second run only re-runs the validator. The files are never changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from uploader_gui.core.validation import IsolatedValidator

TOOL_TIMEOUT_S = 30
#: Scripts and launch actions in qpdf's uncompressed rewrite, stream bodies removed.
SCRIPT_MARKERS = re.compile(rb"/S\s*/(JavaScript|Launch)\b|/JS\s*[(<]|/JS\s+\d+\s+\d+\s+R"
                            rb"|/JavaScript\s*(<<|\d+\s+\d+\s+R)")
STREAM_BODY = re.compile(rb"\bstream\r?\n.*?\bendstream\b", re.S)
#: Bumped when the way "carries scripts" is judged changes: cached verdicts are redone.
SCRIPT_RULE = 2
#: Producer or Creator naming a scanner, a scanning app or a multifunction copier.
SCANNER = re.compile(r"kodak|canon|fujitsu|scansnap|xerox|epson|brother|ricoh|konica|kyocera|"
                     r"lexmark|paperstream|naps2|precisionscan|\bscan(ner)?\b", re.I)
SHARP = re.compile(r"\bSHARP\b")  # the copier maker, not iTextSharp or PDFsharp


def scanner_made(producer: str) -> bool:
    return bool(SCANNER.search(producer) or SHARP.search(producer))


@dataclass
class Readers:
    qpdf: int
    qpdf_s: float
    pdfinfo: bool
    mutool: bool
    scripts: bool
    producer: str
    script_rule: int = SCRIPT_RULE

    @property
    def all_open(self) -> bool:
        return self.qpdf in (0, 3) and self.pdfinfo and self.mutool

    @property
    def all_fail(self) -> bool:
        return self.qpdf not in (0, 3) and not self.pdfinfo and not self.mutool


def _run(cmd: list[str]) -> tuple[int, float, bytes]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, time.perf_counter() - t0, b""
    return proc.returncode, time.perf_counter() - t0, proc.stdout + proc.stderr


def judge_readers(path: Path) -> Readers:
    qpdf, qpdf_s, _ = _run(["qpdf", "--check", str(path)])
    info_rc, _, info = _run(["pdfinfo", str(path)])
    mu_rc, _, mu = _run(["mutool", "info", str(path)])
    pages = re.search(rb"^Pages:\s*(\d+)", info, re.M)
    pdfinfo = info_rc == 0 and pages is not None and int(pages.group(1)) > 0
    mutool = mu_rc == 0 and re.search(rb"^Pages:\s*[1-9]", mu, re.M) is not None
    producer = b" ".join(m.group(1).strip() for m in re.finditer(rb"^(?:Producer|Creator):\s*(.*)$",
                                                                 info, re.M))
    scripts = False
    if qpdf in (0, 3):
        with tempfile.TemporaryDirectory() as tmp:
            qdf = Path(tmp) / "qdf.pdf"
            rc, _, _ = _run(["qpdf", "--qdf", "--object-streams=disable", str(path), str(qdf)])
            if rc in (0, 3):
                text = STREAM_BODY.sub(b"", qdf.read_bytes())
                scripts = SCRIPT_MARKERS.search(text) is not None
    return Readers(qpdf, round(qpdf_s, 3), pdfinfo, mutool, scripts,
                   producer.decode("utf-8", "replace")[:200], SCRIPT_RULE)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_readers(root: Path, files: list[Path]) -> dict[str, Readers]:
    cache_path = root / ".readers.json"
    cache: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    out: dict[str, Readers] = {}
    for i, path in enumerate(files):
        digest = _sha256(path)
        if digest not in cache or cache[digest].get("script_rule") != SCRIPT_RULE:
            cache[digest] = asdict(judge_readers(path))
            if i % 50 == 0:
                cache_path.write_text(json.dumps(cache))
                print(f"  readers: {i}/{len(files)}", file=sys.stderr)
        out[str(path)] = Readers(**cache[digest])
    cache_path.write_text(json.dumps(cache))
    return out


def rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.2f}%)" if whole else f"{part}/0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pdfcorpus",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--out", type=Path, help="write every file's verdicts here as JSON")
    parser.add_argument("--jobs", type=int, default=2, help="helper processes for the validator")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.dir.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    readers = load_readers(args.dir, files)

    with IsolatedValidator(workers=args.jobs) as validator:
        validator.validate(files[0])  # warm helpers, as in the running app

        def one(path: Path) -> dict[str, Any]:
            t0 = time.perf_counter()
            res = validator.validate(path)
            return {"file": str(path.relative_to(args.dir)), "seconds": round(time.perf_counter() - t0, 3),
                    "ok": res.ok, "repair": res.repair, "remedy": res.remedy,
                    "codes": [p.code for p in res.problems], **asdict(readers[str(path)])}

        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(one, files))

    def r(row: dict[str, Any]) -> Readers:
        return readers[str(args.dir / row["file"])]

    opened = [x for x in rows if r(x).all_open and not r(x).scripts]
    repaired_by_qpdf = [x for x in opened if x["qpdf"] == 3]
    failed = [x for x in rows if r(x).all_fail]
    scripted = [x for x in rows if r(x).scripts]
    scanners = [x for x in rows if r(x).all_open and scanner_made(x["producer"])]
    false_rejects = [x for x in opened if not x["ok"]]
    false_accepts = [x for x in failed if x["ok"]]
    scripted_as_is = [x for x in scripted if x["ok"]]
    slowest = max(rows, key=lambda x: x["seconds"])
    fast_qpdf_slow_us = [x for x in rows if x["qpdf_s"] < 1 and x["seconds"] > 2]
    summary = {
        "files": len(rows),
        "all_readers_open_no_scripts": len(opened),
        "false_rejects": rate(len(false_rejects), len(opened)),
        "of_which_qpdf_repairs": rate(sum(1 for x in repaired_by_qpdf if not x["ok"]), len(repaired_by_qpdf)),
        "sent_as_repaired_copy": sum(1 for x in opened if x["ok"] and x["repair"]),
        "all_readers_fail": len(failed),
        "false_accepts": rate(len(false_accepts), len(failed)),
        "with_scripts": len(scripted),
        "scripted_accepted_as_is": len(scripted_as_is),
        "scripted_offered_copy": sum(1 for x in scripted if x["remedy"] == "remove_scripts"),
        "scanner_made": len(scanners),
        "scanner_made_files": [(x["file"], x["ok"], x["repair"], x["producer"][:60])
                               for x in scanners],
        "scanner_made_refused": [x["file"] for x in scanners if not x["ok"]],
        "slowest": {"file": slowest["file"], "seconds": slowest["seconds"],
                    "qpdf_check_s": slowest["qpdf_s"]},
        "qpdf_under_1s_but_validator_over_2s": [x["file"] for x in fast_qpdf_slow_us],
        "false_reject_files": [(x["file"], x["codes"]) for x in false_rejects],
        "false_accept_files": [(x["file"], x["codes"]) for x in false_accepts],
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "files": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
