"""Page tools on a copy: rotate, delete, reorder, split, merge, and the "looks blank" mark."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import scanmaker as sm
from pypdf import PdfReader

from uploader_gui.core import pages
from uploader_gui.core.convert import converted_dir


def texts(path: Path) -> list[str]:
    return [p.extract_text().strip() for p in PdfReader(path).pages]


def rotations(path: Path) -> list[int]:
    return [p.rotation % 360 for p in PdfReader(path).pages]


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    return sm.text_pdf(tmp_path / "letter.pdf", [f"Page {n} of five" for n in range(1, 6)])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_copy(result: pages.Edited, original: Path, before: str) -> None:
    assert digest(original) == before  # the user's file is never changed
    assert result.path.parent.parent == converted_dir()
    assert os.stat(result.path).st_mode & 0o777 == 0o600
    assert os.stat(result.path.parent).st_mode & 0o777 == 0o700
    assert result.sha256 == digest(result.path) != before
    assert result.sources == [{"path": str(original), "sha256": before}]


def test_rotate_turns_only_the_chosen_pages_and_keeps_text(doc: Path) -> None:
    before = digest(doc)
    result = pages.rotate(doc, {2: 90, 5: 180})
    check_copy(result, doc, before)
    assert rotations(result.path) == [0, 90, 0, 0, 180]
    assert texts(result.path) == texts(doc)
    again = pages.rotate(result.path, {2: 270})  # relative to the page's own turn
    assert rotations(again.path) == [0, 0, 0, 0, 180]
    with pytest.raises(pages.PageError, match="90, 180 or 270"):
        pages.rotate(doc, {1: 45})


def test_delete_reorder_split_and_merge(doc: Path, tmp_path: Path) -> None:
    before = digest(doc)
    deleted = pages.delete(doc, [2, 4])
    check_copy(deleted, doc, before)
    assert texts(deleted.path) == ["Page 1 of five", "Page 3 of five", "Page 5 of five"]
    assert deleted.pages == 3

    reordered = pages.reorder(doc, [5, 1, 4, 2, 3])
    check_copy(reordered, doc, before)
    assert [t.split()[1] for t in texts(reordered.path)] == ["5", "1", "4", "2", "3"]

    parts = pages.split(doc, [3, 5])
    assert [texts(p.path) for p in parts] == [
        ["Page 1 of five", "Page 2 of five"], ["Page 3 of five", "Page 4 of five"],
        ["Page 5 of five"]]
    for part in parts:
        check_copy(part, doc, before)
    assert len({p.sha256 for p in parts}) == 3

    other = sm.text_pdf(tmp_path / "other.pdf", ["Other page"])
    merged = pages.merge([other, doc])
    assert texts(merged.path) == ["Other page", *texts(doc)]
    assert [s["path"] for s in merged.sources] == [str(other), str(doc)]
    assert digest(doc) == before


def test_refusals_are_sentences(doc: Path) -> None:
    with pytest.raises(pages.PageError, match="keep at least one"):
        pages.delete(doc, range(1, 6))
    with pytest.raises(pages.PageError, match="no page 9"):
        pages.delete(doc, [9])
    with pytest.raises(pages.PageError, match="exactly once"):
        pages.reorder(doc, [1, 1, 2, 3, 4])
    with pytest.raises(pages.PageError, match="two or more"):
        pages.merge([doc])


def test_compose_names_the_users_originals_for_a_copy_of_a_copy(doc: Path) -> None:
    first = pages.delete(doc, [1])
    second = pages.compose([pages.PageRef(first.path, 0, 90)], "final",
                           origins={first.path: first.sources})
    assert second.sources == [{"path": str(doc), "sha256": digest(doc)}]
    assert texts(second.path) == ["Page 2 of five"] and rotations(second.path) == [90]


def test_looks_blank_marks_empty_and_speckled_pages_not_written_ones(tmp_path: Path) -> None:
    written = sm.text_pdf(tmp_path / "mixed.pdf", ["Page one", "", "Seen today.", ""])
    scanned = sm.rasterise(written, tmp_path / "scanned.pdf", {1: 90})  # specks, like a scanner
    assert pages.blank_pages(written) == [False, True, False, True]
    assert pages.blank_pages(scanned) == [False, True, False, True]
