"""Every exception pikepdf and pypdf raise, mapped to a stable problem code.

``internal_error`` is left for bugs in our own code: anything a parser says
about a file's bytes becomes one of the problems below, with words that fit
what the user sees.
"""

from __future__ import annotations

from uploader_gui.core.validation.result import Problem, memory_problem

CANNOT_OPEN = "pdf_damaged"


def unreadable() -> Problem:
    return Problem(
        CANNOT_OPEN,
        "This file cannot be opened by PDF readers: its structure is broken beyond repair. "
        "Open the original document again and save or print it to a new PDF, or scan it again.",
    )


def pages_inconsistent() -> Problem:
    return Problem(
        CANNOT_OPEN,
        "This PDF's list of pages is broken, so different PDF readers would show different "
        "pages. It was not accepted. Open it and save or print it to a new PDF, or scan the "
        "document again.",
    )


def password_needed() -> Problem:
    return Problem(
        "pdf_password",
        "This PDF is protected by a password; remove the password and try again.",
    )


def encryption_unsupported() -> Problem:
    return Problem(
        "pdf_encryption_unsupported",
        "This PDF is locked to particular people's certificates or uses an encryption this "
        "computer cannot open. Ask the sender for a copy without protection, or print it to "
        "a new PDF without protection.",
    )


def too_complex() -> Problem:
    return Problem(
        "too_complex",
        "This PDF is built in a way that is far too complex to check safely, which damaged or "
        "hostile files are. It was not accepted. Save or print it to a new PDF and try again.",
    )


def _about_encryption(text: str) -> bool:
    text = text.lower()
    return any(w in text for w in ("encrypt", "security handler", "pubsec", "crypt filter"))


def pikepdf_problem(exc: BaseException) -> Problem:
    """The problem a pikepdf (qpdf) exception means for the file that raised it."""
    import pikepdf

    if isinstance(exc, pikepdf.PasswordError):
        return password_needed()
    if isinstance(exc, MemoryError):
        return memory_problem()
    if isinstance(exc, (RecursionError, pikepdf.ReferenceCycleError)):
        return too_complex()
    if isinstance(exc, pikepdf.DependencyError):
        return encryption_unsupported()
    text = str(exc)
    if _about_encryption(text):
        return encryption_unsupported()
    # PdfError and its kin (DataDecodingError, DeletedObjectError, ...), and the
    # standard errors pikepdf lets through for malformed objects.
    return unreadable()


#: What pikepdf raises for a file's contents (besides MemoryError and RecursionError).
def pikepdf_errors() -> tuple[type[BaseException], ...]:
    import pikepdf

    return (pikepdf.PikepdfError, pikepdf.PdfError, pikepdf.PasswordError,
            pikepdf.DependencyError, pikepdf.ReferenceCycleError, pikepdf.DataDecodingError,
            RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            NotImplementedError, OverflowError, UnicodeError, RecursionError)


def pypdf_problem(exc: BaseException) -> Problem:
    """The problem a pypdf exception means for the file that raised it."""
    from pypdf import errors

    if isinstance(exc, (errors.FileNotDecryptedError, errors.WrongPasswordError)):
        return password_needed()
    if isinstance(exc, errors.DependencyError):
        return encryption_unsupported()
    if isinstance(exc, (errors.LimitReachedError, RecursionError)):
        return too_complex()
    if isinstance(exc, MemoryError):
        return memory_problem()
    if isinstance(exc, NotImplementedError) and _about_encryption(str(exc)):
        return encryption_unsupported()
    return unreadable()


def pypdf_errors() -> tuple[type[BaseException], ...]:
    """What pypdf raises for a file's contents: its own errors and the standard ones it lets through."""
    from pypdf import errors

    return (errors.PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, AssertionError, OSError, UnicodeError, ZeroDivisionError,
            LookupError, ArithmeticError, NotImplementedError)
