"""The ASGI application: routes, and what every page shares (the store, the CSRF cookie,
the limits, the clock). `create_app(settings)` is what `digest serve` runs under uvicorn.

Each request opens the store in a worker thread and closes it again: SQLite connections
belong to one thread, and opening one is far cheaper than what a page does with it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digest.config.settings import Settings
from digest.errors import DigestError
from digest.jobs.storepreview import StorePreviewer
from digest.store import open_store
from digest.store.roles import Store
from digest.util.logs import event
from digest.web.pages import STATIC, page
from digest.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    Hardened,
    RateLimiter,
    csrf_ok,
    new_csrf_token,
)

log = logging.getLogger("digest.web")
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class WebState:
    """One process's state: settings, the preview's cached index, the rate limits."""

    settings: Settings
    clock: Clock = utc_now
    previewer: StorePreviewer = field(init=False)
    clients: RateLimiter = field(init=False)
    addresses: RateLimiter = field(init=False)
    landing_html: str | None = None  # the landing page, rendered once (see subscribe.landing)

    def __post_init__(self) -> None:
        web = self.settings.web
        self.previewer = StorePreviewer(self.settings)
        self.clients = RateLimiter(web.client_limit, web.client_window)
        self.addresses = RateLimiter(web.address_limit, web.address_window)

    @contextmanager
    def store(self) -> Iterator[Store]:
        with closing(open_store(self.settings.store_url)) as store:
            yield store

    @property
    def secure_cookies(self) -> bool:
        return self.settings.web.public_url.startswith("https://")


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser: its cookie, or a new one set with this response."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 64:
        return token
    fresh: str = request.scope.setdefault("digest.csrf", new_csrf_token())
    return fresh


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
    """A page, with the CSRF cookie set when this browser had none."""
    web = state_of(request)
    token = csrf_token(request)
    headers = context.pop("headers", None)
    context.setdefault("source_names", tuple(s.name for s in web.settings.sources))
    response = page(web.settings, name, csrf=token, status=status, headers=headers, **context)
    set_csrf_cookie(request, response, token)
    return response


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    if token != request.cookies.get(CSRF_COOKIE):
        secure = state_of(request).secure_cookies
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure)


def message(
    request: Request, heading: str, *lines: str, status: int = 200, **context: Any
) -> Response:
    return render(
        request, "message.html.j2", status=status, heading=heading, lines=lines, **context
    )


def too_many(request: Request, wait: int) -> Response:
    minutes = max(1, round(wait / 60))
    return message(
        request,
        "Too many requests",
        f"Please wait about {minutes} minute{'s' if minutes != 1 else ''} and try again.",
        status=429,
        headers={"Retry-After": str(wait)},
    )


async def checked_form(request: Request) -> FormData | Response:
    """The form of a POST whose CSRF token matches this browser's cookie (and whose Origin,
    when the browser sends one, is this site); else the page that says why it failed."""
    origin = request.headers.get("origin")
    if origin and origin not in _own_origins(request):
        return message(request, "Form refused", "The form came from another site.", status=403)
    form = await request.form(max_files=0, max_fields=200)
    field_value = form.get(CSRF_FIELD)
    if not csrf_ok(
        request.cookies.get(CSRF_COOKIE), field_value if isinstance(field_value, str) else None
    ):
        return message(
            request,
            "This form has expired",
            "Reload the page and send the form again (the site needs its cookie to accept it).",
            status=403,
        )
    return form


def _own_origins(request: Request) -> set[str]:
    public = state_of(request).settings.web.public_url
    scheme, _, rest = public.partition("://")
    own = {f"{scheme}://{rest.split('/')[0]}"}
    host = request.headers.get("host")
    if host:
        own.add(f"{request.url.scheme}://{host}")
    return own


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limited_form(request: Request) -> tuple[FormData, WebState] | Response:
    """What every public form starts with: checked_form, then the per-client rate limit.
    The form and the app's state, or the page (403, 429) that answers instead."""
    form = await checked_form(request)
    if isinstance(form, Response):
        return form
    web = state_of(request)
    wait = web.clients.hit(client_of(request))
    if wait:
        return too_many(request, wait)
    return form, web


class AccessLog:
    """One line per request with the first path segment only: links carry tokens, and an
    address must never reach the log."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            segment = "/" + scope.get("path", "/").lstrip("/").split("/", 1)[0]
            event(
                log,
                "request",
                f"{scope.get('method')} {segment} {status} "
                f"{(time.perf_counter() - started) * 1000:.1f} ms",
                level=logging.DEBUG if segment == "/static" else logging.INFO,
                method=scope.get("method"),
                route=segment,
                status=status,
            )


def _warm(state: WebState) -> None:
    """Index the store's papers for previews in the background, before anyone asks."""

    def warm() -> None:
        try:
            if state.settings.has_database:
                state.previewer.warm(state.clock())
        except DigestError as err:
            event(log, "warm_failed", f"preview index not built: {err}", level=logging.WARNING)

    threading.Thread(target=warm, name="preview-warm", daemon=True).start()


def create_app(settings: Settings, *, clock: Clock = utc_now) -> Any:
    """The pages as one ASGI app, wrapped in the body limit, the headers and the access log."""
    from digest.web import manage, subscribe

    routes = [
        Route("/", subscribe.landing, methods=["GET"]),
        Route("/preview", subscribe.preview, methods=["POST"]),
        Route("/subscribe", subscribe.subscribe, methods=["POST"]),
        Route("/link", subscribe.mail_link, methods=["POST"]),
        Route("/confirm/{token}", subscribe.confirm_page, methods=["GET", "POST"]),
        Route("/manage/{token}", manage.manage_page, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", manage.unsubscribe_page, methods=["GET", "POST"]),
        Route("/vote/{token}", manage.vote_page, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    state = WebState(settings, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _warm(state)
        yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.web = state
    web = settings.web
    hardened = Hardened(app, max_body=web.max_body_bytes, https=web.public_url.startswith("https"))
    return AccessLog(hardened)
