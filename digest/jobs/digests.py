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
from digest.rank.lexical import RankResult
from digest.rank.select import Candidates, select_candidates
from digest.store.roles import Vote as VoteKind
from digest.store.roles import VoteRecord

# Beyond max_papers, this many more matches are listed by title and link, one line each: a
# glance at what else matched. More would be a list nobody reads; those are held over.
COMPACT_LIST = 20


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

    def __reduce__(
        self,
    ) -> tuple[type[ComposedDigest], tuple[str, bytes, tuple[tuple[str, int], ...]]]:
        # The constructor's arguments: cheaper to load than a slots dataclass's state.
        return (ComposedDigest, (self.message_id, self.message, self.papers))


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
        """Select this subscriber's unsent papers and rank them: the best `max_papers` in
        full, the next COMPACT_LIST by title. Matches beyond those are counted; they are not
        recorded as sent, so they are held over and ranked again in the next digest."""
        subscriber = task.subscriber
        profile = subscriber.profile
        held_from = self.now - dt.timedelta(days=self.settings.lookback_days)
        candidates = select_candidates(
            self.day_index.seen, profile, task.sent, task.since, held_from
        )
        ranked = ranked_for(
            self.day_index,
            profile,
            eligible=candidates.all,
            updated=candidates.updated,
            votes=task.votes,
            limit=profile.max_papers + COMPACT_LIST,
        )
        papers = ranked.ranked[: profile.max_papers]
        overflow = ranked.ranked[profile.max_papers :]
        held, updated = self._matched_among(task, candidates, ranked)
        settings, email, secret = self.settings, subscriber.email, self.secret
        return Digest(
            subscriber=subscriber,
            day=task.day,
            papers=papers,
            overflow=overflow,
            seen_count=len(candidates.new),
            matched_count=ranked.matched,
            held_count=held,
            updated_count=updated,
            source_counts=self._source_counts(task, candidates),
            sources=self.sources,
            unsubscribe_url=unsubscribe_url(settings, email, secret),
            manage_url=manage_url(settings, email, secret, self.now),
            unsubscribe_mailto=unsubscribe_mailto(settings, email, secret),
            feedback=feedback_links(settings, email, papers, secret),
        )

    def _matched_among(
        self, task: ComposeTask, candidates: Candidates, ranked: RankResult
    ) -> tuple[int, int]:
        """(held over, updated) among the matches. Usually every match is in the ranked list
        and they are counted there. When more matched, keyword scores being absolute, each
        group is ranked on its own for its count; blended with meaning, scores are relative
        to the candidates, so the whole list is taken instead (the blend computes it anyway).
        """
        listed = ranked.ranked
        if ranked.matched > len(listed) and self.day_index.semantic is not None:
            listed = ranked_for(
                self.day_index,
                task.subscriber.profile,
                eligible=candidates.all,
                updated=candidates.updated,
                votes=task.votes,
                limit=ranked.matched,
            ).ranked
        if ranked.matched <= len(listed):
            held = sum(1 for r in listed if candidates.is_held(r.paper.id))
            return held, sum(1 for r in listed if r.updated)

        def matched(ids: frozenset[str]) -> int:
            if not ids:
                return 0
            alone = ranked_for(
                self.day_index,
                task.subscriber.profile,
                eligible=ids,
                updated=candidates.updated,
                votes=task.votes,
                limit=0,
            )
            return alone.matched

        return matched(candidates.held), matched(candidates.updated)

    def _source_counts(
        self, task: ComposeTask, candidates: Candidates
    ) -> tuple[tuple[str, int, int], ...]:
        """Per source: the papers new to this subscriber and the updates offered to them
        (not everything the listing carried: replacements and papers seen before are not
        new to them)."""
        seen, profile = self.day_index.seen, task.subscriber.profile
        new = seen.new_by_source(task.since, task.sent)
        updated = seen.count_by_source(candidates.updated)
        reads = set(profile.sources) if profile.sources else None
        return tuple(
            (o.name, new[o.name] if reads is None or o.name in reads else 0, updated[o.name])
            for o in self.sources
        )

    def render(self, digest: Digest) -> RenderedDigest:
        return render_digest(digest, self.settings.render, self.templates)

    def message(self, digest: Digest, rendered: RenderedDigest) -> tuple[str, bytes]:
        """(Message-ID, bytes) of the rendered digest's email."""
        return compose_message(
            self.settings,
            digest.subscriber,
            digest.day,
            rendered,
            self.now,
            self.secret,
            installation=self.installation,
            unsubscribe=(digest.unsubscribe_url, digest.unsubscribe_mailto),
        )

    def wrap(self, digest: Digest) -> Composition:
        """Render a digest and wrap it into its message."""
        rendered = self.render(digest)
        message_id, message = self.message(digest, rendered)
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
