"""benchmarks/pdfcorpus.py on generated fault classes, judged by the real readers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import filemaker as fm
import pdffaults as pf
import pytest

REPO = Path(__file__).resolve().parent.parent
READERS = ("qpdf", "pdfinfo", "mutool")


@pytest.mark.timeout(300)
def test_corpus_tool_counts_rejects_and_accepts(tmp_path: Path) -> None:
    missing = [tool for tool in READERS if shutil.which(tool) is None]
    if missing:
        # In CI they come from packaging/install-system-deps.sh --test.
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: the corpus is judged by them")
        pytest.skip(f"{', '.join(missing)} not installed (the corpus is judged by them)")
    corpus = tmp_path / "corpus"
    for maker in (pf.text_pdf, pf.trailing_data, pf.wrong_startxref, pf.comment_before_eof,
                  pf.missing_object_outline, pf.field_keystroke_js):
        maker(corpus / f"{maker.__name__}.pdf")
    fm.write(corpus / "noise.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4)  # nobody opens it
    fm.encrypted_pdf(corpus / "locked.pdf", "s3cret")  # nobody opens it without the password
    before = {p: p.read_bytes() for p in corpus.iterdir()}
    out = tmp_path / "run.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                    os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.pdfcorpus", str(corpus), "--out",
                           str(out), "--jobs", "1"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    summary = json.loads(out.read_text())["summary"]
    assert summary["files"] == 8
    assert summary["all_readers_open_no_scripts"] == 5
    assert summary["false_rejects"] == "0/5 (0.00%)"
    assert summary["sent_as_repaired_copy"] == 2
    assert summary["all_readers_fail"] == 2
    assert summary["false_accepts"] == "0/2 (0.00%)"
    assert (summary["with_scripts"], summary["scripted_accepted_as_is"],
            summary["scripted_offered_copy"]) == (1, 0, 1)
    assert summary["slowest"]["file"].endswith(".pdf")
    assert {p: p.read_bytes() for p in before} == before  # the readers' cache sits beside them
