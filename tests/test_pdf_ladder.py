"""The PDF verdict ladder (issue 13): strict, repaired copy, refused; scripts removed on request."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import stat
from pathlib import Path

import filemaker as fm
import pdffaults as pf
import pikepdf
import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf import errors as pypdf_errors

from uploader_gui.core.validation import IsolatedValidator, validate_file
from uploader_gui.core.validation.pdfcheck import lenient_page_count
from uploader_gui.core.validation.pdferrors import pikepdf_problem, pypdf_problem
from uploader_gui.core.validation.pdfrepair import CopyError, write_sendable_copy


def _texts(path: Path, strict: bool = False) -> list[str]:
    reader = PdfReader(path, strict=strict)
    return [page.extract_text().strip() for page in reader.pages]


@pytest.mark.parametrize(("maker", "ok", "codes", "repair", "why"), pf.FAULTS,
                         ids=[f[0].__name__ for f in pf.FAULTS])
def test_fault_classes(tmp_path: Path, maker, ok: bool, codes: list[str], repair: str | None,
                       why: str) -> None:
    path = maker(tmp_path / "doc.pdf")
    res = validate_file(path)
    assert (res.ok, [p.code for p in res.problems], res.repair) == (ok, codes, repair), why
    for p in res.problems:
        assert p.message[0].isupper() and p.message.endswith("."), p.message
    if ok:
        # A file readers open is never called damaged or cut off.
        assert not any(w in p.message.lower() for p in res.problems for w in ("damaged", "cut off"))
        assert res.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    if "pdf_active_content" in codes:
        assert res.remedy == "remove_scripts" and res.sha256 is not None
    else:
        assert res.remedy is None


def test_repaired_warning_says_what_happens(tmp_path: Path) -> None:
    res = validate_file(pf.trailing_data(tmp_path / "scan.pdf"))
    assert res.warnings[0].message == (
        "This PDF has small structural faults that PDF readers ignore. A repaired copy will "
        "be sent; your file is not changed.")
    assert res.summary.startswith("Ready. This PDF has small structural faults")
    assert res.to_json()["repair"] == "structural"


def test_undecodable_page_is_named(tmp_path: Path) -> None:
    res = validate_file(pf.undecodable_page(tmp_path / "x.pdf", page=3))
    assert res.ok and res.pages == 3
    assert "page 3 may appear blank" in res.warnings[0].message


def test_data_in_front_of_the_header(tmp_path: Path) -> None:
    """Only data that starts like a program is called one; other data is repaired away."""
    mail = pf.junk_before(tmp_path / "mail.pdf")
    res = validate_file(mail)
    assert res.ok and res.repair == "structural" and res.pages == 2
    copy = write_sendable_copy(mail, tmp_path / "copy.pdf")
    assert copy.read_bytes().startswith(b"%PDF-") and _texts(copy, strict=True) == _texts(mail)
    for prefix in (b"MZ\x90\x00", b"\x7fELF\x02", b"#!/bin/sh\n"):
        path = fm.write(tmp_path / "p.pdf", prefix + b"\x00" * 40 + fm.pdf_bytes(1))
        res = validate_file(path)
        assert [p.code for p in res.problems] == ["junk_before_header"]
        assert "starts like a program" in res.errors[0].message


REPAIRABLE = [f for f in pf.FAULTS if f[3] == "structural" and f[1]]


@pytest.mark.parametrize("maker", [f[0] for f in REPAIRABLE], ids=[f[0].__name__ for f in REPAIRABLE])
def test_repaired_copy_keeps_every_page_and_opens_strictly(tmp_path: Path, maker) -> None:
    src = maker(tmp_path / "in.pdf")
    before = src.read_bytes()
    if before.startswith(b"%PDF-"):
        with pytest.raises(pikepdf.PdfError):  # the original fails a strict read
            pikepdf.open(src, attempt_recovery=False)
    out = write_sendable_copy(src, tmp_path / "out.pdf")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert src.read_bytes() == before
    texts = _texts(out, strict=True)
    assert texts == _texts(src) == [pf.page_text(n + 1) for n in range(len(texts))]
    again = validate_file(out)
    assert again.ok and again.repair is None and again.problems == []


SCRIPTED = [f for f in pf.FAULTS if "pdf_active_content" in f[2]]


@pytest.mark.parametrize("maker", [f[0] for f in SCRIPTED], ids=[f[0].__name__ for f in SCRIPTED])
def test_copy_without_scripts(tmp_path: Path, maker) -> None:
    src = maker(tmp_path / "form.pdf")
    with pytest.raises(CopyError, match="scripts"):
        write_sendable_copy(src, tmp_path / "refused.pdf")
    assert not (tmp_path / "refused.pdf").exists()
    assert not list(tmp_path.glob("*.part"))
    out = write_sendable_copy(src, tmp_path / "clean.pdf", remove_scripts=True)
    res = validate_file(out)
    assert res.ok and res.problems == [], res.problems
    assert _texts(out, strict=True) == _texts(src)
    raw = out.read_bytes()
    assert b"JavaScript" not in raw and b"/Launch" not in raw and b"<script" not in raw


def test_shared_action_is_removed_everywhere(tmp_path: Path) -> None:
    """One JavaScript action referred to by the document and by a page: both go."""
    objs = pf.text_objects(1, catalog_extra=b"/OpenAction 6 0 R ", page_extra=b"/AA << /O 6 0 R >> ")
    objs.append(b"<< /S /JavaScript /JS (app.alert\\(1\\);) >>")
    src = pf.write(tmp_path / "shared.pdf", pf.build(objs))
    assert validate_file(src).remedy == "remove_scripts"
    out = write_sendable_copy(src, tmp_path / "clean.pdf", remove_scripts=True)
    assert validate_file(out).ok
    with pikepdf.open(out) as pdf:
        assert "/OpenAction" not in pdf.Root and "/O" not in pdf.pages[0].obj.get("/AA", {})


def _readers_open() -> list[dict]:
    path = CORPUS / "readers-open.json"
    return json.loads(path.read_text()) if path.exists() else []


@pytest.mark.skipif(not (CORPUS / "readers-open.json").exists(), reason="shared corpus not present")
@pytest.mark.parametrize("entry", _readers_open(), ids=lambda e: e["name"])
def test_files_every_reader_opens_go_through(tmp_path: Path, entry: dict,
                                            validator: IsolatedValidator) -> None:
    path = CORPUS / entry["name"]
    res = validator.validate(path)
    assert res.ok, (entry["why"], res.problems)
    assert entry["expect"] == "ok"
    if res.repair:
        assert [p.code for p in res.warnings] == ["pdf_repaired"]
        out = tmp_path / "copy.pdf"
        validator.write_copy(path, out, remove_scripts=False)
        assert len(PdfReader(out, strict=True).pages) == res.pages
        assert _texts(out) == _texts(path)


def test_isolated_copy_errors_are_sentences(tmp_path: Path, validator: IsolatedValidator) -> None:
    src = pf.field_keystroke_js(tmp_path / "form.pdf")
    with pytest.raises(CopyError) as err:
        validator.write_copy(src, tmp_path / "out.pdf", remove_scripts=False)
    assert str(err.value).endswith(".") and "form.pdf" in str(err.value)
    validator.write_copy(src, tmp_path / "out.pdf", remove_scripts=True)
    assert validator.validate(tmp_path / "out.pdf").ok


def _exception_classes(module) -> list[type[BaseException]]:
    return [c for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, Exception) and not issubclass(c, Warning)]


def test_every_parser_exception_has_a_code() -> None:
    pike = _exception_classes(pikepdf)
    pyp = _exception_classes(pypdf_errors)
    assert pikepdf.PasswordError in pike and pypdf_errors.LimitReachedError in pyp
    for cls in pike:
        try:
            exc = cls("object 12 0: something about the file")
        except TypeError:
            exc = cls.__new__(cls)
        assert pikepdf_problem(exc).code in {"pdf_damaged", "pdf_password",
                                             "pdf_encryption_unsupported", "too_complex"}, cls
    for cls in pyp:
        exc = cls("something about the file")
        assert pypdf_problem(exc).code in {"pdf_damaged", "pdf_password",
                                           "pdf_encryption_unsupported", "too_complex"}, cls
    assert pypdf_problem(pypdf_errors.LimitReachedError("too many")).code == "too_complex"
    assert pikepdf_problem(pikepdf.PasswordError("x")).code == "pdf_password"
    assert pikepdf_problem(pikepdf.PdfError("unsupported encryption filter")).code == \
        "pdf_encryption_unsupported"


# ------------------------------------------------------------------ properties

SEED = pf.build(pf.text_objects(3, compress=True))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "pad", "xref"]))
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos: draw(st.integers(pos, min(len(data), pos + 64)))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=32))
        elif op == "dup":
            data[pos:pos] = data[pos: pos + draw(st.integers(0, 120))]
        elif op == "pad":
            data += draw(st.binary(min_size=1, max_size=5000))
        else:
            at = data.rfind(b"startxref")
            if at >= 0:
                data[at:] = b"startxref\n%d\n%%%%EOF\n" % draw(st.integers(0, len(data)))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=damaged())
def test_repair_never_changes_the_page_count(tmp_path: Path, data: bytes) -> None:
    src = tmp_path / "fuzz.pdf"
    src.write_bytes(data)
    res = validate_file(src)
    assert "internal_error" not in [p.code for p in res.problems], res.problems
    if not res.ok:
        return
    out = tmp_path / "copy.pdf"
    out.unlink(missing_ok=True)
    write_sendable_copy(src, out)
    reader = PdfReader(io.BytesIO(out.read_bytes()), strict=True)
    assert len(reader.pages) == res.pages
    if res.repair:
        # A lenient pypdf read agrees, or (when pypdf cannot read the original
        # at all) its read of the copy does.
        assert lenient_page_count(src) in (None, res.pages)
        assert lenient_page_count(out) == res.pages
