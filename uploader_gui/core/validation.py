"""What a file is, and whether it may leave the machine.

Everything here is Qt-free and never raises on a file's content: every
outcome, however hostile the bytes, is a :class:`ValidationResult` whose
problems carry a stable ``code`` and a sentence a receptionist understands.

Two entry points:

* :func:`validate_file` checks one file in this process. It is pure and is
  what the unit and property tests exercise.
* :class:`IsolatedValidator` runs the same check in helper processes with a
  time limit and a memory cap, so that a PDF crafted to loop, to recurse or to
  exhaust memory costs one helper process, never the app. The GUI and the CLI
  use this one.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import multiprocessing
import os
import stat
import struct
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MB = 1024 * 1024

#: Size limits per target, in bytes. Redox documents 10 MB for uploaded files;
#: Claros and REDCap do not publish one, so 32 MB is our configurable default.
DEFAULT_LIMITS: dict[str, int] = {
    "redox": 10 * MB,
    "claros": 32 * MB,
    "redcap": 32 * MB,
}
#: Limit used when no target has been chosen yet.
GENERIC_LIMIT = 32 * MB

TARGET_LABELS = {"redox": "Redox", "claros": "Claros Health", "redcap": "REDCap"}

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

EXTENSIONS: dict[str, frozenset[str]] = {
    "pdf": frozenset({".pdf"}),
    "jpeg": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "png": frozenset({".png"}),
}
PREFERRED_EXTENSION = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png"}
TYPE_LABELS = {"pdf": "PDF", "jpeg": "JPEG image", "png": "PNG image"}

#: How far into a file we look for a PDF header that does not start at byte 0.
HEADER_SCAN = 64 * 1024
#: Largest image we accept, in pixels (about 20 000 x 10 000). A scanner at
#: 600 dpi makes a letter page of 34 megapixels.
MAX_IMAGE_PIXELS = 200_000_000
#: Upper bounds for the walk through a PDF's object graph.
MAX_WALK_OBJECTS = 200_000
MAX_PAGES_WALKED = 5_000
#: Defaults for the isolated validator.
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MEMORY_CAP = 2 * 1024 * MB

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot go, or a caution about it."""

    code: str
    message: str
    severity: str = ERROR

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


@dataclass
class ValidationResult:
    path: str
    type: str | None = None
    size: int | None = None
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    problems: list[Problem] = field(default_factory=list)
    elapsed: float = 0.0
    #: SHA-256 of the bytes that were checked (of an acceptable file), so that a
    #: changed file is never sent in place of the one that was checked.
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def summary(self) -> str:
        """One line for a table cell: the first error, else the warnings, else 'Ready'."""
        if self.errors:
            return self.errors[0].message
        if self.warnings:
            return "Ready. " + " ".join(p.message for p in self.warnings)
        return "Ready to upload."

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "ok": self.ok,
            "type": self.type,
            "size": self.size,
        }
        if self.type == "pdf":
            out["pages"] = self.pages
        if self.type in ("jpeg", "png"):
            out["width"] = self.width
            out["height"] = self.height
        out["problems"] = [p.to_json() for p in self.problems]
        if self.sha256:
            out["sha256"] = self.sha256
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationResult:
        problems = [Problem(**p) for p in data.pop("problems", [])]
        data.pop("ok", None)
        return cls(problems=problems, **data)


def size_limit(target: str | None, limits: dict[str, int] | None = None) -> int:
    if target is None:
        return GENERIC_LIMIT
    table = {**DEFAULT_LIMITS, **(limits or {})}
    if target not in table:
        raise ValueError(f"unknown target {target!r}")
    return table[target]


def human_size(n: int | float) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


# --------------------------------------------------------------------------- type


def sniff(head: bytes) -> str | None:
    """The type named by a file's leading bytes, or None."""
    if head.startswith(PDF_MAGIC):
        return "pdf"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    return None


def _type_of_extension(suffix: str) -> str | None:
    suffix = suffix.lower()
    for kind, exts in EXTENSIONS.items():
        if suffix in exts:
            return kind
    return None


# --------------------------------------------------------------------------- main


