"""Typed, immutable values passed between the pipeline's stages.

Every stage takes and returns these; none of them does I/O. Tuples rather than lists keep
them hashable and make accidental mutation between stages impossible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class AnnounceType(StrEnum):
    """How a listing introduced a paper (arXiv's announce types; other sources say NEW)."""

    NEW = "new"
    CROSS = "cross"
    REPLACE = "replace"
    REPLACE_CROSS = "replace-cross"

    @property
    def is_replacement(self) -> bool:
        return self in (AnnounceType.REPLACE, AnnounceType.REPLACE_CROSS)


@dataclass(frozen=True, slots=True)
class HFSignals:
    """What Hugging Face Daily Papers adds to a paper: popularity and pointers."""

    upvotes: int = 0
    num_comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    url: str | None = None  # the paper's page on huggingface.co


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a listing announced it, already normalised (Unicode text, canonical id).

    `id` is canonical and version-free: an arXiv id ("2401.01234", "hep-th/9901001"),
    else "doi:<lower-cased DOI>", else "url:<hash of the link>". The same paper seen in
    several listings has the same id, so the ledger of what was sent keys on it.
    """

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    url: str = ""  # the landing page (arXiv abstract page, DOI resolver, journal page)
    version: int | None = None
    categories: tuple[str, ...] = ()  # primary first
    announce_type: AnnounceType = AnnounceType.NEW
    published: dt.date | None = None
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    pdf_url: str | None = None
    hf: HFSignals | None = None
    sources: tuple[str, ...] = ()  # names of the configured sources that listed it
    shortened: tuple[str, ...] = ()  # fields cut to their cap when parsed ("title", ...)

    @property
    def is_arxiv(self) -> bool:
        return not self.id.startswith(("doi:", "url:"))

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


@dataclass(frozen=True, slots=True)
class SeenPaper:
    """A stored paper and when listings carried it: what selecting the unsent papers needs."""

    paper: Paper
    first_seen: dt.datetime  # UTC, when a listing first carried it
    last_seen: dt.datetime


# --- Profiles and subscribers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One keyword or phrase of a topic, as the subscriber wrote it.

    `text` keeps the original spelling ("LLM", "state-space model", "quantiz*"); the ranker
    decides how to match it (stemming, phrase, prefix wildcard, exact case).
    """

    text: str
    weight: float = 1.0
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a subscriber wants to read. Validated on load (see profiles.py)."""

    topics: tuple[Topic, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # boost papers in these categories
    require_categories: bool = False  # if true, only papers in `categories` qualify
    sources: tuple[str, ...] = ()  # source names to draw from; empty means all
    min_score: float = 0.0
    max_papers: int = 25
    include_updates: bool = False
    popularity_weight: float = 0.0  # how much HF upvotes lift a paper (0 = ignore)
    description: str = ""  # one sentence of interest, for semantic matching

    @property
    def all_terms(self) -> tuple[Term, ...]:
        return tuple(t for topic in self.topics for t in topic.terms)

    def summary(self) -> str:
        """One line describing the profile, for the footer and `digest subscribers`."""
        parts: list[str] = []
        words = [t.text for t in self.all_terms]
        if words:
            parts.append("keywords: " + ", ".join(words))
        if self.exclude:
            parts.append("excluding: " + ", ".join(self.exclude))
        if self.authors:
            parts.append("authors: " + ", ".join(self.authors))
        if self.categories:
            label = "only categories: " if self.require_categories else "categories: "
            parts.append(label + ", ".join(self.categories))
        return "; ".join(parts) if parts else "(empty profile)"


@dataclass(frozen=True, slots=True)
class Subscriber:
    email: str
    profile: Profile
    deliver_at: dt.time = dt.time(7, 0)
    timezone: str = "UTC"
    id: int | None = None  # store row id, None before it is saved
    active: bool = True
    created: dt.datetime | None = None  # when they subscribed (UTC); None before it is saved


# --- Ranking ------------------------------------------------------------------------------


class Field(StrEnum):
    TITLE = "title"
    ABSTRACT = "abstract"
    KEYWORDS = "keywords"  # HF AI keywords
    AUTHORS = "authors"
    CATEGORIES = "categories"


@dataclass(frozen=True, slots=True)
class Match:
    """One reason a paper scored: a profile term found in a field of the paper.

    `spans` are (start, end) character offsets into that field's text, for highlighting.
    """

    term: str
    field: Field
    topic: str = ""
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Ranked:
    paper: Paper
    score: float
    matches: tuple[Match, ...] = ()
    topic: str = ""  # the topic that contributed most
    updated: bool = False  # a new version of a paper this subscriber was already sent
    note: str = ""  # extra human explanation, e.g. "followed author", "similar in meaning"

    @property
    def matched_terms(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for m in self.matches:
            seen.setdefault(m.term, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Validators:
    """Conditional-GET state kept in the store between runs."""

    etag: str | None = None
    last_modified: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.etag is None and self.last_modified is None


# --- Sources, runs and delivery -----------------------------------------------------------


class SourceState(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    NO_ANNOUNCEMENT = "no_announcement"  # an empty listing on a day the source publishes nothing
    EMPTY = "empty"  # an empty listing on a day it should have published
    FAILED = "failed"
    STOPPED = "stopped"  # a stop was requested (SIGTERM) before it was read: not a failure


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    name: str
    state: SourceState
    papers: int = 0
    detail: str = ""  # the reason, for FAILED; a note otherwise
    retries: int = 0  # failed requests retried (429, 5xx, timeouts), for the report


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one subscriber's email says, before it is rendered."""

    subscriber: Subscriber
    day: dt.date
    papers: tuple[Ranked, ...]  # shown in full, best first
    overflow: tuple[Ranked, ...] = ()  # the next matches, listed compactly (title and link)
    seen_count: int = 0  # papers new to this subscriber since their last digest
    matched_count: int = 0  # every match, listed or not (held over and updated ones too)
    held_count: int = 0  # of the matches: unsent papers from before their last digest
    updated_count: int = 0  # of the matches: new versions of papers they were sent
    # (source name, papers new to this subscriber, updates offered): their view of the day
    source_counts: tuple[tuple[str, int, int], ...] = ()
    sources: tuple[SourceOutcome, ...] = ()
    unsubscribe_url: str | None = None
    manage_url: str | None = None
    unsubscribe_mailto: str | None = None  # shown in the body when there is no https link
    # (paper id, "more like this" URL, "not for me" URL): signed for this subscriber
    feedback: tuple[tuple[str, str, str], ...] = ()

    @property
    def all_papers(self) -> tuple[Ranked, ...]:
        return self.papers + self.overflow

    @property
    def new_matched(self) -> int:
        """Matches among the papers new since their last digest."""
        return max(0, self.matched_count - self.held_count - self.updated_count)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    # Ids of the papers the email actually lists (in full or in the compact list). When the
    # size budget drops papers entirely, only these may be marked as sent.
    paper_ids: tuple[str, ...] = ()
    full_count: int = 0  # of those, how many are shown in full (the rest: title and link)


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CLOSED = "closed"  # no mail that day: nothing new matched (the day is done all the same)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A rendered message waiting for (or done with) delivery; one per subscriber and day."""

    id: int
    subscriber_id: int
    recipient: str
    day: dt.date
    message_id: str
    message: bytes  # the full RFC 5322 message, rendered once
    paper_ids: tuple[str, ...]
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    recipient: str
    state: DeliveryState
    papers: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A digest still not delivered when a run ended: pending (nobody is sending it, or the
    server was unreachable), held by a live process (`held`: another worker is sending it),
    or given up on (FAILED)."""

    recipient: str
    day: dt.date
    state: DeliveryState
    detail: str
    held: bool = False


@dataclass(frozen=True, slots=True)
class RunReport:
    started: dt.datetime
    finished: dt.datetime
    day: dt.date
    sources: tuple[SourceOutcome, ...] = ()
    deliveries: tuple[DeliveryOutcome, ...] = ()
    errors: tuple[str, ...] = field(default=())  # profile and other per-item errors
    notes: tuple[str, ...] = ()  # said once, not failures (e.g. "semantic matching is off")
    undelivered: tuple[Undelivered, ...] = ()  # today's digests not delivered at the end

    @property
    def left_behind(self) -> tuple[Undelivered, ...]:
        """Undelivered digests nobody is sending: what makes a run not ok."""
        return tuple(u for u in self.undelivered if not u.held)

    @property
    def nothing_failed(self) -> bool:
        """No error, no failed source or delivery (digests may still be left pending)."""
        return (
            not self.errors
            and all(s.state is not SourceState.FAILED for s in self.sources)
            and all(d.state is not DeliveryState.FAILED for d in self.deliveries)
        )

    @property
    def ok(self) -> bool:
        return self.nothing_failed and not self.left_behind
