"""What persistent state offers, by role: the store's contract with the rest of the package.

Each role is a small protocol; a caller takes the role it needs (delivery takes `Outbox`,
semantic matching `Embeddings`), not the whole store. A backend (digest.store.sqlite) is one
class that implements all of them; `digest.store.open_store(url)` picks it. These protocols
and records import nothing of a backend, so any stage may depend on them.

Records are typed: datetimes are aware UTC datetimes, days are dates, never text. Every
error a backend meets (a locked database, a broken connection, a failed constraint it did
not expect) surfaces as `StoreError`, with the database named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from digest.errors import StoreError
from digest.models import (
    OutboxItem,
    Paper,
    RunReport,
    SeenPaper,
    SourceOutcome,
    SourceState,
    Subscriber,
    Validators,
)

__all__ = [
    "AlreadyQueued",
    "Claim",
    "CorpusCounts",
    "Embeddings",
    "Feedback",
    "Lease",
    "NewDigest",
    "Operations",
    "Outbox",
    "PaperStamps",
    "Papers",
    "PruneCount",
    "RunRecord",
    "RunState",
    "SeenPaper",
    "SendGrant",
    "SendLimits",
    "SendWindow",
    "SourceLog",
    "SourceRecord",
    "Store",
    "SubscriberRecord",
    "SubscriberState",
    "Subscribers",
    "Subscriptions",
    "TermCounts",
    "Vote",
    "VoteRecord",
]


class AlreadyQueued(StoreError):
    """A digest for this subscriber and day is already in the outbox (another worker made it)."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A job (a fetch, a batch of digests to compose) held by one worker until `until`."""

    name: str
    owner: str
    until: dt.datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A pending message a worker has taken for sending, until `until`."""

    outbox_id: int
    recipient: str
    owner: str
    until: dt.datetime


@dataclass(frozen=True, slots=True)
class SourceRecord:
    name: str
    url: str
    validators: Validators
    last_state: SourceState | None
    last_detail: str
    last_ok_day: dt.date | None
    updated_at: dt.datetime


class RunState(StrEnum):
    """Where a run in the history stands. A run is written when it starts, so one whose
    process died (SIGKILL, a power cut) stays RUNNING until someone finds its process gone."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"  # ended by an error, named in its report's errors
    INTERRUPTED = "interrupted"  # its process went away without finishing


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run in the history: its report, what kind of job it was, how the alert went, and
    which process ran it (host id and pid; empty for runs recorded only once finished)."""

    report: RunReport
    kind: str = "run"
    alert: str = ""
    id: int | None = None
    state: RunState = RunState.FINISHED
    host: str = ""
    pid: int = 0


class Subscribers(Protocol):
    def save_subscriber(self, subscriber: Subscriber) -> Subscriber: ...
    def deactivate_subscriber(self, email: str) -> bool: ...
    def subscriber(self, email: str) -> Subscriber | None: ...
    def subscribers(self, *, active_only: bool = True) -> list[Subscriber]: ...


class Papers(Protocol):
    def save_papers(self, papers: Iterable[Paper], seen_at: dt.datetime) -> None: ...
    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]: ...
    def recent_papers(self, since: dt.datetime) -> list[SeenPaper]: ...


class SourceLog(Protocol):
    def source_record(self, name: str) -> SourceRecord | None: ...
    def save_source_outcome(
        self, outcome: SourceOutcome, *, url: str, validators: Validators | None, day: dt.date
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class NewDigest:
    """One composed digest for `Outbox.enqueue_many`: a message with the papers it lists, or
    (`message_id` empty) a day closed without mail, as `close_day` writes it."""

    subscriber_id: int
    recipient: str
    day: dt.date
    composed_at: dt.datetime
    message_id: str = ""
    message: bytes = b""
    papers: tuple[tuple[str, int], ...] = ()

    @property
    def closes_day(self) -> bool:
        return not self.message_id


@dataclass(frozen=True, slots=True)
class PruneCount:
    messages: int = 0
    bytes: int = 0


class Outbox(Protocol):
    """Rendered digests and the ledger of what each subscriber was sent.

    `enqueue` writes the message and reserves its papers in one transaction; a claim is
    exclusive across processes and machines until its lease ends. `ledger_versions` covers
    papers sent or reserved, `ledger_sent` only those the SMTP server accepted, and when.
    """

    def ledger_versions(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, int]: ...
    def ledger_sent(
        self, subscriber_id: int, paper_ids: Iterable[str]
    ) -> dict[str, dt.datetime]: ...
    def ledger_versions_of(
        self, subscriber_ids: Iterable[int], paper_ids: Iterable[str]
    ) -> dict[int, dict[str, int]]:
        """`ledger_versions` for many subscribers in one read: subscriber id -> paper id ->
        version (a subscriber with none of these papers is absent)."""
        ...

    def outbox_for(self, subscriber_id: int, day: dt.date) -> OutboxItem | None: ...
    def last_digest_at(self, subscriber_id: int) -> dt.datetime | None: ...
    def last_digests_at(self, subscriber_ids: Iterable[int]) -> dict[int, dt.datetime]:
        """`last_digest_at` for many subscribers in one read (those with none are absent)."""
        ...

    def enqueue(
        self,
        *,
        subscriber_id: int,
        recipient: str,
        day: dt.date,
        message_id: str,
        message: bytes,
        papers: Sequence[tuple[str, int]],
        composed_at: dt.datetime,
    ) -> OutboxItem: ...
    def close_day(
        self, *, subscriber_id: int, recipient: str, day: dt.date, closed_at: dt.datetime
    ) -> bool: ...
    def enqueue_many(self, digests: Sequence[NewDigest]) -> tuple[bool, ...]:
        """`enqueue` and `close_day` for a batch, in one transaction: each message's bytes are
        written once. True for each digest written; False (nothing written for it) where
        that subscriber's day was in the outbox already, as AlreadyQueued says singly."""
        ...

    def digest_days(self, days: Iterable[dt.date]) -> set[tuple[int, dt.date]]: ...
    def digest_days_of(
        self, subscriber_ids: Iterable[int], days: Iterable[dt.date]
    ) -> set[tuple[int, dt.date]]:
        """`digest_days` for these subscribers only (a batch of them, not the whole list)."""
        ...

    def pending(self) -> list[OutboxItem]: ...
    def pending_count(self) -> int: ...
    def unclaimed_pending_count(self) -> int:
        """Pending messages nobody holds a claim on: those waiting, not being sent."""
        ...

    def failed(self) -> list[OutboxItem]: ...
    def claim_pending(
        self, worker: str, lease_seconds: float, now: dt.datetime, *, after_id: int = 0
    ) -> OutboxItem | None: ...
    def claim_batch(
        self, worker: str, lease_seconds: float, now: dt.datetime, limit: int, *, after_id: int = 0
    ) -> list[OutboxItem]:
        """`claim_pending` for up to `limit` messages in one transaction, in id order."""
        ...

    def release_claims(self, worker: str) -> int: ...
    def release_claim(self, outbox_id: int, worker: str) -> bool:
        """Give back one message `worker` claimed and will not send now (no sending slot)."""
        ...

    def claims(self) -> list[Claim]: ...
    def mark_sent(self, outbox_id: int) -> None: ...
    def mark_sent_many(self, outbox_ids: Sequence[int]) -> None:
        """`mark_sent` for a batch, with their ledger rows, in one transaction."""
        ...

    def mark_sent_and_claim(
        self, sent: Sequence[int], owner: str, lease: float, at: dt.datetime, limit: int, after: int
    ) -> list[OutboxItem]:
        """`mark_sent_many(sent)`, then `claim_batch(owner, lease, at, limit, after_id=after)`,
        in that order: what a pass recorded, then what it sends next (one commit if it can)."""
        ...

    def mark_failed_attempt(self, outbox_id: int, error: str, *, give_up: bool) -> None: ...
    def requeue_failed(self) -> int: ...
    def prune_sent(self, sent_before: dt.datetime) -> PruneCount:
        """Empty the bodies of messages sent before the cut-off; their rows and the ledger
        stay, so what was sent to whom is still known and nothing is sent again."""
        ...