def validate_file(
    path: str | os.PathLike[str],
    target: str | None = None,
    max_bytes: int | None = None,
) -> ValidationResult:
    """Check one file in this process. Never raises for anything a file contains."""
    started = time.monotonic()
    result = ValidationResult(path=str(path))
    try:
        _validate_into(Path(path), target, max_bytes, result)
    except MemoryError:
        result.problems.append(_memory_problem())
    except Exception as exc:
        log.exception("validator failed on %s", path)
        result.problems.append(
            Problem(
                "internal_error",
                "This file could not be checked because of an unexpected problem "
                f"({type(exc).__name__}). It was not accepted; please report it.",
            )
        )
    result.elapsed = time.monotonic() - started
    return result


def _validate_into(
    path: Path, target: str | None, max_bytes: int | None, result: ValidationResult
) -> None:
    add = result.problems.append
    try:
        st = path.stat()
    except FileNotFoundError:
        add(Problem("missing", "This file no longer exists. Check where it was moved and add it again."))
        return
    except OSError as exc:
        add(Problem("unreadable", f"This file cannot be read ({exc.strerror or exc}). "
                    "Check that you have permission to open it."))
        return
    if not stat.S_ISREG(st.st_mode):
        add(Problem("not_a_file",
                    "This is not a regular file. Only PDF, JPEG and PNG files can be uploaded."))
        return
    result.size = st.st_size
    if st.st_size == 0:
        add(Problem("empty", "This file is empty (0 bytes). Scan or save the document again."))
        return

    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_SCAN)
    except OSError as exc:
        add(Problem("unreadable", f"This file cannot be read ({exc.strerror or exc}). "
                    "Check that you have permission to open it."))
        return

    kind = sniff(head)
    ext_kind = _type_of_extension(path.suffix)
    if kind is None:
        if PDF_MAGIC in head:
            add(Problem(
                "junk_before_header",
                "This file has other data in front of the PDF, which is how disguised "
                "programs look. It was not accepted. Save or print the document to a new PDF.",
            ))
        elif ext_kind is not None:
            add(Problem(
                "unsupported_type",
                f"This file is named like a {TYPE_LABELS[ext_kind]} but its contents are not. "
                "It may be damaged or mislabelled. Only PDF, JPEG and PNG files can be uploaded.",
            ))
        else:
            add(Problem(
                "unsupported_type",
                "This type of file cannot be uploaded. Only PDF, JPEG and PNG files are "
                "accepted; save or scan the document as a PDF.",
            ))
        return
    result.type = kind
    if ext_kind != kind:
        shown = path.suffix or "no extension"
        add(Problem(
            "extension_mismatch",
            f"This file is a {TYPE_LABELS[kind]} but its name ends in “{shown}”. "
            f"Rename it to end in {PREFERRED_EXTENSION[kind]} "
            "if that is what it is, then add it again.",
        ))

    limit = max_bytes if max_bytes is not None else size_limit(target)
    if st.st_size > limit:
        where = f"{TARGET_LABELS[target]} accepts" if target in TARGET_LABELS else "The limit is"
        add(Problem(
            "too_large",
            f"This file is {human_size(st.st_size)}; {where} at most {human_size(limit)}. "
            "Split the document or scan it at a lower resolution.",
        ))
        # Content is still checked, so the user learns everything at once.

    if kind == "pdf":
        _check_pdf(path, result)
    else:
        _check_image(path, kind, result)
    if result.ok:
        result.sha256 = _sha256(path)


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1024 * 1024):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


# --------------------------------------------------------------------------- PDF


