"""From a rendered digest to the message bytes: envelope, Message-ID, signed links.

Pure: the same subscriber, day, rendering, moment and key give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.tokens import make_unsubscribe_token
from digest.config.settings import Settings
from digest.models import RenderedDigest, Subscriber


def unsubscribe_url(settings: Settings, email: str, secret: bytes) -> str | None:
    if not settings.email.unsubscribe_url:
        return None
    token = make_unsubscribe_token(secret, email)
    return settings.email.unsubscribe_url.replace("{token}", token)


def compose_message(
    settings: Settings,
    subscriber: Subscriber,
    day: dt.date,
    rendered: RenderedDigest,
    now: dt.datetime,
    secret: bytes,
    *,
    installation: str,
) -> tuple[str, bytes]:
    """(Message-ID, RFC 5322 bytes) of one digest.

    The id is derived from this installation's random id, the subscriber and the day: unique
    across installations, the same if the digest is rendered again (mail clients then fold a
    duplicate instead of showing two). A resent outbox row keeps its bytes, so its id too.
    """
    sender_address = parseaddr(settings.email.sender)[1]
    domain = sender_address.rpartition("@")[2] or "localhost"
    key = f"{installation}.{subscriber.id or subscriber.email}.{day.isoformat()}"
    message_id = make_message_id(domain, key)
    mailto = None
    if settings.email.unsubscribe_mailto:
        token = make_unsubscribe_token(secret, subscriber.email)
        mailto = f"mailto:{settings.email.unsubscribe_mailto}?subject=unsubscribe%20{token}"
    envelope = Envelope(
        sender=settings.email.sender,
        recipient=subscriber.email,
        message_id=message_id,
        date=now,
        list_id=settings.email.list_id,
        unsubscribe_mailto=mailto,
        unsubscribe_url=unsubscribe_url(settings, subscriber.email, secret),
    )
    return message_id, build_message(rendered, envelope)
