"""The public pages: the landing page with its form and preview, sign-up, "mail me a link",
and the confirmation link. Every answer about an address is the same whoever owns it."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.config.addresses import validate_address
from digest.errors import AddressError
from digest.jobs.notices import send_notice
from digest.jobs.signup import (
    LinkRefused,
    Mail,
    Purpose,
    TokenExpired,
    confirm,
    link_mail,
    signup,
    verified,
)
from digest.store.roles import SubscriberRecord
from digest.util.logs import event
from digest.web.app import (
    checked_form,
    csrf_token,
    limited_form,
    message,
    render,
    set_csrf_cookie,
    state_of,
    too_many,
)
from digest.web.forms import FormValues, ProfileForm, read_profile_form
from digest.web.pages import page

log = logging.getLogger("digest.web")
PREVIEW_ADDRESS = "preview@example.org"  # a preview belongs to nobody
DEFAULTS: FormValues = {"deliver_at": "07:00", "timezone": "UTC", "max_papers": "25"}
CHECK_INBOX = (
    "If that address can receive mail, a message is on its way to it.",
    "A new subscription starts once you open the confirmation link in it; if the address "
    "is already subscribed, the message holds a link to manage the subscription instead.",
)


_STAND_IN = "\x00csrf\x00"  # where the browser's own CSRF token goes


async def landing(request: Request) -> Response:
    """The landing page is the same for everyone but its CSRF token: rendered once, the
    token put in per request (the most requested page costs no template work)."""
    web = state_of(request)
    cached: str | None = getattr(web, "landing_html", None)
    if cached is None:
        blank = page(
            web.settings,
            "landing.html.j2",
            csrf=_STAND_IN,
            values=DEFAULTS,
            errors={},
            result=None,
            source_names=tuple(s.name for s in web.settings.sources),
        )
        cached = bytes(blank.body).decode()
        web.landing_html = cached
    token = csrf_token(request)
    response = HTMLResponse(cached.replace(_STAND_IN, token))
    response.headers["cache-control"] = "no-store"
    set_csrf_cookie(request, response, token)
    return response


async def preview(request: Request) -> Response:
    checked = await limited_form(request)
    if isinstance(checked, Response):
        return checked
    form, web = checked
    read = read_profile_form(web.settings, form, email=PREVIEW_ADDRESS)
    if not read.ok or read.subscriber is None:
        return _form_refused(request, read)
    subscriber = read.subscriber

    def work() -> object:
        with web.store() as store:
            return web.previewer.preview(store, subscriber, web.clock())

    result = await run_in_threadpool(work)
    return render(
        request, "landing.html.j2", values=read.values, errors={}, result=result, anchor="preview"
    )


def _mail_later(request: Request, mail: Mail | None) -> BackgroundTask | None:
    """Send after the answer went out: how long sending takes must not tell anything."""
    if mail is None:
        return None
    settings = state_of(request).settings
    return BackgroundTask(send_notice, settings, mail.recipient, mail.message, mail.kind)


def _address_wait(request: Request, address: str) -> int | None:
    return state_of(request).addresses.hit(address.lower())


async def subscribe(request: Request) -> Response:
    checked = await limited_form(request)
    if isinstance(checked, Response):
        return checked
    form, web = checked
    read = read_profile_form(web.settings, form)
    if not read.ok or read.subscriber is None:
        return _form_refused(request, read)
    subscriber = read.subscriber
    wait = _address_wait(request, subscriber.email)
    if wait:
        return too_many(request, wait)

    def work() -> Mail:
        with web.store() as store:
            return signup(web.settings, store, subscriber, web.clock())

    mail = await run_in_threadpool(work)
    event(log, "signup", "sign-up form sent")
    response = message(request, "Check your inbox", *CHECK_INBOX)
    response.background = _mail_later(request, mail)
    return response


async def mail_link(request: Request) -> Response:
    checked = await limited_form(request)
    if isinstance(checked, Response):
        return checked
    form, web = checked
    raw = form.get("email", "")
    try:
        address = validate_address(raw if isinstance(raw, str) else "")
    except AddressError as err:
        return render(
            request,
            "landing.html.j2",
            status=400,
            values=DEFAULTS,
            errors={"link_email": err.reason},
            result=None,
            anchor="link",
        )
    wait = _address_wait(request, address)
    if wait:
        return too_many(request, wait)

    def work() -> Mail | None:
        with web.store() as store:
            return link_mail(web.settings, store, address, web.clock())

    mail = await run_in_threadpool(work)
    response = message(
        request,
        "Check your inbox",
        "If that address is subscribed, a link to manage the subscription is on its way.",
    )
    response.background = _mail_later(request, mail)
    return response


async def confirm_page(request: Request) -> Response:
    """GET shows a button and changes nothing (mail scanners open links); POST confirms."""
    web = state_of(request)
    token = request.path_params["token"]
    form = await checked_form(request) if request.method == "POST" else None
    if isinstance(form, Response):
        return form

    def work() -> SubscriberRecord | None:
        with web.store() as store:
            if form is None:
                verified(web.settings, store, token, Purpose.CONFIRM, web.clock())
                return None
            return confirm(web.settings, store, token, web.clock())

    try:
        record = await run_in_threadpool(work)
    except TokenExpired:
        return message(
            request,
            "This link has expired",
            "Sign up again on the home page: a new confirmation link will be mailed.",
            status=400,
            home=True,
        )
    except LinkRefused as err:
        return message(request, "This link does not work", _reason(err), status=400, home=True)
    if record is None:
        return render(request, "confirm.html.j2", token=token)
    event(log, "confirmed", "a subscription was confirmed")
    return render(request, "confirmed.html.j2", record=record)


def _reason(err: LinkRefused) -> str:
    if "already used" in str(err):
        return "This confirmation link was already used, or a newer one replaced it."
    return "The link is incomplete, or it was not made by this site."


def _form_refused(request: Request, read: ProfileForm) -> Response:
    """The landing page again, with what the reader typed and what was wrong with it."""
    return render(
        request, "landing.html.j2", status=400, values=read.values, errors=read.errors, result=None
    )