class _PdfLogCapture(logging.Handler):
    """Collect pypdf's own warnings: they name repairs it made to a damaged file."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _check_pdf(path: Path, result: ValidationResult) -> None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    add = result.problems.append
    damaged = Problem(
        "pdf_damaged",
        "This PDF is damaged and cannot be read reliably. Open it and save or print it "
        "to a new PDF, or scan the document again.",
    )
    if not _has_eof_marker(path):
        add(Problem(
            "pdf_truncated",
            "This PDF is incomplete: its end is missing, so it was probably cut off while "
            "copying or downloading. Copy or download it again.",
        ))
        return

    capture = _PdfLogCapture()
    pypdf_log = logging.getLogger("pypdf")
    pypdf_log.addHandler(capture)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=True)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError:
                    add(Problem(
                        "pdf_encryption_unsupported",
                        "This PDF uses an encryption this computer cannot open. "
                        "Save or print it to a new PDF without protection.",
                    ))
                    return
                if not opened:
                    add(Problem(
                        "pdf_password",
                        "This PDF is protected by a password; remove the password and try again.",
                    ))
                    return
                add(Problem(
                    "pdf_encrypted",
                    "The PDF is encrypted but opens without a password; some systems may "
                    "not display it.",
                    WARNING,
                ))
            pages = len(reader.pages)
            result.pages = pages
            if pages == 0:
                add(Problem(
                    "pdf_no_pages",
                    "This PDF has no pages. Save or scan the document again.",
                ))
                return
            _check_active_content(reader, result)
            if _has_embedded_files(reader):
                add(Problem(
                    "pdf_embedded_files",
                    "The PDF carries attached files; the receiving system may ignore or "
                    "block them.",
                    WARNING,
                ))
    except FileNotDecryptedError:
        add(Problem(
            "pdf_password",
            "This PDF is protected by a password; remove the password and try again.",
        ))
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, AssertionError, OSError, UnicodeError, ZeroDivisionError,
            LookupError, ArithmeticError):
        add(damaged)
    finally:
        pypdf_log.removeHandler(capture)
    if capture.messages:
        log.info("pypdf warnings for %s: %s", path, "; ".join(capture.messages[:5]))


def _has_eof_marker(path: Path) -> bool:
    """A complete PDF ends with %%EOF (some writers add a little padding after it)."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 2048))
        tail = fh.read()
    return b"%%EOF" in tail


_ACTIVE_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "a command that starts a program"}


def _check_active_content(reader: Any, result: ValidationResult) -> None:
    """Look for JavaScript and Launch actions where a viewer would run them.

    pypdf has no detector for this, so we walk: the catalog's /OpenAction and
    /AA, the /Names/JavaScript tree, each page's /AA and its annotations' /A
    and /AA, the AcroForm fields, and the outline items. Every walk keeps a
    set of visited objects and an object budget, so loops end.
    """
    found = _ActiveContentFinder(reader).scan()
    if found:
        result.problems.append(Problem(
            "pdf_active_content",
            f"This PDF contains {found}, which could run on the receiving computer. "
            "It was not accepted. Print it to a new PDF (File > Print > Save as PDF) and "
            "add that file instead.",
        ))