@dataclass(frozen=True, slots=True)
class SendLimits:
    """The mail provider's limits, for every worker together. 0 means unlimited."""

    per_second: float = 0.0  # messages spaced at least 1 / per_second apart
    per_day: int = 0  # messages in any 24 hours (a sliding window)

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0 and self.per_day <= 0


@dataclass(frozen=True, slots=True)
class SendGrant:
    """What `reserve_sends` gave: a moment for each message it let go (now, or a little
    later when the per-second pace says so), in order; `full_until` when the daily window
    had no room for the rest: the moment it has room again."""

    slots: tuple[dt.datetime, ...] = ()
    full_until: dt.datetime | None = None


class SendWindow(Protocol):
    """Sending slots shared by every worker on the database, so the provider's limits hold
    for all of them together: reserving is atomic across processes and machines."""

    def reserve_sends(self, count: int, limits: SendLimits, now: dt.datetime) -> SendGrant: ...
    def give_back_sends(self, slots: Sequence[dt.datetime]) -> None:
        """Slots reserved and not used (nothing was left to send): the daily window gets
        them back."""
        ...

    def send_window_full_until(self, limits: SendLimits, now: dt.datetime) -> dt.datetime | None:
        """When the daily window has room again, or None if it has room now."""
        ...


class Operations(Protocol):
    """Job leases, the run history and small installation facts (the signing secret)."""

    def acquire_lease(self, name: str, owner: str, seconds: float, now: dt.datetime) -> bool: ...
    def release_lease(self, name: str, owner: str) -> None: ...
    def leases(self) -> list[Lease]: ...
    def record_run(self, report: RunReport, *, kind: str = "run", alert: str = "") -> None: ...
    def start_run(
        self, *, kind: str, started: dt.datetime, day: dt.date, host: str, pid: int
    ) -> int:
        """Write a RUNNING run for this process; its id, for `end_run`."""
        ...

    def end_run(self, run_id: int, report: RunReport, *, state: RunState, alert: str = "") -> bool:
        """A RUNNING run ends with this report and state; False (nothing written) when it
        had ended already (a neighbour found it interrupted first) or does not exist."""
        ...

    def discard_run(self, run_id: int) -> None:
        """Forget a RUNNING run that did nothing worth keeping (an idle tick)."""
        ...

    def unfinished_runs(self) -> list[RunRecord]:
        """Every RUNNING run, oldest first."""
        ...

    def recent_runs(self, limit: int = 10) -> list[RunRecord]: ...
    def last_run_started(self, kinds: Sequence[str]) -> dt.datetime | None:
        """When the latest FINISHED run of one of these kinds started."""
        ...

    def meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


