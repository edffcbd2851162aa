"""Page tools before sending: rotate, delete, reorder, split and merge, on a copy.

Everything is expressed as a list of :class:`PageRef` (which page of which
file, turned how far), and :func:`compose` writes that list as a new PDF with
pikepdf into the app's private folder (``converted/<id>/``, 0700/0600; the
planner removes it once the upload has ended). Pages are copied as they are:
nothing is rasterised or re-encoded, so text, images and sizes are kept. The
user's files are only read. Each result has its own SHA-256 and the originals'
paths and hashes, which go to ``Job.sources`` (History shows them).

"Looks blank" renders a page small with pypdfium2 and counts the dark pixels
inside the margins. It is a mark for a person to confirm, never a deletion.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from uploader_gui.core.convert import converted_dir
from uploader_gui.core.jobs import sha256_of

if TYPE_CHECKING:
    from PIL import Image

#: Render size for the blank check; small is enough and fast.
BLANK_DPI = 60
#: Fraction of the page (inside the margins) that must be dark for it to count as written on.
BLANK_INK = 0.0005
BLANK_MARGIN = 0.06
DARK = 170


class PageError(Exception):
    """A page operation that cannot be done, in words."""


@dataclass(frozen=True)
class PageRef:
    source: Path
    index: int  # from 0
    rotate: int = 0  # clockwise, added to the page's own rotation

    def turned(self, degrees: int) -> PageRef:
        return PageRef(self.source, self.index, (self.rotate + degrees) % 360)


@dataclass
class Edited:
    """A new document made from pages of others."""

    path: Path
    sha256: str
    pages: int
    #: The user's originals: [{"path", "sha256"}], for ``Job.sources`` and the history.
    sources: list[dict[str, str]] = field(default_factory=list)


def page_count(path: Path) -> int:
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except (pikepdf.PdfError, OSError) as exc:
        raise PageError(f"{Path(path).name} cannot be read as a PDF ({type(exc).__name__}).") \
            from None


def page_refs(path: Path) -> list[PageRef]:
    return [PageRef(Path(path), i) for i in range(page_count(path))]


def private_output(name: str) -> Path:
    folder = converted_dir() / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return folder / Path(name).name


def compose(pages: Sequence[PageRef], name: str,
            origins: Mapping[Path, Sequence[Mapping[str, str]]] | None = None,
            out: Path | None = None) -> Edited:
    """Write ``pages`` (in order, turned as given) as a new PDF.

    ``origins``: for a source that is itself a copy, the user's originals it was made
    from (so the history names the user's files, not our copies).
    """
    import pikepdf

    if not pages:
        raise PageError("A document needs at least one page.")
    target = out or private_output(name)
    opened: dict[Path, pikepdf.Pdf] = {}
    try:
        new = pikepdf.new()
        for ref in pages:
            src = opened.get(ref.source)
            if src is None:
                try:
                    src = opened[ref.source] = pikepdf.open(ref.source)
                except (pikepdf.PdfError, OSError) as exc:
                    raise PageError(f"{ref.source.name} cannot be read as a PDF "
                                    f"({type(exc).__name__}).") from None
            if not 0 <= ref.index < len(src.pages):
                raise PageError(f"{ref.source.name} has no page {ref.index + 1}.")
            new.pages.append(src.pages[ref.index])
            if ref.rotate % 360:
                new.pages[-1].rotate(ref.rotate % 360, relative=True)
        tmp = target.with_name(target.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            new.save(fh)
        os.replace(tmp, target)
    finally:
        for pdf in opened.values():
            pdf.close()
    return Edited(target, sha256_of(target), len(pages), _sources(pages, origins))


def _sources(pages: Iterable[PageRef], origins: Mapping[Path, Sequence[Mapping[str, str]]] | None
             ) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for ref in pages:
        given = (origins or {}).get(ref.source)
        items = [dict(s) for s in given] if given else [
            {"path": str(ref.source), "sha256": sha256_of(ref.source)}]
        for item in items:
            if item["path"] not in seen:
                seen.add(item["path"])
                out.append(item)
    return out


def _stem(path: Path) -> str:
    return Path(path).stem


def _check_pages(path: Path, numbers: Iterable[int], count: int) -> None:
    bad = sorted({n for n in numbers if not 1 <= n <= count})
    if bad:
        raise PageError(f"{Path(path).name} has {count} page(s); there is no page "
                        f"{', '.join(map(str, bad))}.")


def rotate(path: Path, turns: Mapping[int, int]) -> Edited:
    """Turn pages (numbered from 1) clockwise by 90, 180 or 270 degrees."""
    refs = page_refs(path)
    _check_pages(path, turns, len(refs))
    if any(d % 90 for d in turns.values()):
        raise PageError("Pages turn by 90, 180 or 270 degrees.")
    refs = [r.turned(turns.get(i + 1, 0)) for i, r in enumerate(refs)]
    return compose(refs, _stem(path) + "-rotated")


def delete(path: Path, numbers: Iterable[int]) -> Edited:
    """Leave out pages (numbered from 1); at least one page must remain."""
    refs = page_refs(path)
    gone = set(numbers)
    _check_pages(path, gone, len(refs))
    kept = [r for i, r in enumerate(refs) if i + 1 not in gone]
    if not kept:
        raise PageError("Every page would be deleted; keep at least one.")
    return compose(kept, _stem(path) + "-edited")


def reorder(path: Path, order: Sequence[int]) -> Edited:
    """The pages in a new order (every page once, numbered from 1)."""
    refs = page_refs(path)
    if sorted(order) != list(range(1, len(refs) + 1)):
        raise PageError(f"Give each of the {len(refs)} page(s) exactly once in the new order.")
    return compose([refs[n - 1] for n in order], _stem(path) + "-reordered")


def split(path: Path, starts: Iterable[int]) -> list[Edited]:
    """New documents starting at the given pages (numbered from 1; page 1 always starts one)."""
    refs = page_refs(path)
    cuts = sorted({1, *starts})
    _check_pages(path, cuts, len(refs))
    bounds = [*cuts, len(refs) + 1]
    return [compose(refs[a - 1:b - 1], f"{_stem(path)}-part{n}")
            for n, (a, b) in enumerate(itertools.pairwise(bounds), 1)]


def merge(paths: Sequence[Path], name: str | None = None) -> Edited:
    """The files' pages one after the other, in the order given."""
    if len(paths) < 2:
        raise PageError("Choose two or more PDFs to merge.")
    refs = [r for p in paths for r in page_refs(p)]
    return compose(refs, name or (_stem(paths[0]) + "-merged"))


# ---------------------------------------------------------------------- rendering


def render_gray(pdf: object, index: int, dpi: float) -> Image.Image:
    """One page of an open ``pypdfium2.PdfDocument`` as a greyscale PIL image."""
    page = pdf[index]  # type: ignore[index]
    try:
        bitmap = page.render(scale=dpi / 72.0, grayscale=True)
        image = bitmap.to_pil()
    finally:
        page.close()
    return image if image.mode == "L" else image.convert("L")


def ink_ratio(image: Image.Image, margin: float = BLANK_MARGIN) -> float:
    """Fraction of dark pixels inside the margins (scanner edges and holes are ignored)."""
    w, h = image.size
    mx, my = int(w * margin), int(h * margin)
    inner = image.crop((mx, my, max(mx + 1, w - mx), max(my + 1, h - my)))
    histogram = inner.histogram()
    dark = sum(histogram[:DARK])
    return dark / max(1, inner.size[0] * inner.size[1])


def blank_pages(path: Path, threshold: float = BLANK_INK) -> list[bool]:
    """For each page: does it look blank? A suggestion for a person to confirm."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as exc:
        raise PageError(f"{Path(path).name} cannot be read as a PDF ({exc}).") from None
    try:
        return [ink_ratio(render_gray(pdf, i, BLANK_DPI)) < threshold for i in range(len(pdf))]
    finally:
        pdf.close()


__all__ = [
    "Edited", "PageError", "PageRef", "blank_pages", "compose", "delete", "ink_ratio", "merge",
    "page_count", "page_refs", "private_output", "render_gray", "reorder", "rotate", "split",
]
