"""What protects the pages and the people behind the addresses: CSRF tokens, rate limits,
a body size limit, and the response headers (CSP and friends). Pure ASGI where it wraps the
app, so it costs nothing per request beyond its checks.

Rate limits live in the memory of the one `digest serve` process (a sliding window per key):
cheap, and enough for one server; several processes would each count on their own.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No inline script or style at all: everything comes from /static. Links carry tokens, so
# no page may send a Referer to the papers it links to (same-origin keeps the Origin header
# on our own form posts, which no-referrer would turn into "null").
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, field: str | None) -> bool:
    """Double submit: the form carries the value of the cookie only our pages can read."""
    if not cookie or not field or len(field) > 100:
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds. `hit` says how long to wait
    (seconds, rounded up) when the key is over, else None and the hit counts."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int | None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._forget(moment)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= moment - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - moment))
            hits.append(moment)
            return None

    def _forget(self, moment: float) -> None:
        """Drop keys with no hit in the window; if every key is live, the oldest half."""
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= moment - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]


class Hardened:
    """ASGI middleware: refuse bodies over `max_body` bytes (413, before the app reads a
    byte of a declared length, and as soon as a streamed one goes over), and add the
    security headers to every response."""

    def __init__(self, app: ASGIApp, *, max_body: int, https: bool) -> None:
        self.app, self.max_body = app, max_body
        self.headers = list(SECURITY_HEADERS)
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _too_large(send_with_headers)
            return
        body = bytearray()
        more = scope["method"] in ("POST", "PUT", "PATCH")
        while more:  # forms are small: read the whole body, bounded, then replay it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _too_large(send_with_headers)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)


async def _too_large(send: Send) -> None:
    text = b"Request body too large.\n"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})