class Embeddings(Protocol):
    """Sentence vectors, opaque bytes here (digest.rank.semantic owns their format)."""

    def embeddings(self, ids: Iterable[str], model: str) -> dict[str, bytes]: ...
    def save_embeddings(self, vectors: Mapping[str, bytes], model: str) -> None: ...
    def prune_embeddings(self, papers_seen_before: dt.datetime) -> int: ...


class SubscriberState(StrEnum):
    """Where a subscription stands. Only ACTIVE ones get digests (`Subscriber.active`)."""

    PENDING = "pending"  # signed up on the web, confirmation link not used yet
    ACTIVE = "active"
    PAUSED = "paused"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    """A subscriber with the state of their subscription and its moments."""

    subscriber: Subscriber
    state: SubscriberState
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    pending_until: dt.datetime | None = None  # an unconfirmed sign-up lapses then


class Subscriptions(Protocol):
    """Subscription states and double opt-in. Addresses match case-insensitively; the
    spelling given first is the one mail goes to."""

    def subscriber_record(self, email: str) -> SubscriberRecord | None: ...
    def subscriber_records(self) -> list[SubscriberRecord]: ...
    def request_subscription(
        self, subscriber: Subscriber, *, nonce: str, until: dt.datetime, now: dt.datetime
    ) -> SubscriberRecord:
        """A new or lapsed address becomes PENDING with this profile and confirmation nonce;
        an ACTIVE or PAUSED one is left as it is (a stranger must not change it)."""
        ...

    def confirm_subscription(
        self, email: str, nonce: str, now: dt.datetime
    ) -> SubscriberRecord | None:
        """PENDING with this nonce and not lapsed -> ACTIVE (the nonce is used up)."""
        ...

    def set_subscriber_state(self, email: str, state: SubscriberState, now: dt.datetime) -> bool:
        """Pause (from ACTIVE), resume (PAUSED -> ACTIVE) or unsubscribe (from any other)."""
        ...

    def update_subscriber(self, subscriber: Subscriber, now: dt.datetime) -> Subscriber | None:
        """Profile, delivery time and zone of an existing address; its state is untouched."""
        ...

    def expire_pending(self, now: dt.datetime) -> int: ...


