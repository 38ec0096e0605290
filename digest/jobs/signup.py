"""What the subscriber's pages do, as jobs over the store: sign up (double opt-in), confirm,
manage, pause, leave, vote. The pages only read forms and show answers; the CLI shares the
rules (digest.jobs.subscriptions).

Nothing here tells a caller whether an address is subscribed: a sign-up returns the mail to
send (a confirmation, or a manage link for an existing subscriber) and the page says the
same thing whichever it was.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from digest.compose.signed import LinkClaims, Purpose, TokenExpired, verify_link
from digest.compose.tokens import TokenError
from digest.config.settings import Settings
from digest.errors import DigestError
from digest.jobs.context import RunContext, signing_keys
from digest.jobs.message import confirm_url, page_manage_url
from digest.jobs.notices import notice
from digest.jobs.run import compose_and_send, last_source_failures
from digest.jobs.subscriptions import address_for_token, describe_changes
from digest.jobs.wiring import sender_factory
from digest.models import Paper, Subscriber
from digest.store.roles import Store, SubscriberRecord, SubscriberState, VoteRecord

__all__ = [
    "LinkRefused",
    "Mail",
    "ManageView",
    "Purpose",
    "TokenExpired",
    "confirm",
    "link_mail",
    "manage_view",
    "send_today",
    "signup",
    "unsubscribe_one_click",
    "update",
    "verified",
]


class LinkRefused(DigestError):
    """A link that is not ours, for another purpose, or already used: the page says so."""


@dataclass(frozen=True, slots=True)
class Mail:
    """A notice to send once the page has answered (so the answer's timing says nothing)."""

    recipient: str
    message: bytes
    kind: str  # "confirmation" or "manage link"


def verified(
    settings: Settings, store: Store, token: str, purpose: Purpose, now: dt.datetime
) -> LinkClaims:
    """The claims of a page link; TokenExpired for a genuine old one, LinkRefused else."""
    try:
        return verify_link(signing_keys(settings, store), token, purpose, now)
    except TokenExpired:
        raise
    except TokenError as err:
        raise LinkRefused(str(err)) from err


def _confirmation(
    settings: Settings, store: Store, record: SubscriberRecord, nonce: str, now: dt.datetime
) -> Mail:
    email = record.subscriber.email
    url = confirm_url(settings, email, nonce, signing_keys(settings, store)[0], now)
    hours = f"{settings.web.confirm_hours:g}"
    message = notice(
        settings,
        email,
        f"Confirm your subscription to {settings.render.title}",
        [
            f"Someone (we hope you) asked for a daily digest of new papers at this address. "
            f"Open this link within {hours} hours to confirm; until then nothing is sent.",
            "If you did not ask for it, ignore this mail: the sign-up lapses by itself.",
        ],
        ("Confirm my subscription", url),
        now,
    )
    return Mail(email, message, "confirmation")


def _manage_link(
    settings: Settings, store: Store, record: SubscriberRecord, now: dt.datetime
) -> Mail:
    email = record.subscriber.email
    url = page_manage_url(settings, email, signing_keys(settings, store)[0], now)
    message = notice(
        settings,
        email,
        f"Your {settings.render.title} subscription",
        [
            "This address is already subscribed. Use this link to change your profile, "
            "pause or unsubscribe.",
            "If you did not ask for this mail, ignore it: nothing has changed.",
        ],
        ("Manage my subscription", url),
        now,
    )
    return Mail(email, message, "manage link")


def signup(settings: Settings, store: Store, subscriber: Subscriber, now: dt.datetime) -> Mail:
    """A web sign-up: a new, lapsed or pending address becomes pending (confirmation mail);
    an active or paused subscriber is left alone and gets a manage link."""
    store.expire_pending(now)
    nonce = secrets.token_urlsafe(12)
    until = now + dt.timedelta(hours=settings.web.confirm_hours)
    record = store.request_subscription(subscriber, nonce=nonce, until=until, now=now)
    if record.state is SubscriberState.PENDING:
        return _confirmation(settings, store, record, nonce, now)
    return _manage_link(settings, store, record, now)


def link_mail(settings: Settings, store: Store, email: str, now: dt.datetime) -> Mail | None:
    """ "Mail me a link": a manage link to a subscriber, nothing to anyone else."""
    record = store.subscriber_record(email)
    if record is None or record.state not in (SubscriberState.ACTIVE, SubscriberState.PAUSED):
        return None
    return _manage_link(settings, store, record, now)


def confirm(settings: Settings, store: Store, token: str, now: dt.datetime) -> SubscriberRecord:
    claims = verified(settings, store, token, Purpose.CONFIRM, now)
    nonce = claims.bound[0] if claims.bound else ""
    record = store.confirm_subscription(claims.email, nonce, now)
    if record is None:
        raise LinkRefused("this confirmation link was already used, or a newer one replaced it")
    return record


def unsubscribe_one_click(settings: Settings, store: Store, token: str) -> bool:
    """RFC 8058: the token alone unsubscribes. False if it was not subscribed (the page
    says the same either way)."""
    try:
        email = address_for_token(settings, store, token)
    except DigestError as err:
        raise LinkRefused(str(err)) from err
    return store.deactivate_subscriber(email)


@dataclass(frozen=True, slots=True)
class ManageView:
    record: SubscriberRecord
    votes: tuple[tuple[VoteRecord, Paper | None], ...]


def manage_view(store: Store, email: str) -> ManageView | None:
    record = store.subscriber_record(email)
    if record is None or record.subscriber.id is None:
        return None
    votes = store.votes(record.subscriber.id)
    papers = store.papers_by_id([v.paper_id for v in votes])
    return ManageView(record, tuple((v, papers.get(v.paper_id)) for v in votes))


def update(store: Store, wanted: Subscriber, now: dt.datetime) -> list[str]:
    """Save a changed profile, time or zone; the lines saying what changed."""
    old = store.subscriber(wanted.email)
    if old is None:
        raise LinkRefused("this subscription no longer exists")
    saved = store.update_subscriber(wanted, now)
    assert saved is not None
    return describe_changes(old, saved)


def send_today(settings: Settings, store: Store, email: str, now: dt.datetime) -> str:
    """ "Send me today's digest now": through the run's own path (outbox, then SMTP), so it
    counts as today's digest and its papers are not sent again."""
    subscriber = store.subscriber(email)
    if subscriber is None or subscriber.id is None or not subscriber.active:
        return "Your subscription is not active: resume it first."
    day = now.astimezone(ZoneInfo(subscriber.timezone)).date()
    if store.outbox_for(subscriber.id, day) is not None:
        return "Today's digest has already been made; the next one comes at your usual time."
    ctx = RunContext(settings, store, sender_factory(settings), clock=lambda: now)
    fanout, _ = compose_and_send(ctx, [subscriber], last_source_failures(ctx), now)
    if fanout.composed:
        return "Today's digest is on its way."
    if fanout.errors:
        return "Today's digest could not be made; the operator has the details."
    return "Nothing new matched your profile today, so there is no digest to send."
