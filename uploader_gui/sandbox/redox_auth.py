"""Redox authentication: OAuth 2.0 with signed JWT assertions, and the legacy API key.

``POST /v2/auth/token`` (form-encoded ``grant_type=client_credentials``,
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``,
``client_assertion=<JWT>``) answers ``{"access_token", "token_type": "bearer",
"expires_in", "scope"}``. Its errors follow RFC 6749 section 5.2:
``{"error": "invalid_request" | "unsupported_grant_type" | "invalid_client",
"error_description": "..."}`` with 400 for a malformed request and 401 for any
assertion that is refused (bad signature, unknown ``kid``/client, wrong ``aud``,
``exp`` more than 5 minutes after ``iat``, a replayed ``jti``...).

The assertion is checked with PyJWT: ``alg`` RS384 (kid ``sandbox-rsa``) or ES384
(kid ``sandbox-ec``); HS384 is refused because no shared secret is configured.
``iss`` and ``sub`` must both be the client id and ``aud`` the token URL the client
posted to (``<sandbox url>/v2/auth/token``, or the same path on the Host it used).

``POST /auth/authenticate`` (JSON ``{"apiKey", "secret"}``) answers
``{"accessToken", "expires", "refreshToken"}``; ``POST /auth/refreshToken`` (JSON
``{"apiKey", "refreshToken"}``) answers the same with a fresh access token and the
same refresh token. Their errors use Redox's ``{"Meta": {"Errors": [...]}}`` shape.
Access tokens of both kinds last ``token_ttl`` seconds; ``expire_tokens()`` voids
every access token at once (refresh tokens stay valid).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from . import accounts
from .exchange import Exchange, Response, iso_z, json_response, utc_now
from .multipart import BodyError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300  # seconds from iat to exp
CLOCK_LEEWAY = 10

# client id -> what its tokens may do
OAUTH_CLIENTS: dict[str, str] = {
    accounts.REDOX_CLIENT_ID: "source",
    accounts.REDOX_PLATFORM_CLIENT_ID: "platform",
}
KID_ALGORITHMS = {accounts.REDOX_RSA_KID: "RS384", accounts.REDOX_EC_KID: "ES384"}


@dataclass(frozen=True)
class Grant:
    """What an access token stands for."""

    principal: str  # the source (client id or legacy API key) or platform key
    kind: str  # "source" | "platform"
    expires_at: float  # time.monotonic() deadline


class TokenDesk:
    """Issues and checks the Redox access tokens."""

    def __init__(self, public_keys: dict[str, Any], token_ttl: float) -> None:
        self._public_keys = public_keys
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> api key
        self._seen_jti: dict[tuple[str, str], float] = {}  # -> monotonic expiry

    # --- checking -----------------------------------------------------------------
    def grant_for(self, token: str | None) -> Grant | None:
        if not token:
            return None
        with self._lock:
            grant = self._access.get(token)
            if grant is None:
                return None
            if time.monotonic() >= grant.expires_at:
                del self._access[token]
                return None
            return grant

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count

    def _issue(self, principal: str, kind: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._access[token] = Grant(principal, kind, time.monotonic() + self.token_ttl)
        return token

    # --- OAuth 2.0 client credentials with a JWT assertion ---------------------------
    def oauth_token(self, ex: Exchange, token_urls: set[str]) -> Response:
        if ex.method != "POST":
            return oauth_error(405, "invalid_request", "Use POST for the token endpoint.")
        if not ex.is_urlencoded():
            return oauth_error(
                400, "invalid_request", "Send the token request as application/x-www-form-urlencoded."
            )
        try:
            form = {k: v[0] for k, v in ex.read_form(64 * 1024).items()}
        except BodyError as exc:
            return oauth_error(400, "invalid_request", str(exc))
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials.")
        if form.get("client_assertion_type") != JWT_BEARER:
            return oauth_error(400, "invalid_request", f"client_assertion_type must be {JWT_BEARER}.")
        assertion = form.get("client_assertion", "")
        if not assertion:
            return oauth_error(400, "invalid_request", "client_assertion is missing.")
        try:
            client_id = self._verify_assertion(assertion, token_urls)
        except AssertionRefused as exc:
            return oauth_error(401, "invalid_client", str(exc))
        kind = OAUTH_CLIENTS[client_id]
        token = self._issue(client_id, kind)
        return json_response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(self.token_ttl) if self.token_ttl >= 1 else self.token_ttl,
                "scope": kind,
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _verify_assertion(self, assertion: str, token_urls: set[str]) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AssertionRefused(f"client_assertion is not a valid JWT: {exc}") from exc
        kid = header.get("kid")
        alg = header.get("alg")
        if not kid:
            raise AssertionRefused("The JWT header must carry a kid.")
        if alg == "HS384":
            raise AssertionRefused("HS384 is not configured for this client; use RS384 or ES384.")
        if alg not in ("RS384", "ES384"):
            raise AssertionRefused(f"Unsupported alg {alg!r}; use RS384 or ES384.")
        client_id = unverified.get("iss")
        if client_id not in OAUTH_CLIENTS:
            raise AssertionRefused("Unknown client (iss).")
        key = self._public_keys.get(kid)
        if key is None:
            raise AssertionRefused(f"No public key with kid {kid!r} is registered for this client.")
        if KID_ALGORITHMS[kid] != alg:
            raise AssertionRefused(f"The key {kid!r} signs with {KID_ALGORITHMS[kid]}, not {alg}.")
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=sorted(token_urls),
                issuer=client_id,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AssertionRefused(f"The client assertion was refused: {exc}") from exc
        if claims["sub"] != client_id:
            raise AssertionRefused("sub must equal iss (the client id).")
        try:
            lifetime = float(claims["exp"]) - float(claims["iat"])
        except (TypeError, ValueError) as exc:
            raise AssertionRefused("iat and exp must be numeric dates.") from exc
        if lifetime > MAX_ASSERTION_LIFETIME:
            raise AssertionRefused("exp must be at most 5 minutes after iat.")
        jti = str(claims["jti"])
        now = time.monotonic()
        with self._lock:
            self._seen_jti = {k: t for k, t in self._seen_jti.items() if t > now}
            if (client_id, jti) in self._seen_jti:
                raise AssertionRefused("This jti was already used; every assertion needs a new one.")
            self._seen_jti[(client_id, jti)] = now + MAX_ASSERTION_LIFETIME + 2 * CLOCK_LEEWAY
        return client_id

    # --- legacy API key --------------------------------------------------------------
    def authenticate(self, ex: Exchange) -> Response:
        body = self._legacy_body(ex)
        if isinstance(body, Response):
            return body
        if body.get("apiKey") != accounts.REDOX_API_KEY or body.get("secret") != accounts.REDOX_SECRET:
            return redox_error(401, "Invalid apiKey or secret.", module="Authentication")
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[refresh] = accounts.REDOX_API_KEY
        return self._legacy_reply(refresh)

    def refresh(self, ex: Exchange) -> Response:
        body = self._legacy_body(ex)
        if isinstance(body, Response):
            return body
        with self._lock:
            owner = self._refresh.get(str(body.get("refreshToken", "")))
        if owner is None or owner != body.get("apiKey"):
            return redox_error(401, "Invalid apiKey or refreshToken.", module="Authentication")
        return self._legacy_reply(str(body["refreshToken"]))

    def _legacy_body(self, ex: Exchange) -> dict[str, Any] | Response:
        if ex.method != "POST":
            return redox_error(405, "Use POST.", module="Authentication")
        try:
            body = ex.read_json(64 * 1024)
        except BodyError as exc:
            return redox_error(400, str(exc), module="Authentication")
        if not isinstance(body, dict):
            return redox_error(400, "The body must be a JSON object.", module="Authentication")
        return body

    def _legacy_reply(self, refresh: str) -> Response:
        token = self._issue(accounts.REDOX_API_KEY, "source")
        expires = utc_now() + timedelta(seconds=self.token_ttl)
        return json_response(
            200,
            {"accessToken": token, "expires": iso_z(expires, millis=True), "refreshToken": refresh},
        )


class AssertionRefused(Exception):
    pass


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def redox_error(
    status: int,
    text: str | list[str],
    *,
    data_model: str | None = None,
    event_type: str | None = None,
    module: str = "Request",
    headers: dict[str, str] | None = None,
) -> Response:
    """Redox's error body: ``{"Meta": {"DataModel", "EventType", "Errors": [...]}}``."""
    texts = [text] if isinstance(text, str) else text
    meta: dict[str, Any] = {}
    if data_model is not None:
        meta["DataModel"] = data_model
    if event_type is not None:
        meta["EventType"] = event_type
    meta["Errors"] = [
        {"ID": secrets.randbelow(9_000_000) + 1_000_000, "Text": t, "Type": "message", "Module": module}
        for t in texts
    ]
    return json_response(status, {"Meta": meta}, headers)