class Vote(StrEnum):
    UP = "up"  # more like this
    DOWN = "down"  # not for me


@dataclass(frozen=True, slots=True)
class VoteRecord:
    subscriber_id: int
    paper_id: str
    vote: Vote
    at: dt.datetime


class Feedback(Protocol):
    """One vote per subscriber and paper: the latest one counts, undo removes it."""

    def record_vote(
        self, subscriber_id: int, paper_id: str, vote: Vote, at: dt.datetime
    ) -> None: ...
    def undo_vote(self, subscriber_id: int, paper_id: str) -> bool: ...
    def votes(self, subscriber_id: int) -> list[VoteRecord]: ...


@dataclass(frozen=True, slots=True)
class TermCounts:
    """What a set of papers adds to the corpus statistics (IDF): how many papers, how many
    of them hold each word stem, and the words of each field in all (field name -> words).
    Counts of disjoint sets of papers add up (`plus`)."""

    documents: int = 0
    doc_freq: Mapping[str, int] = field(default_factory=dict)
    words: Mapping[str, int] = field(default_factory=dict)

    def plus(self, other: TermCounts, sign: int = 1) -> TermCounts:
        """These counts with `other`'s added (sign 1) or taken away (sign -1); a stem no
        paper holds any more is dropped."""
        freq = dict(self.doc_freq)
        for stem, papers in other.doc_freq.items():
            left = freq.get(stem, 0) + sign * papers
            if left:
                freq[stem] = left
            else:
                freq.pop(stem, None)
        words = dict(self.words)
        for name, count in other.words.items():
            words[name] = words.get(name, 0) + sign * count
        return TermCounts(self.documents + sign * other.documents, freq, words)


class CorpusCounts(Protocol):
    """The corpus statistics kept per day, so that a run sums 30 days of counts instead of
    reading 30 days of abstracts. A paper is counted on one day: the last day it was
    stored; the caller computes the counts (digest.rank.corpus) and says, when papers are
    stored again, what they had added to the days they were counted on before."""

    def counted_days(self, paper_ids: Iterable[str]) -> dict[str, dt.date]:
        """The day each of these papers is counted on (papers never counted are absent)."""
        ...

    def count_papers(
        self,
        day: dt.date,
        paper_ids: Sequence[str],
        counts: TermCounts,
        *,
        uncounted: Mapping[dt.date, TermCounts] | None = None,
    ) -> None:
        """In one transaction: add `counts` (those of `paper_ids`) to `day`, take from each
        earlier day in `uncounted` what some of these papers had added to it, and record
        that the papers are counted on `day` now."""
        ...

    def corpus_counts(self, since: dt.date) -> TermCounts:
        """The counts of every day from `since` on, summed."""
        ...

    def uncounted_papers(self, since: dt.datetime) -> list[SeenPaper]:
        """Papers last seen at `since` or later that no day counts (stored before counts
        were kept, or by a path that does not count)."""
        ...


class PaperStamps(Protocol):
    """A cheap fingerprint of the stored papers, to know when a cached index is stale."""

    def papers_stamp(self) -> tuple[int, dt.datetime | None]: ...


class Store(
    Subscribers,
    Papers,
    SourceLog,
    Outbox,
    Operations,
    SendWindow,
    Embeddings,
    Subscriptions,
    Feedback,
    PaperStamps,
    CorpusCounts,
    Protocol,
):
    """Every role at once: what a backend implements, and what a job that wires several
    stages holds."""

    def close(self) -> None: ...
