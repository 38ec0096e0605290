"""Subscribing and leaving: the rules the CLI and the web pages share."""

from __future__ import annotations

import datetime as dt
import email.parser as email_parser
import email.policy as email_policy
import re

from digest.compose.tokens import TokenError, verify_unsubscribe_token
from digest.config.addresses import validate_address
from digest.config.settings import Settings
from digest.errors import DigestError
from digest.jobs.context import signing_keys
from digest.models import Profile, Subscriber
from digest.store.roles import Operations, Store, Vote


def check_profile_sources(profile: Profile, settings: Settings, *, who: str) -> None:
    """A profile naming a source the configuration lacks would silently get nothing from it."""
    configured = [source.name for source in settings.sources]
    unknown = [name for name in profile.sources if name not in configured]
    if unknown:
        raise DigestError(
            f"{who}: the profile asks for source {', '.join(map(repr, unknown))}, which the "
            f"configuration does not have (configured: {', '.join(configured)})"
        )


def address_for_token(settings: Settings, store: Operations, token: str) -> str:
    """The address an unsubscribe token was signed for (by the current or a previous key);
    DigestError if it is not ours."""
    first, *older = signing_keys(settings, store)
    try:
        return verify_unsubscribe_token(first, token)
    except TokenError:
        for key in older:
            try:
                return verify_unsubscribe_token(key, token)
            except TokenError:
                continue
        raise


def _terms(profile: Profile) -> str:
    words = [t.text + (f"^{t.weight:g}" if t.weight != 1.0 else "") for t in profile.all_terms]
    return ", ".join(words) or "(none)"


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "(none)"


def describe_changes(old: Subscriber, new: Subscriber) -> list[str]:
    """What differs between two versions of a subscription, one short line per field, in
    the words the CLI and the manage page both print."""
    a, b = old.profile, new.profile
    pairs = [
        ("keywords", _terms(a), _terms(b)),
        ("exclusions", _listed(a.exclude), _listed(b.exclude)),
        ("authors", _listed(a.authors), _listed(b.authors)),
        ("categories", _listed(a.categories), _listed(b.categories)),
        ("only those categories", _yes(a.require_categories), _yes(b.require_categories)),
        (
            "sources",
            _listed(a.sources) if a.sources else "all",
            _listed(b.sources) if b.sources else "all",
        ),
        ("description", a.description or "(none)", b.description or "(none)"),
        ("most papers", str(a.max_papers), str(b.max_papers)),
        ("minimum score", f"{a.min_score:g}", f"{b.min_score:g}"),
        ("updated versions", _yes(a.include_updates), _yes(b.include_updates)),
        ("popularity weight", f"{a.popularity_weight:g}", f"{b.popularity_weight:g}"),
        ("delivery time", f"{old.deliver_at:%H:%M}", f"{new.deliver_at:%H:%M}"),
        ("time zone", old.timezone, new.timezone),
    ]
    return [f"{name}: {before} -> {after}" for name, before, after in pairs if before != after]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


VOTE_WORDS = {Vote.UP: "more like this", Vote.DOWN: "not for me"}
_SUBJECT_TOKEN = re.compile(r"unsubscribe\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.IGNORECASE)


def record_feedback(store: Store, email: str, paper_id: str, vote: str, now: dt.datetime) -> str:
    """Record (or with "undo" remove) a subscriber's vote on a stored paper; the sentence
    the CLI prints and the vote page shows."""
    subscriber = store.subscriber(validate_address(email))
    if subscriber is None or subscriber.id is None:
        raise DigestError(f"{email}: no such subscriber")
    paper = store.papers_by_id([paper_id]).get(paper_id)
    if paper is None:
        raise DigestError(f"{paper_id}: no such paper in the store (ids look like 2411.12345)")
    if vote == "undo":
        removed = store.undo_vote(subscriber.id, paper_id)
        return f"Removed the vote on {paper.title}." if removed else "There was no vote to undo."
    try:
        choice = Vote(vote)
    except ValueError as err:
        raise DigestError(f"{vote!r}: a vote is up, down or undo") from err
    store.record_vote(subscriber.id, paper_id, choice, now)
    return f"Recorded \u201c{VOTE_WORDS[choice]}\u201d for {paper.title}."


def token_in_mail(message: bytes) -> str:
    """The signed token in the subject of a mail sent to the unsubscribe address."""
    parsed = email_parser.BytesParser(policy=email_policy.default).parsebytes(message)
    found = _SUBJECT_TOKEN.search(str(parsed.get("Subject", "")))
    if not found:
        raise DigestError("the mail's subject holds no unsubscribe token")
    return found.group(1)
