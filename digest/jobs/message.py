"""From a rendered digest to the message bytes: envelope, Message-ID, signed links.

Pure: the same subscriber, day, rendering, moment and key give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
from email.utils import parseaddr

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.signed import LinkClaims, Purpose, sign_link
from digest.compose.tokens import make_unsubscribe_token
from digest.config.settings import Settings
from digest.models import Ranked, RenderedDigest, Subscriber

VOTE_PATH = "/vote/{token}"
CONFIRM_PATH = "/confirm/{token}"


def unsubscribe_url(settings: Settings, email: str, secret: bytes) -> str | None:
    if not settings.email.unsubscribe_url:
        return None
    token = make_unsubscribe_token(secret, email)
    return settings.email.unsubscribe_url.replace("{token}", token)


def unsubscribe_mailto(settings: Settings, email: str, secret: bytes) -> str | None:
    """mailto: URI whose subject carries the signed token (`digest unsubscribe --mail`)."""
    if not settings.email.unsubscribe_mailto:
        return None
    token = make_unsubscribe_token(secret, email)
    return f"mailto:{settings.email.unsubscribe_mailto}?subject=unsubscribe%20{token}"


def manage_url(settings: Settings, email: str, secret: bytes, now: dt.datetime) -> str | None:
    """The manage link: signed and expiring when [email] manage_url holds {token} (as the
    one [web] base_url makes does), else that fixed URL as it is."""
    template = settings.email.manage_url
    if not template or "{token}" not in template:
        return template
    expires = now + dt.timedelta(days=settings.web.manage_days)
    token = sign_link(secret, LinkClaims(Purpose.MANAGE, email, expires))
    return template.replace("{token}", token)


def confirm_url(settings: Settings, email: str, nonce: str, secret: bytes, now: dt.datetime) -> str:
    expires = now + dt.timedelta(hours=settings.web.confirm_hours)
    token = sign_link(secret, LinkClaims(Purpose.CONFIRM, email, expires, (nonce,)))
    return settings.web.public_url + CONFIRM_PATH.replace("{token}", token)


def page_manage_url(settings: Settings, email: str, secret: bytes, now: dt.datetime) -> str:
    """A manage link the pages mail themselves (a subscriber asked for one)."""
    expires = now + dt.timedelta(days=settings.web.manage_days)
    token = sign_link(secret, LinkClaims(Purpose.MANAGE, email, expires))
    return f"{settings.web.public_url}/manage/{token}"


def vote_url(settings: Settings, email: str, paper_id: str, vote: str, secret: bytes) -> str:
    token = sign_link(secret, LinkClaims(Purpose.VOTE, email, None, (paper_id, vote)))
    return settings.web.public_url + VOTE_PATH.replace("{token}", token)


def feedback_links(
    settings: Settings, email: str, papers: tuple[Ranked, ...], secret: bytes
) -> tuple[tuple[str, str, str], ...]:
    """Per paper shown in full: its "more like this" and "not for me" links, when the pages
    are deployed ([web] base_url)."""
    if not settings.web.base_url:
        return ()
    return tuple(
        (
            r.paper.id,
            vote_url(settings, email, r.paper.id, "up", secret),
            vote_url(settings, email, r.paper.id, "down", secret),
        )
        for r in papers
    )


@functools.lru_cache(maxsize=16)
def _domain_of(sender: str) -> str:
    """The sender's domain, for Message-IDs (parsed once per run, not per message)."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def compose_message(
    settings: Settings,
    subscriber: Subscriber,
    day: dt.date,
    rendered: RenderedDigest,
    now: dt.datetime,
    secret: bytes,
    *,
    installation: str,
    unsubscribe: tuple[str | None, str | None] | None = None,
) -> tuple[str, bytes]:
    """(Message-ID, RFC 5322 bytes) of one digest.

    The id is derived from this installation's random id, the subscriber and the day: unique
    across installations, the same if the digest is rendered again (mail clients then fold a
    duplicate instead of showing two). A resent outbox row keeps its bytes, so its id too.
    `unsubscribe`: the (URL, mailto) this subscriber's digest already carries (signed with
    `secret`), so they are not signed again.
    """
    key = f"{installation}.{subscriber.id or subscriber.email}.{day.isoformat()}"
    message_id = make_message_id(_domain_of(settings.email.sender), key)
    if unsubscribe is None:
        unsubscribe = (
            unsubscribe_url(settings, subscriber.email, secret),
            unsubscribe_mailto(settings, subscriber.email, secret),
        )
    envelope = Envelope(
        sender=settings.email.sender,
        recipient=subscriber.email,
        message_id=message_id,
        date=now,
        list_id=settings.email.list_id,
        unsubscribe_mailto=unsubscribe[1],
        unsubscribe_url=unsubscribe[0],
    )
    return message_id, build_message(rendered, envelope)
