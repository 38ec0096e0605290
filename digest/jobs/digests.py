"""One subscriber's digest, from the day's index to message bytes: select the unsent papers,
rank them, render, wrap. No I/O, so it runs as well in a forked worker as in a preview.

What composing needs from the store (the ledger, the subscriber's window) is read beforehand
into a `ComposeTask`; the run and the preview differ only in where the task comes from and in
what they do with the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import Environment

from digest.compose.render import render_digest
from digest.config.settings import Settings
from digest.jobs.dayindex import DayIndex, ranked_for
from digest.jobs.message import (
    compose_message,
    feedback_links,
    manage_url,
    unsubscribe_mailto,
    unsubscribe_url,
)
from digest.models import Digest, RenderedDigest, SourceOutcome, Subscriber
from digest.rank.feedback import Vote
from digest.rank.select import select_candidates
from digest.store.roles import Vote as VoteKind
from digest.store.roles import VoteRecord


@dataclass(frozen=True, slots=True)
class ComposeTask:
    subscriber: Subscriber
    day: dt.date  # the date the digest carries (the subscriber's own calendar day)
    sent: Mapping[str, int]  # paper id -> version already sent to (or queued for) them
    since: dt.datetime  # papers first seen after this are new for them
    votes: tuple[Vote, ...] = ()  # their "more like this" / "not for me", newest first


@dataclass(frozen=True, slots=True)
class Composition:
    """A digest made: what it says, how it renders, and the message that carries it."""

    digest: Digest
    rendered: RenderedDigest
    message_id: str
    message: bytes

    @property
    def listed(self) -> tuple[tuple[str, int], ...]:
        """(id, version) of each paper the email really lists: what goes into the ledger.
        A paper the size budget left out entirely is not recorded, so it stays eligible."""
        shown = set(self.rendered.paper_ids)
        return tuple(
            (r.paper.id, r.paper.version or 0)
            for r in self.digest.all_papers
            if r.paper.id in shown
        )


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """What a forked worker sends back: small, plain bytes."""

    message_id: str
    message: bytes
    papers: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Composer:
    """Everything shared by every digest of one run (built once, inherited by workers)."""

    settings: Settings
    day_index: DayIndex
    sources: tuple[SourceOutcome, ...]
    now: dt.datetime
    secret: bytes
    templates: Environment
    installation: str  # a random id per installation (per preview): part of every Message-ID

    def digest_for(self, task: ComposeTask) -> Digest:
        """Select this subscriber's unsent papers and rank them."""
        subscriber = task.subscriber
        candidates = select_candidates(
            self.day_index.seen, subscriber.profile, task.sent, task.since
        )
        ranked = ranked_for(
            self.day_index,
            subscriber.profile,
            eligible=candidates.all,
            updated=candidates.updated,
            votes=task.votes,
        )
        papers = ranked.ranked[: subscriber.profile.max_papers]
        settings, email, secret = self.settings, subscriber.email, self.secret
        return Digest(
            subscriber=subscriber,
            day=task.day,
            papers=papers,
            seen_count=len(candidates.new),
            matched_count=ranked.matched,
            sources=self.sources,
            unsubscribe_url=unsubscribe_url(settings, email, secret),
            manage_url=manage_url(settings, email, secret, self.now),
            unsubscribe_mailto=unsubscribe_mailto(settings, email, secret),
            feedback=feedback_links(settings, email, papers, secret),
        )

    def wrap(self, digest: Digest) -> Composition:
        """Render a digest and wrap it into its message."""
        rendered = render_digest(digest, self.settings.render, self.templates)
        message_id, message = compose_message(
            self.settings,
            digest.subscriber,
            digest.day,
            rendered,
            self.now,
            self.secret,
            installation=self.installation,
        )
        return Composition(digest, rendered, message_id, message)

    def compose(self, task: ComposeTask) -> Composition:
        return self.wrap(self.digest_for(task))

    def for_outbox(self, task: ComposeTask) -> ComposedDigest | None:
        """The run's version: None when nothing matched and empty digests are not wanted
        (decided before rendering, which is most of the cost)."""
        digest = self.digest_for(task)
        if not digest.papers and not self.settings.email.send_empty:
            return None
        made = self.wrap(digest)
        return ComposedDigest(made.message_id, made.message, made.listed)


def votes_of(records: Sequence[VoteRecord]) -> tuple[Vote, ...]:
    """The store's votes as the ranking reads them."""
    return tuple(Vote(r.paper_id, r.vote is VoteKind.UP, r.at) for r in records)
