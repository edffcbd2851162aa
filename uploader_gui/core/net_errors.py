"""Why a connection failed, in words: TLS and proxy problems, and the short cause of an error.

Used by the transport when it turns a ``requests`` exception into an ``UploadError``.
"""

from __future__ import annotations

import ssl
from typing import Any


def tls_problem_text(detail: str, where: str) -> str:
    """Why a secure connection failed, in words: expired, wrong host, unknown authority."""
    low = detail.lower()
    if "expired" in low:
        why = "its security certificate has expired"
    elif "not yet valid" in low:
        why = ("its security certificate is not valid yet (check this computer's date and "
               "time)")
    elif "hostname" in low or "mismatch" in low or "doesn't match" in low or "not valid for" in low:
        why = "its security certificate is for a different address (wrong host)"
    elif any(s in low for s in ("self signed", "self-signed", "unknown ca", "unable to get local "
                                "issuer", "not trusted", "unable to get issuer", "untrusted")):
        why = ("its security certificate is not issued by an authority this computer trusts "
               "(unknown authority)")
    elif "revoked" in low:
        why = "its security certificate has been revoked"
    else:
        why = "a secure (TLS) connection could not be established"
    return (f"Could not connect securely to {where}: {why}. The upload was not sent. If your "
            "organisation uses its own certificate authority, ask IT to install it or set the "
            "profile's CA bundle.")


def proxy_problem_text(exc: BaseException, where: str) -> str:
    """A proxy failure in words: the proxy wants a sign-in (407), or cannot be reached."""
    chain = _chain_text(exc).lower()
    if "407" in chain or "proxy authentication" in chain:
        why = "the proxy server asks for a sign-in (HTTP 407 Proxy Authentication Required)"
    elif "refused" in chain:
        why = "the proxy server refused the connection (nothing is listening at its address)"
    elif "name or service not known" in chain or "nameresolution" in chain or \
            "failed to resolve" in chain:
        why = "the proxy server's name could not be found"
    elif "timed out" in chain or "timeout" in chain:
        why = "the proxy server did not answer in time"
    else:
        why = "the proxy server could not pass the connection on"
    return (f"Could not reach {where} through the proxy: {why}. The upload was not sent. Check "
            "the proxy settings (HTTPS_PROXY, NO_PROXY or the system's) or ask your IT department.")


def _chain_text(exc: BaseException) -> str:
    """Type names and texts of an exception and its causes (searched, never shown)."""
    out: list[str] = []
    seen: set[int] = set()
    cur: Any = exc
    while cur is not None and id(cur) not in seen and len(out) < 12:
        seen.add(id(cur))
        out.append(f"{type(cur).__name__}: {cur}")
        nxt = getattr(cur, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = None
        if nxt is None and getattr(cur, "args", None):
            nxt = next((a for a in cur.args if isinstance(a, BaseException)), None)
        cur = nxt or cur.__cause__ or cur.__context__
    return " | ".join(out)


def _describe(exc: BaseException) -> str:
    """A short cause without URLs' query strings (which might carry a token)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    last = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        last = cur
        if isinstance(cur, ssl.SSLError | ssl.CertificateError):
            break  # the most precise TLS reason; its causes say less
        cur = cur.__cause__ or cur.__context__ or (
            cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
        )
        if cur is not None and hasattr(cur, "reason") and isinstance(cur.reason, BaseException):
            cur = cur.reason
    name = type(last).__name__
    if isinstance(last, ssl.SSLError | ssl.CertificateError):
        detail = getattr(last, "verify_message", "") or getattr(last, "reason", "") or \
            (last.args[1] if len(last.args) > 1 and isinstance(last.args[1], str) else "") or \
            str(last)
        return f"{name}: {detail}"
    if isinstance(last, OSError) and last.strerror:
        return f"{name}: {last.strerror}"
    return name


def _never_connected(exc: BaseException) -> bool:
    import urllib3.exceptions as u3

    cur: Any = exc
    seen: set[int] = set()
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, u3.NewConnectionError | u3.NameResolutionError | ConnectionRefusedError):
            return True
        nxt = getattr(cur, "reason", None)
        if nxt is None and getattr(cur, "args", None):
            nxt = cur.args[0] if isinstance(cur.args[0], BaseException) else None
        cur = nxt or cur.__cause__ or cur.__context__
    return False
