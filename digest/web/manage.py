"""The pages behind signed links: manage a subscription, leave in one click (RFC 8058),
vote on a paper. A GET never changes anything: mail systems' link scanners open links."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.errors import DigestError
from digest.jobs.notices import send_notice
from digest.jobs.signup import (
    LinkRefused,
    Mail,
    ManageView,
    Purpose,
    TokenExpired,
    link_mail,
    manage_view,
    send_today,
    unsubscribe_one_click,
    update,
    verified,
)
from digest.jobs.subscriptions import VOTE_WORDS, record_feedback
from digest.store.roles import SubscriberState, Vote
from digest.util.logs import event
from digest.web.app import WebState, checked_form, message, render, state_of, too_many
from digest.web.forms import read_profile_form, values_for

log = logging.getLogger("digest.web")
ONE_CLICK = ("List-Unsubscribe", "One-Click")
STATE_WORDS = {
    SubscriberState.PENDING: "waiting for confirmation",
    SubscriberState.ACTIVE: "active",
    SubscriberState.PAUSED: "paused",
    SubscriberState.UNSUBSCRIBED: "unsubscribed",
}


def _refused(request: Request, err: LinkRefused) -> Response:
    return message(
        request,
        "This link does not work",
        "The link is incomplete, or it was not made by this site.",
        status=400,
        home=True,
    )


def _manage(
    request: Request,
    view: ManageView,
    token: str,
    *,
    notes: tuple[str, ...] = (),
    errors: dict[str, str] | None = None,
    values: object = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "manage.html.j2",
        status=status,
        token=token,
        view=view,
        state_words=STATE_WORDS,
        vote_words=VOTE_WORDS,
        values=values or values_for(view.record.subscriber),
        errors=errors or {},
        notes=notes,
    )


async def manage_page(request: Request) -> Response:
    web = state_of(request)
    token = request.path_params["token"]
    form = await checked_form(request) if request.method == "POST" else None
    if isinstance(form, Response):
        return form
    action = str(form.get("action", "save")) if form is not None else "show"

    if action == "renew":  # an expired link asks for a fresh one: mailed, never shown
        return await _renew(request, web, token)

    def work() -> tuple[ManageView | None, tuple[str, ...], object, dict[str, str]]:
        with web.store() as store:
            email = verified(web.settings, store, token, Purpose.MANAGE, web.clock()).email
            notes: tuple[str, ...] = ()
            values: object = None
            errors: dict[str, str] = {}
            view = manage_view(store, email)
            if view is None or form is None:
                return view, notes, values, errors
            now = web.clock()
            subscriber = view.record.subscriber
            if view.record.state is SubscriberState.UNSUBSCRIBED:
                return view, notes, values, errors
            if action == "save":
                read = read_profile_form(
                    web.settings, form, email=subscriber.email, base=subscriber
                )
                if read.subscriber is None:
                    return view, notes, read.values, dict(read.errors)
                changes = update(store, read.subscriber, now)
                notes = tuple(changes) or ("Nothing changed.",)
                if changes:
                    notes = ("Saved. From the next digest on:", *changes)
            elif action in ("pause", "resume", "unsubscribe"):
                target = {
                    "pause": SubscriberState.PAUSED,
                    "resume": SubscriberState.ACTIVE,
                    "unsubscribe": SubscriberState.UNSUBSCRIBED,
                }[action]
                store.set_subscriber_state(subscriber.email, target, now)
                notes = (f"Your subscription is {STATE_WORDS[target]}.",)
            elif action == "send":
                notes = (send_today(web.settings, store, subscriber.email, now),)
            elif action == "undo":
                paper = str(form.get("paper", ""))
                notes = (record_feedback(store, subscriber.email, paper, "undo", now),)
            return manage_view(store, email), notes, values, errors

    try:
        view, notes, values, errors = await run_in_threadpool(work)
    except TokenExpired:
        return render(request, "expired.html.j2", token=token, status=400)
    except LinkRefused as err:
        return _refused(request, err)
    if view is None:
        return message(
            request,
            "This subscription no longer exists",
            "Subscribe again on the home page if you like.",
            home=True,
        )
    if action != "show":
        event(log, "manage", f"manage page: {action}", action=action)
    return _manage(
        request,
        view,
        token,
        notes=notes,
        errors=errors,
        values=values,
        status=400 if errors else 200,
    )


async def _renew(request: Request, web: WebState, token: str) -> Response:
    def work() -> Mail | None:
        with web.store() as store:
            try:
                verified(web.settings, store, token, Purpose.MANAGE, web.clock())
            except TokenExpired as expired:
                return link_mail(web.settings, store, expired.claims.email, web.clock())
            except LinkRefused:
                return None
            return None

    mail = await run_in_threadpool(work)
    if mail is not None:
        wait = web.addresses.hit(mail.recipient.lower())
        if wait:
            return too_many(request, wait)
    response = message(
        request,
        "Check your inbox",
        "If the subscription still exists, a fresh link is on its way to it.",
    )
    if mail is not None:
        response.background = BackgroundTask(
            send_notice, web.settings, mail.recipient, mail.message, mail.kind
        )
    return response


async def unsubscribe_page(request: Request) -> Response:
    """RFC 8058: a POST with `List-Unsubscribe=One-Click` unsubscribes at once, with no
    cookie and no CSRF token (the signed link is the credential; mail providers post it
    themselves). A GET shows the one button that sends that same POST."""
    web = state_of(request)
    token = request.path_params["token"]
    if request.method != "POST":
        return render(request, "unsubscribe.html.j2", token=token)
    form = await request.form(max_files=0, max_fields=20)
    if form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
        return message(
            request, "Nothing was changed", "Use the button on the unsubscribe page.", status=400
        )

    def work() -> bool:
        with web.store() as store:
            return unsubscribe_one_click(web.settings, store, token)

    try:
        await run_in_threadpool(work)
    except LinkRefused as err:
        return _refused(request, err)
    event(log, "unsubscribed", "one-click unsubscribe")
    return message(
        request, "You are unsubscribed", "No more digests will be sent to this address.", home=True
    )


async def vote_page(request: Request) -> Response:
    web = state_of(request)
    token = request.path_params["token"]
    form = await checked_form(request) if request.method == "POST" else None
    if isinstance(form, Response):
        return form
    action = str(form.get("action", "record")) if form is not None else "show"

    def work() -> tuple[str, str, str, str | None]:
        with web.store() as store:
            claims = verified(web.settings, store, token, Purpose.VOTE, web.clock())
            paper_id, vote = (*claims.bound, "", "")[:2]
            papers = store.papers_by_id([paper_id])
            title = papers[paper_id].title if paper_id in papers else paper_id
            subscriber = store.subscriber(claims.email)
            current = None
            if subscriber is not None and subscriber.id is not None:
                current = next(
                    (v.vote.value for v in store.votes(subscriber.id) if v.paper_id == paper_id),
                    None,
                )
            note = ""
            if form is not None:
                note = record_feedback(
                    store, claims.email, paper_id, "undo" if action == "undo" else vote, web.clock()
                )
                current = None if action == "undo" else vote
            return title, vote, note, current

    try:
        title, vote, note, current = await run_in_threadpool(work)
    except (LinkRefused, TokenExpired) as err:
        return _refused(request, LinkRefused(str(err)))
    except DigestError as err:  # an unknown paper, a subscriber who is gone
        return message(
            request,
            "This vote cannot be recorded",
            str(err).split(": ", 1)[-1],
            status=400,
            home=True,
        )
    return render(
        request,
        "vote.html.j2",
        token=token,
        title_of_paper=title,
        vote_word=VOTE_WORDS[Vote(vote)] if vote in ("up", "down") else vote,
        note=note,
        current=current,
        vote=vote,
    )
