"""Requests forged by other sites: a page on a sibling host (another port or subdomain of the
same site) counts as same-site, so a `SameSite=Strict` session cookie still goes along with
what it sends. Every state-changing request and every WebSocket handshake that carries the
staff's session cookie must come from kefu's own origin or one named in
KEFU_ACCESS__ALLOWED_ORIGINS; others are refused (403, or close code 4403 for a WebSocket).

Browsers send `Origin` on every cross-origin POST, PUT, PATCH, DELETE and WebSocket
handshake, and `Sec-Fetch-Site` on every request; a client sending neither is no browser,
and no browser can be made to forge its request.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.api.errors import error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CODE = "cross_site_request"


def _origin(origin: str) -> str | None:
    """scheme://host[:port] of an origin as browsers write it (no default port, lower case)."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class OriginGuard:
    """ASGI middleware refusing cookie-carrying state changes and WebSocket handshakes that
    come from a page of another origin."""

    def __init__(self, app: ASGIApp, cookie: str, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.cookie = cookie
        self.allowed = {key for o in allowed if (key := _origin(o)) is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        guarded = (kind == "websocket" or scope["method"] not in SAFE_METHODS) and self._has_cookie(
            headers
        )
        if not guarded or self.same_origin(headers):
            await self.app(scope, receive, send)
            return
        if kind == "http":
            refused = error(403, CODE, "requests from another site may not use the session")
            await refused(scope, receive, send)
            return
        # Accept, then close with a code of our own: a close before the handshake reaches a
        # browser as a bare 1006.
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4403, "reason": CODE})

    def _has_cookie(self, headers: Headers) -> bool:
        raw = headers.get("cookie")
        if not raw:
            return False
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a cookie header it cannot parse: treat as carrying the session
            return True
        return self.cookie in jar

    def same_origin(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # no Origin: a same-origin GET-less navigation or a client that is no browser;
            # Sec-Fetch-Site, when a browser sends it, still tells
            site = headers.get("sec-fetch-site")
            return site is None or site in ("same-origin", "none")
        found = _origin(origin)
        if found is None:  # "null": a sandboxed frame, a file, a redirect across origins
            return False
        if found in self.allowed:
            return True
        # the page's own host: the Host header, as the browser wrote it (port included
        # unless it is the scheme's default, exactly as in Origin)
        host = headers.get("host", "").strip().lower()
        return bool(host) and urlsplit(found).netloc == host
