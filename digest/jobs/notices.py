"""Mails the pages send besides digests: the confirmation of a sign-up and a manage link.

Plain, short, transactional: no List-Unsubscribe (nothing recurring is being sent), one
link, and a line saying what to do if the reader never asked for it. Built with the same
MIME writer as digests, sent through the configured sender (SMTP or the outbox folder).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from email.utils import parseaddr

from markupsafe import escape

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.config.settings import Settings
from digest.errors import DigestError
from digest.jobs.wiring import sender_factory
from digest.models import RenderedDigest
from digest.util.logs import event

log = logging.getLogger("digest.web")


def notice(
    settings: Settings,
    recipient: str,
    subject: str,
    paragraphs: Sequence[str],
    link: tuple[str, str],
    now: dt.datetime,
) -> bytes:
    """One message: paragraphs of text, then a labelled link (a button in the HTML part)."""
    label, url = link
    text = "\n\n".join([*paragraphs[:1], f"{label}:\n{url}", *paragraphs[1:]]) + "\n"
    html_parts = [f"<p>{escape(p)}</p>" for p in paragraphs[:1]]
    html_parts.append(f'<p><a href="{escape(url)}"><strong>{escape(label)}</strong></a></p>')
    html_parts += [f"<p>{escape(p)}</p>" for p in paragraphs[1:]]
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:22px">'
        + "\n".join(html_parts)
        + "</body></html>"
    )
    domain = parseaddr(settings.email.sender)[1].rpartition("@")[2] or "localhost"
    envelope = Envelope(
        sender=settings.email.sender,
        recipient=recipient,
        message_id=make_message_id(domain, f"notice.{secrets.token_hex(16)}"),
        date=now,
    )
    return build_message(RenderedDigest(subject=subject, html=html, text=text), envelope)


def send_notice(settings: Settings, recipient: str, message: bytes, kind: str) -> bool:
    """Send one notice now; a failure is logged (without the address) and not raised: the
    page that asked for it has already answered."""
    try:
        with sender_factory(settings)() as transport:
            transport.send(settings.email.sender, recipient, message)
    except (DigestError, OSError) as err:
        event(
            log,
            "notice_failed",
            f"could not send a {kind} mail: {type(err).__name__}",
            level=logging.WARNING,
            kind=kind,
        )
        return False
    event(log, "notice_sent", f"sent a {kind} mail", kind=kind)
    return True
