"""The validator against files the tests make, the shared real-world corpus, and fuzzing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import filemaker as fm
import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploader_gui.core.validation import (
    IsolatedValidator,
    ValidationResult,
    expand_paths,
    sniff,
    validate_file,
)

CASES = [
    # (maker, file name, expected ok, expected error codes or warning codes)
    (fm.good_pdf, "letter.pdf", True, []),
    (fm.goto_open_action_pdf, "libreoffice-style.pdf", True, []),
    (fm.attachment_pdf, "with-attachment.pdf", True, ["pdf_embedded_files"]),
    (lambda p: fm.encrypted_pdf(p, ""), "empty-password.pdf", True, ["pdf_encrypted"]),
    (lambda p: fm.encrypted_pdf(p, "s3cret"), "locked.pdf", False, ["pdf_password"]),
    (fm.names_js_pdf, "names-js.pdf", False, ["pdf_active_content"]),
    (fm.open_action_js_pdf, "open-js.pdf", False, ["pdf_active_content"]),
    (fm.launch_annotation_pdf, "launch.pdf", False, ["pdf_active_content"]),
    (fm.page_aa_js_pdf, "page-aa.pdf", False, ["pdf_active_content"]),
    (fm.zero_page_pdf, "zero.pdf", False, ["pdf_no_pages"]),
    (fm.truncated_pdf, "truncated.pdf", False, ["pdf_truncated"]),
    # qpdf, poppler and mupdf all open it (they rebuild the xref and find the
    # catalog): accepted as a repaired copy since issue 13.
    (fm.no_xref_pdf, "no-xref.pdf", True, ["pdf_repaired"]),
    # Readers rebuild a wrong startxref: accepted, sent as a repaired copy (issue 13).
    (fm.bad_startxref_pdf, "bad-startxref.pdf", True, ["pdf_repaired"]),
    (fm.page_loop_pdf, "page-loop.pdf", False, ["pdf_damaged"]),
    (fm.junk_before_pdf, "invoice.pdf", False, ["junk_before_header"]),
    (fm.good_png, "photo.png", True, []),
    (fm.good_jpeg, "photo.jpg", True, []),
    (fm.good_jpeg, "PHOTO.JPEG", True, []),
    (fm.good_pdf, "SCAN.PDF", True, []),
    (fm.truncated_jpeg, "cut.jpg", False, ["image_truncated"]),
    (fm.truncated_png, "cut.png", False, ["image_truncated"]),
    (fm.bomb_png, "bomb.png", False, ["image_bomb"]),
    (fm.good_png, "photo.pdf", False, ["extension_mismatch"]),
    (fm.good_pdf, "letter.jpg", False, ["extension_mismatch"]),
    (fm.good_pdf, "letter", False, ["extension_mismatch"]),
    (lambda p: fm.write(p, b""), "blank.pdf", False, ["empty"]),
    (lambda p: fm.write(p, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "anim.gif", False,
     ["unsupported_type"]),
    (lambda p: fm.write(p, b"Dear doctor,\n"), "letter.txt", False, ["unsupported_type"]),
    (lambda p: fm.write(p, b"MZ\x90\x00" + b"\x00" * 60), "setup.pdf", False,
     ["unsupported_type"]),
    (lambda p: fm.write(p, b"%PDF-1.7\n"), "stub.pdf", False, ["pdf_truncated"]),
]


@pytest.mark.parametrize(("maker", "name", "ok", "codes"), CASES, ids=[c[1] for c in CASES])
def test_verdicts(tmp_path: Path, maker, name: str, ok: bool, codes: list[str]) -> None:
    path = maker(tmp_path / name)
    result = validate_file(path)
    assert result.ok is ok, result.problems
    assert [p.code for p in result.problems] == codes
    for problem in result.problems:
        # A receptionist's sentence, not a library's exception text.
        assert problem.message[0].isupper() and problem.message.endswith((".", "!"))
        assert "Error" not in problem.message and "Traceback" not in problem.message


def test_reports_pages_and_dimensions(tmp_path: Path) -> None:
    pdf = validate_file(fm.good_pdf(tmp_path / "three.pdf", pages=3))
    assert (pdf.type, pdf.pages) == ("pdf", 3)
    png = validate_file(fm.good_png(tmp_path / "p.png", size=(321, 123)))
    assert (png.type, png.width, png.height) == ("png", 321, 123)
    jpeg = validate_file(fm.good_jpeg(tmp_path / "p.jpg", size=(50, 70)))
    assert (jpeg.type, jpeg.width, jpeg.height) == ("jpeg", 50, 70)


def test_size_limit_per_target(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    data = fm.pdf_bytes(1)
    # Grow the file past 10 MB with a comment right after the header.
    path.write_bytes(data[:9] + b"%" + b"x" * (11 * 1024 * 1024) + b"\n" + data[9:])
    redox = validate_file(path, target="redox")
    assert "too_large" in [p.code for p in redox.problems]
    message = next(p.message for p in redox.problems if p.code == "too_large")
    assert "Redox" in message and "10 MB" in message
    claros = validate_file(path, target="claros")
    assert "too_large" not in [p.code for p in claros.problems]
    tight = validate_file(fm.good_pdf(tmp_path / "small.pdf"), max_bytes=100)
    assert [p.code for p in tight.problems] == ["too_large"]
    assert "100 bytes" in tight.problems[0].message


def test_unknown_target_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown target"):
        from uploader_gui.core.validation import size_limit

        size_limit("dropbox")


def test_missing_and_folder_and_special_files(tmp_path: Path) -> None:
    assert [p.code for p in validate_file(tmp_path / "gone.pdf").problems] == ["missing"]
    assert [p.code for p in validate_file(tmp_path).problems] == ["not_a_file"]
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)  # opening it would block forever: it must not be read
    assert [p.code for p in validate_file(fifo).problems] == ["not_a_file"]


def test_user_files_are_never_changed(tmp_path: Path) -> None:
    paths = [maker(tmp_path / name) for maker, name, _, _ in CASES]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    for p in paths:
        validate_file(p)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == before


def test_sniff() -> None:
    assert sniff(b"%PDF-1.4") == "pdf"
    assert sniff(b"\xff\xd8\xff\xe0") == "jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n") == "png"
    assert sniff(b" %PDF-1.4") is None
    assert sniff(b"") is None


def test_expand_paths_walks_folders_and_skips_hidden(tmp_path: Path) -> None:
    fm.good_pdf(tmp_path / "a" / "one.pdf")
    fm.good_png(tmp_path / "a" / "b" / "two.png")
    fm.good_png(tmp_path / "a" / ".thumbs" / "x.png")
    fm.write(tmp_path / "a" / ".DS_Store", b"junk")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    single = fm.good_jpeg(tmp_path / "single.jpg")
    found = list(expand_paths([tmp_path / "a", single]))
    assert sorted(p.name for p in found) == ["one.pdf", "single.jpg", "two.png"]


def test_json_shape(tmp_path: Path) -> None:
    pdf = validate_file(fm.good_pdf(tmp_path / "a.pdf")).to_json()
    assert set(pdf) == {"path", "ok", "type", "size", "pages", "problems", "sha256"}
    assert pdf["sha256"] == hashlib.sha256((tmp_path / "a.pdf").read_bytes()).hexdigest()
    png = validate_file(fm.good_png(tmp_path / "a.png")).to_json()
    assert set(png) == {"path", "ok", "type", "size", "width", "height", "problems", "sha256"}
    bad = validate_file(fm.write(tmp_path / "x.bin", b"\x00\x01")).to_json()
    assert bad["type"] is None and bad["ok"] is False and "sha256" not in bad
    assert bad["problems"][0]["code"] == "unsupported_type"
    roundtrip = ValidationResult.from_json(json.loads(json.dumps(validate_file(
        fm.attachment_pdf(tmp_path / "att.pdf")).to_json())))
    assert roundtrip.ok and roundtrip.warnings[0].code == "pdf_embedded_files"


# ---------------------------------------------------------------- isolation


def test_isolated_validator_matches_in_process(tmp_path: Path, validator: IsolatedValidator) -> None:
    for maker, name, ok, codes in CASES[:12]:
        path = maker(tmp_path / name)
        res = validator.validate(path)
        assert res.ok is ok and [p.code for p in res.problems] == codes, name


def test_isolated_validator_time_limit(tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "slow.pdf")
    with IsolatedValidator(workers=1, timeout=0) as v:
        res = v.validate(path)
        assert not res.ok and res.problems[0].code == "too_complex"
        assert "took longer than" in res.problems[0].message
        assert res.type == "pdf"
        v.timeout = 30  # the killed helper is replaced
        assert v.validate(path).ok


def test_isolated_validator_memory_cap(tmp_path: Path) -> None:
    # 6000 x 6000 RGB needs about 100 MB to decode; the file itself is small.
    path = fm.good_png(tmp_path / "huge.png", size=(6000, 6000))
    assert path.stat().st_size < 1024 * 1024
    with IsolatedValidator(workers=1, memory_cap=64 * 1024 * 1024) as v:
        res = v.validate(path)
        assert not res.ok and res.problems[0].code == "too_complex"
        assert "memory" in res.problems[0].message
    with IsolatedValidator(workers=1) as v:
        assert v.validate(path).ok


def test_isolated_validator_replaces_a_dead_helper(tmp_path: Path) -> None:
    path = fm.good_pdf(tmp_path / "a.pdf")
    with IsolatedValidator(workers=1) as v:
        assert v.validate(path).ok
        helper = v._idle[0].proc
        helper.kill()
        helper.join(5)
        assert v.validate(path).ok


# ---------------------------------------------------------------- real-world corpus


def _manifest() -> list[dict]:
    manifest = CORPUS / "manifest.json"
    if not manifest.exists():
        return []
    return json.loads(manifest.read_text())


@pytest.mark.skipif(not (CORPUS / "manifest.json").exists(), reason="shared corpus not present")
@pytest.mark.parametrize("entry", _manifest(), ids=lambda e: e["name"])
def test_corpus_verdicts(entry: dict, validator: IsolatedValidator) -> None:
    res = validator.validate(CORPUS / entry["name"])
    codes = [p.code for p in res.problems]
    assert set(codes) <= STABLE_CODES, codes
    if entry["expect"] == "ok":
        assert res.ok, (entry["why"], res.problems)
        assert res.type == {".pdf": "pdf", ".jpg": "jpeg", ".png": "png"}[Path(entry["name"]).suffix]
        assert res.sha256 == hashlib.sha256((CORPUS / entry["name"]).read_bytes()).hexdigest()
    elif entry["expect"] == "reject":
        # Never sent as it is. Since issue 13, a file every reader opens after
        # a structural repair (qpdf-bad33: qpdf warns, poppler and mupdf open
        # it) goes as a repaired copy instead of being refused.
        assert not res.ok or (res.repair == "structural" and "pdf_repaired" in codes), entry["why"]
    else:  # either: accepted, or rejected with a clear message; never a crash
        assert res.ok or res.errors[0].code != "internal_error"
    assert "internal_error" not in codes
    for p in res.problems:
        assert p.message.endswith(".")


#: Every code the validator may give (internal_error only for bugs of ours).
STABLE_CODES = {
    "missing", "unreadable", "not_a_file", "empty", "junk_before_header", "unsupported_type",
    "extension_mismatch", "too_large", "too_complex", "pdf_truncated", "pdf_damaged",
    "pdf_password", "pdf_encryption_unsupported", "pdf_encrypted", "pdf_no_pages",
    "pdf_active_content", "pdf_embedded_files", "pdf_repaired", "pdf_page_content",
    "image_damaged", "image_truncated", "image_bomb",
}


# ---------------------------------------------------------------- property tests

SEEDS = {
    "pdf": fm.pdf_bytes(2),
    "png": fm.image_bytes("PNG", (20, 10)),
    "jpg": fm.image_bytes("JPEG", (20, 10)),
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[ext])
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            end = draw(st.integers(pos, len(data)))
            del data[pos:end]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=64))
        else:
            data[pos:pos] = data[pos: pos + draw(st.integers(0, 200))]
    return draw(st.sampled_from([ext, "pdf", "png", "jpg", "bin"])), bytes(data)


def _never_crashes(tmp_path: Path, ext: str, data: bytes) -> None:
    path = tmp_path / f"fuzz.{ext}"
    path.write_bytes(data)
    res = validate_file(path)
    assert isinstance(res, ValidationResult)
    assert {p.code for p in res.problems} <= STABLE_CODES, res.problems
    if res.ok:
        assert res.type in ("pdf", "jpeg", "png")
        assert res.size == len(data) > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_mutated_files_never_crash(tmp_path: Path, case: tuple[str, bytes]) -> None:
    _never_crashes(tmp_path, *case)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"", b"%PDF-", b"%PDF-1.7\n", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]),
    body=st.binary(max_size=2048),
    ext=st.sampled_from(["pdf", "png", "jpg", "jpeg", "txt"]),
)
def test_random_bytes_never_crash(tmp_path: Path, prefix: bytes, body: bytes, ext: str) -> None:
    _never_crashes(tmp_path, ext, prefix + body)
