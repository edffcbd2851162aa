"""Case 6: checking a 2,000-page PDF, the app's validator against ``qpdf --check``."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.files import many_pages_pdf
from benchmarks.harness import CaseResult, Stats, wall
from uploader_gui.core.validation import IsolatedValidator, validate_file

PAGES = 2000


def run(work: Path, quick: bool) -> CaseResult:
    pdf = many_pages_pdf(work / "pages-2000.pdf", PAGES)
    reps = 3 if quick else 7
    in_process = []
    with IsolatedValidator(workers=1) as validator:
        validator.validate(pdf)  # a warm helper, as in the running app after its first file
        app, ref = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            result = validator.validate(pdf)
            app.append(time.perf_counter() - t0)
            if not result.ok or result.pages != PAGES:
                raise RuntimeError(f"the 2,000-page PDF was not accepted: {result.to_json()}")
            seconds, proc = wall(["qpdf", "--check", str(pdf)])
            if proc.returncode != 0:
                raise RuntimeError(f"qpdf --check failed: {proc.stdout}{proc.stderr}")
            ref.append(seconds)
            t0 = time.perf_counter()
            validate_file(pdf)
            in_process.append(time.perf_counter() - t0)
    app_stats = Stats.of(app)
    result = CaseResult(
        "6", "validate a 2,000-page PDF",
        "IsolatedValidator.validate() (the app's check, in its warm helper process: type, "
        "strict pypdf parse, page tree, active-content walk, SHA-256) from call to verdict; "
        "reference: `qpdf --check` on the same file, fork to exit",
        "s", app_stats, "qpdf --check", Stats.of(ref), "ratio ≤ 3 and ≤ 2 s", None,
        extra={"in_process_validate_file_s": Stats.of(in_process).median,
               "file_bytes": pdf.stat().st_size})
    result.passed = result.ratio <= 3 and app_stats.median <= 2.0
    return result
