"""Who may call: API keys from the `Authorization: Bearer …` header (or, for a browser on /ui
and /docs, the same key kept in a cookie after /login), per-key rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from assistant.api.errors import ApiError
from assistant.api.keys import KeyFileError, KeyStore, Principal
from assistant.api.limits import RateLimiter

COOKIE = "assistant_key"


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Guard:
    keys: KeyStore
    limiter: RateLimiter
    trusted_origins: tuple[str, ...] = ()  # other origins whose pages may send the cookie (api_cors_origins)

    def same_origin(self, request: Request) -> bool:
        """Whether a browser request comes from this server's own pages (or a trusted origin).
        SameSite=Strict does not stop another port or subdomain of the same site, and a multipart
        POST needs no preflight, so a cookie alone never authorises a change."""
        origin = request.headers.get("origin") or ""
        if not origin:
            referer = urlsplit(request.headers.get("referer") or "")
            origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
        if not origin:  # no browser context at all (a script replaying the cookie): as the fetch metadata says
            return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        if origin in self.trusted_origins:
            return True
        host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
        return urlsplit(origin).netloc.lower() == host.split(",")[0].strip().lower()

    def identify(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        if not key:
            return None
        try:
            return self.keys.verify(key)
        except KeyFileError as err:  # fail closed, and say why (the log and /readyz name the file)
            raise ApiError(503, "keys_unreadable", "the server cannot read its key file, so no key can be "
                           "checked: the operator must fix or restore it") from err

    def principal(self, request: Request) -> Principal:
        """The caller, after the key and rate-limit checks (401 / 429)."""
        principal = self.identify(request)
        if principal is None:
            has_key = bool(request.headers.get("authorization") or request.cookies.get(COOKIE))
            raise ApiError(401, "unauthorized",
                           "the API key is not valid or was revoked" if has_key else
                           "send an API key as 'Authorization: Bearer <key>' (create one with `assistant keys create`)",
                           {"WWW-Authenticate": "Bearer"})
        from_cookie = not request.headers.get("authorization")
        if from_cookie and request.method.upper() not in _SAFE_METHODS and not self.same_origin(request):
            raise ApiError(403, "cross_origin", "a change made with the login cookie must come from this server's "
                           "own pages: send the key as 'Authorization: Bearer <key>' instead")
        request.state.key_id = principal.key_id
        wait = self.limiter.acquire(principal.key_id, principal.rate_per_minute)
        if wait > 0:
            raise ApiError(429, "rate_limited", f"too many requests for this key: retry in {wait:g} s",
                           {"Retry-After": str(max(1, round(wait)))})
        return principal

    def admin(self, request: Request) -> Principal:
        principal = self.principal(request)
        if principal.role != "admin":
            raise ApiError(403, "forbidden", "this needs an admin key; yours is a reader key")
        return principal