class _ActiveContentFinder:
    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.seen: set[int] = set()
        self.budget = MAX_WALK_OBJECTS

    def _resolve(self, obj: Any) -> Any:
        from pypdf.generic import IndirectObject

        hops = 0
        while isinstance(obj, IndirectObject):
            key = (obj.idnum << 16) | obj.generation
            if key in self.seen or hops > 32:
                return None
            self.seen.add(key)
            obj = obj.get_object()
            hops += 1
        self.budget -= 1
        if self.budget < 0:
            raise _WalkBudgetExceeded
        return obj

    def scan(self) -> str | None:
        try:
            return self._scan()
        except _WalkBudgetExceeded:
            return None

    def _scan(self) -> str | None:
        from pypdf.generic import DictionaryObject

        root = self.reader.trailer.get("/Root")
        root = root.get_object() if root is not None else None
        if not isinstance(root, DictionaryObject):
            return None
        for key in ("/OpenAction", "/AA"):
            hit = self._action_or_aa(root.get(key), key == "/AA")
            if hit:
                return hit
        names = root.get("/Names")
        names = names.get_object() if names is not None else None
        if isinstance(names, DictionaryObject) and names.get("/JavaScript") is not None:
            js_tree = self._resolve(names.get("/JavaScript"))
            if isinstance(js_tree, DictionaryObject) and (
                js_tree.get("/Names") is not None or js_tree.get("/Kids") is not None
            ):
                return "JavaScript"
        for index, page in enumerate(self.reader.pages):
            if index >= MAX_PAGES_WALKED:
                break
            hit = self._page(page)
            if hit:
                return hit
        acroform = root.get("/AcroForm")
        acroform = acroform.get_object() if acroform is not None else None
        if isinstance(acroform, DictionaryObject):
            hit = self._fields(acroform.get("/Fields"))
            if hit:
                return hit
        return self._outlines(root.get("/Outlines"))

    def _action_or_aa(self, obj: Any, is_aa: bool) -> str | None:
        from pypdf.generic import DictionaryObject

        obj = self._resolve(obj)
        if obj is None:
            return None
        if is_aa:
            if isinstance(obj, DictionaryObject):
                for value in list(obj.values()):
                    hit = self._action(value)
                    if hit:
                        return hit
            return None
        return self._action(obj)

    def _action(self, obj: Any, depth: int = 0) -> str | None:
        from pypdf.generic import ArrayObject, DictionaryObject

        obj = self._resolve(obj)
        if depth > 64 or obj is None:
            return None
        if isinstance(obj, ArrayObject):  # /OpenAction may be a destination array
            return None
        if not isinstance(obj, DictionaryObject):
            return None
        kind = obj.get("/S")
        if kind in _ACTIVE_ACTIONS:
            return _ACTIVE_ACTIONS[str(kind)]
        if obj.get("/JS") is not None:
            return "JavaScript"
        nxt = obj.get("/Next")
        if nxt is not None:
            nxt = self._resolve(nxt)
            items = nxt if isinstance(nxt, ArrayObject) else [nxt]
            for item in items:
                hit = self._action(item, depth + 1)
                if hit:
                    return hit
        return None

    def _page(self, page: Any) -> str | None:
        from pypdf.generic import ArrayObject, DictionaryObject

        hit = self._action_or_aa(page.get("/AA"), True)
        if hit:
            return hit
        annots = self._resolve(page.get("/Annots"))
        if not isinstance(annots, ArrayObject):
            return None
        for annot in list(annots):
            annot = self._resolve(annot)
            if not isinstance(annot, DictionaryObject):
                continue
            hit = self._action(annot.get("/A")) or self._action_or_aa(annot.get("/AA"), True)
            if hit:
                return hit
        return None

    def _fields(self, fields: Any, depth: int = 0) -> str | None:
        from pypdf.generic import ArrayObject, DictionaryObject

        fields = self._resolve(fields)
        if depth > 64 or not isinstance(fields, ArrayObject):
            return None
        for item in list(fields):
            item = self._resolve(item)
            if not isinstance(item, DictionaryObject):
                continue
            hit = (
                self._action(item.get("/A"))
                or self._action_or_aa(item.get("/AA"), True)
                or self._fields(item.get("/Kids"), depth + 1)
            )
            if hit:
                return hit
        return None

    def _outlines(self, outlines: Any) -> str | None:
        from pypdf.generic import DictionaryObject

        node = self._resolve(outlines)
        if not isinstance(node, DictionaryObject):
            return None
        stack = [node.get("/First")]
        while stack:
            item = self._resolve(stack.pop())
            if not isinstance(item, DictionaryObject):
                continue
            hit = self._action(item.get("/A"))
            if hit:
                return hit
            stack.append(item.get("/Next"))
            stack.append(item.get("/First"))
        return None


class _WalkBudgetExceeded(Exception):
    pass


def _has_embedded_files(reader: Any) -> bool:
    from pypdf.generic import DictionaryObject

    root = reader.trailer.get("/Root")
    root = root.get_object() if root is not None else None
    if not isinstance(root, DictionaryObject):
        return False
    names = root.get("/Names")
    names = names.get_object() if names is not None else None
    return isinstance(names, DictionaryObject) and names.get("/EmbeddedFiles") is not None


# --------------------------------------------------------------------------- images


def _check_image(path: Path, kind: str, result: ValidationResult) -> None:
    from PIL import Image, UnidentifiedImageError

    add = result.problems.append
    label = TYPE_LABELS[kind]
    damaged = Problem(
        "image_damaged",
        f"This {label} is damaged and cannot be displayed. Scan or save the picture again.",
    )
    truncated = Problem(
        "image_truncated",
        f"This {label} is incomplete: its end is missing, so it was probably cut off while "
        "copying. Copy or scan it again.",
    )
    bomb = Problem(
        "image_bomb",
        f"This {label} is far too large to open safely (it would expand to an enormous "
        "size in memory). Scan it again at a normal resolution.",
    )
    fmt = "JPEG" if kind == "jpeg" else "PNG"
    previous_max = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
            with Image.open(path, formats=[fmt]) as im:
                result.width, result.height = im.size
                im.verify()
            with Image.open(path, formats=[fmt]) as im:
                im.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        add(bomb)
    except UnidentifiedImageError:
        add(damaged)
    except ValueError as exc:
        # Pillow raises ValueError for oversized compressed text chunks (a PNG bomb).
        add(bomb if "too large" in str(exc).lower() else damaged)
    except (OSError, SyntaxError, EOFError) as exc:
        text = str(exc).lower()
        add(truncated if "truncat" in text else damaged)
    except (TypeError, IndexError, KeyError, ZeroDivisionError, struct.error):
        add(damaged)
    finally:
        Image.MAX_IMAGE_PIXELS = previous_max


# --------------------------------------------------------------------------- files


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files as given, and folders expanded (recursively) to the regular files inside.

    Hidden files and folders (dot-names) inside a dropped folder are skipped:
    they are thumbnails and system files, never documents a person chose.
    Symbolic links to folders are not followed, so a link loop cannot hang us.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    child = Path(dirpath) / name
                    if child.is_file():
                        yield child
        else:
            yield p


# --------------------------------------------------------------------------- isolation


def _worker_main(conn: Any, memory_cap: int) -> None:
    """Body of a helper process: validate whatever arrives until told to stop."""
    # Import the parsers before capping memory, so the cap bounds the work on
    # a file and not the interpreter's start-up.
    for module in ("PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin", "pypdf", "pypdf.generic"):
        importlib.import_module(module)

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    except (ImportError, ValueError, OSError):  # Windows, or a lower hard limit
        pass
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, target, max_bytes = request
        try:
            res = validate_file(path, target, max_bytes)
        except MemoryError:
            res = ValidationResult(path=path, problems=[_memory_problem()])
        data = asdict(res)
        conn.send(data)


def _memory_problem() -> Problem:
    return Problem(
        "too_complex",
        "This file needs too much memory to check, which damaged or hostile files do. "
        "It was not accepted. Save or print it to a new file and try again.",
    )


def _timeout_problem(seconds: float) -> Problem:
    return Problem(
        "too_complex",
        f"Checking this file took longer than {seconds:g} seconds, which damaged or hostile "
        "files do. It was not accepted. Save or print it to a new file and try again.",
    )


class _Worker:
    def __init__(self, ctx: Any, memory_cap: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, memory_cap), daemon=True)
        self.proc.start()
        child.close()

    def close(self, kill: bool = False) -> None:
        try:
            if not kill:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        if kill:
            self.proc.kill()
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=2)


class IsolatedValidator:
    """Validate files in helper processes, each file with a time limit.

    Thread-safe: callers on several threads each borrow a helper process. A
    helper that overruns its time, dies or runs out of memory is replaced and
    the file gets a clear rejection.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = DEFAULT_TIMEOUT_S,
        memory_cap: int = DEFAULT_MEMORY_CAP,
    ) -> None:
        self.timeout = timeout
        self.memory_cap = memory_cap
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self._closed = False

    def __enter__(self) -> IsolatedValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _borrow(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.is_alive():
                    return worker
                worker.close(kill=True)  # died while idle (e.g. the OOM killer)
        return _Worker(self._ctx, self.memory_cap)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.close()

    def validate(
        self,
        path: str | os.PathLike[str],
        target: str | None = None,
        max_bytes: int | None = None,
    ) -> ValidationResult:
        started = time.monotonic()
        with self._slots:
            worker = self._borrow()
            try:
                worker.conn.send((str(path), target, max_bytes))
                if worker.conn.poll(self.timeout):
                    data = worker.conn.recv()
                    self._give_back(worker)
                    return ValidationResult.from_json(data)
                problem = _timeout_problem(self.timeout)
            except (EOFError, OSError, BrokenPipeError):
                # The helper died: out of memory, or a crash in a C library.
                problem = _memory_problem()
            worker.close(kill=True)
        res = ValidationResult(path=str(path), problems=[problem])
        try:
            res.size = os.path.getsize(path)
            with open(path, "rb") as fh:
                res.type = sniff(fh.read(16))
        except OSError:
            pass
        res.elapsed = time.monotonic() - started
        return res

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
